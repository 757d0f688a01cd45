/**
 * `npm run demo`: starts the three look-alike test servers on loopback over HTTPS (a certificate made
 * on the spot) — one speaking the StatusNet API as GNU social does, one the Mastodon client API, one
 * the AT Protocol as a Bluesky PDS — and posts to each with the built CLI, so the whole flow can be
 * seen in seconds.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_ACCOUNTS, startAtproto } from "./server/atproto.js";
import { startServer } from "./server/gnusocial.js";
import { startMastodon } from "./server/mastodon.js";
import { testCertificate } from "./server/tls.js";

const bin = fileURLToPath(new URL("../bin/identica.js", import.meta.url));
// The demo keeps its config, cache and outbox in a temporary place, not in your home.
const home = mkdtempSync(join(tmpdir(), "identica-demo-"));
const tls = testCertificate();
const server = await startServer({ tls });
const mastodon = await startMastodon({ tls, mode: "mastodon" });
const pds = await startAtproto({ tls });
// As if made in the server's web UI (Preferences → Development); `identica login` gets one by OAuth.
const token = mastodon.issueToken("alice");

function identica(args: string[], input?: string, env: Record<string, string> = {}): Promise<number> {
  const shown = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
  console.log(`\n$ ${input === undefined ? "" : `echo '${input}' | `}identica ${shown}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: [input === undefined ? "ignore" : "pipe", "inherit", "inherit"],
      env: {
        ...process.env,
        IDENTICA_PASSWORD: "correct horse",
        IDENTICA_TOKEN: token,
        XDG_CONFIG_HOME: join(home, "config"),
        XDG_CACHE_HOME: join(home, "cache"),
        XDG_STATE_HOME: join(home, "state"),
        ...env,
      },
    });
    if (input !== undefined) child.stdin?.end(`${input}\n`);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

console.log(
  `Demo server: ${server.apiRoot} (a GNU social look-alike; account alice, password in IDENTICA_PASSWORD)`,
);
const common = ["--server", server.apiRoot, "--user", "alice", "--cacert", tls.certPath];
const wire = (from: number) => {
  const reqs = server.requests.slice(from);
  const conns = new Set(reqs.map((r) => r.connection)).size;
  const list = reqs.map(
    (r) => `${r.method} ${r.url} ${r.headers.authorization ? "with" : "without"} Authorization`,
  );
  console.log(
    `\n(on the wire: ${reqs.length} request${reqs.length === 1 ? "" : "s"} on ${conns} connection: ${list.join(", then ")})`,
  );
};
let code = await identica(["post", ...common, "Hello from identica!"]);
wire(0);
let seen = server.requests.length;
code ||= await identica(["post", ...common, "-o", "url", "-"], "a status from a pipe");
wire(seen);
seen = server.requests.length;
code ||= await identica([
  "post",
  ...common,
  "-o",
  "json",
  "--reply-to",
  String(server.store.notices[0]?.id),
  "Replying to myself",
]);

console.log(
  `\n\nDemo Mastodon server: ${mastodon.origin} (a Mastodon look-alike; account alice, token in IDENTICA_TOKEN)`,
);
const mcommon = ["--server", mastodon.origin, "--cacert", tls.certPath];
const mwire = (from: number) => {
  const reqs = mastodon.requests.slice(from);
  const list = reqs.map(
    (r) => `${r.method} ${r.url}${r.headers.authorization ? " with Authorization: Bearer <redacted>" : ""}`,
  );
  console.log(`\n(on the wire: ${list.join(", then ")})`);
};
code ||= await identica(["post", ...mcommon, "Hello, fediverse! https://example.com/a/long/link"]);
mwire(0);
console.log("(the first use found the API with GET /api/v1/instance; later runs remember it)");
let mseen = mastodon.requests.length;
code ||= await identica([
  "post",
  ...mcommon,
  "--visibility",
  "unlisted",
  "--cw",
  "demo",
  "-o",
  "json",
  "Behind a content warning",
]);
mwire(mseen);
mseen = mastodon.requests.length;
code ||= await identica(["timeline", "user", ...mcommon]);

const alice = DEFAULT_ACCOUNTS[0] as (typeof DEFAULT_ACCOUNTS)[number];
console.log(
  `\n\nDemo AT Protocol PDS: ${pds.origin} (a Bluesky PDS look-alike; account ${alice.handle}, its app password in IDENTICA_PASSWORD)`,
);
const acommon = ["--server", pds.origin, "--user", alice.handle, "--cacert", tls.certPath];
const aenv = { IDENTICA_PASSWORD: alice.appPasswords[0] as string };
const awire = (from: number) => {
  const reqs = pds.requests.slice(from);
  const list = reqs.map(
    (r) => `${r.method} ${r.path}${r.headers.authorization ? " with Authorization: Bearer <redacted>" : ""}`,
  );
  console.log(`\n(on the wire: ${list.join(", then ")})`);
};
code ||= await identica(
  ["post", ...acommon, "Hello, Bluesky! 👋 https://example.com/a/link"],
  undefined,
  aenv,
);
awire(0);
console.log(
  "(the first use found the API: not Mastodon, then describeServer; without a keychain a session is made per run, `identica login` keeps one)",
);
const aseen = pds.requests.length;
code ||= await identica(
  ["post", ...acommon, "-o", "json", "Hi @bob.test, the link and the mention are facets"],
  undefined,
  aenv,
);
awire(aseen);
code ||= await identica(["timeline", "user", ...acommon], undefined, aenv);
await server.close();
await mastodon.close();
await pds.close();
process.exitCode = code;

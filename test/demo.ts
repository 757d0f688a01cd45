/**
 * `npm run demo`: starts the GNU social-like test server on loopback over HTTPS (a certificate made on
 * the spot) and posts to it with the built CLI, so the whole flow can be seen in seconds.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./server/gnusocial.js";
import { testCertificate } from "./server/tls.js";

const bin = fileURLToPath(new URL("../bin/identica.js", import.meta.url));
// The demo keeps its config, cache and outbox in a temporary place, not in your home.
const home = mkdtempSync(join(tmpdir(), "identica-demo-"));
const tls = testCertificate();
const server = await startServer({ tls });

function identica(args: string[], input?: string): Promise<number> {
  const shown = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
  console.log(`\n$ ${input === undefined ? "" : `echo '${input}' | `}identica ${shown}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: [input === undefined ? "ignore" : "pipe", "inherit", "inherit"],
      env: {
        ...process.env,
        IDENTICA_PASSWORD: "correct horse",
        XDG_CONFIG_HOME: join(home, "config"),
        XDG_CACHE_HOME: join(home, "cache"),
        XDG_STATE_HOME: join(home, "state"),
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
await server.close();
process.exitCode = code;

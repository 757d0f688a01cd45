/**
 * `npm run demo`: starts the GNU social-like test server on loopback over HTTPS (a certificate made on
 * the spot) and posts to it with the built CLI, so the whole flow can be seen in seconds.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startServer } from "./server/gnusocial.js";
import { testCertificate } from "./server/tls.js";

const bin = fileURLToPath(new URL("../bin/identica.js", import.meta.url));
const tls = testCertificate();
const server = await startServer({ tls });

function identica(args: string[], input?: string): Promise<number> {
  const shown = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
  console.log(`\n$ ${input === undefined ? "" : `echo '${input}' | `}identica ${shown}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: [input === undefined ? "ignore" : "pipe", "inherit", "inherit"],
      env: { ...process.env, IDENTICA_PASSWORD: "correct horse" },
    });
    if (input !== undefined) child.stdin?.end(`${input}\n`);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

console.log(
  `Demo server: ${server.apiRoot} (a GNU social look-alike; account alice, password in IDENTICA_PASSWORD)`,
);
const common = ["--server", server.apiRoot, "--user", "alice", "--cacert", tls.certPath];
let code = await identica(["post", ...common, "Hello from identica!"]);
const n = server.requests.length;
const conns = new Set(server.requests.map((r) => r.connection)).size;
console.log(
  `\n(wire: ${n} requests on ${conns} connection: ${server.requests.map((r) => `${r.method} ${r.url} ${r.headers.authorization ? "with" : "without"} Authorization`).join(", then ")})`,
);
code ||= await identica(["post", ...common, "-o", "url", "-"], "a status from a pipe");
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

import { startMastodon } from "./server/mastodon.js";
import { spawn } from "node:child_process";
const mode = (process.argv[2] ?? "mastodon") as "mastodon" | "snac";
const server = await startMastodon({ mode });
const token = server.issueToken("alice");
server.addStatus({ text: "bob says hi", username: "bob" });
const env = { ...process.env, XDG_CONFIG_HOME: "/tmp/try/c", XDG_CACHE_HOME: "/tmp/try/k", XDG_STATE_HOME: "/tmp/try/s", IDENTICA_TOKEN: token };
const run = (args: string[], input?: string) => new Promise<void>((resolve) => {
  const c = spawn(process.execPath, ["bin/identica.js", "--server", server.origin, ...args], { env });
  let out = "";
  c.stdout.on("data", (d) => (out += d));
  c.stderr.on("data", (d) => (out += d));
  if (input !== undefined) c.stdin.end(input); else c.stdin.end();
  c.on("close", (code) => { console.log(`$ identica ${args.join(" ")} -> ${code}\n${out}`); resolve(); });
});
for (const a of process.argv.slice(3)) await run(JSON.parse(a));
console.log(server.requests.map((r) => `${r.method} ${r.url} ${r.headers.authorization ? "auth" : ""} ${r.headers["idempotency-key"] ?? ""}`).join("\n"));
await server.close();

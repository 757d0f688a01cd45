/**
 * A process that ends the way docs/threats.md I5 saw identica end: a library loses a request, the event
 * loop runs empty while the command still waits for it, and Node exits 13 without a word. The loss is
 * the real one: plain undici 7.30.2 never runs a second request on a Client whose first connection
 * failed the certificate's name check. identica's watchdog and pending-status hook are installed as
 * src/run.ts installs them; the test checks what the process says, its code and the outbox.
 *
 * Usage: node --import tsx watchdog-fixture.ts <api root> <ca file> [in-flight]
 * ("in-flight": an authenticated post had been written when the library lost it.)
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { rootCertificates } from "node:tls";
import type { Client as UndiciClient } from "undici";
import { stateDir } from "../../src/config/paths.js";
import { parseServer } from "../../src/config/server.js";
import { keeper } from "../../src/core/keep.js";
import { Outbox } from "../../src/core/outbox.js";
import { RunSession } from "../../src/run-session.js";
import { watchUntilFinished } from "../../src/watchdog.js";

const [root, caFile, mode] = process.argv.slice(2) as [string, string, string | undefined];
const Client = createRequire(import.meta.url)("undici").Client as typeof UndiciClient;
const origin = new URL(root).origin;
const client = new Client(origin, {
  connect: { rejectUnauthorized: true, ca: [...rootCertificates, readFileSync(caFile, "utf8")] },
});

const draft = {
  text: "kept by the watchdog",
  server: parseServer(root),
  user: "alice",
  replyTo: undefined,
  source: "identica",
};
const run = new RunSession();
run.pending.set(keeper(new Outbox(stateDir(process.env)), draft, new Date()));
const finished = watchUntilFinished(run);

try {
  await client.request({ method: "GET", path: "/api/statusnet/config.xml" });
} catch {
  // The certificate is for another name: expected, and it is what wedges the Client.
}
if (mode === "in-flight") run.wire.current = { sent: true, authenticated: true, mayWrite: true };
await client.request({ method: "POST", path: "/api/statuses/update.xml", body: "status=x" });
finished();
process.stdout.write("the lost request settled after all\n");

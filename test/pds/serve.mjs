// Starts a real AT Protocol PDS (@atproto/pds) beside an in-memory mock PLC directory, both on
// 127.0.0.1, creates accounts, and prints ONE JSON line on stdout when ready:
//   {"origin","plc","node","accounts":[{"handle","did","password","appPassword"}]}
// It exits when stdin closes or its parent process goes away, so a test run that dies (a killed vitest
// worker, Ctrl-C) cannot leave a server behind.
//
// Runs with Node 22 from the install folder that test/helpers/pds-install.ts prepares (the PDS needs >= 22);
// it resolves its packages from IDENTICA_PDS_MODULES (that folder's node_modules), because this file
// stays in the repository while the 370 MB of packages live outside it.
//
// Usage: node serve.mjs [handle ...]   (default: alice.test bob.test; every handle ends in .test)
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const modules = process.env.IDENTICA_PDS_MODULES;
if (!modules) fail("IDENTICA_PDS_MODULES is not set (the install's node_modules folder)");
const require = createRequire(join(modules, "noop.js"));
const pds = require("@atproto/pds");
const plc = require("@did-plc/server");
const { Secp256k1Keypair } = require("@atproto/crypto");

// Everything for humans goes to stderr: stdout carries only the ready line.
function log(message) {
  process.stderr.write(`pds: ${message}\n`);
}
function fail(message) {
  process.stderr.write(`pds: ${message}\n`);
  process.exit(1);
}

/** A free loopback port. The PDS must know its port before it starts (its public URL and DID
 * documents name it), so it cannot simply listen on 0. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function listen(app, port) {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, "127.0.0.1");
    server.once("listening", () => resolve(server));
    server.once("error", reject);
  });
}

function closeServer(server) {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

async function xrpc(origin, method, body, token) {
  const res = await fetch(`${origin}/xrpc/${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

const handles = process.argv.slice(2);
if (handles.length === 0) handles.push("alice.test", "bob.test");
for (const h of handles) if (!h.endsWith(".test")) fail(`handle ${h} must end in .test`);

const dataDir = await mkdtemp(join(tmpdir(), "identica-pds-"));
let plcHttp;
let pdsServer;
let pdsHttp;
let closing = false;

async function shutdown(code) {
  if (closing) return;
  closing = true;
  // Whatever hangs below, the process ends.
  setTimeout(() => process.exit(code), 5000).unref();
  // The PDS's own destroy() waits for background work; a test server only needs its sockets gone.
  await closeServer(pdsHttp);
  await Promise.race([pdsServer?.ctx?.sequencer?.destroy?.(), new Promise((r) => setTimeout(r, 2000))]).catch(
    () => {},
  );
  await closeServer(plcHttp);
  await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  process.exit(code);
}
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.resume();
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.on("SIGHUP", () => shutdown(0));
// Stdin closes when the parent dies, unless some other process inherited the pipe's other end; a
// parent pid that changes (the orphan re-parented to init or a subreaper) catches that case too.
// IDENTICA_PDS_WATCH names more pids to outlive no longer: vitest's main process, whose workers
// can go on for a while after it was interrupted.
const parent = process.ppid;
const watched = (process.env.IDENTICA_PDS_WATCH ?? "").split(/\s+/).filter(Boolean).map(Number);
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}
setInterval(() => {
  if (process.ppid !== parent || !watched.every(alive)) shutdown(0);
}, 1000).unref();

try {
  // The mock PLC directory, in memory. PlcServer.start() would bind every interface.
  const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: 0 });
  plcHttp = await listen(plcServer.app, 0);
  const plcUrl = `http://127.0.0.1:${plcHttp.address().port}`;

  const port = await freePort();
  const rotationKey = await Secp256k1Keypair.create({ exportable: true });
  const env = {
    // The caller's PDS_* settings (e.g. PDS_RATE_LIMITS_ENABLED=true) first; ours win where they must.
    ...pds.readEnv(),
    devMode: true,
    port,
    dataDirectory: dataDir,
    blobstoreDiskLocation: join(dataDir, "blobs"),
    didPlcUrl: plcUrl,
    serviceHandleDomains: [".test"],
    inviteRequired: false,
    jwtSecret: randomBytes(16).toString("hex"),
    adminPassword: randomBytes(16).toString("hex"),
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotationKey.export()).toString("hex"),
    disableSsrfProtection: true,
  };
  pdsServer = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env));
  // What PDS.start() does, minus listening on all interfaces.
  await pdsServer.ctx.sequencer.start();
  pdsHttp = await listen(pdsServer.app, port);
  pdsHttp.keepAliveTimeout = 90_000;
  const origin = `http://127.0.0.1:${port}`;

  const accounts = [];
  for (const handle of handles) {
    const name = handle.split(".")[0];
    const password = `${name}-${randomBytes(9).toString("base64url")}`;
    const created = await xrpc(origin, "com.atproto.server.createAccount", {
      handle,
      email: `${name}@example.test`,
      password,
    });
    const app = await xrpc(
      origin,
      "com.atproto.server.createAppPassword",
      { name: "identica" },
      created.accessJwt,
    );
    accounts.push({ handle, did: created.did, password, appPassword: app.password });
  }
  process.stdout.write(`${JSON.stringify({ origin, plc: plcUrl, node: process.version, accounts })}\n`);
  log(`ready at ${origin} (${handles.join(", ")})`);
} catch (e) {
  log(`could not start: ${e?.stack ?? e}`);
  await shutdown(1);
}

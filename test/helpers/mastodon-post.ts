import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import {
  type MastodonServer,
  MODE_DEFAULTS,
  type Mode,
  type Recorded,
  startMastodon,
} from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";
import type { RunResult } from "./cli.js";
import type { Scenario } from "./scenario.js";

/**
 * What the Mastodon post tests (test/e2e/mastodon-post*.test.ts) share: a look-alike server per mode,
 * the requests it got, a home of one's own per test, and the checks that a token never shows.
 */

export interface MastodonHarness {
  server: MastodonServer;
  /** `127.0.0.1:PORT`, the bare `--server` that is probed (https). */
  host: string;
  certPath: string;
  /** A token of alice's, issued as the web UI would. */
  token: string;
}

/**
 * One look-alike per file (or per `describe`), HTTPS, in `mode`; before each test its request log and
 * faults are cleared and the mode's limits restored, and alice gets a fresh token.
 */
export function useMastodon(mode: Mode): MastodonHarness {
  const h = {} as MastodonHarness;
  beforeAll(async () => {
    const tls = testCertificate();
    h.server = await startMastodon({ mode, tls });
    h.host = h.server.domain;
    h.certPath = tls.certPath;
  });
  beforeEach(() => {
    h.server.mode = mode;
    h.server.requests.length = 0;
    h.server.faults.length = 0;
    h.server.site.rateLimit = null;
    Object.assign(h.server.site, MODE_DEFAULTS[mode]);
    h.token = h.server.issueToken("alice");
  });
  afterAll(async () => {
    await h.server?.close();
  });
  return h;
}

/** The requests that posted (or tried to post) a status. */
export function statusPosts(server: { requests: Recorded[] }): Recorded[] {
  return server.requests.filter((r) => r.method === "POST" && r.url.split("?")[0] === "/api/v1/statuses");
}

/** The API probes: `GET /api/v1/instance`. */
export function probes(server: { requests: Recorded[] }): Recorded[] {
  return server.requests.filter((r) => r.method === "GET" && r.url === "/api/v1/instance");
}

/** A recorded request's form body. */
export function form(r: Recorded): URLSearchParams {
  return new URLSearchParams(r.body.toString("utf8"));
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let counter = 0;
/** A status text no earlier test has posted. */
export function fresh(prefix = "toot"): string {
  return `${prefix} ${process.pid}-${++counter}`;
}

/** A file of mode `mode` holding `content`, in a folder of its own. */
export function secretFile(content: string, mode = 0o600): string {
  const dir = mkdtempSync(join(tmpdir(), "identica-token-"));
  const path = join(dir, "token");
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

/** Every regular file under `dir` (config, cache, state), as text. */
export function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesUnder(path));
    else if (st?.isFile()) out.push({ path, text: readFileSync(path, "latin1") });
  }
  return out;
}

/** The token is in no output of the runs, and in no file they left: config, cache, state (the outbox). */
export function expectNoToken(token: string, runs: RunResult[], sc?: Scenario): void {
  for (const r of runs) {
    expect(r.stdout).not.toContain(token);
    expect(r.stderr).not.toContain(token);
  }
  if (!sc) return;
  const dirs = [sc.env.XDG_CONFIG_HOME, sc.env.XDG_CACHE_HOME, sc.env.XDG_STATE_HOME] as string[];
  const files = dirs.flatMap((d) => filesUnder(d));
  for (const f of files) expect(f.text, f.path).not.toContain(token);
}

/**
 * Stores `secret` in the keychain of `env` (a private gnome-keyring's D-Bus) with keytar itself, as
 * identica's keychain helper does: service `identica:<host:port>`, account `<user>`. The secret goes
 * through stdin, never argv.
 */
export function keytarStore(
  env: Record<string, string>,
  service: string,
  account: string,
  secret: string,
): Promise<void> {
  const script =
    "const k=require('keytar');let s='';process.stdin.on('data',d=>s+=d).on('end',()=>k.setPassword(process.argv[1],process.argv[2],s).then(()=>process.exit(0),e=>{console.error(e);process.exit(1)}))";
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script, service, account], {
      env,
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["pipe", "ignore", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`keytar exited ${code}`))));
    child.stdin.end(secret);
  });
}

/**
 * A CONNECT proxy that takes every host to `port` on loopback: a server that looks non-local to the
 * client (`http://mastodon.example:PORT`) while the test still runs on one machine.
 */
export async function tunnelTo(port: number): Promise<{ url: string; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const proxy: HttpServer = createHttpServer();
  proxy.on("connect", (req, socket, head) => {
    seen.push(req.url ?? "");
    const upstream = connect(port, "127.0.0.1", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    seen,
    close: () => proxy.close(),
  };
}

/**
 * A TCP front that forwards every new connection to whichever loopback port `to` names now: one
 * address (`127.0.0.1:PORT`) whose server can be swapped between runs, as when a site moves to other
 * software. TLS passes through to the server behind it.
 */
export async function switchable(port: number): Promise<{ host: string; to: number; close(): void }> {
  const front = {
    host: "",
    to: port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  const sockets = new Set<import("node:net").Socket>();
  const server = createNetServer((client) => {
    sockets.add(client);
    const upstream = connect(front.to, "127.0.0.1");
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  front.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return front;
}

/** The first outbox entry of a scenario (there must be exactly one). */
export function onlyEntry(sc: Scenario) {
  const entries = sc.outbox();
  expect(entries).toHaveLength(1);
  return entries[0] as (typeof entries)[number];
}

/** The cached API verdicts (`$XDG_CACHE_HOME/identica/apis.json`), {} when there is none. */
export function apisJson(sc: Scenario): Record<string, string> {
  try {
    return JSON.parse(readFileSync(join(sc.env.XDG_CACHE_HOME as string, "identica/apis.json"), "utf8")).apis;
  } catch {
    return {};
  }
}

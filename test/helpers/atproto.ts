import { createServer, request } from "node:http";
import { afterAll, beforeAll, expect } from "vitest";
import type { RunResult } from "./cli.js";
import type { PrivateKeyring } from "./keyring.js";
import { type Pds, type PdsAccount, startPds } from "./pds.js";

/**
 * What the AT Protocol end-to-end tests (test/e2e/atproto-*.test.ts) share: one real PDS per file, and
 * ways to ask it directly what identica did — never identica's own word alone.
 */

/** A first run installs the PDS (minutes, mostly compiling better-sqlite3); later runs only start it. */
export const PDS_START = 240_000;

export interface PdsHarness {
  pds: Pds;
  alice: PdsAccount;
  bob: PdsAccount;
  /** `127.0.0.1:PORT` */
  host: string;
}

/** Starts one PDS for the test file (alice.test and bob.test), stopped after it. */
export function usePds(): PdsHarness {
  const h = {} as PdsHarness;
  beforeAll(async () => {
    h.pds = await startPds();
    [h.alice, h.bob] = h.pds.accounts as [PdsAccount, PdsAccount];
    h.host = new URL(h.pds.origin).host;
  }, PDS_START);
  afterAll(async () => {
    await h.pds?.close();
  });
  return h;
}

export interface Xrpc {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the PDS's JSON, read field by field by the tests
  body: any;
}

/** One XRPC call from the test itself: a query (GET) or, with `body`, a procedure. */
export async function xrpc(
  origin: string,
  nsid: string,
  init: { body?: unknown; token?: string | undefined; query?: Record<string, string>; post?: boolean } = {},
): Promise<Xrpc> {
  const url = new URL(`/xrpc/${nsid}`, origin);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  const post = init.post === true || init.body !== undefined;
  const res = await fetch(url, {
    method: post ? "POST" : "GET",
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

export interface Session {
  did: string;
  handle: string;
  accessJwt: string;
  refreshJwt: string;
}

/** A session of the test's own (createSession with the app password unless told otherwise). */
export async function createSession(
  origin: string,
  a: PdsAccount,
  password = a.appPassword,
): Promise<Session> {
  const r = await xrpc(origin, "com.atproto.server.createSession", {
    body: { identifier: a.handle, password },
  });
  if (r.status !== 200) throw new Error(`createSession: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** `refreshSession` with this refresh token: 200 while the session lives. Rotates it when it works. */
export function refreshWith(origin: string, refreshJwt: string): Promise<Xrpc> {
  return xrpc(origin, "com.atproto.server.refreshSession", { token: refreshJwt, post: true });
}

export const POST = "app.bsky.feed.post";

/** The record at `at://repo/app.bsky.feed.post/rkey`, as the PDS has it (status 400 when there is none). */
export function getRecord(origin: string, repo: string, rkey: string): Promise<Xrpc> {
  return xrpc(origin, "com.atproto.repo.getRecord", { query: { repo, collection: POST, rkey } });
}

export interface PdsRecord {
  uri: string;
  cid: string;
  value: { text: string; langs?: string[]; facets?: unknown[]; reply?: unknown; createdAt: string };
}

/** Every post in a repository, newest first. */
export async function listPosts(origin: string, repo: string): Promise<PdsRecord[]> {
  const out: PdsRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const r = await xrpc(origin, "com.atproto.repo.listRecords", {
      query: { repo, collection: POST, limit: "100", ...(cursor ? { cursor } : {}) },
    });
    expect(r.status).toBe(200);
    out.push(...r.body.records);
    if (!r.body.cursor || r.body.records.length === 0) return out;
    cursor = r.body.cursor;
  }
}

/** The posts in a repository with exactly this text. */
export async function postsWithText(origin: string, repo: string, text: string): Promise<PdsRecord[]> {
  return (await listPosts(origin, repo)).filter((r) => r.value.text === text);
}

/** The record key, last segment of an at:// URI. */
export const rkeyOf = (uri: string) => uri.split("/").at(-1) as string;

/** A TID (13 base32-sortable characters: microseconds since 1970 and a clock id), as a PDS takes it. */
export function tid(): string {
  const chars = "234567abcdefghijklmnopqrstuvwxyz";
  let n = ((BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000))) << 10n) | 7n;
  let s = "";
  for (let i = 0; i < 13; i++) {
    s = chars[Number(n & 31n)] + s;
    n >>= 5n;
  }
  return s;
}

/** The requests a `-v` run traced (`> METHOD /path`), without their query strings. */
export function traced(r: RunResult): string[] {
  return [...r.stderr.matchAll(/^> (GET|POST|PUT|DELETE) (\S+) HTTP\/1\.1$/gm)].map(
    (m) => `${m[1]} ${(m[2] as string).split("?")[0]}`,
  );
}

/** The keychain entry `identica:<host>` / `account`, read back with secret-tool (undefined: none). */
export async function keychainEntry(
  keyring: PrivateKeyring,
  host: string,
  account: string,
): Promise<string | undefined> {
  const r = await keyring.secretTool(["lookup", "service", `identica:${host}`, "account", account]);
  return r.code === 0 ? r.stdout : undefined;
}

/** The `#session` entry, parsed. */
export async function storedSession(
  keyring: PrivateKeyring,
  host: string,
  handle: string,
): Promise<Session | undefined> {
  const s = await keychainEntry(keyring, host, `${handle}#session`);
  return s === undefined ? undefined : JSON.parse(s);
}

let counter = 0;
/** A post text no earlier test has used. */
export function fresh(prefix = "skeet"): string {
  return `${prefix} ${process.pid}-${Date.now() % 100000}-${++counter}`;
}

/** Every form a secret may take in output: as it is, base64 (padded or not) and base64url. */
export function secretForms(secret: string): string[] {
  const b64 = Buffer.from(secret).toString("base64");
  return [secret, b64, b64.replace(/=+$/, ""), Buffer.from(secret).toString("base64url")];
}

/** The secrets (by index) found anywhere in the runs' stdout or stderr. */
export function leaked(runs: RunResult[], secrets: string[]): string[] {
  return secrets.filter((s) =>
    secretForms(s).some((f) => runs.some((r) => r.stdout.includes(f) || r.stderr.includes(f))),
  );
}

export interface Exchange {
  method: string;
  path: string;
  status: number;
  requestBody: string;
  responseBody: string;
}

/** A reply the front gives once, in the PDS's place, to the next request for `path`. */
export interface Fault {
  path: string;
  status: number;
  body: unknown;
}

/**
 * An HTTP front on loopback that forwards everything to the PDS and keeps every exchange: what the
 * server answered, tokens included, which identica's trace redacts. Its own port makes a server of
 * its own for identica (another keychain service, another cached API). A fault answers one request
in the PDS's place: what a real PDS does only after hours (an expired access token).
 */
export async function recorder(
  target: string,
): Promise<{ origin: string; host: string; log: Exchange[]; faults: Fault[]; close(): Promise<void> }> {
  const t = new URL(target);
  const log: Exchange[] = [];
  const faults: Fault[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestBody = Buffer.concat(chunks);
      const path = (req.url ?? "").split("?")[0] as string;
      const i = faults.findIndex((f) => f.path === path);
      if (i >= 0) {
        const [f] = faults.splice(i, 1) as [Fault];
        const body = JSON.stringify(f.body);
        log.push({ method: req.method ?? "", path, status: f.status, requestBody: "", responseBody: body });
        res.writeHead(f.status, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      const up = request(
        {
          host: t.hostname,
          port: t.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: t.host },
        },
        (upRes) => {
          const back: Buffer[] = [];
          upRes.on("data", (c: Buffer) => back.push(c));
          upRes.on("end", () => {
            const body = Buffer.concat(back);
            log.push({
              method: req.method ?? "",
              path: (req.url ?? "").split("?")[0] as string,
              status: upRes.statusCode ?? 0,
              requestBody: requestBody.toString("utf8"),
              responseBody: body.toString("utf8"),
            });
            const headers = { ...upRes.headers };
            delete headers["transfer-encoding"];
            res.writeHead(upRes.statusCode ?? 502, { ...headers, "content-length": body.length });
            res.end(body);
          });
        },
      );
      up.on("error", () => res.destroy());
      up.end(requestBody);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    log,
    faults,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

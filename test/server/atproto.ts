import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { fieldProblem, got, InputProblem, NSID, postProblem, readInput, TID } from "./atproto-lexicon.js";
import {
  type AtprotoAccount,
  type AtprotoFault,
  type AtprotoFaultRule,
  type AtprotoRequest,
  appViewAnswer,
  authRequired,
  BANNER,
  cannotPage,
  cborOrder,
  cidOf,
  findFault,
  type Headers,
  HTML_502,
  invalid,
  Jwts,
  type Limit,
  limitHeaders,
  parseRequest,
  RateLimiter,
  type RefreshSession,
  type Reply,
  ROBOTS,
  STATUS_ERRORS,
  type StoredRecord,
  sendReply,
  tidOf,
  XrpcError,
} from "./atproto-model.js";
import { Clock } from "./model.js";

export type * from "./atproto-model.js";
/**
 * A loopback AT Protocol PDS that answers as `@atproto/pds` 0.5.35 does (test/fixtures/atproto, and the
 * real one test/helpers/pds.ts starts: atproto-server.test.ts holds it to both), for the faults a real
 * PDS will not produce on demand. Accounts, sessions and records live in memory; it runs on a movable
 * clock, records every request and misbehaves on request (`faults`) like the Mastodon look-alike.
 * Not imitated: account management (createAccount, app passwords), blobs, sync, OAuth/DPoP; records of a
 * collection other than app.bsky.feed.post are stored unvalidated ("unknown"), as for a lexicon it lacks.
 */
export { HTML_502 } from "./atproto-model.js";

/** The PDS's limits with PDS_RATE_LIMITS_ENABLED=true; lower them to reach a 429 sooner. */
export interface AtprotoRateLimits {
  /** Every XRPC request, per IP, per 5 minutes (3000). */
  global: number;
  /** createSession per identifier and IP, per 5 minutes (30) and per day (300). */
  createSession: number;
  createSessionPerDay: number;
  /** Repo write points per account per hour (5000) and per day (35000); a create costs 3, a delete 1. */
  writesPerHour: number;
  writesPerDay: number;
}

export interface StartAtprotoOptions {
  tls?: { key: string; cert: string };
  host?: string;
  /** Default: any free port. */
  port?: number;
  /** Default DEFAULT_ACCOUNTS: alice.test and bob.test with the fixtures' DIDs. */
  accounts?: (Pick<AtprotoAccount, "handle" | "did" | "password"> & Partial<AtprotoAccount>)[];
  /** Answer getTimeline, getAuthorFeed and listNotifications from the stored posts, as an AppView would. */
  appView?: boolean;
  /** Off by default, as on a PDS without PDS_RATE_LIMITS_ENABLED; true: the real limits. */
  rateLimits?: boolean | Partial<AtprotoRateLimits>;
  /** Share a clock between servers (default: one of its own, at the machine's time). */
  clock?: Clock;
  /** describeServer's `did` and the JWTs' `aud` (default `did:web:localhost`, as in the fixtures). */
  serviceDid?: string;
}

export interface AtprotoServer {
  /** `http(s)://127.0.0.1:PORT`: XRPC lives at `/xrpc/…`. */
  origin: string;
  /** `127.0.0.1:PORT`. */
  domain: string;
  serviceDid: string;
  clock: Clock;
  requests: AtprotoRequest[];
  connections(): number;
  faults: AtprotoFaultRule[];
  accounts: AtprotoAccount[];
  /** Every record stored, deleted ones too (flagged). */
  records: StoredRecord[];
  /** Live refresh sessions by token id (`jti`). */
  sessions: Map<string, RefreshSession>;
  /** Changes apply to the next request. */
  appView: boolean;
  account(handleOrDid: string): AtprotoAccount | undefined;
  /** A session as createSession makes it: an app-password one unless `main`. */
  createSession(handleOrDid: string, opts?: { main?: boolean }): { accessJwt: string; refreshJwt: string };
  /** Seeds a post as if its author (default the first account) had made it. */
  addPost(post: {
    text: string;
    handle?: string;
    rkey?: string;
    createdAt?: Date;
    extra?: object;
  }): StoredRecord;
  /** Every access token issued so far answers ExpiredToken from now on; refresh tokens still work. */
  expireAccessTokens(): void;
  /** Deletes every refresh session: refreshSession then answers ExpiredToken "Token has been revoked". */
  revokeSessions(): void;
  close(): Promise<void>;
}

export const DEFAULT_ACCOUNTS = [
  { handle: "alice.test", did: "did:plc:uquscmmaa5wx4d7cim33jixc", password: "alice-main-pw" },
  { handle: "bob.test", did: "did:plc:funah4zf7ddwphfutcdbc62z", password: "bob-main-pw" },
].map((a, i) => ({ ...a, appPasswords: [["ykq2-k5ti-lkyt-ym6x", "n7wq-3pd2-ahxe-k4rb"][i] as string] }));

interface Ctx {
  rec: AtprotoRequest;
  headers: Headers;
  did: string;
  jti: string;
  body: Record<string, unknown>;
  q: (k: string) => string | undefined;
}

/** A method as the XRPC server runs it: method, params, auth, input, rate limits, then `run`. */
interface Route {
  method: "GET" | "POST";
  auth?: "access" | "refresh";
  params?: string;
  input?: string;
  limits?: (c: Ctx) => Limit[];
  run: (c: Ctx) => unknown;
}

const MINUTES_5 = 300_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const newJti = () => randomBytes(32).toString("base64").replace(/=+$/, "");
export async function startAtproto(opts: StartAtprotoOptions = {}): Promise<AtprotoServer> {
  const clock = opts.clock ?? new Clock();
  const serviceDid = opts.serviceDid ?? "did:web:localhost";
  const now = () => clock.now().getTime();
  const jwts = new Jwts(serviceDid, now);
  const accounts: AtprotoAccount[] = (opts.accounts ?? DEFAULT_ACCOUNTS).map((a) => ({
    appPasswords: [],
    email: `${a.handle.split(".")[0]}@example.com`,
    displayName: "",
    ...a,
  }));
  const defaults = { global: 3000, createSession: 30, createSessionPerDay: 300, writesPerHour: 5000 };
  const limits: AtprotoRateLimits = { ...defaults, writesPerDay: 35000, ...(opts.rateLimits as object) };
  const records: StoredRecord[] = [];
  const sessions = new Map<string, RefreshSession>();
  const requests: AtprotoRequest[] = [];
  const faults: AtprotoFaultRule[] = [];
  const sockets = new Set<Socket>();
  const socketIds = new WeakMap<Socket, number>();
  const clockId = randomBytes(2).readUInt16BE();
  let connections = 0;
  let lastTid = 0;

  function account(id: string): AtprotoAccount | undefined {
    const key = id.toLowerCase();
    return accounts.find(
      (a) => a.did === id || a.handle.toLowerCase() === key || a.email.toLowerCase() === key,
    );
  }
  /** A TID from the clock, increasing on this server even when the clock is moved back. */
  function tid(): string {
    lastTid = Math.max(now() * 1000, lastTid + 1);
    return tidOf(lastTid, clockId);
  }

  // Sessions: an access JWT for 2 hours, a refresh JWT for 90 days, as AccountManager.createSession.
  function issue(did: string, appPassword: boolean, jti = newJti()) {
    const iat = Math.floor(now() / 1000);
    const scope = appPassword ? "com.atproto.appPass" : "com.atproto.access";
    const accessJwt = jwts.sign("at+jwt", { scope, aud: serviceDid, sub: did, iat, exp: iat + 7200 });
    const exp = iat + 90 * 86400;
    const refresh = { scope: "com.atproto.refresh", aud: serviceDid, sub: did, jti, iat, exp };
    if (!sessions.has(jti)) sessions.set(jti, { jti, did, appPassword, expiresAt: exp * 1000 });
    return { accessJwt, refreshJwt: jwts.sign("refresh+jwt", refresh) };
  }
  const sessionOf = (a: AtprotoAccount) => ({
    did: a.did,
    handle: a.handle,
    email: a.email,
    emailConfirmed: false,
    active: true,
  });

  function authenticate(c: Ctx, kind: "access" | "refresh"): void {
    const own: Headers = [
      ["Cache-Control", "private"],
      ["Vary", "Authorization"],
    ];
    try {
      // deleteSession takes an expired refresh token (refresh({ allowExpired: true })).
      const allowExpired = c.rec.nsid === "com.atproto.server.deleteSession";
      Object.assign(c, jwts.verify(c.rec.headers.authorization, kind, allowExpired));
    } catch (e) {
      if (!(e as { early?: boolean }).early) c.headers.push(...own);
      throw e;
    }
    c.headers.push(...own);
  }

  // Rate limits (PDS_RATE_LIMITS_ENABLED): a route's own limits and the global one, or the global alone.
  const limiter = new RateLimiter(now);
  const globalLimit = (): Limit => ({
    name: "global-ip",
    points: limits.global,
    durationMs: MINUTES_5,
    key: "",
    cost: 1,
  });
  function consume(c: Ctx, list: Limit[]): void {
    if (!opts.rateLimits) return;
    const { headers, exceeded } = limiter.consume(list);
    if (exceeded) throw new XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", headers);
    c.headers.push(...headers);
  }
  const writes = (cost: number) => (c: Ctx) => [
    { name: "repo-write-hour", points: limits.writesPerHour, durationMs: HOUR, key: c.did, cost },
    { name: "repo-write-day", points: limits.writesPerDay, durationMs: DAY, key: c.did, cost },
  ];
  const sessionLimits = (c: Ctx) => {
    const key = `${c.body.identifier}-127.0.0.1`;
    return [
      { name: "session-day", points: limits.createSessionPerDay, durationMs: DAY, key, cost: 1 },
      { name: "session-5min", points: limits.createSession, durationMs: MINUTES_5, key, cost: 1 },
    ];
  };

  // Records.
  const live = (did: string, collection: unknown, rkey: unknown) =>
    records.find((r) => !r.deleted && r.did === did && r.collection === collection && r.rkey === rkey);
  function store(did: string, collection: string, rkey: string, value: object): StoredRecord {
    const v = cborOrder({ ...value, $type: collection }) as Record<string, unknown>;
    const uri = `at://${did}/${collection}/${rkey}`;
    const r = { uri, did, collection, rkey, cid: cidOf(v), value: v, indexedAt: clock.now(), deleted: false };
    records.push(r);
    return r;
  }
  const commit = () => ({ cid: cidOf(tid()), rev: tid() });
  /** The repo named in a write: a known account, and the caller's own. */
  function ownRepo(c: Ctx): AtprotoAccount {
    const a = account(String(c.body.repo));
    if (!a) throw new XrpcError(403, "AccountNotFound", "Account not found");
    if (a.did !== c.did) throw authRequired();
    return a;
  }
  const recordView = (r: StoredRecord) => ({ uri: r.uri, cid: r.cid, value: r.value });

  // An AppView's answers, made from the stored posts.
  const appViewRoute = (route: Omit<Route, "method" | "run">): Route => ({
    method: "GET",
    ...route,
    run: (c) => appViewAnswer(c.rec.nsid ?? "", records, accounts, c.did, c.q),
  });
  const APPVIEW: Record<string, Route> = {
    "app.bsky.feed.getTimeline": appViewRoute({ auth: "access" }),
    "app.bsky.feed.getAuthorFeed": appViewRoute({ params: "actor:ident" }),
    "app.bsky.notification.listNotifications": appViewRoute({ auth: "access" }),
  };

  const ROUTES: Record<string, Route> = {
    "com.atproto.server.describeServer": {
      method: "GET",
      run: () => ({
        did: serviceDid,
        availableUserDomains: [".test"],
        inviteCodeRequired: false,
        blobUploadLimit: 5242880,
        links: {},
        contact: {},
      }),
    },
    "com.atproto.server.createSession": {
      method: "POST",
      input: "identifier password",
      limits: sessionLimits,
      run(c) {
        const a = account(String(c.body.identifier));
        const app = a?.appPasswords.includes(String(c.body.password)) ?? false;
        if (!a || (!app && a.password !== c.body.password))
          throw authRequired("Invalid identifier or password");
        return { ...issue(a.did, app), ...sessionOf(a) };
      },
    },
    "com.atproto.server.getSession": {
      method: "GET",
      auth: "access",
      run: (c) => sessionOf(account(c.did) as AtprotoAccount),
    },
    "com.atproto.server.refreshSession": {
      method: "POST",
      auth: "refresh",
      run(c) {
        const a = account(c.did);
        if (!a) throw invalid(`Could not find user info for account: ${c.did}`);
        const s = sessions.get(c.jti);
        const until = Math.min(now() + 2 * HOUR, s?.expiresAt ?? 0);
        if (!s || until <= now()) throw invalid("Token has been revoked", "ExpiredToken");
        s.expiresAt = until;
        s.nextId ??= newJti();
        return { ...issue(a.did, s.appPassword, s.nextId), ...sessionOf(a) };
      },
    },
    "com.atproto.server.deleteSession": {
      method: "POST",
      auth: "refresh",
      run: (c) => void sessions.delete(c.jti),
    },
    "com.atproto.identity.resolveHandle": {
      method: "GET",
      params: "handle:handle",
      run(c) {
        const a = accounts.find((x) => x.handle.toLowerCase() === c.q("handle")?.toLowerCase());
        if (!a) throw invalid("Unable to resolve handle", "HandleNotFound");
        return { did: a.did };
      },
    },
    "com.atproto.repo.createRecord": {
      method: "POST",
      auth: "access",
      input: "repo:ident collection:nsid rkey?:rkey validate?:boolean record:object",
      limits: writes(3),
      run(c) {
        const a = ownRepo(c);
        const collection = String(c.body.collection);
        const record = c.body.record as Record<string, unknown>;
        if (record.$type !== undefined && record.$type !== collection)
          throw invalid(`Invalid $type: expected ${collection}, got ${record.$type}`);
        const known = collection === "app.bsky.feed.post" && c.body.validate !== false;
        const problem = known ? postProblem(record) : null;
        if (problem) throw invalid(`Invalid ${collection} record: ${problem}`);
        const rkey = c.body.rkey === undefined ? tid() : String(c.body.rkey);
        if (known && !TID.test(rkey))
          throw invalid(`Invalid record key for ${collection}: Invalid TID string (got ${got(rkey)}) at $`);
        // The repo refuses a second record at one path, and the PDS lets that out as a bare 500.
        if (live(a.did, collection, rkey))
          throw new XrpcError(500, ...(STATUS_ERRORS[500] as [string, string]));
        const r = store(a.did, collection, rkey, record);
        const status = c.body.validate === false ? {} : { validationStatus: known ? "valid" : "unknown" };
        return { uri: r.uri, cid: r.cid, commit: commit(), ...status };
      },
    },
    "com.atproto.repo.deleteRecord": {
      method: "POST",
      auth: "access",
      input: "repo:ident collection:nsid rkey:rkey",
      limits: writes(1),
      run(c) {
        const r = live(ownRepo(c).did, c.body.collection, c.body.rkey);
        if (!r) return {};
        r.deleted = true;
        return { commit: commit() };
      },
    },
    "com.atproto.repo.getRecord": {
      method: "GET",
      params: "repo:ident collection:nsid rkey cid?",
      run(c) {
        const a = account(c.q("repo") ?? "");
        if (!a) throw invalid("Could not locate record");
        const r = live(a.did, c.q("collection"), c.q("rkey"));
        if (!r || (c.q("cid") ?? r.cid) !== r.cid)
          throw invalid(
            `Could not locate record: at://${a.did}/${c.q("collection")}/${c.q("rkey")}`,
            "RecordNotFound",
          );
        return recordView(r);
      },
    },
    "com.atproto.repo.listRecords": {
      method: "GET",
      params: "repo:ident collection:nsid limit?:limit cursor? reverse?:bool",
      run(c) {
        const repo = c.q("repo") ?? "";
        const a = account(repo);
        if (!a) throw invalid(`Could not find repo: ${repo}`);
        const [reverse, cursor] = [c.q("reverse") === "true", c.q("cursor")];
        const list = records
          .filter((r) => !r.deleted && r.did === a.did && r.collection === c.q("collection"))
          .filter((r) => cursor === undefined || (reverse ? r.rkey > cursor : r.rkey < cursor))
          .sort((x, y) => (x.rkey < y.rkey ? -1 : 1) * (reverse ? 1 : -1))
          .slice(0, Number(c.q("limit") ?? 50));
        return { records: list.map(recordView), ...(list.length > 0 ? { cursor: list.at(-1)?.rkey } : {}) };
      },
    },
  };

  const json = (status: number, value: unknown, headers: Headers): Reply => {
    const body = value === undefined ? null : JSON.stringify(value);
    return { status, body, type: "application/json; charset=utf-8", headers };
  };

  /** The XRPC server's order: method, params, auth, input, the route's rate limits, the handler. */
  function route(rec: AtprotoRequest): Reply {
    const q = (k: string) => rec.query.get(k) ?? undefined;
    const c: Ctx = { rec, headers: [], did: "", jti: "", body: {}, q };
    const get = rec.method === "GET" || rec.method === "HEAD";
    if (rec.nsid === null) {
      const text = (body: string): Reply => ({
        status: 200,
        body,
        type: "text/plain; charset=utf-8",
        headers: [],
      });
      if (get && rec.path === "/") return text(BANNER);
      if (get && rec.path === "/robots.txt") return text(ROBOTS);
      const page = cannotPage(rec.method, rec.path);
      return { status: 404, body: page, type: "text/html; charset=utf-8", headers: [], page404: true };
    }
    try {
      if (rec.nsid === "_health" && get) return json(200, { version: "0.5.35" }, []);
      if (!NSID.test(rec.nsid) && !/^[a-zA-Z][a-zA-Z0-9-]*$/.test(rec.nsid))
        throw invalid("invalid xrpc path");
      if (!get && rec.method !== "POST") throw invalid("XRPC requests only supports GET and POST");
      let r = ROUTES[rec.nsid];
      const wrongMethod = (m: string) => invalid(`Incorrect HTTP method (${rec.method}) expected ${m}`);
      if (r && (r.method === "GET") !== get) throw wrongMethod(r.method);
      if (!r) {
        // The catch-all: the global limit, then a proxy to a service this PDS does not have.
        consume(c, [globalLimit()]);
        r = api.appView ? APPVIEW[rec.nsid] : undefined;
        if (!r) throw invalid(`No service configured for ${rec.nsid}`);
        if ((r.method === "GET") !== get) throw wrongMethod(r.method);
      }
      const paramProblem = r.params && fieldProblem(r.params, q, false);
      if (paramProblem) throw invalid(`Invalid ${rec.nsid} params: ${paramProblem}`);
      if (r.auth) authenticate(c, r.auth);
      if (r.input) c.body = readInput(rec.headers["content-type"], rec.body, r.input);
      if (ROUTES[rec.nsid]) consume(c, [...(r.limits?.(c) ?? []), globalLimit()]);
      return json(200, r.run(c), c.headers);
    } catch (e) {
      if (e instanceof InputProblem) return json(400, { error: e.error, message: e.message }, c.headers);
      if (!(e instanceof XrpcError)) throw e;
      return json(e.status, { error: e.error, message: e.message }, [...c.headers, ...e.headers]);
    }
  }

  const send = (req: IncomingMessage, res: ServerResponse, r: Reply) =>
    sendReply(req, res, r, clock.now().toUTCString());

  function applyFault(f: AtprotoFault, rec: AtprotoRequest, req: IncomingMessage, res: ServerResponse) {
    const answer = (status: number, body: string, type: string) => {
      res.setHeader("Date", clock.now().toUTCString());
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) }).end(body);
    };
    switch (f.kind) {
      case "status": {
        const [error, message] = STATUS_ERRORS[f.status] ?? ["Unknown", "Unknown"];
        const headers: Headers = [];
        if (f.status === 429) {
          // The route's tightest limit, used up.
          const own = (rec.nsid && ROUTES[rec.nsid]?.limits?.({ did: "", body: {} } as Ctx)) || [];
          const [l] = [...own, globalLimit()].sort((x, y) => x.points - y.points) as [Limit];
          headers.push(...limitHeaders(l, 0, now() + l.durationMs, now()));
        }
        return send(
          req,
          res,
          json(f.status, { error: f.error ?? error, message: f.message ?? message }, headers),
        );
      }
      case "reset-after-store":
        route(rec);
        req.socket.destroy();
        return;
      case "reset-before":
        req.socket.destroy();
        return;
      case "hang":
        return;
      case "reply-after-work":
        route(rec);
        return answer(f.status, f.body, f.contentType ?? "text/html");
      case "html-502":
        res.setHeader("Server", "nginx/1.22.1");
        return answer(502, HTML_502, "text/html");
      case "reply":
        for (const [k, v] of Object.entries(f.headers ?? {})) res.setHeader(k, v);
        return answer(f.status, f.body, f.contentType ?? "application/json; charset=utf-8");
      case "delay":
        setTimeout(() => send(req, res, route(rec)), f.ms);
        return;
    }
  }

  const server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert })
    : createHttpServer();
  server.keepAliveTimeout = 5000;
  server.on(opts.tls ? "secureConnection" : "connection", (sock: Socket) => {
    socketIds.set(sock, ++connections);
    sockets.add(sock);
    // A client that hangs up mid-reply must not bring the test run down.
    sock.on("error", () => {});
    sock.on("close", () => sockets.delete(sock));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const rec = parseRequest(req, Buffer.concat(chunks), socketIds.get(req.socket) ?? 0);
      requests.push(rec);
      const rule = findFault(faults, rec);
      if (rule) applyFault(rule.fault, rec, req, res);
      else send(req, res, route(rec));
    });
  });

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  const domain = `${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;

  const api: AtprotoServer = {
    origin: `${opts.tls ? "https" : "http"}://${domain}`,
    domain,
    serviceDid,
    clock,
    requests,
    connections: () => connections,
    faults,
    accounts,
    records,
    sessions,
    appView: opts.appView ?? false,
    account,
    createSession(id, o = {}) {
      const a = account(id);
      if (!a) throw new Error(`no account ${id}`);
      return issue(a.did, !o.main);
    },
    addPost(p) {
      const a = account(p.handle ?? accounts[0]?.handle ?? "");
      if (!a) throw new Error(`no account ${p.handle}`);
      const createdAt = (p.createdAt ?? clock.now()).toISOString();
      return store(a.did, "app.bsky.feed.post", p.rkey ?? tid(), { text: p.text, createdAt, ...p.extra });
    },
    expireAccessTokens() {
      jwts.expireAll();
    },
    revokeSessions() {
      sessions.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return api;
}

import { createHash, createHmac, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { isObject } from "./atproto-lexicon.js";
import type { Recorded } from "./gnusocial.js";

/**
 * The data of the PDS look-alike (atproto.ts) and how @atproto/pds 0.5.35 writes it: records (TIDs,
 * CIDs, DAG-CBOR key order), session JWTs, rate limits, Express's framing, its pages outside /xrpc/.
 */

export interface AtprotoAccount {
  handle: string;
  did: string;
  /** The main password: its sessions have the scope `com.atproto.access`. */
  password: string;
  /** App passwords (`xxxx-xxxx-xxxx-xxxx`): their sessions have `com.atproto.appPass`. */
  appPasswords: string[];
  email: string;
  /** Shown in the AppView's post views. */
  displayName: string;
}

export interface StoredRecord {
  uri: string;
  did: string;
  collection: string;
  rkey: string;
  cid: string;
  /** As stored and given back: `$type` filled in, keys in DAG-CBOR order. */
  value: Record<string, unknown>;
  indexedAt: Date;
  deleted: boolean;
}

/** A refresh token's row: deleteSession removes it; once used it lives on for 2 hours, then is revoked. */
export interface RefreshSession {
  jti: string;
  did: string;
  appPassword: boolean;
  /** Milliseconds on the server's clock. */
  expiresAt: number;
  /** The token id every refresh with this token gives (AccountManager.rotateRefreshToken). */
  nextId?: string;
}

export interface AtprotoRequest extends Recorded {
  /** The URL's path as sent, without the query. */
  path: string;
  query: URLSearchParams;
  /** The XRPC method the path names; null outside `/xrpc/`. */
  nsid: string | null;
}

export type Headers = [string, string][];

export interface Reply {
  status: number;
  /** null: a 200 without a body (deleteSession), which Express sends chunked. */
  body: string | null;
  type: string;
  headers: Headers;
  /** finalhandler's 404 page: CSP and nosniff, no ETag. */
  page404?: boolean;
}

/** Express's framing: its headers in its order, a weak ETag, compression() from 1 KB (br, gzip, deflate). */
export function sendReply(req: IncomingMessage, res: ServerResponse, r: Reply, date: string): void {
  if (res.headersSent || res.destroyed) return;
  res.setHeader("X-Powered-By", "Express");
  res.setHeader("Access-Control-Allow-Origin", "*");
  if (r.page404) {
    res.setHeader("Content-Security-Policy", "default-src 'none'");
    res.setHeader("X-Content-Type-Options", "nosniff");
  }
  for (const [k, v] of r.headers) res.appendHeader(k, v);
  if (r.body === null) {
    res.setHeader("Date", date);
    res.writeHead(r.status).write("");
    res.end();
    return;
  }
  let body = Buffer.from(r.body);
  res.setHeader("Content-Type", r.type);
  res.setHeader("Content-Length", body.length);
  const hash = createHash("sha1").update(body).digest("base64").slice(0, 27);
  if (!r.page404) res.setHeader("ETag", `W/"${body.length.toString(16)}-${hash}"`);
  const vary = res.getHeader("Vary");
  res.setHeader("Vary", vary ? `${vary}, Accept-Encoding` : "Accept-Encoding");
  res.setHeader("Date", date);
  const accepted = String(req.headers["accept-encoding"] ?? "")
    .split(",")
    .map((s) => s.trim().split(/\s*;\s*/))
    .filter(([, q]) => !/^q=0(\.0*)?$/.test(q ?? ""))
    .map(([e]) => e?.toLowerCase());
  const encoding = ["br", "gzip", "deflate"].find((e) => accepted.includes(e));
  if (!encoding || body.length < 1024) {
    res.writeHead(r.status).end(body);
    return;
  }
  res.removeHeader("Content-Length");
  res.setHeader("Content-Encoding", encoding);
  body =
    encoding === "br" ? brotliCompressSync(body) : encoding === "gzip" ? gzipSync(body) : deflateSync(body);
  res.writeHead(r.status).write(body);
  res.end();
}

export interface Limit {
  name: string;
  points: number;
  durationMs: number;
  key: string;
  cost: number;
}

/** The RateLimit-* headers of a limit's state (HttpRateLimiter), with Retry-After when it is used up. */
export function limitHeaders(l: Limit, remaining: number, resetAt: number, now?: number): Headers {
  const headers: Headers = [
    ["RateLimit-Limit", String(l.points)],
    ["RateLimit-Reset", String(Math.floor(resetAt / 1000))],
    ["RateLimit-Remaining", String(remaining)],
    ["RateLimit-Policy", `${l.points};w=${l.durationMs / 1000}`],
    [
      "Access-Control-Expose-Headers",
      "RateLimit-Limit, RateLimit-Reset, RateLimit-Remaining, RateLimit-Policy",
    ],
  ];
  if (now === undefined) return headers;
  const wait = String(Math.ceil((resetAt - now) / 1000));
  return [...headers, ["Access-Control-Expose-Headers", "Retry-After"], ["Retry-After", wait]];
}

/**
 * rate-limiter-flexible's memory limiters: a window opens at a key's first hit. Combined as the XRPC
 * server does: the headers name the tightest limit (least remaining), or the first one gone past.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { used: number; resetAt: number }>();
  constructor(private readonly now: () => number) {}

  consume(limits: Limit[]): { headers: Headers; exceeded: boolean } {
    const now = this.now();
    let lowest: { l: Limit; remaining: number; resetAt: number } | undefined;
    let over: typeof lowest;
    for (const l of limits) {
      const key = `${l.name}:${l.key}`;
      const old = this.buckets.get(key);
      const bucket = old && old.resetAt > now ? old : { used: 0, resetAt: now + l.durationMs };
      bucket.used += l.cost;
      this.buckets.set(key, bucket);
      const state = { l, remaining: Math.max(0, l.points - bucket.used), resetAt: bucket.resetAt };
      if (bucket.used > l.points) over ??= state;
      if (!lowest || state.remaining < lowest.remaining) lowest = state;
    }
    const st = over ?? lowest;
    if (!st) return { headers: [], exceeded: false };
    return {
      headers: limitHeaders(st.l, st.remaining, st.resetAt, over && now),
      exceeded: over !== undefined,
    };
  }
}

/** The stored record as the PDS gives it back: DAG-CBOR orders keys by length, then bytes. */
export function cborOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cborOrder);
  if (!isObject(v)) return v;
  const keys = Object.keys(v).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || (a < b ? -1 : 1));
  return Object.fromEntries(keys.map((k) => [k, cborOrder(v[k])]));
}

/** A CIDv1 (dag-cbor, sha-256) in base32: of the JSON rather than the CBOR, but it looks and sorts alike. */
export function cidOf(value: unknown): string {
  const B32 = "abcdefghijklmnopqrstuvwxyz234567";
  const digest = createHash("sha256").update(JSON.stringify(value)).digest();
  let out = "b";
  let acc = 0;
  let bits = 0;
  for (const byte of Buffer.concat([Buffer.from([1, 0x71, 0x12, 0x20]), digest])) {
    acc = ((acc << 8) | byte) & 0xffff;
    for (bits += 8; bits >= 5; bits -= 5) out += B32[(acc >>> (bits - 5)) & 31];
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out;
}

/** A TID: microseconds since 1970 and a 10-bit clock id, 13 base32-sortable characters. */
export function tidOf(micros: number, clockId: number): string {
  let n = (BigInt(micros) << 10n) | BigInt(clockId & 1023);
  let s = "";
  for (let i = 0; i < 13; i++, n >>= 5n) s = "234567abcdefghijklmnopqrstuvwxyz"[Number(n & 31n)] + s;
  return s;
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** The PDS's session JWTs: HS256 with the server's secret (the header bytes are the fixtures'). */
export class Jwts {
  private readonly secret = randomBytes(32);
  private readonly issued: string[] = [];
  private readonly expired = new Set<string>();
  constructor(
    private readonly serviceDid: string,
    private readonly now: () => number,
  ) {}

  sign(typ: "at+jwt" | "refresh+jwt", payload: object): string {
    const unsigned = `${b64({ typ, alg: "HS256" })}.${b64(payload)}`;
    const token = `${unsigned}.${createHmac("sha256", this.secret).update(unsigned).digest("base64url")}`;
    // A token made again within the second of an expired one is the same string: new, so valid.
    if (typ === "at+jwt") this.issued.push(token);
    this.expired.delete(token);
    return token;
  }

  /** Every access token signed so far is taken as expired from now on. */
  expireAll(): void {
    for (const t of this.issued) this.expired.add(t);
  }

  /**
   * AuthVerifier.access() and refresh(): the Authorization header, jose's checks (signature, typ, aud,
   * exp, unless `allowExpired`), the scope. Returns the token's subject and id, or throws as the PDS answers.
   */
  verify(header: unknown, kind: "access" | "refresh", allowExpired: boolean): { did: string; jti: string } {
    const missing = new XrpcError(401, "AuthMissing", "Authentication Required");
    if (typeof header !== "string" || header === "") throw missing;
    const [type = "", token = "", ...rest] = header.split(" ");
    const scheme = type.toUpperCase();
    if (rest.length > 0 || !header.includes(" ") || (scheme !== "BEARER" && scheme !== "BASIC"))
      // authorization() reads the scheme before it sets its headers, refresh() after: `early`.
      throw Object.assign(invalid("Malformed authorization header", "InvalidToken"), {
        early: kind === "access",
      });
    if (scheme === "BASIC")
      throw kind === "refresh" ? missing : invalid("Unexpected authorization type", "InvalidToken");
    const [h = "", p = "", sig, extra] = token.split(".");
    const good = createHmac("sha256", this.secret).update(`${h}.${p}`).digest("base64url");
    let payload: Record<string, unknown> | undefined;
    try {
      const typ = JSON.parse(Buffer.from(h, "base64url").toString()).typ;
      if (sig === good && extra === undefined && typ === (kind === "access" ? "at+jwt" : "refresh+jwt"))
        payload = JSON.parse(Buffer.from(p, "base64url").toString());
    } catch {}
    if (!isObject(payload) || payload.aud !== this.serviceDid)
      throw invalid("Token could not be verified", "InvalidToken");
    if (!allowExpired && (Number(payload.exp) <= this.now() / 1000 || this.expired.has(token)))
      throw invalid("Token has expired", "ExpiredToken");
    const scopes =
      kind === "access" ? ["com.atproto.access", "com.atproto.appPass"] : ["com.atproto.refresh"];
    if (!scopes.includes(String(payload.scope))) throw invalid("Bad token scope", "InvalidToken");
    return { did: String(payload.sub), jti: String(payload.jti ?? "") };
  }
}

/** @atproto/xrpc's names and texts for an error status that has no custom one. */
export const STATUS_ERRORS: Record<number, [string, string]> = {
  400: ["InvalidRequest", "Invalid Request"],
  401: ["AuthenticationRequired", "Authentication Required"],
  403: ["Forbidden", "Forbidden"],
  404: ["XRPCNotSupported", "XRPC Not Supported"],
  413: ["PayloadTooLarge", "Payload Too Large"],
  429: ["RateLimitExceeded", "Rate Limit Exceeded"],
  500: ["InternalServerError", "Internal Server Error"],
  501: ["MethodNotImplemented", "Method Not Implemented"],
  502: ["UpstreamFailure", "Upstream Failure"],
  503: ["NotEnoughResources", "Not Enough Resources"],
  504: ["UpstreamTimeout", "Upstream Timeout"],
};

/** nginx's 502 page, as a proxy in front of a PDS sends it. */
export const HTML_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/** `GET /` (basic-routes.js). */
export const BANNER = `
         __                         __
        /\\ \\__                     /\\ \\__
    __  \\ \\ ,_\\  _____   _ __   ___\\ \\ ,_\\   ___
  /'__'\\ \\ \\ \\/ /\\ '__'\\/\\''__\\/ __'\\ \\ \\/  / __'\\
 /\\ \\L\\.\\_\\ \\ \\_\\ \\ \\L\\ \\ \\ \\//\\ \\L\\ \\ \\ \\_/\\ \\L\\ \\
 \\ \\__/.\\_\\\\ \\__\\\\ \\ ,__/\\ \\_\\\\ \\____/\\ \\__\\ \\____/
  \\/__/\\/_/ \\/__/ \\ \\ \\/  \\/_/ \\/___/  \\/__/\\/___/
                   \\ \\_\\
                    \\/_/


This is an AT Protocol Personal Data Server (aka, an atproto PDS)

Most API routes are under /xrpc/

      Code: https://github.com/bluesky-social/atproto
 Self-Host: https://github.com/bluesky-social/pds
  Protocol: https://atproto.com
`;

export const ROBOTS = "# Hello!\n\n# Crawling the public API is allowed\nUser-agent: *\nAllow: /";

/** finalhandler's 404 page: the path as encodeurl and escape-html leave it. */
export function cannotPage(method: string, path: string): string {
  const shown = path
    .replace(/[^\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7A\x7C\x7E]|%(?![0-9A-Fa-f]{2})/g, encodeURIComponent)
    .replace(
      /[&<>"']/g,
      (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
    );
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot ${method} ${shown}</pre>\n</body>\n</html>\n`;
}

export class XrpcError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly headers: Headers = [],
  ) {
    super(message);
  }
}
export const invalid = (message: string, error = "InvalidRequest") => new XrpcError(400, error, message);
export const authRequired = (message = "Authentication Required") =>
  new XrpcError(401, "AuthenticationRequired", message);

export type AtprotoFault =
  /** An XRPC error as the PDS frames it (the status's name and text unless given); 429 with RateLimit-*. */
  | { kind: "status"; status: number; error?: string; message?: string }
  /** Do the work (store the record, make the session), then drop the connection without a reply. */
  | { kind: "reset-after-store" }
  /** Drop the connection, nothing done. */
  | { kind: "reset-before" }
  /** Never answer. */
  | { kind: "hang" }
  /** Do the work, then answer this instead: a gateway's error in front of a PDS that did store. */
  | { kind: "reply-after-work"; status: number; body: string; contentType?: string }
  /** A proxy's HTML 502 page (nginx's, HTML_502), nothing done. */
  | { kind: "html-502" }
  /** Any reply, verbatim, nothing done. */
  | { kind: "reply"; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Answer normally after a pause. */
  | { kind: "delay"; ms: number };

export interface AtprotoFaultRule {
  fault: AtprotoFault;
  /** Only this XRPC method (an NSID, or a pattern over NSIDs), e.g. "com.atproto.repo.createRecord". */
  method?: string | RegExp;
  /** Only requests whose URL (path and query) matches. */
  path?: RegExp;
  when?: "authenticated" | "anonymous";
  /** How many requests it applies to before it is used up (default: all of them). */
  times?: number;
}

/** The request as recorded: the path as sent, its query, and the XRPC method it names. */
export function parseRequest(req: IncomingMessage, body: Buffer, connection: number): AtprotoRequest {
  const url = req.url ?? "/";
  const path = url.split("?")[0] ?? "/";
  let nsid: string | null = null;
  if (path.startsWith("/xrpc/")) {
    try {
      nsid = decodeURIComponent(path.slice(6)).replace(/\/$/, "");
    } catch {
      nsid = "";
    }
  }
  const query = new URLSearchParams(url.slice(path.length + 1));
  return { method: req.method ?? "", url, headers: { ...req.headers }, body, connection, path, query, nsid };
}

/** The first fault rule that applies to a request, one use of it taken. */
export function findFault(faults: AtprotoFaultRule[], rec: AtprotoRequest): AtprotoFaultRule | undefined {
  const { nsid } = rec;
  const rule = faults.find(
    (f) =>
      (f.when === undefined || (f.when === "authenticated") === (rec.headers.authorization !== undefined)) &&
      (f.method === undefined ||
        (typeof f.method === "string" ? f.method === nsid : nsid !== null && f.method.test(nsid))) &&
      (f.path === undefined || f.path.test(rec.url)) &&
      (f.times === undefined || f.times > 0),
  );
  if (rule?.times !== undefined) rule.times--;
  return rule;
}

/**
 * An AppView's answer, through the PDS, to getTimeline (every post), getAuthorFeed (`actor`'s) or
 * listNotifications (replies to and mentions of `viewer`), from the stored posts: newest first, `limit`
 * at a time, the cursor an rkey.
 */
export function appViewAnswer(
  nsid: string,
  records: StoredRecord[],
  accounts: AtprotoAccount[],
  viewer: string,
  q: (k: string) => string | undefined,
): object {
  const parentOf = (r: StoredRecord) =>
    (r.value.reply as { parent?: { uri?: string } } | undefined)?.parent?.uri;
  const mine = new Set(records.filter((r) => r.did === viewer).map((r) => r.uri));
  const isReply = (r: StoredRecord) => mine.has(parentOf(r) ?? "");
  const mentions = (r: StoredRecord) => JSON.stringify(r.value.facets ?? []).includes(`"did":"${viewer}"`);
  const actor = q("actor")?.toLowerCase();
  const author = accounts.find((a) => a.did === actor || a.handle.toLowerCase() === actor);
  if (nsid === "app.bsky.feed.getAuthorFeed" && !author) throw invalid("Profile not found");
  const keep: (r: StoredRecord) => boolean =
    nsid === "app.bsky.notification.listNotifications"
      ? (r) => r.did !== viewer && (isReply(r) || mentions(r))
      : (r) => author === undefined || r.did === author.did;
  const limit = Number(q("limit") ?? 50);
  const cursor = q("cursor") ?? "\u007f";
  const list = records
    .filter((r) => !r.deleted && r.collection === "app.bsky.feed.post" && r.rkey < cursor && keep(r))
    .sort((x, y) => (x.rkey < y.rkey ? 1 : -1))
    .slice(0, limit);
  const views = list.map((r) => {
    const a = accounts.find((x) => x.did === r.did);
    const by = { did: r.did, handle: a?.handle ?? "handle.invalid", displayName: a?.displayName, labels: [] };
    const replyCount = records.filter((x) => !x.deleted && parentOf(x) === r.uri).length;
    const indexedAt = r.indexedAt.toISOString();
    const post = {
      uri: r.uri,
      cid: r.cid,
      author: by,
      record: r.value,
      replyCount,
      repostCount: 0,
      likeCount: 0,
    };
    if (nsid !== "app.bsky.notification.listNotifications")
      return { post: { ...post, quoteCount: 0, indexedAt } };
    const reason = isReply(r) ? "reply" : "mention";
    return {
      uri: r.uri,
      cid: r.cid,
      author: by,
      reason,
      record: r.value,
      isRead: false,
      indexedAt,
      labels: [],
    };
  });
  const key = nsid === "app.bsky.notification.listNotifications" ? "notifications" : "feed";
  return { [key]: views, ...(list.length === limit ? { cursor: list.at(-1)?.rkey } : {}) };
}

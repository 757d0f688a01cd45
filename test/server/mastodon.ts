import { randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Recorded } from "./gnusocial.js";
import {
  formValues,
  list,
  makeReplies,
  parseBody,
  type Reply,
  railsTrue,
  str,
  type Values,
} from "./mastodon-http.js";
import {
  type App,
  accountId,
  accountJson,
  compareIds,
  credentialsJson,
  type Grant,
  MastodonStore,
  type MastodonUser,
  type Mode,
  notificationJson,
  type StoredNotification,
  type StoredStatus,
  statusJson,
  type Token,
  type View,
  type Visibility,
} from "./mastodon-model.js";
import { createOAuth } from "./mastodon-oauth.js";
import { instanceV1, instanceV2, type SiteView, SNAC_AGENT, softwareVersion } from "./mastodon-pages.js";
import { graphemeLength, mastodonContent, mastodonLength, rubyStrip, snacContent } from "./mastodon-text.js";
import { Clock } from "./model.js";

/**
 * A loopback server that answers the Mastodon client API as Mastodon 4.3, snac2 2.94 or GoToSocial
 * do (`mode`, changeable between requests), quirks included: MASTODON.md for Mastodon and GoToSocial,
 * the transcripts of fixtures/snac (and snac's source) for snac. It records every request, keeps the
 * OAuth state (apps, codes, tokens) and the statuses, runs on a movable clock, and misbehaves on
 * request (`faults`), like the GNU social one (gnusocial.ts). Where GoToSocial's behaviour is not
 * spelled out here it answers as Mastodon does, with GoToSocial's ids and error texts.
 */
export type { Recorded } from "./gnusocial.js";
export type {
  App,
  Grant,
  MastodonUser,
  Mode,
  StoredNotification,
  StoredStatus,
  Token,
  Visibility,
} from "./mastodon-model.js";
export { OOB } from "./mastodon-oauth.js";

export type Fault =
  /** Any reply, verbatim. */
  | {
      kind: "reply";
      status: number;
      body: string;
      contentType?: string;
      headers?: Record<string, string | string[]>;
    }
  /** Read the request, then drop the connection without a word. */
  | { kind: "reset-after-read" }
  /** Headers promise more bytes than are sent, then the connection is dropped. */
  | { kind: "truncate" }
  /** A 200 that sends one byte every `intervalMs`, forever. */
  | { kind: "drip"; intervalMs: number }
  /** Never answer. */
  | { kind: "hang" }
  /** Redirect every request. */
  | { kind: "redirect"; status: number; location: string }
  /** Answer normally but close the connection after the response (`Connection: close`). */
  | { kind: "no-keep-alive" }
  /** Do the work (post the status, issue the token), then drop the connection instead of answering. */
  | { kind: "lose-reply" }
  /** Answer normally after a pause. */
  | { kind: "delay"; ms: number }
  /**
   * Do the work (post the status), then answer with this reply instead of the real one: a gateway's
   * 502 or 504 in front of a server that did post, say.
   */
  | {
      kind: "reply-after-work";
      status: number;
      body: string;
      contentType?: string;
    };

export interface FaultRule {
  fault: Fault;
  /** Only requests that carry Authorization, or only those that do not. */
  when?: "authenticated" | "anonymous";
  /** Only requests whose URL (path and query) matches (default: all). */
  path?: RegExp;
  /** How many requests it applies to before it is used up (default: all). */
  times?: number;
}

/** Rack::Attack's throttle, as Mastodon answers it: `limit` requests per `periodMs` window. */
export interface RateLimit {
  limit: number;
  /** The window, aligned on multiples of it as Rack::Attack does (default 5 minutes). */
  periodMs?: number;
  /** Which requests count (default: every `/api/` request). */
  path?: RegExp;
}

export interface MastodonSite {
  title: string;
  /** `configuration.statuses.max_characters`. */
  maxCharacters: number;
  /** `configuration.statuses.characters_reserved_per_url`, and what a URL counts when enforcing. */
  urlLength: number;
  /** Refuse over-long statuses (Mastodon: 422, counted its way); snac and GoToSocial accept them. */
  enforceLimit: boolean;
  /** null: no throttle (Mastodon exempts loopback); else 429 past the limit, X-RateLimit-* on API replies. */
  rateLimit: RateLimit | null;
}

/** What each server advertises and enforces (MASTODON.md §8). Setting `mode` resets these. */
export const MODE_DEFAULTS: Record<
  Mode,
  Pick<MastodonSite, "maxCharacters" | "urlLength" | "enforceLimit">
> = {
  mastodon: { maxCharacters: 500, urlLength: 23, enforceLimit: true },
  snac: { maxCharacters: 100000, urlLength: 32, enforceLimit: false },
  gotosocial: { maxCharacters: 5000, urlLength: 25, enforceLimit: false },
};

export interface StartMastodonOptions {
  mode?: Mode;
  tls?: { key: string; cert: string };
  host?: string;
  site?: Partial<MastodonSite>;
  /** Share one clock between servers (default: a clock of its own, at the machine's time). */
  clock?: Clock;
  /** Listen on this port (default: any free one), e.g. one another look-alike just gave up. */
  port?: number;
}

export interface NewStatus {
  text: string;
  /** Default "alice". */
  username?: string;
  visibility?: Visibility;
  spoilerText?: string;
  inReplyToId?: string | null;
  language?: string;
  /** Default: the server's clock now (ids follow it, so older statuses get smaller ids). */
  createdAt?: Date;
}

export interface MastodonServer {
  /** `http(s)://127.0.0.1:PORT`: the API lives at `/api/v1/…`, OAuth at `/oauth/…`. */
  origin: string;
  /** `127.0.0.1:PORT`: the instance's `uri`/`domain`. */
  domain: string;
  /** Which server it imitates; setting it resets site.maxCharacters, urlLength and enforceLimit. */
  mode: Mode;
  /** Changes apply to the next request. */
  site: MastodonSite;
  clock: Clock;
  requests: Recorded[];
  connections(): number;
  faults: FaultRule[];
  users: MastodonUser[];
  apps: App[];
  /** Authorization codes, with the PKCE challenge and method they were asked with. */
  grants: Grant[];
  tokens: Token[];
  /** Every status stored (deleted ones too, flagged), with the fields received (`params`). */
  statuses: StoredStatus[];
  notifications: StoredNotification[];
  user(username: string): MastodonUser | undefined;
  addUser(user: { username: string; password?: string; displayName?: string; note?: string }): MastodonUser;
  /** The account id the server gives this user in the current mode. */
  accountId(username: string): string;
  /** Registers an app as `POST /api/v1/apps` would (default: oob redirect, "read write"). */
  registerApp(opts?: { name?: string; redirectUris?: string[]; scopes?: string[]; website?: string }): App;
  /**
   * What a person does in the browser: validates the authorization request (a URL, a query string
   * or its fields) as the server would, logs `username` in, and returns the code they would copy.
   * Throws `Error("<oauth error>: <description>")` where the server would show an error page.
   */
  authorize(request: string | URLSearchParams | Record<string, string>, username?: string): string;
  /** A token as made in the web UI (or, with `clientId`, for that app); null username: an app token. */
  issueToken(username: string | null, opts?: { scopes?: string | string[]; clientId?: string }): string;
  revokeToken(token: string): void;
  /** Seeds a status as if the user had posted it (notifications included). */
  addStatus(status: NewStatus): StoredStatus;
  status(id: string): StoredStatus | undefined;
  follow(follower: string, followed: string): void;
  close(): Promise<void>;
}

const VISIBILITIES: Visibility[] = ["public", "unlisted", "private", "direct"];

/** `xs_http_status_text()` where Node's words differ. */
const SNAC_REASONS: Record<number, string> = { 422: "Unprocessable Content" };

export async function startMastodon(opts: StartMastodonOptions = {}): Promise<MastodonServer> {
  const store = new MastodonStore();
  const clock = opts.clock ?? new Clock();
  let mode: Mode = opts.mode ?? "mastodon";
  const site: MastodonSite = {
    title: "identica test instance",
    ...MODE_DEFAULTS[mode],
    rateLimit: null,
    ...opts.site,
  };
  const requests: Recorded[] = [];
  const faults: FaultRule[] = [];
  const socketIds = new WeakMap<Socket, number>();
  const sockets = new Set<Socket>();
  let connections = 0;
  let origin = "";
  let domain = "";

  const server: Server = opts.tls
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
    // Faults answer through Node too: their Date comes from the server's clock (plain snac has none).
    if (mode !== "snac" || opts.tls) res.setHeader("date", clock.now().toUTCString());
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec: Recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: { ...req.headers },
        body: Buffer.concat(chunks),
        connection: socketIds.get(req.socket) ?? 0,
      };
      requests.push(rec);
      const rule = faults.find(
        (f) =>
          (f.when === undefined ||
            (f.when === "authenticated") === (req.headers.authorization !== undefined)) &&
          (f.path === undefined || f.path.test(rec.url)) &&
          (f.times === undefined || f.times > 0),
      );
      if (rule?.times !== undefined) rule.times--;
      if (rule && applyFault(rule.fault, rec, req, res)) return;
      send(handle(rec, req), req, res);
    });
  });

  function applyFault(fault: Fault, rec: Recorded, req: IncomingMessage, res: ServerResponse): boolean {
    switch (fault.kind) {
      case "reply":
        res.writeHead(fault.status, {
          "content-type": fault.contentType ?? "application/json; charset=utf-8",
          ...fault.headers,
        });
        res.end(fault.body);
        return true;
      case "reset-after-read":
        req.socket.destroy();
        return true;
      case "truncate":
        res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": "500" });
        res.write('{"id":"1100');
        setTimeout(() => req.socket.destroy(), 20);
        return true;
      case "drip": {
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        const timer = setInterval(() => res.write(" "), fault.intervalMs);
        res.on("close", () => clearInterval(timer));
        return true;
      }
      case "hang":
        return true;
      case "redirect":
        res.writeHead(fault.status, { location: fault.location, "content-type": "text/html" });
        res.end(`<a href="${fault.location}">moved</a>`);
        return true;
      case "no-keep-alive":
        res.shouldKeepAlive = false;
        return false;
      case "lose-reply":
        handle(rec, req);
        req.socket.destroy();
        return true;
      case "delay":
        setTimeout(() => send(handle(rec, req), req, res), fault.ms);
        return true;
      case "reply-after-work":
        handle(rec, req);
        res.writeHead(fault.status, { "content-type": fault.contentType ?? "text/html" });
        res.end(fault.body);
        return true;
    }
  }

  /**
   * snac writes its answer itself and closes the connection after every one (httpd.c: one request
   * per connection, no Date, no Connection header, no Content-Length when there is no body); over
   * TLS, as its proxy passes it on. The others answer through Node with keep-alive and a Date from
   * the server's clock.
   */
  function send(reply: Reply, req: IncomingMessage, res: ServerResponse): void {
    if (mode === "snac" && opts.tls) {
      // snac has no TLS of its own: over https it sits behind a proxy (nginx in snac/50, 51) that
      // keeps the connection alive, adds Server and Date, and frames a body snac did not measure.
      res.sendDate = false;
      res.setHeader("Server", "nginx/1.22.1");
      res.setHeader("Date", clock.now().toUTCString());
      res.setHeader("Content-Type", reply.contentType ?? "text/html; charset=utf-8");
      if (reply.body !== null) res.setHeader("Content-Length", Buffer.byteLength(reply.body));
      for (const [k, v] of reply.headers)
        if (k !== "Link" && !/^x-ratelimit-/i.test(k)) res.appendHeader(k, v);
      res.setHeader("x-creator", SNAC_AGENT);
      for (const [k, v] of reply.headers) if (k === "Link") res.appendHeader(k, v);
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("access-control-allow-headers", "*");
      res.setHeader("access-control-expose-headers", "Link");
      res.setHeader("Content-Security-Policy", "script-src ;");
      for (const [k, v] of reply.headers) if (/^x-ratelimit-/i.test(k)) res.appendHeader(k, v);
      res.writeHead(reply.status, SNAC_REASONS[reply.status]);
      res.end(reply.body ?? "");
      return;
    }
    if (mode === "snac") {
      const sock = req.socket;
      if (sock.destroyed || sock.writableEnded) return;
      const late = (k: string) => k === "Link" || /^x-ratelimit-/i.test(k);
      const lines = [
        `HTTP/1.1 ${reply.status} ${SNAC_REASONS[reply.status] ?? STATUS_CODES[reply.status]}`,
        ...reply.headers.filter(([k]) => !late(k)).map(([k, v]) => `${k}: ${v}`),
        `content-type: ${reply.contentType ?? "text/html; charset=utf-8"}`,
        `x-creator: ${SNAC_AGENT}`,
        ...reply.headers.filter(([k]) => k === "Link").map(([k, v]) => `${k}: ${v}`),
        "access-control-allow-origin: *",
        "access-control-allow-headers: *",
        "access-control-expose-headers: Link",
        "Content-Security-Policy: script-src ;",
        ...reply.headers.filter(([k]) => k !== "Link" && late(k)).map(([k, v]) => `${k}: ${v}`),
      ];
      const body = reply.body === null ? Buffer.alloc(0) : Buffer.from(reply.body);
      if (reply.body !== null) lines.push(`content-length: ${body.length}`);
      const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`);
      sock.end(req.method === "HEAD" ? head : Buffer.concat([head, body]));
      return;
    }
    res.setHeader("date", clock.now().toUTCString());
    res.setHeader("x-request-id", randomUUID());
    for (const [k, v] of reply.headers) res.appendHeader(k, v);
    res.setHeader("content-type", reply.contentType ?? "text/html; charset=utf-8");
    const body = Buffer.from(reply.body ?? "");
    res.setHeader("content-length", body.length);
    res.writeHead(reply.status);
    res.end(body);
  }

  const view = (): View => ({ mode, origin, domain, store, now: clock.now() });
  const siteView = (): SiteView => ({
    mode,
    site,
    origin,
    domain,
    users: store.users.length,
    statuses: store.statuses.filter((s) => !s.deleted).length,
  });

  // ---- reply builders ------------------------------------------------------------------------

  const replies = makeReplies(() => mode);
  const { json, error, snacError, snacEmpty, notFound, recordNotFound } = replies;
  const oauth = createOAuth({
    get mode() {
      return mode;
    },
    get origin() {
      return origin;
    },
    get domain() {
      return domain;
    },
    store,
    clock,
    replies,
  });

  // ---- authentication ------------------------------------------------------------------------

  type Caller =
    | { kind: "anonymous" }
    | { kind: "invalid"; revoked: boolean }
    | { kind: "app"; token: Token }
    | { kind: "user"; token: Token; user: MastodonUser };

  /**
   * Who is asking. snac takes only `Authorization: Bearer ` spelled so (snac/22b, 22c); Doorkeeper
   * (Mastodon) any case of the scheme, and `access_token`/`bearer_token` parameters too;
   * GoToSocial `Bearer ` or an `access_token` parameter. Basic is no token anywhere (snac/23).
   */
  function caller(req: IncomingMessage, params: Values): Caller {
    const header = req.headers.authorization ?? "";
    let tok: string | undefined;
    if (mode === "snac") {
      if (header.startsWith("Bearer ")) tok = header.slice(7);
    } else if (mode === "mastodon") {
      if (/^Bearer /i.test(header)) tok = header.slice(7).trim();
      else tok = str(params, "access_token") ?? str(params, "bearer_token");
    } else {
      tok = header.startsWith("Bearer ") ? header.slice(7) : str(params, "access_token");
    }
    if (tok === undefined || tok === "") return { kind: "anonymous" };
    const t = store.tokens.find((x) => x.token === tok);
    if (!t) return { kind: "invalid", revoked: false };
    if (t.revoked) return { kind: "invalid", revoked: true };
    if (t.username === null) return { kind: "app", token: t };
    const user = store.user(t.username);
    return user ? { kind: "user", token: t, user } : { kind: "invalid", revoked: false };
  }

  const hasScope = (t: Token, accepted: string[]) => accepted.some((s) => t.scopes.includes(s));

  function unauthorized(c: Caller): Reply {
    if (mode === "gotosocial") return error(401, "Unauthorized: token not supplied");
    const description =
      c.kind === "invalid" && c.revoked ? "The access token was revoked" : "The access token is invalid";
    return error(401, description, [
      [
        "www-authenticate",
        `Bearer realm="Doorkeeper", error="invalid_token", error_description="${description}"`,
      ],
    ]);
  }
  const forbiddenScope = () =>
    mode === "gotosocial"
      ? error(403, "Forbidden: token has insufficient scope permission")
      : error(403, "This action is outside the authorized scopes");

  /**
   * The user a token stands for, or the refusal: Doorkeeper's 401 (bad token), 403 (scope), then
   * `require_user!`'s 422 (an app token); GoToSocial's 401s; snac's `snacFail` (an empty 401 or 422).
   */
  function requireUser(c: Caller, scopes: string[], snacFail: 401 | 422): MastodonUser | Reply {
    if (mode === "snac") return c.kind === "user" ? c.user : snacEmpty(snacFail);
    if (c.kind === "anonymous" || c.kind === "invalid") return unauthorized(c);
    if (!hasScope(c.token, scopes)) return forbiddenScope();
    if (c.kind === "app") {
      return mode === "gotosocial"
        ? error(401, "Unauthorized: user not supplied or not authorized")
        : error(422, "This method requires an authenticated user");
    }
    return c.user;
  }

  /**
   * `authorize_if_got_token!`: no token is fine, a bad one is 401 even on a public read. GoToSocial
   * wants a user for these reads; snac ignores a bad token and reads on.
   */
  function optionalUser(c: Caller, scopes: string[]): MastodonUser | null | Reply {
    if (mode === "gotosocial") return requireUser(c, scopes, 401);
    if (mode === "snac") return c.kind === "user" ? c.user : null;
    if (c.kind === "anonymous") return null;
    if (c.kind === "invalid") return unauthorized(c);
    if (!hasScope(c.token, scopes)) return forbiddenScope();
    return c.kind === "user" ? c.user : null;
  }
  const isReply = (x: unknown): x is Reply =>
    x !== null && typeof x === "object" && "status" in x && "headers" in x;

  // ---- rate limit ----------------------------------------------------------------------------

  let throttle: { rule: RateLimit; window: number; count: number } | null = null;

  /** Rack::Attack: count the request in its window; the headers, and whether it is over. */
  function rateLimit(rule: RateLimit): { headers: [string, string][]; limited: boolean } {
    const period = rule.periodMs ?? 300_000;
    const now = clock.now().getTime();
    const window = Math.floor(now / period);
    if (throttle === null || throttle.rule !== rule || throttle.window !== window)
      throttle = { rule, window, count: 0 };
    throttle.count++;
    const reset = new Date((window + 1) * period).toISOString().replace(/Z$/, "000Z");
    return {
      headers: [
        ["X-RateLimit-Limit", String(rule.limit)],
        ["X-RateLimit-Remaining", String(Math.max(0, rule.limit - throttle.count))],
        ["X-RateLimit-Reset", reset],
      ],
      limited: throttle.count > rule.limit,
    };
  }

  // ---- statuses ------------------------------------------------------------------------------

  /** May `viewer` see this status (Mastodon's StatusPolicy#show?, simplified: no blocks)? */
  function visibleTo(s: StoredStatus, viewer: MastodonUser | null): boolean {
    if (s.deleted) return false;
    if (s.visibility === "public" || s.visibility === "unlisted") return true;
    if (viewer === null) return false;
    if (viewer.username === s.username || s.mentions.includes(viewer.username)) return true;
    return s.visibility === "private" && store.follows.has(`${viewer.username}:${s.username}`);
  }

  function localMention(username: string, dom: string | undefined): MastodonUser | undefined {
    if (dom !== undefined && dom !== domain && dom !== domain.replace(/:\d+$/, "")) return undefined;
    return store.user(username);
  }

  /** Stores a status and notifies those it mentions; the content rendered as the current mode does. */
  function createStatus(
    user: MastodonUser,
    fields: Omit<NewStatus, "username" | "createdAt" | "language"> & {
      sensitive?: boolean;
      language?: string | null;
    },
    extra: {
      createdAt?: Date;
      params?: Values | null;
      application?: StoredStatus["application"];
      idempotencyKey?: string | null;
      noStatusField?: boolean;
    } = {},
  ): StoredStatus {
    const now = extra.createdAt ?? clock.now();
    const { id, uri } = store.statusId(mode, now, (sid, micros) =>
      mode === "snac"
        ? `${origin}/${user.username}/p/${micros}`
        : `${origin}/users/${user.username}/statuses/${sid}`,
    );
    let content: string;
    let mentions: string[];
    let tags: string[];
    if (mode === "snac") {
      const f = snacContent(fields.text, origin);
      content = extra.noStatusField ? "" : f.html;
      tags = f.tags;
      // snac knows `@user@host` mentions only (process_tags); a local one is delivered locally.
      mentions = [...fields.text.matchAll(/@([A-Za-z0-9_]+)@([A-Za-z0-9.:-]+)/g)].flatMap((m) => {
        const u = localMention(m[1] as string, m[2] as string);
        return u ? [u.username] : [];
      });
    } else {
      const f = mastodonContent(fields.text, origin, (name, dom) => {
        const u = localMention(name, dom);
        return u ? { username: u.username, url: `${origin}/@${u.username}` } : undefined;
      });
      content = f.html;
      mentions = f.mentions;
      tags = f.tags;
    }
    const s: StoredStatus = {
      id,
      username: user.username,
      text: fields.text,
      spoilerText: fields.spoilerText ?? "",
      visibility: fields.visibility ?? "public",
      sensitive: fields.sensitive ?? (fields.spoilerText ?? "") !== "",
      language: fields.language === undefined ? "en" : fields.language,
      inReplyToId: fields.inReplyToId ?? null,
      createdAt: now,
      content,
      mentions,
      tags,
      uri,
      url: mode === "snac" ? uri : `${origin}/@${user.username}/${id}`,
      application: extra.application === undefined ? { name: "Web", website: null } : extra.application,
      deleted: false,
      mode,
      params: extra.params ?? null,
      idempotencyKey: extra.idempotencyKey ?? null,
      seq: store.nextSeq(),
    };
    store.statuses.push(s);
    for (const name of mentions) {
      if (name === user.username) continue;
      store.notifications.push({
        id: store.notificationId(mode, now),
        username: name,
        type: "mention",
        from: user.username,
        statusId: id,
        createdAt: now,
      });
    }
    return s;
  }

  /** Mastodon's `limit_param`: absent → the default; else |to_i|, at most twice the default. */
  function limitParam(q: URLSearchParams, def: number): number {
    const raw = q.get("limit");
    if (raw === null) return def;
    const n = Math.abs(Number.parseInt(raw, 10) || 0);
    return Math.min(n, def * 2);
  }

  /**
   * Mastodon's `paginate_by_id`: newest first, `max_id`/`since_id` exclusive bounds, `min_id` pages
   * forward. Snowflakes grow with time, so items are ordered by time (then by arrival) and a cursor
   * by the position of the item it names; an id it does not know is compared as Mastodon would.
   */
  function paginate<T extends { id: string; createdAt: Date }>(
    items: T[],
    q: URLSearchParams,
    limit: number,
  ): T[] {
    const order = (a: T, b: T) =>
      a.createdAt.getTime() - b.createdAt.getTime() || items.indexOf(a) - items.indexOf(b);
    const cursor = (id: string | null) => {
      if (!id) return null;
      const ref = items.find((x) => x.id === id);
      return (x: T) => (ref ? order(x, ref) : compareIds(x.id, id));
    };
    const max = cursor(q.get("max_id"));
    const since = cursor(q.get("since_id"));
    const min = cursor(q.get("min_id"));
    let out = items.filter((x) => (!max || max(x) < 0) && (!since || since(x) > 0));
    if (min) {
      out = out.filter((x) => min(x) > 0).sort(order);
      return out.slice(0, limit).reverse();
    }
    return out.sort((a, b) => order(b, a)).slice(0, limit);
  }

  /** Mastodon's `Link`: the kept parameters (sorted, as Rails' to_query) with max_id / min_id. */
  function mastodonLink(
    path: string,
    q: URLSearchParams,
    keep: string[],
    page: { id: string }[],
    limit: number,
  ) {
    if (page.length === 0) return [];
    const with_ = (k: string, v: string) => {
      const p = new URLSearchParams();
      const entries = [...q].filter(([name]) => keep.includes(name.replace(/\[\]$/, "")));
      entries.push([k, v]);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [name, value] of entries) p.append(name, value);
      return `<${origin}${path}?${p}>`;
    };
    const parts: string[] = [];
    if (page.length >= limit)
      parts.push(`${with_("max_id", (page.at(-1) as { id: string }).id)}; rel="next"`);
    parts.push(`${with_("min_id", (page[0] as { id: string }).id)}; rel="prev"`);
    return [["Link", parts.join(", ")] as [string, string]];
  }

  /**
   * snac's `mastoapi_timeline()`: walks its index newest first by position; `max_id` skips to the
   * entry after that id (none if it is not there), `since_id` stops at it, `min_id` walks forward.
   */
  function snacPage(items: StoredStatus[], q: URLSearchParams): StoredStatus[] {
    const md = (id: string | null) => (id === null ? null : id.toLowerCase().slice(10));
    let limit = Number.parseInt(q.get("limit") ?? "", 10) || 0;
    if (limit === 0) limit = 20;
    const byPos = [...items].sort((a, b) => b.seq - a.seq);
    let maxId = md(q.get("max_id"));
    const sinceId = md(q.get("since_id"));
    const minId = md(q.get("min_id"));
    if (minId !== null) {
      const asc = byPos.reverse();
      const at = asc.findIndex((s) => s.id.slice(10) === minId);
      if (at < 0) return [];
      return asc.slice(at + 1, at + 1 + limit).reverse();
    }
    const out: StoredStatus[] = [];
    for (const s of byPos) {
      if (out.length >= limit) break;
      if (maxId !== null) {
        if (s.id.slice(10) === maxId) maxId = null;
        continue;
      }
      if (sinceId !== null && s.id.slice(10) === sinceId) break;
      out.push(s);
    }
    return out;
  }

  function snacLink(path: string, page: StoredStatus[]): [string, string][] {
    if (page.length === 0) return [];
    const first = (page[0] as StoredStatus).id;
    const last = (page.at(-1) as StoredStatus).id;
    return [
      [
        "Link",
        `<${origin}${path}?max_id=${last}>; rel="next", <${origin}${path}?since_id=${first}>; rel="prev"`,
      ],
    ];
  }

  const statusesReply = (list: StoredStatus[], headers: [string, string][] = []) =>
    json(
      200,
      list.map((s) => statusJson(view(), s)),
      headers,
    );

  // ---- discovery -----------------------------------------------------------------------------
  function nodeinfo(path: string): Reply | undefined {
    const users = store.users.length;
    const posts = store.statuses.filter((s) => !s.deleted).length;
    if (mode === "snac") {
      if (path === "/.well-known/nodeinfo")
        return {
          status: 200,
          contentType: "application/json; charset=utf-8",
          body: `{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.1","href":"${origin}/nodeinfo_2_1"},{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.0","href":"${origin}/nodeinfo_2_0"}]}`,
          headers: [],
        };
      if (path !== "/nodeinfo_2_0" && path !== "/nodeinfo_2_1") return undefined;
      const doc = {
        version: path === "/nodeinfo_2_1" ? "2.1" : "2.0",
        software: { name: "snac", version: "2.94" },
        protocols: ["activitypub"],
        services: { outbound: [], inbound: [] },
        usage: { users: { total: users, activeMonth: 0, activeHalfyear: 0 }, localPosts: 0 },
        openRegistrations: false,
        metadata: { nodeDescription: "", nodeName: site.title, baseURL: origin },
      };
      return {
        status: 200,
        contentType: "application/json; charset=utf-8",
        body: JSON.stringify(doc),
        headers: [],
      };
    }
    const versions = mode === "gotosocial" ? ["2.0", "2.1"] : ["2.0"];
    if (path === "/.well-known/nodeinfo")
      return json(200, {
        links: versions.map((v) => ({
          rel: `http://nodeinfo.diaspora.software/ns/schema/${v}`,
          href: `${origin}/nodeinfo/${v}`,
        })),
      });
    const v = /^\/nodeinfo\/(2\.[01])$/.exec(path)?.[1];
    if (v === undefined || !versions.includes(v)) return undefined;
    const doc = {
      version: v,
      software: { name: mode, version: softwareVersion(mode) },
      protocols: ["activitypub"],
      services: { outbound: [], inbound: [] },
      usage: { users: { total: users, activeMonth: users, activeHalfyear: users }, localPosts: posts },
      openRegistrations: false,
      metadata: { nodeName: site.title, nodeDescription: "" },
    };
    return {
      ...json(200, doc),
      contentType: `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/${v}#"`,
    };
  }

  // ---- the API -------------------------------------------------------------------------------

  const READ_STATUSES = ["read", "read:statuses"];
  const WRITE_STATUSES = ["write", "write:statuses"];

  function postStatus(rec: Recorded, req: IncomingMessage, url: URL): Reply {
    const body = parseBody(rec);
    const query = formValues(url.search.slice(1));
    if (mode === "snac") {
      const c = caller(req, {});
      if (c.kind !== "user") return snacEmpty(401);
      const p = body.kind === "none" ? query : body.values;
      const content = str(p, "status");
      const mid = str(p, "in_reply_to_id");
      const vis = str(p, "visibility") ?? "public";
      const summary = str(p, "spoiler_text") ?? "";
      // snac stores unlisted, public and private as asked and anything else as direct (snac/33d).
      const visibility: Visibility = (["unlisted", "public", "private"] as string[]).includes(vis)
        ? (vis as Visibility)
        : "direct";
      // An unknown in_reply_to_id is dropped (snac/32b).
      const parent = mid === undefined ? undefined : store.status(mid, mode);
      const s = createStatus(
        c.user,
        {
          text: content ?? "",
          visibility,
          spoilerText: summary,
          inReplyToId: parent && !parent.deleted ? parent.id : null,
          sensitive: summary !== "",
          language: str(p, "language") ?? null,
        },
        { params: p, noStatusField: content === undefined, application: null },
      );
      return json(200, statusJson(view(), s));
    }
    const c = caller(req, { ...query, ...body.values });
    const user = requireUser(c, WRITE_STATUSES, 401);
    if (isReply(user) || c.kind !== "user") return user as Reply;
    if (body.invalid) return error(400, "Error occurred while parsing request parameters");
    const p = { ...query, ...body.values };
    const replyTo = str(p, "in_reply_to_id");
    let parent: StoredStatus | undefined;
    if (replyTo !== undefined && replyTo !== "") {
      parent = store.status(replyTo, mode);
      if (!parent || !visibleTo(parent, user)) {
        return mode === "gotosocial"
          ? error(400, `Bad Request: status with id ${replyTo} not replyable because it doesn't exist`)
          : error(404, "The post you are trying to reply to does not appear to exist.");
      }
    }
    // PostStatusService: a key already used by this account within the hour gives that status back.
    const key = mode === "mastodon" ? req.headers["idempotency-key"] : undefined;
    const idemKey = typeof key === "string" && key !== "" ? `${user.username}:${key}` : null;
    if (idemKey !== null) {
      const seen = store.idempotency.get(idemKey);
      if (seen && clock.now().getTime() - seen.at < 3_600_000) {
        const earlier = store.statuses.find((s) => s.id === seen.statusId);
        if (!earlier || earlier.deleted) return error(404, "Record not found");
        return json(200, statusJson(view(), earlier));
      }
    }
    const text = rubyStrip(str(p, "status") ?? "");
    const spoiler = rubyStrip(str(p, "spoiler_text") ?? "");
    const vis = str(p, "visibility");
    if (vis !== undefined && vis !== "" && !(VISIBILITIES as string[]).includes(vis))
      return error(422, "Validation failed: Visibility is not included in the list");
    if (text === "") {
      return mode === "gotosocial"
        ? error(400, "Bad Request: no status, media, or poll provided")
        : error(422, "Validation failed: Text can't be blank");
    }
    if (site.enforceLimit) {
      if (mode === "gotosocial") {
        const n = [...text].length + [...spoiler].length;
        if (n > site.maxCharacters)
          return error(
            400,
            `Bad Request: status too long, ${n} characters provided (including content warning) but limit is ${site.maxCharacters}`,
          );
      } else if (mastodonLength(text, spoiler, site.urlLength) > site.maxCharacters) {
        return error(422, `Validation failed: Text character limit of ${site.maxCharacters} exceeded`);
      }
    }
    const language = str(p, "language");
    const app =
      c.token.clientId === null ? undefined : store.apps.find((a) => a.clientId === c.token.clientId);
    const s = createStatus(
      user,
      {
        text,
        visibility: (vis || "public") as Visibility,
        spoilerText: spoiler,
        inReplyToId: parent?.id ?? null,
        sensitive: railsTrue(p.sensitive) || spoiler !== "",
        language: language && /^[a-z]{2,3}(-[A-Za-z0-9]+)?$/.test(language) ? language : "en",
      },
      {
        params: body.kind === "none" ? query : body.values,
        application: app ? { name: app.name, website: app.website } : { name: "Web", website: null },
        idempotencyKey: typeof key === "string" ? key : null,
      },
    );
    if (idemKey !== null) store.idempotency.set(idemKey, { statusId: s.id, at: clock.now().getTime() });
    return json(200, statusJson(view(), s));
  }

  /** The statuses on a user's home timeline: their own, those they follow, those mentioning them. */
  function homeOf(user: MastodonUser): StoredStatus[] {
    return store.statuses.filter(
      (s) =>
        !s.deleted &&
        (s.username === user.username ||
          s.mentions.includes(user.username) ||
          (s.visibility !== "direct" && store.follows.has(`${user.username}:${s.username}`))),
    );
  }

  /** An account by its id in this mode (snac: also by name). */
  function userById(id: string): MastodonUser | undefined {
    const v = view();
    return store.users.find((u) => accountId(v, u) === id || (mode === "snac" && u.username === id));
  }

  function api(rec: Recorded, req: IncomingMessage, url: URL): Reply | undefined {
    const path = url.pathname.replace(/\/+$/, "");
    const method = rec.method === "HEAD" ? "GET" : rec.method;
    const q = url.searchParams;
    const queryValues = formValues(url.search.slice(1));

    if (method === "GET" && path === "/api/v1/instance") return json(200, instanceV1(siteView()));
    if (method === "GET" && path === "/api/v2/instance")
      return mode === "snac" ? snacError(404) : json(200, instanceV2(siteView()));
    if (method === "POST" && path === "/api/v1/apps") return oauth.postApp(rec, url);

    if (method === "GET" && path === "/api/v1/accounts/verify_credentials") {
      const user = requireUser(caller(req, queryValues), ["read", "read:accounts", "profile"], 422);
      return isReply(user) ? user : json(200, credentialsJson(view(), user));
    }

    if (method === "GET" && path === "/api/v1/accounts/lookup") {
      const viewer = optionalUser(caller(req, queryValues), ["read", "read:accounts"]);
      if (isReply(viewer)) return viewer;
      const acct = q.get("acct");
      if (mode === "snac") {
        if (acct === null) return snacError(404);
        const [uid, host] = acct.replace(/^@+|@+$/g, "").split(/@(.*)/s);
        const user =
          uid && (host === undefined || host === domain)
            ? store.users.find((u) => u.username === uid)
            : undefined;
        return user ? json(200, accountJson(view(), user)) : snacError(404);
      }
      const [name, host] = (acct ?? "").replace(/^@/, "").split(/@(.*)/s);
      const local =
        host === undefined || host === "" || host === domain || host === domain.replace(/:\d+$/, "");
      const user = name && local ? store.user(name) : undefined;
      return user ? json(200, accountJson(view(), user)) : recordNotFound();
    }

    const accountPath = /^\/api\/v1\/accounts\/([^/]+)(\/statuses)?$/.exec(path);
    if (method === "GET" && accountPath) {
      const c = caller(req, queryValues);
      const viewer = optionalUser(c, accountPath[2] ? READ_STATUSES : ["read", "read:accounts"]);
      if (isReply(viewer)) return viewer;
      const user = userById(decodeURIComponent(accountPath[1] as string));
      if (!user) return recordNotFound();
      if (!accountPath[2]) return json(200, accountJson(view(), user));
      if (mode === "snac") {
        // The account's public Notes only, by position; max_id skips to after that id; no Link.
        const limit = q.has("limit") ? Number.parseInt(q.get("limit") ?? "", 10) || 0 : 20;
        let maxId = q.get("max_id")?.toLowerCase() ?? null;
        const out: StoredStatus[] = [];
        const mine = store.statuses
          .filter((s) => !s.deleted && s.username === user.username && s.visibility === "public")
          .sort((a, b) => b.seq - a.seq)
          .slice(0, 256);
        for (const s of mine) {
          if (out.length >= limit) break;
          if (maxId !== null) {
            if (s.id === maxId) maxId = null;
            continue;
          }
          out.push(s);
        }
        return statusesReply(out);
      }
      let list = store.statuses.filter((s) => s.username === user.username && visibleTo(s, viewer));
      // `without_replies`: replies to others are left out, a thread of one's own is kept.
      if (railsTrue(q.get("exclude_replies") ?? undefined))
        list = list.filter(
          (s) =>
            s.inReplyToId === null ||
            store.statuses.find((p) => p.id === s.inReplyToId)?.username === s.username,
        );
      const limit = limitParam(q, 20);
      const page = paginate(list, q, limit);
      const keep = ["limit", "only_media", "exclude_replies", "exclude_reblogs", "pinned", "tagged"];
      return statusesReply(page, mastodonLink(path, q, keep, page, limit));
    }

    if (path === "/api/v1/statuses" && method === "POST") return postStatus(rec, req, url);

    const statusPath = /^\/api\/v1\/statuses\/([^/]+)$/.exec(path);
    if (statusPath && method === "GET") {
      const id = decodeURIComponent(statusPath[1] as string);
      const c = caller(req, queryValues);
      if (mode === "snac") {
        if (c.kind !== "user") return snacEmpty(401);
        const s = store.status(id, mode);
        return s && !s.deleted ? json(200, statusJson(view(), s)) : snacError(404);
      }
      const viewer = optionalUser(c, READ_STATUSES);
      if (isReply(viewer)) return viewer;
      const s = store.status(id, mode);
      return s && visibleTo(s, viewer) ? json(200, statusJson(view(), s)) : recordNotFound();
    }
    if (statusPath && method === "DELETE") {
      const id = decodeURIComponent(statusPath[1] as string);
      const user = requireUser(
        caller(req, { ...queryValues, ...parseBody(rec).values }),
        WRITE_STATUSES,
        401,
      );
      if (isReply(user)) return user;
      const s = store.status(id, mode);
      if (!s || s.deleted || s.username !== user.username) return recordNotFound();
      const answer = statusJson(view(), s, true);
      s.deleted = true;
      return json(200, answer);
    }

    if (method === "GET" && path === "/api/v1/timelines/home") {
      const user = requireUser(caller(req, queryValues), READ_STATUSES, 401);
      if (isReply(user)) return user;
      if (mode === "snac") {
        const page = snacPage(homeOf(user), q);
        return statusesReply(page, snacLink(path, page));
      }
      const limit = limitParam(q, 20);
      const page = paginate(homeOf(user), q, limit);
      return statusesReply(
        page,
        mastodonLink(path, q, ["limit", "local", "remote", "only_media"], page, limit),
      );
    }

    if (method === "GET" && path === "/api/v1/timelines/public") {
      const viewer = optionalUser(caller(req, queryValues), READ_STATUSES);
      if (isReply(viewer)) return viewer;
      // Every account here is local: `local=true` changes nothing, `remote=true` leaves nothing.
      const remote = railsTrue(q.get("remote") ?? undefined);
      const all = store.statuses.filter((s) => !s.deleted && s.visibility === "public" && !remote);
      if (mode === "snac") return statusesReply(snacPage(all, q));
      // Mastodon's public feed leaves out replies to others.
      const pub = all.filter((s) => {
        if (s.inReplyToId === null) return true;
        return store.statuses.find((p) => p.id === s.inReplyToId)?.username === s.username;
      });
      const limit = limitParam(q, 20);
      const page = paginate(pub, q, limit);
      return statusesReply(
        page,
        mastodonLink(path, q, ["limit", "local", "remote", "only_media"], page, limit),
      );
    }

    if (method === "GET" && path === "/api/v1/notifications") {
      const user = requireUser(caller(req, queryValues), ["read", "read:notifications"], 401);
      if (isReply(user)) return user;
      const types = list(queryValues, "types");
      const exclude = list(queryValues, "exclude_types");
      const v = view();
      const mine = store.notifications
        .filter((n) => n.username === user.username)
        .filter((n) => (!types || types.includes(n.type)) && !exclude?.includes(n.type))
        .filter((n) => notificationJson(v, n) !== null);
      if (mode === "snac") {
        // snac walks its 64 latest; a max_id skips to after it, min_id keeps the greater ids, and
        // a missing `limit` ends the list after one entry (`--limit_count <= 0`, mastoapi.c).
        let maxId = q.get("max_id");
        const minId = q.get("min_id");
        const limit = Number.parseInt(q.get("limit") ?? "", 10) || 0;
        const out: StoredNotification[] = [];
        for (const n of [...mine].reverse().slice(0, 64)) {
          if (maxId !== null) {
            if (n.id === maxId) maxId = null;
            continue;
          }
          if (minId !== null && n.id <= minId) continue;
          out.push(n);
          if (out.length >= Math.max(limit, 1)) break;
        }
        return json(
          200,
          out.map((n) => notificationJson(v, n)),
        );
      }
      const limit = limitParam(q, 40);
      const page = paginate(mine, q, limit);
      return json(
        200,
        page.map((n) => notificationJson(v, n)),
        mastodonLink(path, q, ["limit", "types", "exclude_types", "account_id"], page, limit),
      );
    }
    return undefined;
  }

  function handle(rec: Recorded, req: IncomingMessage): Reply {
    const url = new URL(rec.url, "http://x");
    const path = url.pathname;
    let limits: [string, string][] = [];
    const rule = site.rateLimit;
    if (rule && path.startsWith("/api/") && (rule.path === undefined || rule.path.test(rec.url))) {
      const r = rateLimit(rule);
      limits = r.headers;
      if (r.limited) return error(429, "Too many requests", limits);
    }
    const reply = route(rec, req, url);
    reply.headers.push(...limits);
    return reply;
  }

  function route(rec: Recorded, req: IncomingMessage, url: URL): Reply {
    const path = url.pathname;
    const method = rec.method === "HEAD" ? "GET" : rec.method;
    if (method === "GET" && (path.startsWith("/.well-known/nodeinfo") || path.startsWith("/nodeinfo"))) {
      const r = nodeinfo(path);
      if (r) return r;
    }
    if (path.startsWith("/oauth/")) {
      const r = oauth.route(rec, req, url);
      if (r) return r;
    }
    if (path.startsWith("/api/")) {
      const r = api(rec, req, url);
      if (r) return r;
    }
    if (mode === "snac") {
      // mastoapi_post_handler's last `else`: an unknown API route is 422 with no body (snac/44c).
      if (method === "POST" && (path.startsWith("/api/v1/") || path.startsWith("/api/v2/")))
        return snacEmpty(422);
      return snacError(404);
    }
    if (mode === "gotosocial" && path.startsWith("/api/")) return error(404, "Not Found");
    return notFound();
  }

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  origin = `${opts.tls ? "https" : "http"}://${host}:${addr.port}`;
  domain = `${host}:${addr.port}`;

  const api_: MastodonServer = {
    origin,
    domain,
    get mode() {
      return mode;
    },
    set mode(m: Mode) {
      mode = m;
      Object.assign(site, MODE_DEFAULTS[m]);
    },
    site,
    clock,
    requests,
    connections: () => connections,
    faults,
    users: store.users,
    apps: store.apps,
    grants: store.grants,
    tokens: store.tokens,
    statuses: store.statuses,
    notifications: store.notifications,
    user: (username) => store.user(username),
    addUser(u) {
      const user: MastodonUser = {
        n: store.users.reduce((n, x) => Math.max(n, x.n), 0) + 1,
        username: u.username,
        password: u.password ?? "",
        displayName: u.displayName ?? "",
        note: u.note ?? "",
        createdAt: clock.now(),
      };
      store.users.push(user);
      return user;
    },
    accountId(username) {
      const user = store.user(username);
      if (!user) throw new Error(`no user ${username}`);
      return accountId(view(), user);
    },
    registerApp: (o) => oauth.registerApp(o),
    authorize: (request, username) => oauth.authorize(request, username),
    issueToken: (username, o) => oauth.issueToken(username, o),
    revokeToken(token) {
      for (const t of store.tokens) if (t.token === token) t.revoked = true;
    },
    addStatus(st) {
      const user = store.user(st.username ?? "alice");
      if (!user) throw new Error(`no user ${st.username}`);
      const fields: Parameters<typeof createStatus>[1] = { text: st.text };
      if (st.visibility !== undefined) fields.visibility = st.visibility;
      if (st.spoilerText !== undefined) fields.spoilerText = st.spoilerText;
      if (st.inReplyToId !== undefined) fields.inReplyToId = st.inReplyToId;
      if (st.language !== undefined) fields.language = st.language;
      return createStatus(user, fields, st.createdAt === undefined ? {} : { createdAt: st.createdAt });
    },
    status: (id) => store.status(id, mode),
    follow(follower, followed) {
      store.follows.add(`${follower}:${followed}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return api_;
}

/** Mastodon's count, for tests that want to build a text of an exact length. */
export { graphemeLength, mastodonLength };

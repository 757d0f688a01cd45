import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import {
  Clock,
  configObject,
  configXml,
  errorXml,
  iso8601,
  type Notice,
  phpJson,
  type Site,
  Store,
  statusesXml,
  statusObject,
  statusXml,
  type User,
  userObject,
  userXml,
} from "./model.js";
import { htmlEntityDecode, parseForm, phpTrim, phpTruthy } from "./php.js";

/**
 * A loopback server that answers like the real GNU social 2.0.1 of fixtures/gnusocial: the exact
 * Basic challenge, error documents and codes, the duplicate and length rules, the text stored as the
 * real one stores it (trimmed, entity-decoded), commands swallowed as statuses (and `fav`/`sub`
 * run), a clock tests can move. It records every request (method, URL, headers, body bytes,
 * connection) so tests can assert on the wire, and misbehaves on request (`fault`).
 */
export interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Which TCP (or TLS) connection carried it, numbered from 1. */
  connection: number;
}

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
  /** 401 with these WWW-Authenticate lines (none when empty) to requests without Authorization. */
  | { kind: "challenge"; values: string[] }
  /** Redirect every request. */
  | { kind: "redirect"; status: number; location: string }
  /** Answer normally but close the connection after every response (`Connection: close`). */
  | { kind: "no-keep-alive" }
  /** Do the work (post the status), then drop the connection instead of answering: a crash mid-post. */
  | { kind: "lose-reply" }
  /** Answer normally after a pause. */
  | { kind: "delay"; ms: number };

export interface FaultRule {
  fault: Fault;
  /** Only requests that carry Authorization (the retry), or only those that do not. */
  when?: "authenticated" | "anonymous";
  /** Only requests whose path matches (default: all). */
  path?: RegExp;
  /** How many requests it applies to before it is used up (default: all). */
  times?: number;
}

export interface StartOptions {
  tls?: { key: string; cert: string };
  host?: string;
  site?: Partial<Site>;
  /** Share one clock between servers (default: a clock of its own, at the machine's time). */
  clock?: Clock;
  /** Where the API lives: "/api" (default), or "" for an API at the site root. */
  apiPath?: string;
}

export interface TestServer {
  /** `http(s)://host:port` */
  origin: string;
  /** `<origin>/api` */
  apiRoot: string;
  requests: Recorded[];
  connections(): number;
  store: Store;
  /** Changes apply to the next request (`site.dupelimit = 5`, `site.textlimit = 140`). */
  site: Site;
  /** The server's time: move it with `clock.advance(ms)`, `clock.set(date)` or `clock.offsetMs`. */
  clock: Clock;
  faults: FaultRule[];
  close(): Promise<void>;
}

/**
 * `CommandInterpreter::handle_command()` (GNU social lib/commandinterpreter.php and the Favorite and
 * Share plugins' additions): the words, and how many arguments make each a command. A command word
 * with the wrong arguments (`whois bob is here`, `help me`, `d bob`) is not a command: it is posted.
 */
const NO_ARG = new Set([
  "help",
  "login",
  "subscribers",
  "subscriptions",
  "groups",
  "stats",
  "tracks",
  "tracking",
  "stop",
  "quit",
]);
/** Nothing or one word. */
const OPTIONAL_ARG = new Set(["on", "off", "get", "last"]);
/** Exactly one word. */
const ONE_ARG = new Set([
  "lose",
  "join",
  "drop",
  "follow",
  "sub",
  "leave",
  "unsub",
  "repeat",
  "rp",
  "rt",
  "rd",
  "whois",
  "fav",
  "nudge",
  "invite",
  "track",
  "untrack",
]);
/** A word and a text. */
const TWO_ARGS = new Set(["d", "dm", "r", "reply"]);

export interface Command {
  /** The command word, lower case. */
  word: string;
  /** Its first argument ("" when none). */
  other: string;
}

/** PHP's `explode(' ', $text, 2)` with the missing half as null. */
function splitArg(text: string): [string, string | null] {
  const space = text.indexOf(" ");
  return space < 0 ? [text, null] : [text.slice(0, space), text.slice(space + 1)];
}

/**
 * Would the server run this (trimmed, not yet entity-decoded) text as a command? The interpreter
 * collapses ASCII whitespace, lower-cases the first word (ASCII only) and tests its arguments with
 * PHP truthiness, so `fav 0` is not a command while `fav bob` is.
 */
export function parseCommand(text: string): Command | undefined {
  const [cmd, arg] = splitArg(phpTrim(text).replace(/[ \t\n\x0B\f\r]+/g, " "));
  const word = cmd.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const [other, extra] = splitArg(arg ?? "");
  if (NO_ARG.has(word)) return phpTruthy(arg) ? undefined : { word, other: "" };
  if (OPTIONAL_ARG.has(word)) return phpTruthy(extra) ? undefined : { word, other };
  if (ONE_ARG.has(word)) return phpTruthy(arg) && !phpTruthy(extra) ? { word, other } : undefined;
  if (TWO_ARGS.has(word)) return phpTruthy(extra) ? { word, other } : undefined;
  return undefined;
}

/** Kept for callers that only ask whether a text is a command. */
export function isCommand(text: string): boolean {
  return parseCommand(text) !== undefined;
}

/**
 * What `repeat NICK` (also `rp`, `rt`, `rd`: one command) answers on the real server (docs/statusnet-api.md §8: a
 * 500 with a PHP TypeError). The exact wording was not recorded; this is one in PHP's form.
 */
export const REPEAT_TYPE_ERROR =
  "RepeatCommand::handle(): Return value must be of type Notice, null returned";

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const store = new Store();
  const clock = opts.clock ?? new Clock();
  const apiPath = opts.apiPath ?? "/api";
  const site: Site = {
    name: "Realserver Test",
    textlimit: 1000,
    contentlimit: null,
    dupelimit: 60,
    ...opts.site,
  };
  const requests: Recorded[] = [];
  const faults: FaultRule[] = [];
  const socketIds = new WeakMap<Socket, number>();
  const sockets = new Set<Socket>();
  let connections = 0;
  const realm = `${site.name} API`;

  const server: Server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert })
    : createHttpServer();
  server.keepAliveTimeout = 5000;
  const track = (sock: Socket) => {
    socketIds.set(sock, ++connections);
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
  };
  server.on(opts.tls ? "secureConnection" : "connection", track);

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    // Every real reply carries the server's Date (fixtures: nginx + PHP-FPM), from the movable clock.
    res.setHeader("date", clock.now().toUTCString());
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
      handle(rec, req, res);
    });
  });

  function applyFault(fault: Fault, rec: Recorded, req: IncomingMessage, res: ServerResponse): boolean {
    switch (fault.kind) {
      case "reply":
        res.writeHead(fault.status, {
          "content-type": fault.contentType ?? "application/xml; charset=utf-8",
          ...fault.headers,
        });
        res.end(fault.body);
        return true;
      case "reset-after-read":
        req.socket.destroy();
        return true;
      case "truncate":
        res.writeHead(200, { "content-type": "application/xml; charset=utf-8", "content-length": "500" });
        res.write('<?xml version="1.0" encoding="UTF-8"?>\n<status>\n <text>trunc');
        setTimeout(() => req.socket.destroy(), 20);
        return true;
      case "drip": {
        res.writeHead(200, { "content-type": "application/xml; charset=utf-8" });
        const timer = setInterval(() => res.write(" "), fault.intervalMs);
        res.on("close", () => clearInterval(timer));
        return true;
      }
      case "hang":
        return true;
      case "challenge":
        if (req.headers.authorization !== undefined) return false;
        res.writeHead(401, {
          "content-type": "application/xml; charset=utf-8",
          ...(fault.values.length > 0 ? { "www-authenticate": fault.values } : {}),
        });
        res.end(errorXml("Could not authenticate you.", req.url ?? ""));
        return true;
      case "redirect":
        res.writeHead(fault.status, { location: fault.location, "content-type": "text/html" });
        res.end(`<a href="${fault.location}">moved</a>`);
        return true;
      case "no-keep-alive":
        res.shouldKeepAlive = false;
        return false;
      case "lose-reply": {
        const discard = { writeHead: () => discard, end: () => discard, shouldKeepAlive: true };
        handle(rec, req, discard as unknown as ServerResponse);
        req.socket.destroy();
        return true;
      }
      case "delay":
        setTimeout(() => handle(rec, req, res), fault.ms);
        return true;
    }
  }

  const base = () => origin;
  type Fmt = "xml" | "json";

  function send(res: ServerResponse, status: number, fmt: Fmt, xml: string, json: unknown, extra = {}): void {
    const body = fmt === "xml" ? xml : phpJson(json);
    res.writeHead(status, {
      "content-type": `application/${fmt}; charset=utf-8`,
      "access-control-allow-origin": "*",
      ...extra,
    });
    res.end(body);
  }

  function apiError(
    res: ServerResponse,
    status: number,
    fmt: Fmt,
    message: string,
    url: string,
    extra = {},
  ): void {
    send(res, status, fmt, errorXml(message, url), { error: message, request: url }, extra);
  }

  function htmlError(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
    res.end(`<div class="error">${message}</div>`);
  }

  function notFoundPage(res: ServerResponse): void {
    res.writeHead(404, { "content-type": "text/html; charset=utf-8" });
    res.end(
      '<!DOCTYPE html\nPUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"\n "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html><head><title>Page not found</title></head><body><p>Page not found</p></body></html>\n',
    );
  }

  /** `ApiAuthAction`: the user, or an answer already sent (401 challenge, 400 malformed, 500 empty password). */
  function authenticate(req: IncomingMessage, res: ServerResponse, fmt: Fmt, url: string, required: boolean) {
    const header = req.headers.authorization;
    const challenge = { "www-authenticate": `Basic realm="${realm}"` };
    const deny = () => {
      apiError(res, 401, fmt, "Could not authenticate you.", url, challenge);
      return null;
    };
    if (header === undefined || !/^basic /i.test(header)) return required ? deny() : undefined;
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const nick = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? null : decoded.slice(colon + 1);
    if (!/^[A-Za-z0-9]+$/.test(nick)) {
      apiError(res, 400, fmt, "Nickname must have only lowercase letters and numbers and no spaces.", url);
      return null;
    }
    if (password === null || password === "") {
      const msg =
        "EmailAuthenticationPlugin::onStartCheckPassword(): Argument #2 ($password) must be of type string, null given, called in /srv/gnusocial/lib/util/event.php on line 89";
      apiError(res, 500, fmt, msg, url);
      return null;
    }
    const user = store.userByNick(nick);
    if (!user || user.password !== password) return required ? deny() : undefined;
    return user;
  }

  /** `$_REQUEST`: the query string, then the form body over it (PHP's decoding, see parseForm). */
  function params(rec: Recorded, req: IncomingMessage): Map<string, string> | null {
    const query = rec.url.indexOf("?");
    const out = parseForm(query < 0 ? "" : rec.url.slice(query + 1));
    if (rec.body.length > 0) {
      const type = String(req.headers["content-type"] ?? "");
      if (!/^application\/x-www-form-urlencoded/i.test(type)) return null;
      for (const [k, v] of parseForm(rec.body)) out.set(k, v);
    }
    return out;
  }

  function timeline(list: Notice[], q: Map<string, string>): Notice[] {
    let count = Number.parseInt(q.get("count") ?? "20", 10);
    if (!(count >= 1)) count = 20;
    if (count > 200) count = 200;
    const since = Number.parseInt(q.get("since_id") ?? "0", 10) || 0;
    const max = Number.parseInt(q.get("max_id") ?? "0", 10) || 0;
    return list
      .filter((n) => !n.deleted && (since < 1 || n.id > since) && (max < 1 || n.id <= max))
      .sort((a, b) => b.id - a.id)
      .slice(0, count);
  }

  /**
   * `Notice::checkDupes()`: the same user's notice with the same (decoded) text, created less than
   * `site.dupelimit` whole seconds ago (PHP `time()` against the stored `created`), still exists.
   * 0 or less turns the check off. Read at every request, so a test may change it at run time.
   */
  function isDuplicate(user: User, content: string, now: Date): boolean {
    const window = site.dupelimit;
    if (!(window > 0)) return false;
    const nowS = Math.floor(now.getTime() / 1000);
    return store.notices.some(
      (n) =>
        n.userId === user.id &&
        !n.deleted &&
        n.text === content &&
        nowS - Math.floor(n.created.getTime() / 1000) < window,
    );
  }

  /** `fav #ID`, `fav NICK` (their latest notice). */
  function commandNotice(other: string): Notice | undefined {
    if (/^#\d+$/.test(other)) {
      const n = store.notice(Number(other.slice(1)));
      return n && !n.deleted ? n : undefined;
    }
    const u = store.userByNick(other);
    return u ? store.latestOf(u.id) : undefined;
  }

  /**
   * The commands the API runs (apistatusesupdate.php `supported()`, with the Favorite plugin's fav):
   * `fav` and `sub`/`follow` create activity notices; `unsub`/`leave` drop a subscription. A
   * command that fails (no such user, already done) creates nothing. Others run nothing here.
   */
  function runCommand(user: User, command: Command): void {
    const now = clock.now();
    if (command.word === "fav") {
      const target = commandNotice(command.other);
      const key = target ? `${user.id}:${target.id}` : "";
      if (!target || store.faves.has(key)) return;
      store.faves.add(key);
      const author = store.userById(target.userId) as User;
      // Fave::addNew(): "%1$s favorited something by %2$s: %3$s" (nicknames, the notice's
      // rendering); saveActivity() keeps the text of that HTML. Favorite notices seen from real
      // GNU social servers are replies to the favorited notice (in_reply_to_status_id).
      store.add(
        user.id,
        `${user.nickname} favorited something by ${author.nickname}: ${target.text}`,
        null,
        target.id,
        now,
        { verb: "favorite", tag: `fave:${user.id}:note:${target.id}:${iso8601(now)}` },
      );
      return;
    }
    if (command.word === "sub" || command.word === "follow") {
      const other = store.userByNick(command.other);
      const key = other ? `${user.id}:${other.id}` : "";
      if (!other || store.subscriptions.has(key)) return;
      store.subscriptions.add(key);
      // The Activity plugin's onEndSubscribe(): "%1$s (%2$s) started following %3$s (%4$s)."
      // (best names and profile URLs), source "activity", addressed to the one followed.
      store.add(
        user.id,
        `${user.name} (${base()}/${user.nickname}) started following ${other.name} (${base()}/${other.nickname}).`,
        "activity",
        null,
        now,
        { verb: "follow", tag: `follow:${user.id}:${other.id}:${iso8601(now)}`, mentions: [other.id] },
      );
      return;
    }
    if (command.word === "unsub" || command.word === "leave") {
      const other = store.userByNick(command.other);
      if (other && other.id !== user.id) store.subscriptions.delete(`${user.id}:${other.id}`);
    }
  }

  /** Deleted_notice::addNew(): a `delete` notice by the deleter, so the next id skips one. */
  function addDeleteNotice(user: User, n: Notice): void {
    const now = clock.now();
    const uri = `tag:${new URL(base()).host},${n.created.toISOString().slice(0, 10)}:${n.tag}`;
    store.add(user.id, `${user.name} deleted notice {{${uri}}}.`, null, null, now, {
      verb: "delete",
      tag: `delete-notice:${user.id}:${n.id}:${iso8601(now)}`,
    });
  }

  function handle(rec: Recorded, req: IncomingMessage, res: ServerResponse) {
    const url = new URL(rec.url, "http://x");
    const path = url.pathname;
    const reqUri = rec.url;
    const m = path.startsWith(`${apiPath}/`) ? /^\/(.+)\.(xml|json)$/.exec(path.slice(apiPath.length)) : null;
    if (!m) return notFoundPage(res);
    const route = m[1] as string;
    const fmt = m[2] as Fmt;
    const q = params(rec, req);
    const one = (n: Notice) => statusObject(store, n, base());
    const sendStatus = (n: Notice, status = 200) => send(res, status, fmt, statusXml(one(n)), one(n));
    const sendList = (list: Notice[]) => send(res, 200, fmt, statusesXml(list.map(one)), list.map(one));

    if (route === "statuses/update") {
      if (req.method !== "POST") return htmlError(res, 405, "This method requires a POST.");
      const user = authenticate(req, res, fmt, reqUri, true);
      if (!user) return;
      if (q === null) {
        const msg = `The server was unable to handle that much POST data (${rec.body.length} bytes) due to its current configuration.`;
        return apiError(res, 400, fmt, msg, reqUri);
      }
      // apistatusesupdate.php: trimmed, length-checked and tested for a command as typed, then
      // entity-decoded (docs/statusnet-api.md §2.3), then saved (duplicate check on the decoded text, §2.4).
      const text = phpTrim(q.get("status") ?? "");
      if (text === "")
        return apiError(res, 400, fmt, "Client must provide a 'status' parameter with a value.", reqUri);
      const limit = site.contentlimit ?? site.textlimit;
      if (limit > 0 && [...text].length > limit) {
        return apiError(
          res,
          413,
          fmt,
          `Maximum notice size is ${limit} characters, including attachment URL.`,
          reqUri,
        );
      }
      const command = parseCommand(text);
      if (command) {
        if (["repeat", "rp", "rt", "rd"].includes(command.word))
          return apiError(res, 500, fmt, REPEAT_TYPE_ERROR, reqUri);
        runCommand(user, command);
        // "Twitter just returns your latest status", whether the command ran or not.
        const latest = store.latestOf(user.id);
        if (!latest) return apiError(res, 400, fmt, "Command complete.", reqUri);
        return sendStatus(latest);
      }
      const replyTo = Number.parseInt(q.get("in_reply_to_status_id") ?? "0", 10) || 0;
      if (replyTo !== 0 && !store.notice(replyTo))
        return apiError(res, 404, fmt, "Parent notice not found.", reqUri);
      const content = htmlEntityDecode(text);
      const now = clock.now();
      if (isDuplicate(user, content, now)) {
        const msg =
          "Too many duplicate messages too quickly; take a breather and post again in a few minutes.";
        return apiError(res, 400, fmt, msg, reqUri);
      }
      const source = q.get("source");
      return sendStatus(store.add(user.id, content, source ? source : null, replyTo || null, now));
    }

    if (route === "statusnet/config" || route === "gnusocial/config") {
      const cfg = configObject(site, new URL(base()).host);
      return send(res, 200, fmt, configXml(cfg), cfg);
    }

    if (route === "help/test")
      return send(res, 200, fmt, '<?xml version="1.0" encoding="UTF-8"?>\n<ok>true</ok>\n', "ok");

    if (route === "account/verify_credentials") {
      const user = authenticate(req, res, fmt, reqUri, true);
      if (!user) return;
      const obj = userObject(store, user, base(), true);
      return send(res, 200, fmt, userXml(obj), obj);
    }

    const show = /^statuses\/show(?:\/(\d+))?$/.exec(route);
    if (show) {
      if (authenticate(req, res, fmt, reqUri, false) === null) return;
      const id = Number(q?.get("id") ?? show[1] ?? 0);
      const n = store.notice(id);
      if (!n) return apiError(res, 404, fmt, "No such notice.", reqUri);
      if (n.deleted) return apiError(res, 410, fmt, "Notice deleted.", reqUri);
      return sendStatus(n);
    }

    const destroy = /^statuses\/destroy(?:\/(\d+))?$/.exec(route);
    if (destroy) {
      const user = authenticate(req, res, fmt, reqUri, true);
      if (!user) return;
      if (req.method !== "POST" && req.method !== "DELETE") {
        return apiError(res, 400, fmt, "This method requires a POST or DELETE.", reqUri);
      }
      const n = store.notice(Number(q?.get("id") ?? destroy[1] ?? 0));
      if (!n || n.deleted) return apiError(res, 404, fmt, "No status found with that ID.", reqUri);
      if (n.userId !== user.id)
        return apiError(res, 403, fmt, "You may not delete another user's status.", reqUri);
      n.deleted = true;
      addDeleteNotice(user, n);
      return sendStatus(n);
    }

    const tl =
      /^statuses\/(public_timeline|home_timeline|friends_timeline|user_timeline|mentions|replies)$/.exec(
        route,
      );
    if (tl && q) {
      const kind = tl[1] as string;
      if (kind === "public_timeline") {
        if (authenticate(req, res, fmt, reqUri, false) === null) return;
        return sendList(timeline(store.publicStream(), q));
      }
      const named = q.get("screen_name") ?? q.get("id");
      if (kind === "user_timeline" && named) {
        if (authenticate(req, res, fmt, reqUri, false) === null) return;
        const target = store.userByNick(named);
        if (!target) return apiError(res, 404, fmt, "No such user.", reqUri);
        return sendList(timeline(store.profileStream(target.id), q));
      }
      const user = authenticate(req, res, fmt, reqUri, true) as User | null;
      if (!user) return;
      if (kind === "user_timeline") return sendList(timeline(store.profileStream(user.id), q));
      if (kind === "mentions" || kind === "replies") {
        const mine = (n: Notice) => n.inReplyTo !== null && store.notice(n.inReplyTo)?.userId === user.id;
        const at = new RegExp(`(^|\\W)@${user.nickname}\\b`, "i");
        const named = (n: Notice) => at.test(n.text) || mine(n) || n.mentions.includes(user.id);
        return sendList(timeline(store.publicStream().filter(named), q));
      }
      return sendList(timeline(store.publicStream(), q));
    }

    return apiError(res, 404, fmt, "API method not found.", reqUri);
  }

  await new Promise<void>((resolve) => server.listen(0, opts.host ?? "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const origin = `${opts.tls ? "https" : "http"}://${host}:${addr.port}`;

  return {
    origin,
    apiRoot: `${origin}${apiPath}`,
    requests,
    connections: () => connections,
    store,
    site,
    clock,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

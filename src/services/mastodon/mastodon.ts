import type { Server } from "../../config/server.js";
import { ExitCode, HttpError } from "../../errors.js";
import type { HttpResponse } from "../../http/client.js";
import type {
  PostParams,
  ProfileReply,
  Service,
  Since,
  Status,
  StatusReply,
  TimelineQuery,
  TimelineReply,
} from "../service.js";
import { unknownOutcome } from "../statusnet/reply.js";
import { ReplyFormatError } from "../statusnet/xml.js";
import type { BearerSession, TokenUse } from "./bearer.js";
import { foldMentions } from "./count.js";
import { type MastodonStatus, toProfile, toStatus } from "./entities.js";
import { mastodonError, parseJsonReply } from "./errors.js";
import { statusesUrl, statusForm } from "./forms.js";
import { instanceLimits } from "./instance.js";
import { mastodonRules } from "./rules.js";

export interface MastodonApi {
  server: Server;
  session: BearerSession;
  htmlText: (html: string) => string;
  /** The account named for this run, when known. */
  user: string | undefined;
  /** `-v` and progress lines. */
  note?: ((line: string) => void) | undefined;
}

/** A page of a list endpoint: its items and what the errors and the timeline need of the reply. */
interface Listed {
  items: unknown[];
  text: string;
  host: string;
  status: number;
  clockSkewMs: number;
}

type Endpoint = Parameters<typeof mastodonError>[1]["endpoint"];

const ACCEPT = "application/json";

/** How far back `findMine` looks at most: as far as StatusNet's check does. */
const MAX_SCAN = 2000;
const PAGE = 40;
/** Mastodon's default page size, asked for by name (snac gives a single notification otherwise). */
const DEFAULT_COUNT = 20;

/**
 * The Mastodon client API (docs/mastodon-api.md) on one open connection: Mastodon, GoToSocial,
 * Akkoma/Pleroma, Friendica, Hollo and snac. Every request that acts for the user carries the token at
 * once; ids are opaque strings; a status's text is its HTML `content` turned into plain text.
 */
export class Mastodon implements Service {
  readonly secret = "token" as const;
  readonly api = "mastodon" as const;
  readonly #api: MastodonApi;
  /** `characters_reserved_per_url`, once the server's instance document was read (or the cache said). */
  urlLength: number | undefined;
  #accountId: string | undefined;

  constructor(api: MastodonApi, urlLength?: number) {
    this.#api = api;
    this.urlLength = urlLength;
  }

  useUrlLength(n: number): void {
    this.urlLength = n;
  }

  get server(): Server {
    return this.#api.server;
  }

  newDeadline(): void {
    this.#api.session.newDeadline();
  }

  statusId(id: string, option?: string): string {
    return mastodonRules(this.urlLength).statusId(id, option);
  }

  textLength(text: string): number {
    return mastodonRules(this.urlLength).textLength(text);
  }

  warningLength(warning: string): number {
    return mastodonRules(this.urlLength).warningLength?.(warning) ?? 0;
  }

  /** The page the server gave for it; else its `/statuses/ID` under the web root (Mastodon redirects it). */
  statusUrl(status: Status): string {
    return status.url ?? `${this.server.origin}/statuses/${encodeURIComponent(status.id)}`;
  }

  async textLimit(): Promise<number | undefined> {
    const limits = await instanceLimits(this.#api.session, this.server);
    this.urlLength = limits.urlLength;
    return limits.maxCharacters;
  }

  async post(params: PostParams): Promise<StatusReply> {
    let p = params;
    if (p.replyTo !== undefined) this.statusId(p.replyTo, "--reply-to");
    if (p.replyTo !== undefined && p.visibility === undefined) {
      // A reply without --visibility would go out public, even to a direct message (the API does not
      // copy the parent's visibility; the servers' web pages do): it takes its parent's when that is
      // narrower, so an answer to something private is never posted publicly (docs/cli.md "Two APIs").
      const narrower = await this.#parentVisibility(p.replyTo);
      if (narrower !== undefined) {
        this.#api.note?.(`* replying with the visibility of #${p.replyTo}: ${narrower}`);
        p = { ...p, visibility: narrower };
      }
    }
    const url = statusesUrl(this.server);
    const { res, tokenSent } = await this.#api.session.send(
      {
        method: "POST",
        url,
        form: statusForm(p),
        accept: ACCEPT,
        // The same key for every retry of one status: a server that honours it (Mastodon, Akkoma,
        // Hollo) answers a repeat with the status it already made.
        headers: p.idempotencyKey === undefined ? undefined : { "idempotency-key": p.idempotencyKey },
      },
      "required",
    );
    if (res.status < 200 || res.status >= 300) {
      const err = mastodonError(res, {
        host: url.host,
        what: "post the status",
        endpoint: "post",
        tokenSent,
      });
      if (res.status === 422 && /character limit|too long/i.test(err.details.serverMessage ?? "")) {
        err.details.tooLong = true;
      }
      throw err;
    }
    return this.#statusReply(res, url.host, false);
  }

  /** The parent's visibility when it is narrower than public; undefined when public or unreadable. */
  async #parentVisibility(id: string): Promise<string | undefined> {
    const url = this.#url(`/api/v1/statuses/${encodeURIComponent(id)}`);
    const { res } = await this.#api.session.send({ method: "GET", url, accept: ACCEPT }, "optional");
    // An unknown parent is the post's business: Mastodon answers it with 404, snac drops it.
    if (res.status !== 200) return undefined;
    try {
      const v = (JSON.parse(res.bytes.toString("utf8")) as { visibility?: unknown } | null)?.visibility;
      return v === "unlisted" || v === "private" || v === "direct" ? v : undefined;
    } catch {
      return undefined;
    }
  }

  async findMine(
    user: string,
    text: string,
    since: Since | undefined,
    visibility?: string,
  ): Promise<StatusReply | undefined> {
    const id = await this.#ownAccountId();
    const want = normalise(text);
    const whose = user === "" ? "the account's" : `${user}'s`;
    const found = await this.#scanMine(
      id,
      `/api/v1/accounts/${encodeURIComponent(id)}/statuses`,
      { exclude_reblogs: "true" },
      want,
      since,
      `read ${whose} statuses`,
    );
    if (found !== "reached" && found !== "ended") return found;
    // snac lists only an account's public statuses there (mastoapi.c: its "public" index), so a
    // private, unlisted or direct one was never found and an uncertain entry was posted again; the
    // home timeline holds the account's own statuses of every visibility, on snac as on Mastodon.
    // snac's list of an account's statuses also stops at the latest 256: a list that ended before the
    // first attempt's time proves nothing (a copy under 256 newer statuses was posted again), so the
    // home timeline is read then too, and cut short at MAX_SCAN like any other search (76).
    const narrow = visibility !== undefined && visibility !== "public";
    if (!narrow && !(found === "ended" && since !== undefined)) return undefined;
    const home = await this.#scanMine(
      id,
      "/api/v1/timelines/home",
      {},
      want,
      since,
      "read the home timeline",
    );
    return home === "reached" || home === "ended" ? undefined : home;
  }

  /**
   * The account's own status (not a boost) reading as `want`, newest first, page after page until
   * `since` (less its leeway) or MAX_SCAN statuses. Not found: "reached" when the search got to a
   * status older than `since`, "ended" when the list ran out first.
   */
  async #scanMine(
    accountId: string,
    path: string,
    extra: Record<string, string>,
    want: string,
    since: Since | undefined,
    what: string,
  ): Promise<StatusReply | "reached" | "ended"> {
    let maxId: string | undefined;
    for (let seen = 0; seen < MAX_SCAN; ) {
      const query: Record<string, string> = { limit: String(PAGE), ...extra };
      if (maxId !== undefined) query.max_id = maxId;
      const { items, host, status, clockSkewMs } = await this.#list(
        path,
        query,
        "required",
        "timeline",
        what,
      );
      if (items.length === 0) return "ended";
      const bound = since === undefined ? undefined : earliest(since, clockSkewMs);
      for (const raw of items) {
        const s = this.#toStatus(raw, status, host, true);
        if (bound !== undefined && s.createdAt !== null && Date.parse(s.createdAt) < bound) return "reached";
        // A timeline holds others' statuses and boosts too; a boost reads as the boosted status.
        const r = raw as { text?: unknown; reblog?: unknown; account?: { id?: unknown } | null };
        if ((r.reblog !== undefined && r.reblog !== null) || String(r.account?.id) !== accountId) continue;
        if (normalise(s.text) === want || (typeof r.text === "string" && normalise(r.text) === want)) {
          return { status: s, reply: { text: JSON.stringify(raw) } };
        }
      }
      seen += items.length;
      const last = items[items.length - 1] as { id?: unknown };
      if (typeof last.id !== "string" || last.id === maxId) return "ended";
      maxId = last.id;
    }
    // Cut short before reaching the uncertain attempt's time: the first copy may lie further back,
    // so the outcome is still unknown and nothing may be sent (a bare --if-absent, with no time to
    // reach, looks at the recent statuses only).
    if (since !== undefined) {
      throw new HttpError(
        ExitCode.Protocol,
        `looked through ${MAX_SCAN} of ${this.server.key}'s latest statuses without reaching the time of the first attempt; whether it was posted is still unknown, so nothing was sent`,
        { sent: true },
        {
          hint: "check the account's statuses: if it is not there, set \"uncertainSince\" to null in the entry's file and send again; if it is, drop the entry",
        },
      );
    }
    return "ended";
  }

  async show(id: string): Promise<StatusReply> {
    const url = this.#url(`/api/v1/statuses/${encodeURIComponent(this.statusId(id))}`);
    const { res, tokenSent } = await this.#api.session.send(
      { method: "GET", url, accept: ACCEPT },
      "optional",
    );
    if (res.status < 200 || res.status >= 300)
      throw mastodonError(res, {
        host: url.host,
        what: "read the status",
        endpoint: "show",
        tokenSent,
        read: true,
      });
    return this.#statusReply(res, url.host, true);
  }

  async delete(id: string): Promise<StatusReply> {
    const url = this.#url(`/api/v1/statuses/${encodeURIComponent(this.statusId(id))}`);
    const { res, tokenSent } = await this.#api.session.send(
      { method: "DELETE", url, accept: ACCEPT, deletes: true },
      "required",
    );
    if (res.status < 200 || res.status >= 300)
      throw mastodonError(res, { host: url.host, what: "delete the status", endpoint: "delete", tokenSent });
    // A reply that is not the deleted status leaves it unknown whether the status is gone.
    return this.#statusReply(res, url.host, "delete");
  }

  async timeline(q: TimelineQuery): Promise<TimelineReply> {
    const query: Record<string, string> = {};
    if (q.sinceId !== undefined) query.since_id = this.statusId(q.sinceId, "--since-id");
    if (q.maxId !== undefined) query.max_id = this.statusId(q.maxId, "--max-id");
    const what = `read the ${q.kind} timeline`;
    let path: string;
    let use: TokenUse = "optional";
    switch (q.kind) {
      case "home":
        path = "/api/v1/timelines/home";
        use = "required";
        break;
      case "public":
        path = "/api/v1/timelines/public";
        break;
      case "user": {
        const id = q.of === undefined ? await this.#ownAccountId() : await this.#lookupAccount(q.of);
        path = `/api/v1/accounts/${encodeURIComponent(id)}/statuses`;
        break;
      }
      case "mentions":
        path = "/api/v1/notifications";
        query["types[]"] = "mention";
        use = "required";
        break;
    }
    // Servers give at most 40 a page (Mastodon's cap; snac gives one notification when no limit is
    // named): a larger --count is gathered page by page along the `max_id` of each page's last item.
    const want = q.count ?? DEFAULT_COUNT;
    const items: unknown[] = [];
    const texts: string[] = [];
    let first: Listed | undefined;
    let page = { ...query };
    while (items.length < want) {
      const asked = Math.min(PAGE, want - items.length);
      const list = await this.#list(path, { limit: String(asked), ...page }, use, "timeline", what);
      first ??= list;
      texts.push(list.text);
      items.push(...list.items.slice(0, asked));
      const last = list.items.at(-1) as { id?: unknown } | undefined;
      // A short page is the last one; so is a page whose end does not move on.
      if (list.items.length < asked || typeof last?.id !== "string" || last.id === page.max_id) break;
      page = { ...page, max_id: last.id };
    }
    const listed = first as Listed;
    // A notification carries its status; one without (a deleted status) shows nothing.
    const statuses =
      q.kind === "mentions"
        ? items
            .map((n: unknown) =>
              typeof n === "object" && n !== null ? (n as { status?: unknown }).status : undefined,
            )
            .filter((s: unknown) => s !== undefined && s !== null)
        : items;
    return {
      statuses: statuses.map((raw) => this.#toStatus(raw, listed.status, listed.host, true)),
      // `-o raw` prints the server's own bodies: one, or one per page when there were several.
      text: texts.length === 1 ? (texts[0] as string) : texts.join("\n"),
      clockSkewMs: listed.clockSkewMs,
    };
  }

  async whoami(): Promise<ProfileReply> {
    const url = this.#url("/api/v1/accounts/verify_credentials");
    const { res, tokenSent } = await this.#api.session.send(
      { method: "GET", url, accept: ACCEPT },
      "required",
    );
    if (res.status < 200 || res.status >= 300)
      throw mastodonError(res, {
        host: url.host,
        what: "check the token",
        endpoint: "verify",
        tokenSent,
        read: true,
      });
    const reply = parseJsonReply(res, url.host, true);
    let profile: ReturnType<typeof toProfile>;
    try {
      profile = toProfile(reply.doc, this.#api.htmlText, this.server.key);
    } catch (err) {
      if (!(err instanceof ReplyFormatError)) throw err;
      throw unknownOutcome(err.message, res.status, url.host, true);
    }
    this.#accountId = profile.id;
    return { profile, reply: { text: reply.text } };
  }

  /** The token's account id (one `verify_credentials` per session). */
  async #ownAccountId(): Promise<string> {
    if (this.#accountId === undefined) await this.whoami();
    return this.#accountId as string;
  }

  /** `accounts/lookup?acct=NAME`: an unknown name is 65 (the server's 404 says so). */
  async #lookupAccount(name: string): Promise<string> {
    const acct = name.replace(/^@/, "");
    const url = this.#url("/api/v1/accounts/lookup", { acct });
    const { res, tokenSent } = await this.#api.session.send(
      { method: "GET", url, accept: ACCEPT },
      "optional",
    );
    if (res.status < 200 || res.status >= 300)
      throw mastodonError(res, {
        host: url.host,
        what: `find the account ${acct}`,
        endpoint: "lookup",
        tokenSent,
        read: true,
      });
    const reply = parseJsonReply(res, url.host, true);
    const id = (reply.doc as { id?: unknown } | null)?.id;
    if (typeof id !== "string" && typeof id !== "number")
      throw unknownOutcome("the account has no id", res.status, url.host, true);
    return String(id);
  }

  async #list(
    path: string,
    query: Record<string, string>,
    use: TokenUse,
    endpoint: Endpoint,
    what: string,
  ): Promise<Listed> {
    const url = this.#url(path, query);
    const { res, tokenSent } = await this.#api.session.send({ method: "GET", url, accept: ACCEPT }, use);
    if (res.status < 200 || res.status >= 300)
      throw mastodonError(res, { host: url.host, what, endpoint, tokenSent, read: true });
    const reply = parseJsonReply(res, url.host, true);
    if (!Array.isArray(reply.doc))
      throw unknownOutcome("the reply is not a list", res.status, url.host, true);
    const serverNow = Date.parse(String(res.headers.date ?? ""));
    return {
      items: reply.doc,
      text: reply.text,
      host: url.host,
      status: res.status,
      clockSkewMs: Number.isNaN(serverNow) ? 0 : serverNow - Date.now(),
    };
  }

  #statusReply(res: HttpResponse, host: string, read: boolean | "delete"): StatusReply {
    const reply = parseJsonReply(res, host, read);
    return { status: this.#toStatus(reply.doc, res.status, host, read), reply: { text: reply.text } };
  }

  /** A reply that is not a status is 76 for a write (the outcome is unknown), a malformed reply for a read. */
  #toStatus(raw: unknown, httpStatus: number, host: string, read: boolean | "delete"): MastodonStatus {
    try {
      return toStatus(raw, this.#api.htmlText, this.server.key);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (!(err instanceof ReplyFormatError)) throw err;
      throw unknownOutcome(err.message, httpStatus, host, read);
    }
  }

  #url(path: string, query: Record<string, string> = {}): URL {
    const url = new URL(path, this.server.origin);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }
}

/**
 * Texts compared as the user would read them: line ends and runs of white space are one space, and
 * none at either end (servers trim, and HTML rendering folds spaces); a mention typed `@user@domain`
 * is `@user`, since that is what Mastodon's `content` shows for it (a status that mentions someone
 * was otherwise never recognised, and a retry after the key's hour posted it again).
 */
function normalise(text: string): string {
  return foldMentions(text).replace(/\s+/gu, " ").trim();
}

/**
 * The earliest a status made by the uncertain attempt can be stamped: its start on our clock, on the
 * server's as it was then (when a reply showed it), and on the server's as it is now (`skewMs`, from
 * this reply's `Date`), with two minutes' leeway for clocks that moved or disagree. The last one is
 * for an attempt that showed no clock (a known server's post is its one request, and a lost reply
 * says nothing): a server whose clock is hours behind stamped the status hours "before" the attempt,
 * and without it the search stopped short of it and the entry was posted again.
 */
function earliest(since: Since, skewMs: number): number {
  const at = since.at.getTime();
  const times = [at, at + skewMs];
  if (since.onServerClock !== undefined) times.push(since.onServerClock.getTime());
  return Math.min(...times) - 120_000;
}

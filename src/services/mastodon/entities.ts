import type { Profile, Status, User } from "../service.js";
import { ReplyFormatError } from "../statusnet/xml.js";
import { isStatusId } from "./rules.js";

/**
 * The Mastodon API's JSON entities (MASTODON.md §6, §7) as identica's types. Everything a server sends is
 * checked for its shape here, and a reply that is not what the API promises (no id, no account, a
 * `content` that is not a string) is a ReplyFormatError, which the Service turns into exit 76.
 */

/** A status as the Mastodon API describes it: identica's Status plus what only this API has. */
export interface MastodonStatus extends Status {
  visibility: string;
  /** The content warning, "" when there is none. */
  spoilerText: string;
  /** The status's web page, when the server gives one. */
  url: string | null;
}

/** htmlText from html.ts `loadHtmlText()`: a status's HTML `content` as plain text. */
export type HtmlText = (html: string) => string;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * One Status. `text` is the HTML `content` as plain text: never snac's non-standard `text` field (the
 * source as typed, which only snac sends and only its own statuses have), so that every server's status
 * reads the same. `localDomain` is the server's own domain (`127.0.0.1:8001`): snac writes `acct` as
 * `alice@127.0.0.1:8001` even for its local accounts, where Mastodon writes `alice`.
 *
 * A reblog (a boost) comes as a status of the booster's whose `reblog` holds the boosted one, with an
 * empty `content`. It is shown as the boosted status — its text, author, content warning, reply and
 * page, as the author wrote them, with no "RT" prefix added — under the boost's own id, date and
 * visibility: that is where it sits in the timeline (`--max-id`/`--since-id` page by those ids) and the
 * id `delete` would undo, and its author is never taken for the person who boosted it.
 */
export function toStatus(raw: unknown, htmlText: HtmlText, localDomain?: string): MastodonStatus {
  if (!isObj(raw)) throw new ReplyFormatError("the reply holds no status");
  const id = idOf(raw.id);
  if (id === null) throw new ReplyFormatError("the reply's status has no valid id");
  if (raw.reblog !== null && raw.reblog !== undefined) {
    const boosted = toStatus(raw.reblog, htmlText, localDomain);
    return {
      ...boosted,
      id,
      createdAt: isoDate(raw.created_at),
      visibility: str(raw.visibility) ?? boosted.visibility,
      url: boosted.url ?? webUrl(raw.url),
    };
  }
  if (typeof raw.content !== "string") throw new ReplyFormatError("the reply's status has no content");
  const user = toUser(raw.account, localDomain);
  let inReplyToId: string | null = null;
  if (raw.in_reply_to_id !== null && raw.in_reply_to_id !== undefined) {
    inReplyToId = idOf(raw.in_reply_to_id);
    if (inReplyToId === null) throw new ReplyFormatError("the reply's status has an invalid in_reply_to_id");
  }
  const application = isObj(raw.application) ? raw.application : {};
  return {
    id,
    text: htmlText(raw.content),
    createdAt: isoDate(raw.created_at),
    source: str(application.name),
    inReplyToId,
    inReplyToScreenName:
      inReplyToId === null ? null : repliedTo(raw, str(raw.in_reply_to_account_id), user, localDomain),
    conversationId: null,
    user,
    // What the API documents as the default; every server seen sends it.
    visibility: str(raw.visibility) ?? "public",
    spoilerText: typeof raw.spoiler_text === "string" ? raw.spoiler_text : "",
    url: webUrl(raw.url),
  };
}

/** A timeline: an array of Statuses. */
export function toStatuses(raw: unknown, htmlText: HtmlText, localDomain?: string): MastodonStatus[] {
  if (!Array.isArray(raw)) throw new ReplyFormatError("the reply holds no list of statuses");
  return raw.map((s) => toStatus(s, htmlText, localDomain));
}

/**
 * `/api/v1/notifications` (asked with `types[]=mention`): the statuses inside, as JSON for toStatuses.
 * A notification without a status (a follow, should the server ignore the type filter) is skipped.
 */
export function fromNotifications(raw: unknown): unknown[] {
  if (!Array.isArray(raw)) throw new ReplyFormatError("the reply holds no list of notifications");
  const statuses: unknown[] = [];
  for (const n of raw) {
    if (!isObj(n)) throw new ReplyFormatError("the reply holds a notification that is not an object");
    if (n.status !== null && n.status !== undefined) statuses.push(n.status);
  }
  return statuses;
}

/**
 * The token's own Account (`verify_credentials`). `screenName` is `username`, the local name the
 * account logs in with and is stored under. The other parameters are those of toStatus, for a caller
 * that treats both alike; an Account's `display_name` is plain text, not HTML.
 */
export function toProfile(raw: unknown, _htmlText?: HtmlText, _localDomain?: string): Profile {
  if (!isObj(raw)) throw new ReplyFormatError("the reply holds no account");
  const id = idOf(raw.id);
  if (id === null) throw new ReplyFormatError("the reply's account has no valid id");
  const username = str(raw.username);
  if (username === null) throw new ReplyFormatError("the reply's account has no username");
  const count = raw.statuses_count;
  return {
    id,
    screenName: username,
    name: str(raw.display_name) ?? username,
    profileUrl: webUrl(raw.url),
    statusesCount: typeof count === "number" && Number.isSafeInteger(count) && count >= 0 ? count : null,
    latest: null,
  };
}

function toUser(raw: unknown, localDomain: string | undefined): User {
  if (!isObj(raw)) throw new ReplyFormatError("the reply's status has no account");
  const id = idOf(raw.id);
  if (id === null) throw new ReplyFormatError("the reply's status has an account without a valid id");
  const username = str(raw.username);
  const acct = str(raw.acct) ?? username;
  if (acct === null) throw new ReplyFormatError("the reply's status has an account without a name");
  return { id, screenName: localAcct(acct, localDomain), name: str(raw.display_name) ?? username ?? acct };
}

/**
 * Whom a reply answers: the mention whose account is `in_reply_to_account_id` (Mastodon lists the
 * parent's author among the mentions), or the poster themself for a reply to their own status, which
 * no server lists as a mention (snac/32).
 */
function repliedTo(
  raw: Obj,
  accountId: string | null,
  user: User,
  localDomain: string | undefined,
): string | null {
  if (accountId === null) return null;
  if (Array.isArray(raw.mentions)) {
    for (const m of raw.mentions) {
      if (!isObj(m) || idOf(m.id) !== accountId) continue;
      const acct = str(m.acct) ?? str(m.username);
      if (acct !== null) return localAcct(acct, localDomain);
    }
  }
  return accountId === user.id ? user.screenName : null;
}

/** `alice@127.0.0.1:8001` on its own server is `alice`, as Mastodon writes local accounts. */
function localAcct(acct: string, localDomain: string | undefined): string {
  if (localDomain === undefined || localDomain === "") return acct;
  const suffix = `@${localDomain}`;
  return acct.length > suffix.length && acct.toLowerCase().endsWith(suffix.toLowerCase())
    ? acct.slice(0, -suffix.length)
    : acct;
}

/**
 * An id as a string. The API sends strings (Mastodon's snowflakes pass 2^53); a number is taken only
 * while it is exact. It must look like an id (rules.ts): it goes into later requests' paths.
 */
function idOf(v: unknown): string | null {
  const s = typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
  return typeof s === "string" && isStatusId(s) ? s : null;
}

/**
 * A web page's address from the server, as `-o url` prints it and a script may open it: only http(s),
 * and as the URL parser writes it back (control characters and spaces percent-encoded, tabs and
 * newlines dropped), so that it is one line a terminal does not obey; else null (StatusNet's rule too,
 * statusnet/account.ts). The JSON's `url` is the same string.
 */
function webUrl(v: unknown): string | null {
  if (typeof v !== "string" || v === "") return null;
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** A non-empty string, or null. */
function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** ISO 8601 as identica writes it (UTC, `Z`, milliseconds only when there are some); null if unreadable. */
function isoDate(v: unknown): string | null {
  if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t).toISOString().replace(".000Z", "Z");
}

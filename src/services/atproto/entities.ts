import type { Status } from "../service.js";
import { ReplyFormatError } from "../statusnet/xml.js";
import { bskyUrl, isDid, isHandle, parseAtUri } from "./refs.js";

/**
 * The server's JSON as identica's Status: records from the PDS (`getRecord`, `listRecords`) and post
 * views from the AppView behind it (`getTimeline`, `getAuthorFeed`, `getPostThread`,
 * `listNotifications`). Every field is checked for its shape here; a reply that is not what the
 * lexicon promises is a ReplyFormatError, which the service turns into one clean line (76 for the reply
 * to a write). Nothing the server says is trusted to build a URL: a handle that is not one gives way to
 * the DID.
 */

/** Who wrote a record: the DID, the handle, and the display name when known. */
export interface RecordAuthor {
  did: string;
  handle: string;
  name?: string | undefined;
}

/** A strong ref (`com.atproto.repo.strongRef`): what a reply's `parent` and `root` are. */
export interface StrongRef {
  uri: string;
  cid: string;
}

/** The `app.bsky.feed.post` record identica sends (and builds the Status of a created post from). */
export interface PostRecord {
  text: string;
  createdAt: string;
  reply?: { parent: StrongRef; root: StrongRef } | undefined;
  langs?: string[] | undefined;
  $type?: string | undefined;
  facets?: unknown[] | undefined;
  [field: string]: unknown;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** An RFC 3339 date as ISO 8601 UTC; null for anything else (the lexicon's datetime, loosely). */
function isoDate(v: unknown): string | null {
  if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** A post's `at://` URI from the server, taken apart, or a ReplyFormatError naming what held it. */
function postUri(v: unknown, what: string): { repo: string; rkey: string } {
  const parts = typeof v === "string" ? parseAtUri(v) : undefined;
  if (parts === undefined) throw new ReplyFormatError(`the reply's ${what} has no valid at:// URI of a post`);
  return parts;
}

/** `reply.parent.uri` and `reply.root.uri`, each checked to be a post's URI; nulls for a post that is none. */
function replyRefs(reply: unknown): { parent: string | null; root: string | null } {
  if (reply === undefined || reply === null) return { parent: null, root: null };
  if (!isObj(reply) || !isObj(reply.parent) || !isObj(reply.root)) {
    throw new ReplyFormatError("the reply's post has a malformed reply reference");
  }
  postUri(reply.parent.uri, "reply parent");
  postUri(reply.root.uri, "reply root");
  return { parent: reply.parent.uri as string, root: reply.root.uri as string };
}

function checkedAuthor(a: RecordAuthor): RecordAuthor {
  if (!isDid(a.did)) throw new ReplyFormatError("the reply's post has an author without a valid DID");
  return a;
}

/**
 * A record (`{uri, cid, value}`, what `getRecord` answers and `listRecords` lists) by `author`, whom
 * the caller knows (the PDS does not say who wrote a record: its repo's DID is in the URI).
 */
export function recordToStatus(r: unknown, author: RecordAuthor): Status {
  if (!isObj(r)) throw new ReplyFormatError("the reply holds no record");
  const { rkey } = postUri(r.uri, "record");
  const value = r.value;
  if (!isObj(value)) throw new ReplyFormatError("the reply's record has no value");
  if (value.$type !== undefined && value.$type !== "app.bsky.feed.post") {
    throw new ReplyFormatError("the reply's record is not a post");
  }
  if (typeof value.text !== "string") throw new ReplyFormatError("the reply's post has no text");
  const { did, handle, name } = checkedAuthor(author);
  const refs = replyRefs(value.reply);
  const status: Status = {
    id: r.uri as string,
    text: value.text,
    createdAt: isoDate(value.createdAt),
    source: null,
    inReplyToId: refs.parent,
    inReplyToScreenName: null,
    conversationId: refs.root,
    user: { id: did, screenName: handle, name: name !== undefined && name !== "" ? name : handle },
    // bsky.app takes a DID where a handle would go: the link works even when the handle is broken
    // (the AppView's "handle.invalid" is one that no longer resolves).
    url: bskyUrl(isHandle(handle) && handle !== "handle.invalid" ? handle : did, rkey),
  };
  if (typeof r.cid === "string" && r.cid !== "") status.cid = r.cid;
  return status;
}

/** The author of a post view (`app.bsky.actor.defs#profileViewBasic`). */
function viewAuthor(a: unknown): RecordAuthor {
  if (!isObj(a) || typeof a.did !== "string") throw new ReplyFormatError("the reply's post has no author");
  const handle = typeof a.handle === "string" && a.handle !== "" ? a.handle : a.did;
  const name = typeof a.displayName === "string" && a.displayName.trim() !== "" ? a.displayName : undefined;
  return { did: a.did, handle, name };
}

/**
 * An AppView post (`app.bsky.feed.defs#postView`, and a notification, which has the same fields). Its
 * date is the record's `createdAt`, else when the AppView indexed it.
 */
export function postViewToStatus(v: unknown): Status {
  if (!isObj(v)) throw new ReplyFormatError("the reply holds no post");
  const status = recordToStatus({ uri: v.uri, cid: v.cid, value: v.record }, viewAuthor(v.author));
  status.createdAt ??= isoDate(v.indexedAt);
  return status;
}

/**
 * A feed (`{feed: [{post, reply?, reason?}]}`). A repost shows the post as its author wrote it; a reply
 * names whom it answers when the AppView sent the parent along.
 */
export function feedToStatuses(body: unknown): Status[] {
  if (!isObj(body) || !Array.isArray(body.feed)) throw new ReplyFormatError("the reply holds no feed");
  return body.feed.map((item) => {
    if (!isObj(item)) throw new ReplyFormatError("the reply's feed holds an item that is not an object");
    const status = postViewToStatus(item.post);
    const parent = isObj(item.reply) && isObj(item.reply.parent) ? item.reply.parent : undefined;
    const parentHandle = isObj(parent?.author) ? parent.author.handle : undefined;
    if (status.inReplyToId !== null && typeof parentHandle === "string" && isHandle(parentHandle)) {
      status.inReplyToScreenName = parentHandle;
    }
    return status;
  });
}

/** Mentions and replies among `listNotifications`' notifications (likes, follows, reposts are skipped). */
export function notificationsToStatuses(body: unknown): Status[] {
  if (!isObj(body) || !Array.isArray(body.notifications)) {
    throw new ReplyFormatError("the reply holds no notifications");
  }
  const statuses: Status[] = [];
  for (const n of body.notifications) {
    if (!isObj(n)) throw new ReplyFormatError("the reply holds a notification that is not an object");
    if (n.reason === "mention" || n.reason === "reply") statuses.push(postViewToStatus(n));
  }
  return statuses;
}

/**
 * A created post: `createRecord` answers only `{uri, cid, …}`, so the Status is the record that was
 * sent, under the URI the server gave it.
 */
export function createdToStatus(created: unknown, record: PostRecord, author: RecordAuthor): Status {
  if (!isObj(created)) throw new ReplyFormatError("the reply holds no created record");
  return recordToStatus({ uri: created.uri, cid: created.cid, value: record }, author);
}

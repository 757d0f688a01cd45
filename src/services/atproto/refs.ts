import { UsageError } from "../../errors.js";
import { oneLine } from "../../sanitize.js";
import { ReplyFormatError } from "../statusnet/xml.js";

/**
 * What `show`, `delete` and `--reply-to` take on the AT Protocol (CLI.md "A third API"): a post's
 * `at://` URI, its bsky.app page, or a record key of one's own repo. Everything is checked against the
 * specs' syntax before anything is sent: the parts go into query strings and URLs, and a typo must be a
 * 64, not a request.
 */

/** The only collection identica reads or writes. */
export const POST_COLLECTION = "app.bsky.feed.post";

/** `repo`: a DID or a handle (lower-cased); absent for a bare record key of one's own repo. */
export type PostRef = { repo?: string; rkey: string };

/** atproto.com/specs/did: a method of lower-case letters and an identifier that does not end in `:`. */
const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._%-]$/;
/** atproto.com/specs/handle: DNS labels of letters, digits and inner hyphens; the last starts with a letter. */
const HANDLE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
/** atproto.com/specs/record-key; `.` and `..` would climb out of a path. */
const RECORD_KEY = /^[A-Za-z0-9._:~-]{1,512}$/;

export function isDid(s: string): boolean {
  return s.length <= 2048 && DID.test(s);
}

export function isHandle(s: string): boolean {
  return s.length <= 253 && HANDLE.test(s);
}

export function isRecordKey(s: string): boolean {
  return RECORD_KEY.test(s) && s !== "." && s !== "..";
}

/** A DID as it is (DIDs are case-sensitive), a handle lower-cased (handles are not); else undefined. */
function repoOrUndefined(s: string): string | undefined {
  if (isDid(s)) return s;
  if (isHandle(s)) return s.toLowerCase();
  return undefined;
}

/** `at://<repo>/app.bsky.feed.post/<rkey>`, nothing more (no query, no fragment); else undefined. */
export function parseAtUri(uri: string): { repo: string; rkey: string } | undefined {
  const m = /^at:\/\/([^/?#]+)\/([^/?#]+)\/([^/?#]+)$/.exec(uri);
  if (!m || m[2] !== POST_COLLECTION) return undefined;
  const repo = repoOrUndefined(m[1] as string);
  const rkey = m[3] as string;
  return repo !== undefined && isRecordKey(rkey) ? { repo, rkey } : undefined;
}

const WEB_HOSTS = new Set(["bsky.app", "www.bsky.app"]);

/** `https://bsky.app/profile/<repo>/post/<rkey>` (http, www., a trailing slash; query and fragment ignored). */
function parseWebUrl(input: string): PostRef | undefined {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (!WEB_HOSTS.has(url.hostname) || url.port !== "" || url.username !== "" || url.password !== "") {
    return undefined;
  }
  const parts = url.pathname.replace(/\/$/, "").split("/");
  if (parts.length !== 5 || parts[0] !== "" || parts[1] !== "profile" || parts[3] !== "post")
    return undefined;
  let who: string;
  let rkey: string;
  try {
    // The app writes a DID's colons as they are, but a copied link may have them escaped.
    who = decodeURIComponent(parts[2] as string);
    rkey = decodeURIComponent(parts[4] as string);
  } catch {
    return undefined;
  }
  const repo = repoOrUndefined(who);
  return repo !== undefined && isRecordKey(rkey) ? { repo, rkey } : undefined;
}

/** A paste cut for a one-line message, never in the middle of a surrogate pair. */
function shown(input: string): string {
  if (input.length <= 60) return `"${input}"`;
  const cut = /[\uD800-\uDBFF]/.test(input[58] ?? "") ? 58 : 59;
  return `"${input.slice(0, cut)}…"`;
}

/**
 * A post reference as the user wrote it (surrounding white space ignored); a UsageError (64) for
 * anything else. `option` names the flag it came from, for the message. The error line is sanitised on
 * its way out (cli.ts), so a control character in the input is shown, not obeyed.
 */
export function parsePostRef(input: string, option?: string): PostRef {
  const s = input.trim();
  let ref: PostRef | undefined;
  if (/^at:\/\//i.test(s)) ref = parseAtUri(`at://${s.slice(5)}`);
  else if (/^https?:\/\//i.test(s)) ref = parseWebUrl(s);
  else if (isRecordKey(s)) ref = { rkey: s };
  if (ref !== undefined) return ref;
  const what = "an at:// URI, a bsky.app post URL or a record key";
  throw new UsageError(
    option === undefined ? `${shown(input)} is not ${what}` : `${option} takes ${what}, not ${shown(input)}`,
  );
}

export function atUri(repo: string, rkey: string): string {
  return `at://${repo}/${POST_COLLECTION}/${rkey}`;
}

export function bskyUrl(handleOrDid: string, rkey: string): string {
  return `https://bsky.app/profile/${handleOrDid}/post/${rkey}`;
}

/** A post's URI as the server gave it, taken apart; a ReplyFormatError when it is not one. */
function parts(uri: string): { repo: string; rkey: string } {
  const p = parseAtUri(uri);
  if (p === undefined) throw new ReplyFormatError(`"${oneLine(uri, 80)}" is not the at:// URI of a post`);
  return p;
}

/** The record key of a post's `at://` URI (a ReplyFormatError for anything else). */
export function rkeyOf(uri: string): string {
  return parts(uri).rkey;
}

/** The repo (DID or handle) of a post's `at://` URI (a ReplyFormatError for anything else). */
export function repoOf(uri: string): string {
  return parts(uri).repo;
}

import type { Status, User } from "../service.js";
import { ReplyFormatError } from "./xml.js";

export type { Status, User };

type Obj = Record<string, unknown>;

/** One `<status>` element (parsed with every value a string) or one JSON status object. */
export function toStatus(raw: unknown): Status {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ReplyFormatError("the reply holds no status");
  }
  const o = raw as Obj;
  // StatusNet ids are digits. They end up in URLs, in later requests (--reply-to, show, the outbox's
  // checks) and on the terminal, so anything else makes the reply malformed rather than being passed on.
  const id = str(o.id);
  if (id === null || !/^\d+$/.test(id)) throw new ReplyFormatError("the reply's status has no valid <id>");
  const inReplyToId = str(o.in_reply_to_status_id);
  if (inReplyToId !== null && !/^\d+$/.test(inReplyToId))
    throw new ReplyFormatError("the reply's status has an <in_reply_to_status_id> that is not a number");
  const userObj = (typeof o.user === "object" && o.user !== null ? o.user : {}) as Obj;
  return {
    id,
    text: str(o.text) ?? "",
    createdAt: parseTwitterDate(str(o.created_at)),
    source: plainSource(str(o.source)),
    inReplyToId,
    inReplyToScreenName: str(o.in_reply_to_screen_name),
    conversationId: str(o["statusnet:conversation_id"] ?? o.statusnet_conversation_id),
    user: toUser(userObj),
  };
}

export function toUser(o: Obj): User {
  return { id: str(o.id) ?? "", screenName: str(o.screen_name) ?? "", name: str(o.name) ?? "" };
}

/** Strings stay, numbers become their digits, empty or null become null. */
function str(v: unknown): string | null {
  if (typeof v === "string") return v === "" ? null : v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  return null;
}

function plainSource(src: string | null): string | null {
  if (src === null) return null;
  const text = src.replace(/<[^>]*>/g, "").trim();
  return text === "" ? null : text;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * `D M d H:i:s O Y`, e.g. `Fri Nov 27 05:10:44 +0000 2026` (docs/statusnet-api.md §4); the offset is not always
 * `+0000`, so it is applied.
 */
export function parseTwitterDate(s: string | null): string | null {
  if (s === null) return null;
  const m = /^\w{3} (\w{3}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$/.exec(s.trim());
  if (!m) return null;
  const month = MONTHS.indexOf(m[1] as string);
  if (month < 0) return null;
  const offsetMin = (m[6] === "-" ? -1 : 1) * (Number(m[7]) * 60 + Number(m[8]));
  const utc =
    Date.UTC(Number(m[9]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) -
    offsetMin * 60_000;
  return new Date(utc).toISOString().replace(".000Z", "Z");
}

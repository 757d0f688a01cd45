import { xmlSafeStr } from "./php.js";

/**
 * The data of the test server and how GNU social 2.0.1 writes it (fixtures/gnusocial): users, notices,
 * and the XML and JSON serialisations of a status, a user and the site config.
 */
export interface User {
  id: number;
  nickname: string;
  name: string;
  password: string;
}

/**
 * What a notice records. Besides plain posts, GNU social stores activities as notices of their own
 * (docs/statusnet-api.md §8): `fav NICK` a favorite, `sub NICK` a follow, and deleting a status a `delete` notice,
 * so ids skip.
 */
export type Verb = "post" | "favorite" | "follow" | "delete";

export interface Notice {
  id: number;
  userId: number;
  text: string;
  created: Date;
  source: string | null;
  inReplyTo: number | null;
  conversation: number;
  deleted: boolean;
  verb: Verb;
  /** The tag URI after `tag:HOST,DATE:` (`noticeId=N:objectType=note` for a post). */
  tag: string;
  /** Users the notice is addressed to besides @mentions (a follow notice names the one followed). */
  mentions: number[];
}

export interface NoticeOptions {
  verb?: Verb;
  tag?: string;
  mentions?: number[];
}

/**
 * The server's time. Tests move it (`advance`, `set`, or `offsetMs` directly) to age notices past the
 * duplicate window or to give replies a skewed `Date`; it stamps new notices' `created_at`, decides
 * the duplicate window and fills every reply's `Date` header.
 */
export class Clock {
  /** Added to the machine's time. */
  offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  set(when: Date | number): void {
    this.offsetMs = new Date(when).getTime() - Date.now();
  }
}

export interface Site {
  name: string;
  /** `site/textlimit`; 0 = no limit. */
  textlimit: number;
  /** `notice/contentlimit`; null = unset (use textlimit). */
  contentlimit: number | null;
  /** Seconds within which the same user may not post the same text twice. */
  dupelimit: number;
}

export class Store {
  readonly users: User[] = [
    { id: 2, nickname: "alice", name: "Alice Example", password: "correct horse" },
    { id: 3, nickname: "bob", name: "Bob Example", password: "battery staple" },
  ];
  readonly notices: Notice[] = [];
  nextId = 30;
  /** `userId:noticeId` of every favorite. */
  readonly faves = new Set<string>();
  /** `subscriberId:subscribedId`; everyone follows themselves, as GNU social registers them. */
  readonly subscriptions = new Set<string>(this.users.map((u) => `${u.id}:${u.id}`));

  userByNick(nick: string): User | undefined {
    const n = nick.toLowerCase();
    return this.users.find((u) => u.nickname === n);
  }

  userById(id: number): User | undefined {
    return this.users.find((u) => u.id === id);
  }

  notice(id: number): Notice | undefined {
    return this.notices.find((n) => n.id === id);
  }

  /**
   * A user's notices as their profile stream lists them (user_timeline, and the "latest notice" a
   * swallowed command answers with): every verb but `delete` (fixture l-user-timeline: the two delete
   * notices that followed l-destroy-* are not in it), deleted ones gone.
   */
  profileStream(userId: number): Notice[] {
    return this.notices.filter((n) => n.userId === userId && !n.deleted && n.verb !== "delete");
  }

  /**
   * Public, home and mentions timelines: posts and follows (GNU social's FullNoticeStream verbs);
   * favorites and deletes are not shown there.
   */
  publicStream(): Notice[] {
    return this.notices.filter((n) => !n.deleted && (n.verb === "post" || n.verb === "follow"));
  }

  latestOf(userId: number): Notice | undefined {
    return this.profileStream(userId).at(-1);
  }

  /** Subscriptions to (`followers`) or by (`friends`) a user, the self-subscription left out. */
  followCount(userId: number, which: "followers" | "friends"): number {
    let count = 0;
    for (const key of this.subscriptions) {
      const [by, to] = key.split(":").map(Number);
      if (by !== to && (which === "friends" ? by : to) === userId) count++;
    }
    return count;
  }

  /** The latest plain post (not an activity): what most tests mean by "the last notice". */
  lastPost(): Notice | undefined {
    return this.notices.filter((n) => n.verb === "post").at(-1);
  }

  add(
    userId: number,
    text: string,
    source: string | null,
    inReplyTo: number | null,
    now: Date,
    opts: NoticeOptions = {},
  ): Notice {
    const id = this.nextId++;
    const parent = inReplyTo === null ? undefined : this.notice(inReplyTo);
    const notice: Notice = {
      id,
      userId,
      text,
      created: now,
      source,
      inReplyTo,
      conversation: parent ? parent.conversation : id,
      deleted: false,
      verb: opts.verb ?? "post",
      tag: opts.tag ?? `noticeId=${id}:objectType=note`,
      mentions: opts.mentions ?? [],
    };
    this.notices.push(notice);
    return notice;
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const p2 = (n: number) => String(n).padStart(2, "0");

/** PHP `D M d H:i:s O Y` in UTC. */
export function twitterDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(
    d.getUTCMinutes(),
  )}:${p2(d.getUTCSeconds())} +0000 ${d.getUTCFullYear()}`;
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** PHP `DateTime::format('c')` in UTC, as tag URIs of activities carry it. */
export function iso8601(d: Date): string {
  return `${d.toISOString().slice(0, 19)}+00:00`;
}

/** PHP `json_encode` defaults: `/` escaped, non-ASCII as `\uXXXX` (surrogate pairs for astral). */
export function phpJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, "\\/")
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function htmlOf(text: string): string {
  return xmlEscape(text);
}

export function statusObject(
  store: Store,
  n: Notice,
  base: string,
  withUser = true,
): Record<string, unknown> {
  const user = store.userById(n.userId) as User;
  const parent = n.inReplyTo === null ? undefined : store.notice(n.inReplyTo);
  const parentUser = parent ? store.userById(parent.userId) : undefined;
  const host = new URL(base).host;
  const obj: Record<string, unknown> = {
    text: n.text,
    truncated: false,
    created_at: twitterDate(n.created),
    // GNU social 2.0.1 writes the reply id as a JSON string (fixture h-reply-no-mention.json).
    in_reply_to_status_id: n.inReplyTo === null ? null : String(n.inReplyTo),
    uri: `tag:${host},${n.created.toISOString().slice(0, 10)}:${n.tag}`,
    source: n.source,
    source_link: null,
    id: n.id,
    in_reply_to_user_id: parentUser ? parentUser.id : null,
    in_reply_to_screen_name: parentUser ? parentUser.nickname : null,
    geo: null,
  };
  if (withUser) obj.user = userObject(store, user, base, false);
  obj.statusnet_html = htmlOf(n.text);
  obj.statusnet_conversation_id = n.conversation;
  obj.favorited = false;
  obj.repeated = false;
  return obj;
}

export function userObject(
  store: Store,
  u: User,
  base: string,
  withStatus: boolean,
): Record<string, unknown> {
  const avatar = `${base}/theme/neo-quitter/default-avatar-stream.png`;
  const obj: Record<string, unknown> = {
    id: u.id,
    name: u.name,
    screen_name: u.nickname,
    location: null,
    description: null,
    profile_image_url: avatar,
    profile_image_url_https: avatar,
    groups_count: 0,
    url: null,
    protected: false,
    followers_count: store.followCount(u.id, "followers"),
    friends_count: store.followCount(u.id, "friends"),
    created_at: "Fri Nov 27 05:08:43 +0000 2026",
    utc_offset: "0",
    time_zone: "UTC",
    // Delete notices are not counted (fixtures l-destroy-*: 46, 45 after one, 44 after the second).
    statuses_count: store.profileStream(u.id).length,
    following: true,
    statusnet_blocking: false,
    notifications: true,
  };
  if (withStatus) {
    const latest = store.latestOf(u.id);
    if (latest) obj.status = statusObject(store, latest, base, false);
  }
  obj.statusnet_profile_url = `${base}/${u.nickname}`;
  obj.favourites_count = 0;
  return obj;
}

/** Twitter-style XML of an object: `statusnet_x` keys become `statusnet:x`, null an empty element. */
function xmlFields(obj: Record<string, unknown>, indent: string): string {
  let out = "";
  for (const [key, value] of Object.entries(obj)) {
    const tag = key.startsWith("statusnet_") ? `statusnet:${key.slice(10)}` : key;
    if (value === null) {
      out += key === "source" ? `${indent}<source/>\n` : `${indent}<${tag}></${tag}>\n`;
    } else if (typeof value === "object") {
      out += `${indent}<${tag}>\n${xmlFields(value as Record<string, unknown>, `${indent} `)}${indent}</${tag}>\n`;
    } else {
      // Only the status text goes through common_xml_safe_str(); JSON keeps it as stored.
      const text = key === "text" ? xmlEscape(xmlSafeStr(String(value))) : xmlEscape(String(value));
      out += `${indent}<${tag}>${text}</${tag}>\n`;
    }
  }
  return out;
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = 'xmlns:statusnet="http://status.net/schema/api/1/"';

export function statusXml(obj: Record<string, unknown>): string {
  return `${XML_HEAD}<status ${NS}>\n${xmlFields(obj, " ")}</status>\n`;
}

export function statusesXml(objs: Record<string, unknown>[]): string {
  const inner = objs.map((o) => ` <status>\n${xmlFields(o, "  ")} </status>\n`).join("");
  return `${XML_HEAD}<statuses type="array" ${NS}>\n${inner}</statuses>\n`;
}

export function userXml(obj: Record<string, unknown>): string {
  return `${XML_HEAD}<user ${NS}>\n${xmlFields(obj, " ")}</user>\n`;
}

export function errorXml(message: string, request: string): string {
  return `${XML_HEAD}<hash>\n <error>${xmlEscape(message)}</error>\n <request>${xmlEscape(request)}</request>\n</hash>\n`;
}

export function configObject(site: Site, host: string): Record<string, Record<string, unknown>> {
  return {
    site: {
      name: site.name,
      server: host,
      theme: "neo-quitter",
      path: "",
      fancy: true,
      language: "en",
      timezone: "UTC",
      closed: false,
      inviteonly: false,
      private: false,
      textlimit: site.textlimit,
      ssl: "never",
    },
    notice: { contentlimit: site.contentlimit },
    throttle: { enabled: false, count: 20, timespan: 600 },
    attachments: { uploads: true, file_quota: 2097152 },
    url: { maxurllength: 100, maxnoticelength: -1 },
  };
}

/** statusnet/config.xml: `false`/`0` written as `false`, null as an empty element (docs/statusnet-api.md §3.1). */
export function configXml(cfg: Record<string, Record<string, unknown>>): string {
  let out = `${XML_HEAD}<config>\n`;
  for (const [section, values] of Object.entries(cfg)) {
    out += ` <${section}>\n`;
    for (const [k, v] of Object.entries(values)) {
      const text =
        v === null ? "" : v === false || v === 0 ? "false" : v === true ? "true" : xmlEscape(String(v));
      out += `  <${k}>${text}</${k}>\n`;
    }
    out += ` </${section}>\n`;
  }
  return `${out}</config>\n`;
}

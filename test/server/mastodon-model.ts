import { createHash, randomBytes, randomUUID } from "node:crypto";

/**
 * The data of the Mastodon look-alike (test/server/mastodon.ts) and how each server it imitates
 * writes it: ids, accounts, statuses, notifications, instance documents, and the JSON encoders
 * (Rails' and snac's). Sources: ../MASTODON.md and fixtures/snac (snac's JSON shapes are copied
 * from there, key order included).
 */

export type Mode = "mastodon" | "snac" | "gotosocial";
export type Visibility = "public" | "unlisted" | "private" | "direct";

export interface MastodonUser {
  /** Internal number; account ids are derived from it (or, on snac, from the actor URL). */
  n: number;
  username: string;
  password: string;
  displayName: string;
  /** The profile's bio, as typed. */
  note: string;
  createdAt: Date;
}

export interface App {
  /** Mastodon: a small decimal string; snac: 16 digits; GoToSocial: a ULID. */
  id: string;
  name: string;
  website: string | null;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  scopes: string[];
  vapidKey: string;
  createdAt: Date;
  /** snac: who last logged in through this app; snac gives every token of the app to that user. */
  uid: string | null;
  /** snac deletes the app when one of its tokens is revoked. */
  deleted: boolean;
}

/** An authorization code and what it was issued for. */
export interface Grant {
  code: string;
  clientId: string;
  username: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  state: string | null;
  createdAt: Date;
  used: boolean;
}

export interface Token {
  token: string;
  /** The app it belongs to (null for tokens made by the test; snac's web tokens say "snac-client"). */
  clientId: string | null;
  /** snac keeps the secret the token was asked with, and checks it on revocation. */
  clientSecret: string;
  /** null: an app token (client_credentials), or snac's token of an app nobody logged in to. */
  username: string | null;
  scopes: string[];
  grantType: string;
  createdAt: Date;
  revoked: boolean;
}

export interface StoredStatus {
  id: string;
  username: string;
  /** The source text as stored (Mastodon strips it; "" on snac when no `status` was sent). */
  text: string;
  spoilerText: string;
  visibility: Visibility;
  sensitive: boolean;
  language: string | null;
  inReplyToId: string | null;
  createdAt: Date;
  /** The HTML as the server rendered it when it was posted. */
  content: string;
  /** Local accounts mentioned (their usernames). */
  mentions: string[];
  tags: string[];
  uri: string;
  url: string;
  /** The app it was posted with (Mastodon's `application`). */
  application: { name: string; website: string | null } | null;
  deleted: boolean;
  /** The mode the server was in when it was stored. */
  mode: Mode;
  /** The fields received (form values as strings, `x[]` as arrays, JSON as sent); null when seeded. */
  params: Record<string, unknown> | null;
  idempotencyKey: string | null;
  /** Insertion order (snac pages by position, not by id). */
  seq: number;
}

export interface StoredNotification {
  id: string;
  /** Whose notification it is. */
  username: string;
  type: "mention";
  from: string;
  statusId: string;
  createdAt: Date;
}

export const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
export const hex = (bytes: number): string => randomBytes(bytes).toString("hex");
/** Doorkeeper's `SecureRandom.urlsafe_base64(32)`: client ids, secrets, codes and tokens, 43 characters. */
export const urlsafe = (): string => randomBytes(32).toString("base64url");

/**
 * Mastodon's snowflake ids (`Mastodon::Snowflake`): milliseconds since 1970 shifted left 16 bits,
 * plus 16 bits of sequence. 18 digits today: more than 2^53, so only a string keeps them.
 */
export function snowflake(ms: number, seq: number): string {
  return ((BigInt(Math.floor(ms)) << 16n) | BigInt(seq & 0xffff)).toString();
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID (GoToSocial's ids): 10 characters of milliseconds, 16 of randomness, Crockford base32. */
export function ulid(ms: number, random: Uint8Array = randomBytes(10)): string {
  let time = "";
  let t = Math.floor(ms);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let bits = 0n;
  for (const b of random.subarray(0, 10)) bits = (bits << 8n) | BigInt(b);
  let rand = "";
  for (let i = 0; i < 16; i++) {
    rand = CROCKFORD[Number(bits & 31n)] + rand;
    bits >>= 5n;
  }
  return time + rand;
}

/** Accounts were made on 2022-11-01, so their snowflakes are older than any status. */
const ACCOUNTS_EPOCH = Date.UTC(2022, 10, 1);

/** `Mastodon::Snowflake` compares as numbers, ULIDs as strings. */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** ISO 8601 with milliseconds, as Mastodon writes `created_at`. */
export const isoMs = (d: Date): string => d.toISOString();
/** snac's `mastoapi_date()`: the first 19 characters of its date, then `.000Z`. */
export const snacDate = (d: Date): string => `${d.toISOString().slice(0, 19)}.000Z`;
/** snac's ISO dates without fraction (`published`). */
export const snacIso = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;

/**
 * Rails' `to_json`: compact, with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026`
 * (`escape_html_entities_in_json`), and U+2028/2029 escaped.
 */
export function railsJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * snac's `xs_json_dumps(v, 4)`: four-space indents, non-ASCII as UTF-8, and an empty array or
 * object opened and closed on lines of its own (the snac transcripts' Content-Lengths say so).
 */
export function snacJson(value: unknown, level = 0): string {
  const pad = (n: number) => " ".repeat(4 * n);
  if (Array.isArray(value)) {
    if (value.length === 0) return `[\n${pad(level)}]`;
    return `[\n${value.map((v) => pad(level + 1) + snacJson(v, level + 1)).join(",\n")}\n${pad(level)}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return `{\n${pad(level)}}`;
    const body = entries.map(([k, v]) => `${pad(level + 1)}${JSON.stringify(k)}: ${snacJson(v, level + 1)}`);
    return `{\n${body.join(",\n")}\n${pad(level)}}`;
  }
  return JSON.stringify(value);
}

/** The look-alike's state: users, apps, codes, tokens, statuses, notifications, follows. */
export class MastodonStore {
  readonly users: MastodonUser[] = [
    {
      n: 1,
      username: "alice",
      password: "correct horse",
      displayName: "Alice Example",
      note: "",
      createdAt: new Date(ACCOUNTS_EPOCH),
    },
    {
      n: 2,
      username: "bob",
      password: "battery staple",
      displayName: "Bob Example",
      note: "",
      createdAt: new Date(ACCOUNTS_EPOCH),
    },
  ];
  readonly apps: App[] = [];
  readonly grants: Grant[] = [];
  readonly tokens: Token[] = [];
  readonly statuses: StoredStatus[] = [];
  readonly notifications: StoredNotification[] = [];
  /** "follower:followed" usernames. */
  readonly follows = new Set<string>();
  /** Mastodon's redis `idempotency:status:<account>:<key>` → status id and when it was stored. */
  readonly idempotency = new Map<string, { statusId: string; at: number }>();
  private seq = 0;
  private lastIds = new Set<string>();
  private micro = 0;
  private notificationSeq = 0;

  user(username: string): MastodonUser | undefined {
    const lower = username.toLowerCase();
    return this.users.find((u) => u.username.toLowerCase() === lower);
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** A status id no status has, for this mode, at this time. */
  statusId(mode: Mode, now: Date, uri: (id: string, micros: string) => string): { id: string; uri: string } {
    for (let attempt = 0; ; attempt++) {
      const ms = now.getTime();
      let id: string;
      let u: string;
      if (mode === "snac") {
        // mastoapi_id(): the object's ctime (10 digits) and the md5 of its id, `BASE/USER/p/SEC.MICROS`.
        const micros = String(((ms % 1000) * 1000 + (this.micro++ % 1000)) % 1_000_000).padStart(6, "0");
        u = uri("", `${Math.floor(ms / 1000)}.${micros}`);
        id = `${String(Math.floor(ms / 1000)).padStart(10, "0")}${md5(u)}`;
      } else {
        id = mode === "mastodon" ? snowflake(ms, (this.seq + attempt) * 7919) : ulid(ms);
        u = uri(id, "");
      }
      if (!this.lastIds.has(id)) {
        this.lastIds.add(id);
        return { id, uri: u };
      }
    }
  }

  /** A notification id: Mastodon's are small integers; snac's its notification time without the dot. */
  notificationId(mode: Mode, now: Date): string {
    const n = ++this.notificationSeq;
    if (mode === "snac") return `${Math.floor(now.getTime() / 1000)}${String(n).padStart(6, "0")}`;
    if (mode === "gotosocial") return ulid(now.getTime());
    return String(n);
  }

  /** The status with this id (snac also finds a status by the md5 after its 10-digit prefix). */
  status(id: string, mode: Mode): StoredStatus | undefined {
    const exact = this.statuses.find((s) => s.id === id);
    if (exact || mode !== "snac" || id.length <= 10) return exact;
    const md = id.slice(10).toLowerCase();
    return this.statuses.find((s) => s.mode === "snac" && s.id.slice(10) === md);
  }
}

/** A 16-digit app id as snac writes it (`tid()` without its dot), or Mastodon's small number. */
export function appId(mode: Mode, n: number, now: Date): string {
  if (mode === "snac") return `${Math.floor(now.getTime() / 1000)}${String(n).padStart(6, "0")}`;
  if (mode === "gotosocial") return ulid(now.getTime());
  return String(563418 + n);
}

/** A VAPID public key: an uncompressed P-256 point, base64url (Mastodon's start with "B"). */
export function vapidKey(): string {
  return Buffer.concat([Buffer.from([4]), randomBytes(64)]).toString("base64url");
}

/** Client credentials as each server makes them. */
export function clientCredentials(mode: Mode, now: Date): { clientId: string; clientSecret: string } {
  if (mode === "snac") return { clientId: hex(16), clientSecret: hex(16) };
  if (mode === "gotosocial") return { clientId: ulid(now.getTime()), clientSecret: randomUUID() };
  return { clientId: urlsafe(), clientSecret: urlsafe() };
}

/** An access token or authorization code as each server makes them. */
export function secretToken(mode: Mode): string {
  if (mode === "snac") return hex(16);
  if (mode === "gotosocial") return randomBytes(32).toString("base64url").toUpperCase().replace(/[-_]/g, "Z");
  return urlsafe();
}

/** What a server needs to write its entities. */
export interface View {
  mode: Mode;
  origin: string;
  /** `host:port`, the instance's `uri`/`domain`. */
  domain: string;
  store: MastodonStore;
  now: Date;
}

export function accountId(view: View, user: MastodonUser): string {
  if (view.mode === "snac") return md5(`${view.origin}/${user.username}`);
  if (view.mode === "gotosocial") return ulid(ACCOUNTS_EPOCH + user.n, new Uint8Array(10).fill(user.n));
  return snowflake(ACCOUNTS_EPOCH, user.n);
}

export function accountUrl(view: View, user: MastodonUser): string {
  return view.mode === "snac" ? `${view.origin}/${user.username}` : `${view.origin}/@${user.username}`;
}

const liveStatuses = (view: View, user: MastodonUser) =>
  view.store.statuses.filter((s) => !s.deleted && s.username === user.username);

/** An Account as a status, a lookup or a notification carries it. */
export function accountJson(view: View, user: MastodonUser): Record<string, unknown> {
  const id = accountId(view, user);
  const url = accountUrl(view, user);
  if (view.mode === "snac") {
    // mastoapi_account() (snac/30): acct with the host, counts 0, today's date as last_status_at.
    return {
      id,
      username: user.username,
      display_name: user.displayName || user.username,
      discoverable: true,
      group: false,
      hide_collections: false,
      indexable: true,
      noindex: false,
      roles: [],
      acct: `${user.username}@${view.domain}`,
      created_at: snacIso(user.createdAt),
      last_status_at: view.now.toISOString().slice(0, 10),
      bot: false,
      note: `${user.note}<br>`,
      url,
      uri: url,
      avatar: `${view.origin}/susie.png`,
      avatar_static: `${view.origin}/susie.png`,
      header: "",
      header_static: "",
      emojis: [],
      locked: false,
      followers_count: 0,
      following_count: 0,
      statuses_count: 0,
      fields: [],
    };
  }
  const statuses = liveStatuses(view, user);
  const last = statuses.reduce<Date | null>(
    (d, s) => (d === null || s.createdAt > d ? s.createdAt : d),
    null,
  );
  const followers = [...view.store.follows].filter((f) => f.endsWith(`:${user.username}`)).length;
  const following = [...view.store.follows].filter((f) => f.startsWith(`${user.username}:`)).length;
  return {
    id,
    username: user.username,
    acct: user.username,
    display_name: user.displayName,
    locked: false,
    bot: false,
    discoverable: true,
    indexable: false,
    group: false,
    created_at: `${user.createdAt.toISOString().slice(0, 10)}T00:00:00.000Z`,
    note: user.note === "" ? "" : `<p>${user.note}</p>`,
    url,
    uri: `${view.origin}/users/${user.username}`,
    avatar: `${view.origin}/avatars/original/missing.png`,
    avatar_static: `${view.origin}/avatars/original/missing.png`,
    header: `${view.origin}/headers/original/missing.png`,
    header_static: `${view.origin}/headers/original/missing.png`,
    followers_count: followers,
    following_count: following,
    statuses_count: statuses.length,
    last_status_at: last === null ? null : last.toISOString().slice(0, 10),
    hide_collections: null,
    noindex: false,
    emojis: [],
    roles: [],
    fields: [],
  };
}

/** `GET /api/v1/accounts/verify_credentials`: the Account and its `source` (snac/20 for snac). */
export function credentialsJson(view: View, user: MastodonUser): Record<string, unknown> {
  if (view.mode === "snac") {
    const url = accountUrl(view, user);
    return {
      id: accountId(view, user),
      username: user.username,
      acct: user.username,
      display_name: user.displayName || user.username,
      created_at: snacIso(user.createdAt),
      last_status_at: snacIso(user.createdAt),
      note: user.note,
      url,
      uri: url,
      locked: false,
      bot: false,
      emojis: [],
      avatar: `${view.origin}/susie.png`,
      avatar_static: `${view.origin}/susie.png`,
      header: "",
      header_static: "",
      source: {
        privacy: "public",
        language: "en",
        follow_requests_count: 0,
        sensitive: false,
        fields: [],
        note: user.note,
        bot: false,
      },
      followers_count: 0,
      following_count: 0,
      statuses_count: 0,
    };
  }
  return {
    ...accountJson(view, user),
    source: {
      privacy: "public",
      sensitive: false,
      language: null,
      note: user.note,
      fields: [],
      follow_requests_count: 0,
      hide_collections: null,
      discoverable: true,
      indexable: false,
      attribution_domains: [],
    },
    role: { id: "-99", name: "", permissions: "0", color: "", highlighted: false },
  };
}

/** A Status as the server writes it; `withSource` adds `text` (Mastodon's DELETE answer). */
export function statusJson(view: View, s: StoredStatus, withSource = false): Record<string, unknown> {
  const author = view.store.user(s.username) as MastodonUser;
  const parent = s.inReplyToId === null ? undefined : view.store.statuses.find((p) => p.id === s.inReplyToId);
  const parentAuthor = parent && view.store.user(parent.username);
  const repliesCount = view.store.statuses.filter((r) => !r.deleted && r.inReplyToId === s.id).length;
  if (view.mode === "snac") {
    // mastoapi_status() (snac/30): this key order, language always "en", `text` the source.
    return {
      id: s.id,
      uri: s.uri,
      url: s.url,
      account: accountJson(view, author),
      created_at: snacDate(s.createdAt),
      content: s.content,
      visibility: s.visibility,
      sensitive: s.sensitive,
      spoiler_text: s.spoilerText,
      media_attachments: [],
      mentions: [],
      tags: s.tags.map((t) => ({ name: t, url: `${view.origin}?t=${t}` })),
      emojis: [],
      reactions: [],
      favourites_count: 0,
      favourited: false,
      reblogs_count: 0,
      reblogged: false,
      replies_count: repliesCount,
      in_reply_to_id: s.inReplyToId,
      in_reply_to_account_id: parentAuthor ? accountId(view, parentAuthor) : null,
      reblog: null,
      card: null,
      language: "en",
      filtered: [],
      muted: false,
      text: s.text,
      edited_at: null,
      poll: null,
      bookmarked: false,
      pinned: false,
    };
  }
  const out: Record<string, unknown> = {
    id: s.id,
    created_at: isoMs(s.createdAt),
    in_reply_to_id: s.inReplyToId,
    in_reply_to_account_id: parentAuthor ? accountId(view, parentAuthor) : null,
    sensitive: s.sensitive,
    spoiler_text: s.spoilerText,
    visibility: s.visibility,
    language: s.language,
    uri: s.uri,
    url: s.url,
    replies_count: repliesCount,
    reblogs_count: 0,
    favourites_count: 0,
    edited_at: null,
    favourited: false,
    reblogged: false,
    muted: false,
    bookmarked: false,
    pinned: false,
    content: s.content,
    filtered: [],
    reblog: null,
    application: s.application,
    account: accountJson(view, author),
    media_attachments: [],
    mentions: s.mentions.flatMap((name) => {
      const u = view.store.user(name);
      return u
        ? [{ id: accountId(view, u), username: u.username, url: accountUrl(view, u), acct: u.username }]
        : [];
    }),
    tags: s.tags.map((t) => ({ name: t.toLowerCase(), url: `${view.origin}/tags/${t.toLowerCase()}` })),
    emojis: [],
    card: null,
    poll: null,
  };
  if (withSource) out.text = s.text;
  return out;
}

export function notificationJson(view: View, n: StoredNotification): Record<string, unknown> | null {
  const from = view.store.user(n.from);
  const status = view.store.statuses.find((s) => s.id === n.statusId && !s.deleted);
  if (!from || !status) return null;
  if (view.mode === "snac") {
    return {
      type: n.type,
      id: n.id,
      created_at: snacIso(n.createdAt),
      account: accountJson(view, from),
      status: statusJson(view, status),
    };
  }
  return {
    id: n.id,
    type: n.type,
    created_at: isoMs(n.createdAt),
    group_key: `ungrouped-${n.id}`,
    account: accountJson(view, from),
    status: statusJson(view, status),
  };
}

import type { Server } from "../config/server.js";
import type { SecretKind } from "../credentials/store.js";
import type { ApiName } from "./api.js";

/**
 * What the commands and core/ need from a server, whatever API it speaks. StatusNet / GNU social is the
 * first implementation (services/statusnet/); an API is added as a sibling folder that implements this.
 * Every method throws the typed errors of errors.ts, which already carry the exit-code meaning (an
 * HttpError's `sent` tells 75 from 76; `kept` says what became of a failed post).
 */
export interface Service extends ServiceRules {
  readonly server: Server;
  readonly api: ApiName;
  /** The kind of secret this API authenticates with (the credential stores are asked for it). */
  readonly secret: SecretKind;
  /** `--timeout` starts again (per line for `post --lines`, after a Retry-After wait). */
  newDeadline(): void;
  /** The status's page on the web. */
  statusUrl(status: Status): string;
  /** The server's length limit: 0 for none, undefined when it cannot say. */
  textLimit(): Promise<number | undefined>;
  /**
   * How many characters a URL counts for, when the server said (Mastodon's
   * `characters_reserved_per_url`, known after `textLimit`); cached with the limit.
   */
  readonly urlLength?: number | undefined;
  /** The URL length cached from an earlier run (the limit cache keeps it beside the limit). */
  useUrlLength?(n: number): void;
  /**
   * Posts one status. A refusal because it is too long has `details.tooLong`; one because the server
   * already has it is marked `kept: already-posted`; a text the server ran as a command is an error.
   */
  post(p: PostParams): Promise<StatusReply>;
  /**
   * The user's own recent status with this text (as the server stores it), posted no earlier than
   * `since`; `visibility` is the one it was posted with (Mastodon: some servers list only public
   * statuses among an account's, so another one is looked for elsewhere too).
   */
  findMine(
    user: string,
    text: string,
    since: Since | undefined,
    visibility?: string,
    /** The status's idempotency key (the AT Protocol's record key finds it for sure). */
    key?: string,
  ): Promise<StatusReply | undefined>;
  show(id: string): Promise<StatusReply>;
  delete(id: string): Promise<StatusReply>;
  timeline(q: TimelineQuery): Promise<TimelineReply>;
  whoami(): Promise<ProfileReply>;
}

/**
 * An API's rules that need no connection, so they are checked before anything is sent (and by
 * `--dry-run`): `services/open.ts` `rulesFor` gives them for a server, and every Service has them.
 */
export interface ServiceRules {
  /**
   * A status id as this API writes one; a UsageError (64) for anything else, before sending. `option`
   * names the flag it came from, for the message.
   */
  statusId(id: string, option?: string): string;
  /** The length of a status text as this API's server counts it against its limit. */
  textLength(text: string): number;
  /**
   * What a content warning adds to that length: Mastodon counts it as typed, in graphemes, with no
   * allowance for URLs or mentions (StatusLengthValidator). Only APIs that take one have it.
   */
  warningLength?(warning: string): number;
}

export interface PostParams {
  text: string;
  /** The client name the server shows. */
  source: string;
  replyTo?: string | undefined;
  /** The account, when known: some checks read its timeline. */
  user?: string | undefined;
  /** The same for every retry of one status (the outbox entry's id), for APIs that take one. */
  idempotencyKey?: string | undefined;
  /** Mastodon only (refused with 64 for StatusNet before anything is sent). */
  visibility?: string | undefined;
  /** The content warning (Mastodon's `spoiler_text`); Mastodon only. */
  spoilerText?: string | undefined;
  /** ISO 639 language code (Mastodon's `language`). */
  language?: string | undefined;
}

/** The body format asked for: `-o xml` / `-o json` print the server's own reply. */
export type WireFormat = "xml" | "json";
export const WIRE_FORMATS: readonly WireFormat[] = ["xml", "json"];

export interface User {
  id: string;
  screenName: string;
  name: string;
}

/** A status as identica works with it, the same whatever API or wire format it came in. */
export interface Status {
  id: string;
  text: string;
  /** ISO 8601 (UTC), or null when the server's date could not be read. */
  createdAt: string | null;
  /** The client that posted it, as plain text (`<a href…>name</a>` reduced to `name`). */
  source: string | null;
  inReplyToId: string | null;
  inReplyToScreenName: string | null;
  conversationId: string | null;
  user: User;
  /** The status's web page as the server gives it (Mastodon); StatusNet's is made from its id. */
  url?: string | null;
  /** Mastodon: public, unlisted, private or direct. */
  visibility?: string;
  /** Mastodon: the content warning ("" for none). */
  spoilerText?: string;
  /** AT Protocol: the record's content hash, which a reply's `parent`/`root` ref names with its URI. */
  cid?: string | undefined;
}

/** The account as the server describes it to its owner. */
export interface Profile {
  id: string;
  screenName: string;
  name: string;
  profileUrl: string | null;
  statusesCount: number | null;
  /** The latest notice, without its user. */
  latest: { id: string; text: string; createdAt: string | null } | null;
}

/** The body as the server sent it (`-o xml` / `-o json` print it as it is). */
export interface RawReply {
  text: string;
}

export interface StatusReply {
  status: Status;
  reply: RawReply;
}

export interface ProfileReply {
  profile: Profile;
  reply: RawReply;
}

export type TimelineKind = "home" | "user" | "mentions" | "public";
export const TIMELINE_KINDS: readonly TimelineKind[] = ["home", "user", "mentions", "public"];

export interface TimelineQuery {
  kind: TimelineKind;
  count?: number | undefined;
  sinceId?: string | undefined;
  maxId?: string | undefined;
  /** For `user`: whose timeline; without it, the authenticated user's. */
  of?: string | undefined;
}

export interface TimelineReply {
  statuses: Status[];
  text: string;
  /**
   * How far the server's clock is ahead of ours (negative: behind), from its `Date` header; 0 when it
   * sent none. Its `createdAt` times are on its clock.
   */
  clockSkewMs: number;
}

/**
 * When an uncertain attempt began: on our clock, and on the server's when its `Date` header was seen
 * then. The server stamped a status it made with its clock of that moment, which may since have been
 * corrected: the recorded server time is what its `created_at` is compared with.
 */
export interface Since {
  at: Date;
  onServerClock?: Date | undefined;
}

import type { UpdateParams } from "../api/forms.js";
import type { ParsedReply } from "../api/reply.js";
import { fetchTextLimit } from "../api/server-config.js";
import type { Status } from "../api/status.js";
import { showStatus, timeline } from "../api/statuses.js";
import { isStoredFormOf } from "../api/stored-text.js";
import type { Api, UpdateReply } from "../api/update.js";
import { updateStatus } from "../api/update.js";
import { noticeUrl } from "../config/server.js";
import { ConfigError, ExitCode, HttpError } from "../errors.js";
import { oneLine } from "../sanitize.js";
import { serverLimit } from "./limit.js";
import { checkLength, type LimitCache } from "./limit-cache.js";
import { type ApiOptions, withApi } from "./session.js";

export type PostRequest = UpdateParams & ApiOptions;

export interface LimitOptions {
  /** `--max-length`: when given, the server's limit is not looked up. */
  maxLength?: number | undefined;
  cache: LimitCache;
  note: (line: string) => void;
  /**
   * Look at the user's recent statuses first and post nothing if one has exactly this text: always
   * (`--if-absent`), or only among those since a given time (an outbox entry whose outcome was unknown).
   */
  unlessPosted?: { since?: Date | undefined } | undefined;
}

export interface PostResult {
  status: Status;
  url: string;
  reply: ParsedReply;
  /** True when the status was already there and nothing was posted. */
  existing?: boolean;
}

/**
 * Publishes one status on one connection: the server's length limit (cached for a day) is checked
 * first, the update goes without credentials, the credential is looked up only when the server
 * answers with a Basic challenge, and the reply must be the status just sent.
 */
export async function postStatus(req: PostRequest, limits: LimitOptions): Promise<PostResult> {
  return withApi(req, (api) => postOn(api, req, limits));
}

/** One post on an open connection (`post --lines` sends many on one). */
export async function postOn(api: Api, req: PostRequest, limits: LimitOptions): Promise<PostResult> {
  if (limits.unlessPosted) {
    const found = await findPosted(api, req.user, req.text, limits.unlessPosted.since);
    if (found) {
      limits.note(`* already posted as #${found.status.id}; not posting again`);
      return { ...found, url: noticeUrl(req.server, found.status.id), existing: true };
    }
  }
  if (limits.maxLength === undefined) {
    checkLength(req.text, await serverLimit(api, limits.cache, limits.note), `${req.server.key}'s`);
  }
  // A text that starts with a command word may be run as a command (docs/statusnet-api.md §2.3); the user's latest
  // notice before the post tells a swallowed command (the reply is that notice) from one that made a
  // new notice (fav, sub). One read, only for such texts.
  const latestBefore = startsWithCommand(req.text) ? await latestNoticeId(api, req.user) : undefined;
  let result: UpdateReply;
  try {
    result = await updateStatus(api, req);
  } catch (err) {
    // Too long after all: the cached limit is stale, so read it again for next time.
    if (err instanceof HttpError && (err.details.status === 406 || err.details.status === 413)) {
      await limits.cache.set(req.server, await fetchTextLimit(api).catch(() => undefined));
    }
    // GNU social refuses the same text from the same user within its duplicate window (docs/statusnet-api.md §2.4):
    // the status is already there, so it must never be kept for another try (docs/threats.md I2).
    if (
      err instanceof HttpError &&
      err.details.status === 400 &&
      /duplicate/i.test(err.details.serverMessage ?? "")
    ) {
      err.kept = { kind: "already-posted" };
    }
    throw err;
  }
  const swallowed = swallowedCommand(req.text, result, latestBefore);
  if (swallowed !== undefined) throw swallowed;
  return { ...result, url: noticeUrl(req.server, result.status.id) };
}

// CommandInterpreter::handle_command() (docs/statusnet-api.md §2.3): a status starting with one of these words may
// be run as a command, and the server then answers 200 with the user's latest notice.
const COMMAND_WORDS = new Set(
  "help login lose subscribers subscriptions groups on off stop quit join drop follow sub leave unsub get last d dm r reply repeat rp rt rd whois fav nudge stats invite track untrack tracks tracking".split(
    " ",
  ),
);

function commandWord(text: string): string | undefined {
  const first = text.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  return COMMAND_WORDS.has(first) ? first : undefined;
}

export const startsWithCommand = (text: string): boolean => commandWord(text) !== undefined;

/** The id of the user's latest notice, or undefined when it cannot be told (no user, a failed read). */
async function latestNoticeId(api: Api, user: string | undefined): Promise<string | undefined> {
  if (user === undefined) return undefined;
  try {
    const recent = await timeline(api, { kind: "user", of: user, count: 1 });
    return recent.statuses[0]?.id ?? "0";
  } catch {
    return undefined;
  }
}

/**
 * The error to give when the server ran the text as a command instead of posting it, else undefined.
 * The reply's text is compared with the text as the server stores it (entities decoded, whitespace
 * collapsed, URLs aside), never with the bytes sent: a rewritten status is still a post (docs/threats.md
 * I1). Only a text that starts with a command word and came back as another text was not posted;
 * the reply's age then tells which way: a notice no newer than the user's latest before the post (or,
 * when that is not known, created before the request by the server's clock) is the user's latest one,
 * returned for a swallowed command; a new one is what the command made (`fav` and `sub` make activity
 * notices).
 */
export function swallowedCommand(
  sent: string,
  reply: UpdateReply,
  latestBefore?: string,
): HttpError | undefined {
  const command = commandWord(sent);
  if (command === undefined) return undefined;
  const { status, notBefore } = reply;
  if (isStoredFormOf(sent, status.text)) return undefined;
  const created = status.createdAt === null ? Number.NaN : Date.parse(status.createdAt);
  const age =
    latestBefore !== undefined && /^\d+$/.test(latestBefore) && /^\d+$/.test(status.id)
      ? BigInt(status.id) <= BigInt(latestBefore)
        ? "old"
        : "new"
      : notBefore === undefined || Number.isNaN(created)
        ? "unknown"
        : created < notBefore.getTime()
          ? "old"
          : "new";
  const message =
    age === "new"
      ? `the server ran the text as its "${command}" command, which made notice #${status.id} ("${oneLine(status.text, 60)}"); your text was not posted`
      : `the server treated the text as its "${command}" command and posted nothing (it answered with your latest notice, #${status.id})`;
  return new HttpError(
    ExitCode.Data,
    message,
    { status: 200, sent: true },
    { hint: "reword the start of the status if you meant to post it" },
  );
}

const mine = (s: Status, user: string) => s.user.screenName.toLowerCase() === user.toLowerCase();

// Enough for any account a person or a cron job posts from; the search says so if it stops there.
const MAX_PAGES = 10;

/**
 * The user's status with this text among all those created since `since` (on the server's clock, as
 * its `Date` header shows it, less two minutes): page after page back through the user timeline until
 * the statuses are older than that, however many were posted in between (a busy `--lines` run).
 */
async function searchSince(api: Api, user: string, text: string, since: Date): Promise<Status | undefined> {
  let maxId: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const recent = await timeline(api, { kind: "user", of: user, count: 200, maxId });
    const after = since.getTime() + recent.clockSkewMs - 120_000;
    for (const s of recent.statuses) {
      if (s.createdAt !== null && Date.parse(s.createdAt) < after) return undefined;
      if (mine(s, user) && isStoredFormOf(text, s.text)) return s;
    }
    const last = recent.statuses.at(-1);
    if (last === undefined || !/^\d+$/.test(last.id) || last.id === "0") return undefined;
    maxId = (BigInt(last.id) - 1n).toString();
  }
  throw new HttpError(
    ExitCode.TempFail,
    `could not tell whether the status is already posted: more than ${MAX_PAGES * 200} statuses since its first attempt; nothing was sent`,
    { sent: false },
    { hint: "look at the timeline, then send it (or drop it) by hand" },
  );
}

/**
 * The user's own recent status with this text as the server stores it (see api/stored-text.ts),
 * posted no earlier than `since` on our clock: the server's `created_at` is read on its own clock
 * (the skew its `Date` header shows), less two minutes for what that cannot tell.
 */
export async function findPosted(
  api: Api,
  user: string | undefined,
  text: string,
  since: Date | undefined,
): Promise<{ status: Status; reply: ParsedReply } | undefined> {
  if (user === undefined) {
    throw new ConfigError("checking for an earlier copy needs the user name", { hint: "pass --user NICK" });
  }
  let status: Status | undefined;
  if (since === undefined) {
    // --if-absent: the user's recent statuses, one page.
    const recent = await timeline(api, { kind: "user", of: user, count: 50 });
    status = recent.statuses.find((s) => mine(s, user) && isStoredFormOf(text, s.text));
  } else {
    status = await searchSince(api, user, text, since);
  }
  // The status's own reply (for -o xml), not the timeline it was found in.
  return status ? showStatus(api, status.id) : undefined;
}

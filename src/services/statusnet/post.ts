import { ExitCode, HttpError } from "../../errors.js";
import { oneLine } from "../../sanitize.js";
import type { PostParams, Since, Status, StatusReply } from "../service.js";
import { showStatus, timeline } from "./statuses.js";
import { isStoredFormOf } from "./stored-text.js";
import { type Api, type UpdateReply, updateStatus } from "./update.js";

/**
 * `statuses/update` with what GNU social does around it: a text that starts with a command word may be
 * run as a command (docs/statusnet-api.md §2.3), so the user's latest notice before the post tells a
 * swallowed command (the reply is that notice) from one that made a new notice (fav, sub) — one read,
 * only for such texts; a refused duplicate is already there (§2.4); 406 and 413 mean too long.
 */
export async function postUpdate(api: Api, p: PostParams): Promise<UpdateReply> {
  const latestBefore = startsWithCommand(p.text) ? await latestNoticeId(api, p.user) : undefined;
  let result: UpdateReply;
  try {
    result = await updateStatus(api, p);
  } catch (err) {
    if (err instanceof HttpError && (err.details.status === 406 || err.details.status === 413)) {
      err.details.tooLong = true;
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
  const swallowed = swallowedCommand(p.text, result, latestBefore);
  if (swallowed !== undefined) throw swallowed;
  return result;
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

const startsWithCommand = (text: string): boolean => commandWord(text) !== undefined;

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
async function searchSince(api: Api, user: string, text: string, since: Since): Promise<Status | undefined> {
  let maxId: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const recent = await timeline(api, { kind: "user", of: user, count: 200, maxId });
    // The earlier of: our time on the server's clock as it is now, and as it was then (if known).
    const now = since.at.getTime() + recent.clockSkewMs;
    const then = since.onServerClock?.getTime() ?? now;
    const after = Math.min(now, then) - 120_000;
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
 * The user's own recent status with this text as the server stores it (see stored-text.ts),
 * posted no earlier than `since` on our clock: the server's `created_at` is read on its own clock
 * (the skew its `Date` header shows), less two minutes for what that cannot tell.
 */
export async function findPosted(
  api: Api,
  user: string,
  text: string,
  since: Since | undefined,
): Promise<StatusReply | undefined> {
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

import type { UpdateParams } from "../api/forms.js";
import type { ParsedReply } from "../api/reply.js";
import { fetchTextLimit } from "../api/server-config.js";
import type { Status } from "../api/status.js";
import { showStatus, timeline } from "../api/statuses.js";
import type { Api } from "../api/update.js";
import { updateStatus } from "../api/update.js";
import { noticeUrl } from "../config/server.js";
import { ConfigError, ExitCode, HttpError } from "../errors.js";
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
  let result: { status: Status; reply: ParsedReply };
  try {
    result = await updateStatus(api, req);
  } catch (err) {
    // Too long after all: the cached limit is stale, so read it again for next time.
    if (err instanceof HttpError && (err.details.status === 406 || err.details.status === 413)) {
      await limits.cache.set(req.server, await fetchTextLimit(api).catch(() => undefined));
    }
    throw err;
  }
  const command = swallowedCommand(req.text, result.status);
  if (command !== undefined) {
    throw new HttpError(
      ExitCode.Data,
      `the server treated the text as its "${command}" command and posted nothing (it answered with your latest notice, #${result.status.id})`,
      { status: 200, sent: true },
      { hint: "reword the start of the status if you meant to post it" },
    );
  }
  return { ...result, url: noticeUrl(req.server, result.status.id) };
}

// CommandInterpreter::handle_command() (API.md §2.3): a status starting with one of these words may
// be run as a command, and the server then answers 200 with the user's latest existing notice.
const COMMAND_WORDS = new Set(
  "help login lose subscribers subscriptions groups on off stop quit join drop follow sub leave unsub get last d dm r reply repeat rp rt rd whois fav nudge stats invite track untrack tracks tracking".split(
    " ",
  ),
);

/** The command word, when the server answered a command-like text with some other notice. */
export function swallowedCommand(sent: string, status: Status): string | undefined {
  const first = sent.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  if (!COMMAND_WORDS.has(first)) return undefined;
  const norm = (s: string) => s.replace(/\s+/g, " ").trim();
  return norm(status.text) === norm(sent) ? undefined : first;
}

const sameText = (a: string, b: string) => a.replace(/\s+/g, " ").trim() === b.replace(/\s+/g, " ").trim();

/**
 * The user's own recent status with exactly this text (whitespace aside: the XML reply flattens it),
 * posted no earlier than `since` (less two minutes for clocks that disagree).
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
  const recent = await timeline(api, { kind: "user", of: user, count: 50 });
  const after = since === undefined ? undefined : since.getTime() - 120_000;
  const status = recent.statuses.find(
    (s) =>
      s.user.screenName.toLowerCase() === user.toLowerCase() &&
      sameText(s.text, text) &&
      (after === undefined || (s.createdAt !== null && Date.parse(s.createdAt) >= after)),
  );
  // The status's own reply (for -o xml), not the timeline it was found in.
  return status ? showStatus(api, status.id) : undefined;
}

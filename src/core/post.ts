import { ConfigError, HttpError } from "../errors.js";
import { type ServiceOptions, withService } from "../services/open.js";
import type { PostParams, RawReply, Service, Since, Status } from "../services/service.js";
import { serverLimit } from "./limit.js";
import { checkLength, type LimitCache } from "./limit-cache.js";

export type PostRequest = PostParams & ServiceOptions;

export interface LimitOptions {
  /** `--max-length`: when given, the server's limit is not looked up. */
  maxLength?: number | undefined;
  cache: LimitCache;
  note: (line: string) => void;
  /**
   * Look at the user's recent statuses first and post nothing if one has exactly this text: always
   * (`--if-absent`), or only among those since a given time (an outbox entry whose outcome was unknown).
   */
  unlessPosted?: { since?: Since | undefined } | undefined;
}

export interface PostResult {
  status: Status;
  url: string;
  reply: RawReply;
  /** True when the status was already there and nothing was posted. */
  existing?: boolean;
}

/**
 * Publishes one status on one connection: the server's length limit (cached for a day) is checked
 * first, then the service posts it (how it authenticates and checks the reply is its business).
 */
export async function postStatus(req: PostRequest, limits: LimitOptions): Promise<PostResult> {
  return withService(req, (svc) => postOn(svc, req, limits));
}

/** One post on an open service (`post --lines` sends many on one). */
export async function postOn(svc: Service, req: PostParams, limits: LimitOptions): Promise<PostResult> {
  if (limits.unlessPosted) {
    // Mastodon reads the token's own account; StatusNet reads a named user's timeline; the AT
    // Protocol the session's repository.
    if (req.user === undefined && svc.api === "statusnet") {
      throw new ConfigError("checking for an earlier copy needs the user name", { hint: "pass --user NICK" });
    }
    const found = await svc.findMine(
      req.user ?? "",
      req.text,
      limits.unlessPosted.since,
      req.visibility,
      req.idempotencyKey,
    );
    if (found) {
      limits.note(`* already posted as #${found.status.id}; not posting again`);
      return { ...found, url: svc.statusUrl(found.status), existing: true };
    }
  }
  if (limits.maxLength === undefined) {
    // Mastodon counts the content warning with the text.
    const cw = req.spoilerText ? (svc.warningLength?.(req.spoilerText) ?? 0) : 0;
    checkLength(
      req.text,
      await serverLimit(svc, limits.cache, limits.note),
      `${svc.server.key}'s`,
      (t) => svc.textLength(t) + cw,
    );
  }
  try {
    const result = await svc.post(req);
    return { status: result.status, reply: result.reply, url: svc.statusUrl(result.status) };
  } catch (err) {
    // Too long after all: the cached limit is stale, so read it again for next time.
    if (err instanceof HttpError && err.details.tooLong) {
      const fresh = await svc.textLimit().catch(() => undefined);
      await limits.cache.set(svc.server, fresh, svc.urlLength);
    }
    throw err;
  }
}

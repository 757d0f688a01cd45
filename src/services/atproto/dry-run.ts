import type { ServiceOptions } from "../options.js";
import type { PostParams } from "../service.js";
import { facetsJson, findFacets } from "./facets.js";
import { isTid } from "./tid.js";

/**
 * `--dry-run`: the `createRecord` call that would be sent, with the session's token shown only as
 * redacted. Nothing is asked of the server, so the repository is named by the account, the time is
 * now, mentions are shown unresolved (their DIDs are looked up when it is sent), and a reply's refs
 * are read from the parent then.
 */
export function describeRecord(req: PostParams & Omit<ServiceOptions, "credential">): string {
  const found = findFacets(req.text);
  const links = facetsJson({ links: found.links, mentions: [] }, new Map());
  const record = {
    $type: "app.bsky.feed.post",
    text: req.text,
    createdAt: new Date().toISOString(),
    ...(req.language === undefined ? {} : { langs: [req.language.replace(/_/g, "-")] }),
    ...(links.length === 0 ? {} : { facets: links }),
    ...(req.replyTo === undefined ? {} : { reply: `<the refs of ${req.replyTo}>` }),
  };
  const body = JSON.stringify(
    {
      repo: `<the DID of ${req.user ?? "<no user set>"}>`,
      collection: "app.bsky.feed.post",
      ...(req.idempotencyKey !== undefined && isTid(req.idempotencyKey) ? { rkey: req.idempotencyKey } : {}),
      record,
    },
    null,
    2,
  );
  const mentions = found.mentions.map((m) => `@${m.handle}`);
  return [
    `POST ${new URL("/xrpc/com.atproto.repo.createRecord", req.server.origin).href}`,
    `User-Agent: ${req.http.userAgent}`,
    "Accept: application/json",
    "Content-Type: application/json",
    `Authorization: Bearer <redacted> (the session of ${req.user ?? "<no user set>"})`,
    "",
    body,
    ...(mentions.length === 0 ? [] : [`(mentions resolved when sent: ${[...new Set(mentions)].join(" ")})`]),
    "",
  ].join("\n");
}

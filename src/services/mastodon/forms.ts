import type { Server } from "../../config/server.js";
import type { ServiceOptions } from "../options.js";
import type { PostParams } from "../service.js";

/** Request building for `POST /api/v1/statuses`, apart from the service so `--dry-run` loads nothing else. */
export function statusForm(p: PostParams): string {
  const form = new URLSearchParams({ status: p.text });
  if (p.replyTo !== undefined) form.set("in_reply_to_id", p.replyTo);
  if (p.visibility !== undefined) form.set("visibility", p.visibility);
  if (p.spoilerText !== undefined && p.spoilerText !== "") form.set("spoiler_text", p.spoilerText);
  if (p.language !== undefined) form.set("language", p.language);
  return form.toString();
}

export function statusesUrl(server: Server): URL {
  return new URL("/api/v1/statuses", server.origin);
}

/** `--dry-run`: the request that would be sent, with the token shown only as redacted. */
export function describeStatus(req: PostParams & Omit<ServiceOptions, "credential">): string {
  const body = statusForm(req);
  return [
    `POST ${statusesUrl(req.server).href}`,
    `User-Agent: ${req.http.userAgent}`,
    "Accept: application/json",
    "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    `Authorization: Bearer <redacted> (the token of ${req.user ?? "<no user set>"})`,
    ...(req.idempotencyKey === undefined ? [] : [`Idempotency-Key: ${req.idempotencyKey}`]),
    "",
    body,
    "",
  ].join("\n");
}

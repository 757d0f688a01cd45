import type { ParsedReply } from "../api/reply.js";
import type { Status } from "../api/status.js";
import { ACCEPT, type UpdateParams, updateForm, updateStatus, updateUrl } from "../api/update.js";
import { noticeUrl } from "../config/server.js";
import { type ApiOptions, withApi } from "./session.js";

export type PostRequest = UpdateParams & ApiOptions;

export interface PostResult {
  status: Status;
  url: string;
  reply: ParsedReply;
}

/**
 * Publishes one status: the first request goes without credentials, the credential is looked up only
 * when the server answers with a Basic challenge, and it is bound to this server's origin.
 */
export async function postStatus(req: PostRequest): Promise<PostResult> {
  const { status, reply } = await withApi(req, (api) => updateStatus(api, req));
  return { status, url: noticeUrl(req.server, status.id), reply };
}

/** `--dry-run`: the request that would be sent, with the credential shown only as redacted. */
export function describePost(req: Omit<PostRequest, "credential">): string {
  const url = updateUrl(req.server, req.format);
  const body = updateForm(req);
  return [
    `POST ${url.href}`,
    `User-Agent: ${req.http.userAgent}`,
    `Accept: ${ACCEPT[req.format]}`,
    "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    `Authorization: Basic <redacted> (only after the server's challenge, as ${req.user ?? "<no user set>"})`,
    "",
    body,
    "",
  ].join("\n");
}

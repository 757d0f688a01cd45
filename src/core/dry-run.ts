import { ACCEPT, updateForm, updateUrl } from "../api/forms.js";
import type { PostRequest } from "./post.js";

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

import type { ServiceOptions } from "../options.js";
import type { PostParams } from "../service.js";
import { ACCEPT, updateForm, updateUrl } from "./forms.js";

/** `--dry-run`: the request that would be sent, with the credential shown only as redacted. */
export function describeUpdate(req: PostParams & Omit<ServiceOptions, "credential">): string {
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

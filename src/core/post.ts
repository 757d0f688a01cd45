import type { ParsedReply, WireFormat } from "../api/reply.js";
import type { Status } from "../api/status.js";
import { ACCEPT, type UpdateParams, updateForm, updateStatus, updateUrl } from "../api/update.js";
import { noticeUrl, type Server } from "../config/server.js";
import { resolveCredential } from "../credentials/resolve.js";
import type { CredentialStore } from "../credentials/store.js";
import { ConfigError } from "../errors.js";
import type { HttpConfig } from "../http/client.js";

export interface PostRequest extends UpdateParams {
  server: Server;
  /** The account; needed only once the server challenges. */
  user: string | undefined;
  format: WireFormat;
  stores: readonly CredentialStore[];
  http: HttpConfig;
  /** Diagnostics for `-v` (which credential source was used, and so on). */
  note: (line: string) => void;
}

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
  const { HttpSession } = await import("../http/client.js");
  const session = new HttpSession(req.server.origin, req.http);
  try {
    const { status, reply } = await updateStatus(
      {
        server: req.server,
        session,
        format: req.format,
        credential: async () => {
          if (req.user === undefined) {
            throw new ConfigError(`${req.server.key} asks for a login, but no user is set`, {
              hint: "pass --user NICK, set IDENTICA_USER, or run: identica login",
            });
          }
          return resolveCredential(
            { origin: req.server.origin, key: req.server.key, user: req.user },
            req.stores,
            req.note,
          );
        },
      },
      req,
    );
    return { status, url: noticeUrl(req.server, status.id), reply };
  } finally {
    await session.close();
  }
}

/** `--dry-run`: the request that would be sent, with the credential shown only as redacted. */
export function describePost(req: Omit<PostRequest, "stores" | "note">): string {
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

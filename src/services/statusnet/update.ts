import type { Server } from "../../config/server.js";
import { HttpError } from "../../errors.js";
import type { BasicSession, CredentialCallback } from "./auth.js";
import { ACCEPT, type UpdateParams, updateForm, updateUrl } from "./forms.js";
import { errorForStatus, type ParsedReply, parseSuccess, unknownOutcome, type WireFormat } from "./reply.js";
import { type Status, toStatus } from "./status.js";

/** What endpoint functions need: where, over which connection, in which format, with which credential. */
export interface Api {
  server: Server;
  session: BasicSession;
  format: WireFormat;
  credential: CredentialCallback | undefined;
}

export interface UpdateReply {
  status: Status;
  reply: ParsedReply;
  /**
   * By the server's own clock (its `Date` header, less the time the exchange took and a second of
   * rounding): a notice created before this cannot be the one this request made.
   */
  notBefore: Date | undefined;
}

/** `POST statuses/update.{xml,json}`: success is a 200 whose body is a status with an id. */
export async function updateStatus(api: Api, p: UpdateParams): Promise<UpdateReply> {
  const url = updateUrl(api.server, api.format);
  const started = Date.now();
  const res = await api.session.send({
    method: "POST",
    url,
    form: updateForm(p),
    accept: ACCEPT[api.format],
    credential: api.credential,
    writesOnlyWhenAuthenticated: true,
  });
  const host = url.host;
  if (res.status < 200 || res.status >= 300) throw errorForStatus(res, host, "post the status");
  const reply = parseSuccess(res, api.format, host);
  const serverNow = Date.parse(String(res.headers.date ?? ""));
  const notBefore = Number.isNaN(serverNow) ? undefined : new Date(serverNow - (Date.now() - started) - 1000);
  return { status: statusOf(reply, api.format, res.status, host), reply, notBefore };
}

/**
 * The `<status>` root (XML) or the object (JSON), as a Status; anything else is an unknown outcome
 * (for a read, `read`: a malformed reply, which changed nothing).
 */
export function statusOf(
  reply: ParsedReply,
  format: WireFormat,
  httpStatus: number,
  host: string,
  read: boolean | "delete" = false,
): Status {
  const doc = reply.doc as Record<string, unknown>;
  const raw = format === "xml" ? doc.status : doc;
  if (format === "xml" && (raw === undefined || Object.keys(doc).length !== 1)) {
    throw unknownOutcome(
      `the reply is not a <status> (root: <${Object.keys(doc)[0] ?? "none"}>)`,
      httpStatus,
      host,
      read,
    );
  }
  try {
    return toStatus(raw);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw unknownOutcome((err as Error).message, httpStatus, host, read);
  }
}

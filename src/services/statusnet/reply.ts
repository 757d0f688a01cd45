import { ExitCode, HttpError } from "../../errors.js";
import type { HttpResponse } from "../../http/client.js";
import { exitCodeForStatus } from "../../http/status.js";
import { oneLine } from "../../sanitize.js";
import type { WireFormat } from "../service.js";
import { parseJson } from "./json.js";
import { parseXml, ReplyFormatError } from "./xml.js";

export type { WireFormat };

export interface ParsedReply {
  /** The document: the XML tree (root element as the only key) or the JSON value. */
  doc: unknown;
  /** The body as text, as received (for `-o xml`). */
  text: string;
}

/**
 * Turns a successful (2xx) reply into a document, or throws 76: the request went through but the
 * answer is not the API's (an HTML portal page, an empty or truncated body, a DOCTYPE, gzip). For a
 * read (`read`), the message says nothing was changed rather than that a status may have been posted.
 */
export function parseSuccess(
  res: HttpResponse,
  format: WireFormat,
  host: string,
  read: boolean | "delete" = false,
): ParsedReply {
  try {
    const encoding = res.headers["content-encoding"];
    if (encoding !== undefined && String(encoding).toLowerCase() !== "identity") {
      throw new ReplyFormatError(
        `the reply is compressed (${oneLine(String(encoding), 40)}), which was not asked for`,
      );
    }
    const text = decodeBody(res);
    if (text.trim() === "") throw new ReplyFormatError("the reply is empty");
    if (/^\s*</.test(text) && /<html[\s>]/i.test(text))
      throw new ReplyFormatError("the reply is an HTML page");
    const doc = format === "xml" ? parseXml(text) : parseJson(text);
    return { doc, text };
  } catch (err) {
    if (!(err instanceof ReplyFormatError)) throw err;
    throw unknownOutcome(`${err.message}`, res.status, host, read);
  }
}

/**
 * A 2xx whose body is not what was asked for: 76 (docs/cli.md), and for a write the outcome is unknown.
 * `read`: true for a read (nothing was changed), "delete" for a delete (the status may be gone).
 */
export function unknownOutcome(
  why: string,
  status: number,
  host: string,
  read: boolean | "delete" = false,
): HttpError {
  if (read === "delete") {
    return new HttpError(
      ExitCode.Protocol,
      `${host} answered ${status} but ${why}; the status may have been deleted`,
      { status, sent: true },
      { hint: "see whether it is still there before deleting again" },
    );
  }
  if (read) {
    return new HttpError(ExitCode.Protocol, `${host} answered ${status} but ${why}; nothing was changed`, {
      status,
      sent: false,
    });
  }
  return new HttpError(
    ExitCode.Protocol,
    `${host} answered ${status} but ${why}; the status may have been posted`,
    { status, sent: true },
    { hint: "check the timeline before posting again" },
  );
}

/** The body as text in the charset the server declared (UTF-8 when none); bytes that do not decode are an error. */
function decodeBody(res: HttpResponse): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(res.contentType)?.[1] ?? "utf-8";
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new ReplyFormatError(`the reply uses an unknown charset (${oneLine(charset, 40)})`);
  }
  try {
    return decoder.decode(res.bytes);
  } catch {
    throw new ReplyFormatError(`the reply is not valid ${oneLine(charset, 40)}`);
  }
}

/** The server's own message from an error reply, in any of the shapes servers of this API use. */
export function serverMessage(res: HttpResponse): { message: string | undefined; apiError: boolean } {
  const text = res.bytes.toString("utf8");
  const type = res.contentType.toLowerCase();
  try {
    if (type.includes("json") || /^\s*[{"]/.test(text)) {
      const doc = parseJson(text) as { error?: unknown } | string;
      if (typeof doc === "object" && doc !== null && typeof doc.error === "string") {
        return { message: oneLine(doc.error), apiError: true };
      }
    } else if (type.includes("xml") || /^\s*<\?xml/.test(text)) {
      const doc = parseXml(text) as Record<string, { error?: unknown } | undefined>;
      // StatusNet/GNU social: <hash><error>; Friendica: <status><error>; Twitter: <errors><error>.
      for (const root of ["hash", "status", "errors"]) {
        const err = doc[root]?.error;
        if (typeof err === "string") return { message: oneLine(err), apiError: true };
        if (Array.isArray(err) && typeof err[0] === "string")
          return { message: oneLine(err[0]), apiError: true };
      }
    }
  } catch {
    // Not the API's document: fall through to the HTML and plain-text shapes.
  }
  // GNU social renders some errors as `<div class="error">…</div>` (fixtures n-GET-update, f-over-limit.atom).
  // A whole HTML page (a 404 "Page not found") is the web site answering, not the API.
  const div = /<html[\s>]/i.test(text) ? null : /<div class="error">([\s\S]*?)<\/div>/i.exec(text);
  if (div?.[1]) return { message: oneLine(div[1].replace(/<[^>]*>/g, "")), apiError: true };
  if (type.startsWith("text/plain") && text.trim() !== "")
    return { message: oneLine(text, 200), apiError: false };
  return { message: undefined, apiError: false };
}

const REASONS: Record<number, string> = {
  400: "refused the request",
  403: "forbids this",
  404: "found nothing there",
  406: "refused the status as too long",
  410: "says it is gone",
  413: "refused the status as too long",
  429: "is rate-limiting you",
  503: "is unavailable",
};

/** A non-2xx reply as the error the user sees; `what` names the action ("post the status"). */
export function errorForStatus(res: HttpResponse, host: string, what: string): HttpError {
  const status = res.status;
  const { message, apiError } = serverMessage(res);
  const code = exitCodeForStatus(status, apiError);
  const said = message ? `: ${message}` : "";
  const detail = { status, sent: true, ...(message ? { serverMessage: message } : {}) };
  if (status >= 300 && status < 400) {
    const loc = res.headers.location;
    const where = loc ? sanitizeLocation(String(loc)) : "nowhere";
    return new HttpError(
      code,
      `${host} redirected (${status}) to ${where}; redirects are not followed, nothing was posted`,
      detail,
      {
        hint: "if the server has moved, update --server or the config file",
      },
    );
  }
  if (code === ExitCode.TempFail) {
    const retry = res.headers["retry-after"];
    const after = retry ? ` (Retry-After: ${oneLine(String(retry), 40)})` : "";
    const seconds = retry === undefined ? undefined : retryAfterSeconds(String(retry), new Date());
    return new HttpError(
      code,
      `${host} ${REASONS[status]} (${status})${said}; nothing was posted${after}`,
      seconds === undefined ? detail : { ...detail, retryAfter: seconds },
      { hint: "safe to retry later" },
    );
  }
  if (code === ExitCode.Unavailable && status < 500) {
    return new HttpError(code, `${host} has no such API endpoint (${status}); could not ${what}`, detail, {
      hint: "check the server's API root, e.g. https://host/api or https://host/index.php/api",
    });
  }
  if ((status === 502 || status === 504) && what === "post the status") {
    return new HttpError(
      code,
      `${host} answered ${status} from its gateway${said}; the server behind it may have posted the status`,
      { ...detail, mayHavePosted: true },
      { hint: "identica outbox send checks before sending it again" },
    );
  }
  if (status >= 500) {
    return new HttpError(code, `server error ${status} from ${host}${said}; could not ${what}`, detail);
  }
  const reason = REASONS[status] ?? "refused the request";
  return new HttpError(code, `${host} ${reason} (${status})${said}`, detail);
}

/** A Location header for display: no userinfo, no control characters. */
export function sanitizeLocation(loc: string): string {
  try {
    const u = new URL(loc);
    u.username = "";
    u.password = "";
    return oneLine(u.href, 200);
  } catch {
    return oneLine(loc, 200);
  }
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when unreadable. */
export function retryAfterSeconds(value: string, now: Date): number | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const when = Date.parse(v);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, Math.ceil((when - now.getTime()) / 1000));
}

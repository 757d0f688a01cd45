import { ExitCode, HttpError, type IdenticaErrorOptions } from "../../errors.js";
import type { HttpResponse } from "../../http/client.js";
import { exitCodeForStatus } from "../../http/status.js";
import { oneLine } from "../../sanitize.js";

/** How the answers of the OAuth endpoints are read (services/mastodon/oauth.ts): successes and failures. */

/**
 * The OAuth refusals a command acts on rather than only reports: `code-refused` (ask for a new code),
 * `app-unknown` (register the app again: the kept client id and secret are stale), `revoke-refused`
 * (`logout` says so and still removes the token locally).
 */
export type OAuthRefusal = "code-refused" | "app-unknown" | "revoke-refused";

export class OAuthError extends HttpError {
  readonly kind: OAuthRefusal;

  constructor(kind: OAuthRefusal, message: string, res: HttpResponse, options?: IdenticaErrorOptions) {
    const said = serverText(res).message;
    super(
      ExitCode.NoPerm,
      message,
      { status: res.status, sent: true, ...(said ? { serverMessage: said } : {}) },
      options,
    );
    this.name = "OAuthError";
    this.kind = kind;
  }
}

export interface ServerText {
  /** The OAuth error code (`invalid_grant`, `invalid_client`, …) when the body was the API's JSON. */
  error?: string | undefined;
  /** One sanitised line for the user, when the body has one. */
  message?: string | undefined;
  /** The body was the API's own error document: a 404 then is refused content, not a missing route. */
  apiError: boolean;
}

/**
 * What an error body says: JSON `{error, error_description}` (Doorkeeper, MASTODON.md §3), an HTML page
 * (only its `<h1>` or `<title>`: snac's `<h1>400 Bad Request (snac/2.94)</h1>`), plain text, or nothing
 * (snac's empty 401).
 */
export function serverText(res: HttpResponse): ServerText {
  const text = res.bytes.toString("utf8");
  if (text.trim() === "") return { apiError: false };
  if (/json/i.test(res.contentType) || /^\s*\{/.test(text)) {
    try {
      const doc = JSON.parse(text) as { error?: unknown; error_description?: unknown };
      if (typeof doc === "object" && doc !== null && typeof doc.error === "string") {
        const description = typeof doc.error_description === "string" ? doc.error_description : "";
        return {
          error: doc.error,
          message: oneLine(description === "" ? doc.error : `${doc.error}: ${description}`, 200),
          apiError: true,
        };
      }
    } catch {
      // Not the API's document: taken as text below.
    }
  }
  if (/html/i.test(res.contentType) || /^\s*</.test(text)) {
    const heading = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(text) ?? /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text);
    const plain = heading?.[1] === undefined ? "" : htmlToText(heading[1]);
    return plain === "" ? { apiError: false } : { message: oneLine(plain, 200), apiError: false };
  }
  return { message: oneLine(text, 200), apiError: false };
}

/** Tags dropped, the few entities an error heading uses decoded. */
function htmlToText(html: string): string {
  const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'" };
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&(amp|lt|gt|quot|apos|#39);/g, (_, name: string) => entities[name] ?? "")
    .trim();
}

/**
 * A non-2xx reply to an OAuth request that no rule of the flow names: the status code decides the exit
 * code as for every request (http/status.ts), the body only adds its line. `what` names the action
 * ("register the app").
 */
export function statusFailure(res: HttpResponse, host: string, what: string): HttpError {
  const status = res.status;
  const { message, apiError } = serverText(res);
  const code = exitCodeForStatus(status, apiError);
  const said = message ? `: ${message}` : "";
  const detail = { status, sent: true, ...(message ? { serverMessage: message } : {}) };
  if (status >= 300 && status < 400) {
    const where = location(res.headers.location);
    return new HttpError(
      code,
      `${host} redirected (${status}) to ${where}; redirects are not followed, could not ${what}`,
      detail,
      { hint: "if the server has moved, update --server or the config file" },
    );
  }
  if (code === ExitCode.TempFail) {
    const retry = res.headers["retry-after"];
    const seconds = retry === undefined ? undefined : retryAfterSeconds(String(retry));
    const after = seconds === undefined ? "" : ` (retry after ${seconds} s)`;
    const reason = status === 429 ? "is rate-limiting you" : "is unavailable";
    return new HttpError(
      code,
      `${host} ${reason} (${status})${said}; could not ${what}${after}`,
      seconds === undefined ? detail : { ...detail, retryAfter: seconds },
      { hint: "safe to retry later" },
    );
  }
  if (code === ExitCode.Unavailable && status < 500) {
    return new HttpError(code, `${host} has no such endpoint (${status}); could not ${what}`, detail, {
      hint: "is it a Mastodon-compatible server? Check --server, or give --api statusnet",
    });
  }
  if (status >= 500)
    return new HttpError(code, `server error ${status} from ${host}${said}; could not ${what}`, detail);
  if (status >= 400) return new HttpError(code, `${host} refused to ${what} (${status})${said}`, detail);
  return new HttpError(code, `${host} answered ${status}${said}; could not ${what}`, detail);
}

/** A Location header for the message: no userinfo, one sanitised line. */
function location(value: string | string[] | undefined): string {
  const loc = Array.isArray(value) ? value[0] : value;
  if (loc === undefined) return "nowhere";
  try {
    const u = new URL(loc);
    u.username = "";
    u.password = "";
    return oneLine(u.href, 200);
  } catch {
    return oneLine(loc, 200);
  }
}

/** `Retry-After` (RFC 9110 §10.2.3) in seconds from now: delay-seconds or an HTTP-date. */
function retryAfterSeconds(value: string, now = Date.now()): number | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const when = Date.parse(v);
  return Number.isNaN(when) ? undefined : Math.max(0, Math.ceil((when - now) / 1000));
}

/** A 2xx: the request did what it asked (the OAuth endpoints answer 200). */
export function ok(res: HttpResponse): boolean {
  return res.status >= 200 && res.status < 300;
}

/**
 * A credential fit for a form field and an Authorization header: visible ASCII only (token68 and the
 * servers' hex and base64url ids are), so it cannot break a header or hide on a terminal.
 */
export function isWord(value: unknown): value is string {
  return typeof value === "string" && /^[\x21-\x7e]+$/.test(value);
}

/** A 2xx body as a JSON object, or 76: the server answered, but not as the API does. */
export function jsonObject(res: HttpResponse, host: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(res.bytes.toString("utf8"));
  } catch {
    const text = res.bytes.toString("utf8");
    const why =
      text.trim() === ""
        ? "the reply is empty"
        : /<html[\s>]/i.test(text)
          ? "the reply is an HTML page"
          : "the reply is not JSON";
    throw malformed(res, host, what, why);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw malformed(res, host, what, "the reply is not a JSON object");
  return doc as Record<string, unknown>;
}

/** 76, worded for login: nothing the user wrote was at stake, and running login again is the way out. */
export function malformed(res: HttpResponse, host: string, what: string, why: string): HttpError {
  return new HttpError(
    ExitCode.Protocol,
    `${host} answered ${res.status} but ${why}; could not ${what}`,
    { status: res.status, sent: true },
    { hint: "is it a Mastodon-compatible server? Try identica login again" },
  );
}

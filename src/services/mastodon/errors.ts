import { ExitCode, HttpError, type HttpErrorDetails } from "../../errors.js";
import type { HttpResponse } from "../../http/types.js";
import { oneLine } from "../../sanitize.js";
import { busyError, gatewayError, header } from "../refusals.js";
import { parseJson } from "../statusnet/json.js";
import { type ParsedReply, parseSuccess, retryAfterSeconds, sanitizeLocation } from "../statusnet/reply.js";

/**
 * The Mastodon API's failures as exit codes (docs/cli.md "Mastodon errors", MASTODON.md §9). The status
 * code decides; the body — Mastodon's `{"error": …}` (OAuth's with `error_description`), an HTML page, or
 * nothing at all (snac never sends a JSON error) — only adds a message, sanitised to one line.
 */

export type MastodonEndpoint = "verify" | "post" | "show" | "delete" | "timeline" | "lookup" | "other";

export interface MastodonErrorOptions {
  host: string;
  /** The action, for "could not …": "post the status", "show the status". */
  what: string;
  /** A request that changes nothing (its failure never says anything about posting). */
  read?: boolean | undefined;
  endpoint: MastodonEndpoint;
  /** Whether the request carried a token: a 422 or 401 to a request without one asks for a login. */
  tokenSent: boolean;
  /** The clock `Retry-After` dates and `X-RateLimit-Reset` are counted from (tests fix it). */
  now?: Date | undefined;
}

/** Mastodon's answer to a token that belongs to no user (an app token): a 422 like a validation error. */
const NO_USER = "This method requires an authenticated user";
const LOGIN = "run identica login";

/** A non-2xx reply as the error the user sees. */
export function mastodonError(res: HttpResponse, opts: MastodonErrorOptions): HttpError {
  const { host, what, endpoint } = opts;
  const status = res.status;
  const body = errorBody(res);
  const said = body.message ? `: ${body.message}` : "";
  const details: HttpErrorDetails = {
    status,
    // The request went out; a 75 for a post means the server said it did nothing.
    sent: true,
    ...(body.message ? { serverMessage: body.message } : {}),
  };
  // A read changes nothing, so its failure says only what could not be done.
  const nothingDone = opts.read
    ? undefined
    : endpoint === "post"
      ? "nothing was posted"
      : endpoint === "delete"
        ? "nothing was deleted"
        : undefined;
  const couldNot = nothingDone ?? `could not ${what}`;

  if (status >= 300 && status < 400) {
    const loc = res.headers.location;
    const where = loc ? sanitizeLocation(String(loc)) : "nowhere";
    return new HttpError(
      ExitCode.Unavailable,
      `${host} redirected (${status}) to ${where}; redirects are not followed, ${couldNot}`,
      details,
      { hint: "if the server has moved, update --server or the config file" },
    );
  }
  if (status === 401) {
    const message = opts.tokenSent
      ? `${host} rejected the token (401)${said}; ${couldNot}`
      : `${host} wants a token for this (401)${said}; ${couldNot}`;
    return new HttpError(ExitCode.NoPerm, message, details, { hint: LOGIN });
  }
  if (status === 403) {
    return new HttpError(ExitCode.NoPerm, `${host} forbids this (403)${said}; ${couldNot}`, details, {
      hint: LOGIN,
    });
  }
  if (status === 422) {
    // snac answers a bad or missing token with a bare 422 (snac/21, 22, 14b), Mastodon an app token
    // with this message; a 422 to verify_credentials is always about the token (MASTODON.md §3, §4).
    // An empty 422 elsewhere is snac's too, but for a POST it is its unknown-route answer (snac/44c),
    // not a token problem (snac answers a bad token on a post with 401, snac/37d): the contract's 65.
    if (
      endpoint === "verify" ||
      !opts.tokenSent ||
      (body.empty && endpoint !== "post") ||
      body.error === NO_USER
    ) {
      const refused = opts.tokenSent ? "did not accept the token" : "wants a token for this";
      return new HttpError(ExitCode.NoPerm, `${host} ${refused} (422)${said}; ${couldNot}`, details, {
        hint: LOGIN,
      });
    }
    // "Validation failed: Text character limit of 500 exceeded" (StatusLengthValidator).
    const tooLong = endpoint === "post" && /character limit|too long/i.test(body.error ?? "");
    const refused = endpoint === "post" ? "refused the status" : "refused the request";
    return new HttpError(
      ExitCode.Data,
      `${host} ${refused} (422)${said}`,
      tooLong ? { ...details, tooLong: true } : details,
    );
  }
  if (status === 404 && (endpoint === "show" || endpoint === "delete")) {
    // snac's page for an unknown status is its page for an unknown route (snac/44, 44b): the status
    // decides, and only the API's own message is worth quoting.
    const own = body.error === undefined ? "" : said;
    return new HttpError(
      ExitCode.Data,
      `${host} has no such status (404)${own}; ${couldNot}`,
      body.error === undefined ? { status, sent: true } : details,
    );
  }
  if (status === 404 && endpoint === "lookup" && body.error === undefined) {
    // snac answers an unknown name with its 404 page for anything (snac/44b): the lookup route is
    // there, so the name is what was not found — not "no such API endpoint" for a typo in --of.
    return new HttpError(ExitCode.Data, `${host} has no such account (404); ${couldNot}`, {
      status,
      sent: true,
    });
  }
  if ((status === 404 || status === 405) && body.error !== undefined) {
    // The API's own refusal: the reply's parent unknown (post), no such account (lookup).
    const reason =
      endpoint === "post"
        ? "refused the status"
        : endpoint === "lookup"
          ? "has no such account"
          : "found nothing there";
    return new HttpError(ExitCode.Data, `${host} ${reason} (${status})${said}`, details);
  }
  if (status === 404 || status === 405) {
    return new HttpError(
      ExitCode.Unavailable,
      `${host} has no such API endpoint (${status}); ${couldNot}`,
      details,
      { hint: "check --server, or give --api if the server speaks another API" },
    );
  }
  if (status === 429 || status === 503)
    return busyError(
      host,
      status,
      `(${status})`,
      said,
      nothingDone,
      waitSeconds(res, opts.now ?? new Date()),
      details,
    );
  if ((status === 502 || status === 504) && endpoint === "post")
    return gatewayError(host, status, said, details);
  if (status >= 500) {
    return new HttpError(
      ExitCode.Unavailable,
      `server error ${status} from ${host}${said}; ${couldNot}`,
      details,
    );
  }
  if (status >= 400) {
    const refused = endpoint === "post" ? "refused the status" : "refused the request";
    return new HttpError(ExitCode.Data, `${host} ${refused} (${status})${said}`, details);
  }
  // Not an error status at all (1xx): the reply is not the API's.
  return new HttpError(ExitCode.Protocol, `${host} answered ${status}, which the API never does`, details);
}

/**
 * A 2xx reply as a JSON document, or 76: an HTML page, an empty or invalid body is not the API's
 * answer (the same rules as StatusNet's, statusnet/reply.ts). For a read, "nothing was changed".
 */
export function parseJsonReply(res: HttpResponse, host: string, read: boolean | "delete"): ParsedReply {
  return parseSuccess(res, "json", host, read);
}

interface ErrorBody {
  /** The API's own `error` (JSON), as sent. */
  error?: string | undefined;
  /** What to quote: the JSON error (with its description), or an HTML page's title, one line. */
  message?: string | undefined;
  /** Nothing but whitespace: snac's way of refusing a token. */
  empty: boolean;
}

function errorBody(res: HttpResponse): ErrorBody {
  const text = res.bytes.toString("utf8");
  if (text.trim() === "") return { empty: true };
  const type = res.contentType.toLowerCase();
  if (type.includes("json") || /^\s*\{/.test(text)) {
    try {
      const doc = parseJson(text);
      if (typeof doc === "object" && doc !== null && !Array.isArray(doc)) {
        const { error, error_description: description } = doc as Record<string, unknown>;
        if (typeof error === "string" && error.trim() !== "") {
          // OAuth errors are a code and a sentence ("invalid_grant", "The provided …"): both help.
          const full =
            typeof description === "string" && description.trim() !== "" ? `${error}: ${description}` : error;
          return { error: error.trim(), message: oneLine(full, 200), empty: false };
        }
      }
    } catch {
      // Not JSON after all: a page or text, below.
    }
  }
  if (type.includes("html") || /^\s*</.test(text)) {
    const title = htmlTitle(text);
    return { message: title === undefined ? undefined : oneLine(title, 120), empty: false };
  }
  if (type.startsWith("text/plain")) return { message: oneLine(text, 200), empty: false };
  return { empty: false };
}

/**
 * An error page's `<title>`, else its first `<h1>`, as text; nothing else of the page. The markup is
 * taken apart only this far (the HTML parser is not loaded for an error): the tags inside are dropped
 * and the usual character references decoded. What comes out is quoted in one sanitised line.
 */
function htmlTitle(html: string): string | undefined {
  for (const tag of ["title", "h1"]) {
    const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}\\s*>`, "i").exec(html);
    if (!m) continue;
    const text = decodeBasic((m[1] as string).replace(/<[^>]*>?/g, " "))
      .replace(/\s+/g, " ")
      .trim();
    if (text !== "") return text;
  }
  return undefined;
}

const BASIC: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

function decodeBasic(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, ref: string) => {
    if (ref[0] !== "#") return BASIC[ref.toLowerCase()] ?? whole;
    const code = ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
      ? String.fromCodePoint(code)
      : "\uFFFD";
  });
}

/**
 * How long the server asks us to wait: `Retry-After` (seconds or an HTTP date, RFC 9110), else
 * Mastodon's `X-RateLimit-Reset`, an ISO 8601 timestamp (MASTODON.md §10: its 429 has no Retry-After).
 */
function waitSeconds(res: HttpResponse, now: Date): number | undefined {
  const retry = header(res, "retry-after");
  if (retry !== undefined) {
    const s = retryAfterSeconds(retry, now);
    if (s !== undefined) return s;
  }
  const reset = header(res, "x-ratelimit-reset");
  if (reset !== undefined && /^\d{4}-\d{2}-\d{2}T/.test(reset.trim())) {
    const at = Date.parse(reset.trim());
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
  }
  return undefined;
}

import { ExitCode, HttpError, type HttpErrorDetails } from "../../errors.js";
import type { HttpResponse } from "../../http/types.js";
import { oneLine } from "../../sanitize.js";
import { busyError, gatewayError, header } from "../refusals.js";
import { retryAfterSeconds, sanitizeLocation } from "../statusnet/reply.js";

/**
 * XRPC failures as exit codes (CLI.md "A third API", "Exit codes"). A PDS answers every error with
 * `{"error": <name>, "message": <sentence>}` (ATPROTO.md); the status code and that name decide, and the
 * message is quoted, sanitised to one line. A proxy's HTML page says nothing worth quoting.
 */

export type AtprotoEndpoint = "post" | "delete" | "read" | "session";

export interface AtprotoErrorOptions {
  host: string;
  /** The action, for "could not …": "post the status", "show the status", "log in". */
  what: string;
  endpoint: AtprotoEndpoint;
  /** Whether the request carried an access (or refresh) token. */
  tokenSent: boolean;
  /** The clock `RateLimit-Reset` and `Retry-After` dates are counted from (tests fix it). */
  now?: Date | undefined;
}

export interface XrpcErrorBody {
  error?: string;
  message?: string;
}

const LOGIN = "run identica login";
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The XRPC error document of a reply, each value one sanitised line; `{}` for anything else. */
export function xrpcErrorBody(res: HttpResponse): XrpcErrorBody {
  const text = res.bytes.toString("utf8");
  if (!/^\s*\{/.test(text)) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isObj(doc)) return {};
  const body: XrpcErrorBody = {};
  if (typeof doc.error === "string" && doc.error.trim() !== "") body.error = oneLine(doc.error, 80);
  if (typeof doc.message === "string" && doc.message.trim() !== "") body.message = oneLine(doc.message, 200);
  return body;
}

/** Whether a reply is the XRPC error `name` (`ExpiredToken`, `RecordNotFound`…). */
export function isXrpcError(res: HttpResponse, name: string): boolean {
  return res.status >= 400 && xrpcErrorBody(res).error === name;
}

/**
 * The message says which: `InvalidRequest` is also what the lexicon's validation of any field answers
 * (a bad date, fixture 22; a bad facet URI, 21), and only the text's own limits make the cached limit
 * stale (fixtures 12 and 19).
 */
function aboutLength(message: string): boolean {
  if (!/(?:grapheme|string)s? too (?:big|long)|too long/i.test(message)) return false;
  return !/\bat \$\./.test(message) || /\bat \$\.record\.text\b/.test(message);
}

/** A non-2xx reply as the error the user sees. */
export function atprotoError(res: HttpResponse, opts: AtprotoErrorOptions): HttpError {
  const { host, what, endpoint } = opts;
  const status = res.status;
  const { error, message } = xrpcErrorBody(res);
  // "(400 InvalidRequest): Invalid app.bsky.feed.post record: …"
  const code = error === undefined ? `(${status})` : `(${status} ${error})`;
  const said = message === undefined ? "" : `: ${message}`;
  const serverMessage = message ?? error;
  const details: HttpErrorDetails = {
    status,
    // The request went out; a 75 for a post means the server said it did nothing.
    sent: true,
    ...(serverMessage === undefined ? {} : { serverMessage }),
  };
  const nothingDone =
    endpoint === "post" ? "nothing was posted" : endpoint === "delete" ? "nothing was deleted" : undefined;
  const couldNot = nothingDone ?? `could not ${what}`;

  if (status >= 300 && status < 400) {
    const loc = res.headers.location;
    const where = loc ? sanitizeLocation(String(Array.isArray(loc) ? loc[0] : loc)) : "nowhere";
    return new HttpError(
      ExitCode.Unavailable,
      `${host} redirected (${status}) to ${where}; redirects are not followed, ${couldNot}`,
      details,
      { hint: "if the server has moved, update --server or the config file" },
    );
  }
  if (status === 401 || (status === 400 && (error === "ExpiredToken" || error === "InvalidToken"))) {
    if (endpoint === "session" && error === "AuthenticationRequired") {
      return new HttpError(
        ExitCode.NoPerm,
        `${host} refused the handle or app password ${code}${said}; ${couldNot}`,
        details,
        { hint: "check the handle and the app password (identica login)" },
      );
    }
    const refused = opts.tokenSent ? "did not accept the session" : "wants a login for this";
    return new HttpError(ExitCode.NoPerm, `${host} ${refused} ${code}${said}; ${couldNot}`, details, {
      hint: LOGIN,
    });
  }
  if (status === 403) {
    return new HttpError(ExitCode.NoPerm, `${host} forbids this ${code}${said}; ${couldNot}`, details, {
      hint: LOGIN,
    });
  }
  if (status === 400 && error === "RecordNotFound") {
    const done = endpoint === "post" ? "" : `; ${couldNot}`;
    return new HttpError(ExitCode.Data, `${host} has no such post ${code}${said}${done}`, details);
  }
  if (status === 400 && error === "InvalidRequest" && /^No service configured for /.test(message ?? "")) {
    // The PDS proxies what it does not serve itself to an AppView; without one this is its answer,
    // to an unknown method as well (fixtures 24, 35): the route is missing, not the request wrong.
    const method = (message as string).slice("No service configured for ".length);
    const appView = method.startsWith("app.bsky.");
    return new HttpError(
      ExitCode.Unavailable,
      `${host} does not serve ${method} ${code}${appView ? ", it has no AppView" : ""}; ${couldNot}`,
      details,
      {
        hint: appView
          ? "home, public and mentions need a PDS with an AppView; timeline user works on any PDS"
          : "check --server, or give --api if the server speaks another API",
      },
    );
  }
  if (status === 404 || status === 405) {
    return new HttpError(
      ExitCode.Unavailable,
      `${host} has no such API endpoint ${code}${said}; ${couldNot}`,
      details,
      { hint: "check --server, or give --api if the server speaks another API" },
    );
  }
  if (status === 429 || status === 503)
    return busyError(
      host,
      status,
      code,
      said,
      nothingDone,
      waitSeconds(res, opts.now ?? new Date()),
      details,
    );
  if ((status === 502 || status === 504) && endpoint === "post")
    return gatewayError(host, status, said, details);
  if (status >= 500) {
    // Not "nothing was posted": a PDS answers a create whose record key it already has with a bare
    // 500 (CLI.md "A third API"), so a 500 to a retry may mean the status is there.
    return new HttpError(
      ExitCode.Unavailable,
      `server error ${status}${error === undefined ? "" : ` ${error}`} from ${host}${said}; could not ${what}`,
      details,
    );
  }
  if (status >= 400) {
    const tooLong = endpoint === "post" && (status === 413 || aboutLength(message ?? ""));
    const refused = endpoint === "post" ? "refused the status" : "refused the request";
    return new HttpError(
      ExitCode.Data,
      `${host} ${refused} ${code}${said}`,
      tooLong ? { ...details, tooLong: true } : details,
    );
  }
  // Not an error status at all (1xx, 2xx): the reply is not the API's.
  return new HttpError(ExitCode.Protocol, `${host} answered ${status}, which the API never does`, details);
}

/**
 * How long to wait: the PDS's `RateLimit-Reset` (epoch seconds, when its window ends), else
 * `Retry-After` (seconds or an HTTP date).
 */
function waitSeconds(res: HttpResponse, now: Date): number | undefined {
  const reset = header(res, "ratelimit-reset");
  if (reset !== undefined && /^\d{1,12}$/.test(reset)) {
    const n = Number(reset);
    // The IETF draft's RateLimit-Reset is a number of seconds, not a date: a value before 2001 can only
    // be that, from a server that follows the draft.
    return n >= 1e9 ? Math.max(0, Math.ceil(n - now.getTime() / 1000)) : n;
  }
  const retry = header(res, "retry-after");
  return retry === undefined ? undefined : retryAfterSeconds(retry, now);
}

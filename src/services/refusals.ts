import { ExitCode, HttpError, type HttpErrorDetails } from "../errors.js";
import type { HttpResponse } from "../http/types.js";

/**
 * The refusals the Mastodon API and the AT Protocol answer alike, as one line each: a server that is
 * throttling or down (75, safe to retry, saying when), and a gateway whose server may have done the
 * work (69, the status kept as uncertain). Each API finds the wait in headers of its own.
 */

/** One response header, trimmed; the first when it came more than once. */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : String(one).trim();
}

/** "in 42 s", "in 5 min", "in 2 h", "now". */
export function inHowLong(seconds: number): string {
  if (seconds <= 0) return "now";
  if (seconds < 120) return `in ${seconds} s`;
  if (seconds < 2 * 3600) return `in ${Math.ceil(seconds / 60)} min`;
  return `in ${Math.ceil(seconds / 3600)} h`;
}

/**
 * 429 or 503: 75. `code` is how the message names the status (`(429)`, `(429 RateLimitExceeded)`),
 * `said` the server's own words (`: …` or ""), `nothingDone` what certainly did not happen.
 */
export function busyError(
  host: string,
  status: number,
  code: string,
  said: string,
  nothingDone: string | undefined,
  seconds: number | undefined,
  details: HttpErrorDetails,
): HttpError {
  const reason = status === 429 ? "is rate-limiting you" : "is unavailable";
  const when = seconds === undefined ? "" : ` (retry ${inHowLong(seconds)})`;
  const done = nothingDone ? `; ${nothingDone}` : "";
  return new HttpError(
    ExitCode.TempFail,
    `${host} ${reason} ${code}${said}${done}${when}`,
    seconds === undefined ? details : { ...details, retryAfter: seconds },
    { hint: "safe to retry later" },
  );
}

/** 502 or 504 to a post: 69, but the server behind the gateway may have posted it (kept uncertain). */
export function gatewayError(
  host: string,
  status: number,
  said: string,
  details: HttpErrorDetails,
): HttpError {
  return new HttpError(
    ExitCode.Unavailable,
    `${host} answered ${status} from its gateway${said}; the server behind it may have posted the status`,
    { ...details, mayHavePosted: true },
    { hint: "identica outbox send checks before sending it again" },
  );
}

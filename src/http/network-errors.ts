import { ExitCode, HttpError } from "../errors.js";
import { oneLine } from "../sanitize.js";
import { MAX_RESPONSE_TEXT } from "./config.js";

export interface FailureContext {
  /** Whether the request's headers had been written to the socket. */
  sent: boolean;
  /** Whether a reply's status line and headers had come back (the body then failed). */
  answered?: boolean | undefined;
  /** Whether the deadline (`--timeout`, or the request's shorter limit) fired. */
  deadlineHit: boolean;
  /** The limit that applied, for the message. */
  timeoutMs: number;
  host: string;
  /**
   * The request cannot have changed anything: a read, or a write sent without the credentials its
   * endpoint needs (the challenge flow's first request). Then no reply is 75, never "may have been
   * posted"; a reply to a read that came back broken is 76, worded without "posted".
   */
  harmless?: "read" | "anonymous" | undefined;
  /** The request deletes a status: an unknown outcome says it may have been deleted, not posted. */
  deletes?: boolean | undefined;
}

/** What a written request whose reply never came may have done, and what to do about it. */
function mayHave(ctx: FailureContext): { done: string; hint: string } {
  return ctx.deletes
    ? {
        done: "the status may have been deleted",
        hint: "see whether it is still there before deleting again",
      }
    : { done: "the status may have been posted", hint: "check the timeline before posting again" };
}

// Node and OpenSSL codes for a certificate the client would not trust (curl exit 60).
const CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/**
 * A failed exchange becomes 75 when certainly nothing reached the server (DNS, refused, connect
 * timeout), 69 when TLS refused the server, and 76 once the request had been written: the server may
 * have posted the status, so a blind retry could post it twice.
 */
export function classifyNetworkError(err: unknown, ctx: FailureContext): HttpError {
  if (err instanceof HttpError) return err;
  // A bug is not a network failure: it goes up as it is and becomes exit 70.
  if (err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError) throw err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? "";
  const detail = { sent: ctx.sent };
  const harmless =
    ctx.sent && ctx.harmless !== undefined ? harmlessFailure(err, code, e.message, ctx) : undefined;
  if (harmless) return harmless;
  if (ctx.deadlineHit) return deadlineFailure(err, ctx);
  if (CERT_CODES.has(code)) return certificateFailure(err, code, ctx);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return new HttpError(
      ExitCode.TempFail,
      `cannot resolve ${ctx.host} (${code}); nothing was sent`,
      detail,
      {
        hint: "check the server name and your network",
        cause: err,
      },
    );
  }
  return ctx.sent ? writtenFailure(err, code, e.message, ctx) : unsentFailure(err, code, e.message, ctx);
}

/** The deadline fired: 76 once the request was written, 75 before. */
function deadlineFailure(err: unknown, ctx: FailureContext): HttpError {
  const secs = ctx.timeoutMs / 1000;
  const detail = { sent: ctx.sent };
  return ctx.sent
    ? new HttpError(
        ExitCode.Protocol,
        `no complete reply from ${ctx.host} within ${secs} s; ${mayHave(ctx).done}`,
        detail,
        {
          hint: mayHave(ctx).hint,
          cause: err,
        },
      )
    : new HttpError(
        ExitCode.TempFail,
        `could not reach ${ctx.host} within ${secs} s; nothing was sent`,
        detail,
        {
          cause: err,
        },
      );
}

/** TLS would not trust the server (69): nothing of the request went out. */
function certificateFailure(err: unknown, code: string, ctx: FailureContext): HttpError {
  // Whom the certificate names, for a name mismatch (the names are the server's text: sanitised).
  const names = (err as { cert?: { subjectaltname?: unknown } }).cert?.subjectaltname;
  const hostname = ctx.host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const mismatch =
    code === "ERR_TLS_CERT_ALTNAME_INVALID" && typeof names === "string"
      ? ` (the certificate is for ${oneLine(names, 120)}, which does not include ${hostname})`
      : "";
  return new HttpError(
    ExitCode.Unavailable,
    `certificate problem with ${ctx.host}: ${code}${mismatch}; nothing was sent`,
    { sent: ctx.sent },
    {
      hint: "for a self-hosted server, pass its CA with --cacert FILE",
      cause: err,
    },
  );
}

/** Failed before the request was written: a TLS handshake (69) or the connection (75). */
function unsentFailure(
  err: unknown,
  code: string,
  message: string | undefined,
  ctx: FailureContext,
): HttpError {
  const detail = { sent: ctx.sent };
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code.startsWith("ERR_SSL_")) {
    return new HttpError(
      ExitCode.Unavailable,
      `TLS handshake with ${ctx.host} failed (${code}); nothing was sent`,
      detail,
      {
        hint: "is it really an https server? For plain http, write the URL with http://",
        cause: err,
      },
    );
  }
  const why =
    code === "ECONNREFUSED"
      ? "connection refused"
      : code === "UND_ERR_CONNECT_TIMEOUT"
        ? "connect timeout"
        : `${code || "error"}: ${message ?? ""}`.trim();
  return new HttpError(
    ExitCode.TempFail,
    `cannot connect to ${ctx.host} (${why}); nothing was sent`,
    detail,
    {
      hint: "safe to retry later",
      cause: err,
    },
  );
}

/** Failed after the request was written: the server may have acted on it (76). */
function writtenFailure(
  err: unknown,
  code: string,
  message: string | undefined,
  ctx: FailureContext,
): HttpError {
  const why =
    code === "UND_ERR_RES_EXCEEDED_MAX_SIZE"
      ? `the reply was larger than the ${MAX_RESPONSE_TEXT} limit`
      : code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE"
        ? "the connection was closed before a complete reply"
        : code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT"
          ? "the server stopped answering"
          : `the reply could not be read (${code || message || "unknown error"})`;
  return new HttpError(
    ExitCode.Protocol,
    `${why} from ${ctx.host}; ${mayHave(ctx).done}`,
    { sent: ctx.sent },
    {
      hint: mayHave(ctx).hint,
      cause: err,
    },
  );
}

/**
 * A request that cannot have changed anything failed after it was written: a read, or the challenge
 * flow's first request, sent without credentials to an endpoint that needs them. When nothing came
 * back (a reset, a timeout) nothing was posted or changed: 75 (docs/cli.md "Reads", and the paragraph on the
 * request without credentials). A read whose reply came back broken is 76, worded without "posted";
 * so is a broken reply to the first request of the challenge flow, but that one is 75: whatever the
 * server meant to say, it cannot have posted without credentials (a malformed 401 is the usual case).
 */
function harmlessFailure(
  err: unknown,
  code: string,
  message: string | undefined,
  ctx: FailureContext,
): HttpError | undefined {
  const secs = ctx.timeoutMs / 1000;
  const anonymous = ctx.harmless === "anonymous";
  const outcome = !anonymous
    ? "nothing was changed"
    : ctx.deletes
      ? "nothing was deleted"
      : "nothing was posted";
  const closed = code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE";
  const stopped = code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
  if (!ctx.answered && (ctx.deadlineHit || closed || stopped)) {
    const to = anonymous ? " to the request sent without credentials" : "";
    const how = ctx.deadlineHit
      ? ` within ${secs} s`
      : closed
        ? " (the connection was closed)"
        : " (the server stopped answering)";
    return new HttpError(
      ExitCode.TempFail,
      `no reply from ${ctx.host}${to}${how}; ${outcome}`,
      { sent: false },
      {
        hint: "safe to retry later",
        cause: err,
      },
    );
  }
  const why = ctx.deadlineHit
    ? `was not complete within ${secs} s`
    : code === "UND_ERR_RES_EXCEEDED_MAX_SIZE"
      ? `was larger than the ${MAX_RESPONSE_TEXT} limit`
      : closed
        ? "was cut off (the connection closed before its end)"
        : stopped
          ? "stopped before its end"
          : `could not be read (${code || message || "unknown error"})`;
  const to = anonymous ? " to the request sent without credentials" : "";
  return new HttpError(
    anonymous ? ExitCode.TempFail : ExitCode.Protocol,
    `the reply from ${ctx.host}${to} ${why}; ${outcome}`,
    { sent: false },
    {
      hint: anonymous ? "safe to retry later" : "try again later",
      cause: err,
    },
  );
}

import { ExitCode, HttpError } from "../errors.js";

export interface FailureContext {
  /** Whether the request's headers had been written to the socket. */
  sent: boolean;
  /** Whether the overall deadline (`--timeout`) fired. */
  deadlineHit: boolean;
  timeoutMs: number;
  host: string;
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
  const secs = ctx.timeoutMs / 1000;
  const detail = { sent: ctx.sent };
  if (ctx.deadlineHit) {
    return ctx.sent
      ? new HttpError(
          ExitCode.Protocol,
          `no complete reply from ${ctx.host} within ${secs} s; the status may have been posted`,
          detail,
          {
            hint: "check the timeline before posting again",
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
  if (CERT_CODES.has(code)) {
    return new HttpError(
      ExitCode.Unavailable,
      `certificate problem with ${ctx.host}: ${code}; nothing was sent`,
      detail,
      {
        hint: "for a self-hosted server, pass its CA with --cacert FILE",
        cause: err,
      },
    );
  }
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
  if (!ctx.sent) {
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
          : `${code || "error"}: ${e.message ?? ""}`.trim();
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
  const why =
    code === "UND_ERR_RES_EXCEEDED_MAX_SIZE"
      ? "the reply was larger than the 4 MiB limit"
      : code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE"
        ? "the connection was closed before a complete reply"
        : code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT"
          ? "the server stopped answering"
          : `the reply could not be read (${code || e.message || "unknown error"})`;
  return new HttpError(
    ExitCode.Protocol,
    `${why} from ${ctx.host}; the status may have been posted`,
    detail,
    {
      hint: "check the timeline before posting again",
      cause: err,
    },
  );
}

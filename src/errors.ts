/**
 * Exit codes (sysexits), the contract in docs/cli.md: scripts branch on them to decide whether a retry is
 * safe, so "certainly nothing was posted" (75) and "the outcome is unknown" (76) are different codes.
 */
export enum ExitCode {
  Ok = 0,
  Usage = 64,
  Data = 65,
  Unavailable = 69,
  Internal = 70,
  TempFail = 75,
  Protocol = 76,
  NoPerm = 77,
  Config = 78,
  HangUp = 129,
  Interrupted = 130,
  Terminated = 143,
}

// docs/cli.md "Exit codes": when several things failed, the code is the most serious one, in this
// order (unknown outcome first: a script must not retry blindly). 64 is the least serious: nothing was
// sent for that item at all.
const SEVERITY = [
  ExitCode.Protocol,
  ExitCode.Internal,
  ExitCode.NoPerm,
  ExitCode.Config,
  ExitCode.Data,
  ExitCode.Unavailable,
  ExitCode.TempFail,
  ExitCode.Usage,
];

/** The more serious of two outcomes (docs/cli.md order); 0 only when both are 0. */
export function worse(a: ExitCode, b: ExitCode): ExitCode {
  if (a === ExitCode.Ok) return b;
  if (b === ExitCode.Ok) return a;
  const rank = (c: ExitCode) => (SEVERITY.indexOf(c) < 0 ? SEVERITY.length : SEVERITY.indexOf(c));
  return rank(b) < rank(a) ? b : a;
}

/**
 * What became of a status whose post failed (docs/cli.md "The outbox's promises"): kept in the outbox for
 * a later `outbox send`; kept but marked refused (the server said no: resending as is would not help);
 * not kept because the server already has it (a refused duplicate); or not saved at all, in which case
 * the whole text is printed so that nothing the user typed is lost.
 */
export type Kept =
  /** `fix`: what the user must do to the text before sending it (a text identica refused, a part). */
  | { kind: "saved"; path: string; id: string; refused: boolean; fix?: string }
  | { kind: "already-posted" }
  /** `bytesBase64`: the exact input when it was not UTF-8 (`text` then has U+FFFD in its place). */
  | { kind: "unsaved"; why: string; text: string; bytesBase64?: string };

export interface IdenticaErrorOptions {
  /** A line the user can act on, printed after the message. */
  hint?: string | undefined;
  cause?: unknown | undefined;
}

/** Every expected failure: a message for the user and the exit code that goes with it. */
export class IdenticaError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  /** What became of the status when a post failed: kept in the outbox, or not (see core/keep.ts). */
  kept: Kept | undefined;

  constructor(exitCode: ExitCode, message: string, options: IdenticaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "IdenticaError";
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

export class UsageError extends IdenticaError {
  constructor(message: string, options?: IdenticaErrorOptions) {
    super(ExitCode.Usage, message, options);
    this.name = "UsageError";
  }
}

export class ConfigError extends IdenticaError {
  constructor(message: string, options?: IdenticaErrorOptions) {
    super(ExitCode.Config, message, options);
    this.name = "ConfigError";
  }
}

/** What the HTTP layer knows about a failed exchange; `sent` decides 75 (nothing posted) from 76 (unknown). */
export interface HttpErrorDetails {
  status?: number;
  /** The server's own message (`<error>` / `.error`), already sanitised for the terminal. */
  serverMessage?: string;
  /** Whether any request bytes of the final attempt had been written to the server. */
  sent: boolean;
  /** Seconds the server asked us to wait (`Retry-After` on 429/503). */
  retryAfter?: number | undefined;
  /** The server refused the status as too long for its limit (the cached limit is then stale). */
  tooLong?: boolean;
  /**
   * A gateway answered (502, 504) for a server behind it that may have done the work: the code stays
   * the status's (69), but the status is kept as uncertain, so a later send checks before posting.
   */
  mayHavePosted?: boolean;
}

export class HttpError extends IdenticaError {
  readonly details: HttpErrorDetails;

  constructor(
    exitCode: ExitCode,
    message: string,
    details: HttpErrorDetails,
    options?: IdenticaErrorOptions,
  ) {
    super(exitCode, message, options);
    this.name = "HttpError";
    this.details = details;
  }
}

import { createHash } from "node:crypto";
import type { Server } from "../config/server.js";
import { ExitCode, HttpError, IdenticaError, type Kept } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
import type { ApiName } from "../services/api.js";
import { afterAttempt, type Outbox, type OutboxEntry } from "./outbox.js";
import type { SavePending } from "./save-types.js";
import { type ReadInput, RefusedTextError, stdinText } from "./text.js";

/** How far the server's clock is ahead of ours, as its last `Date` header showed (undefined: none seen). */
export type ServerClock = () => number | undefined;

/** A status about to be posted, as the outbox would keep it. */
export interface Draft {
  text: string;
  server: Server;
  /** The server's API; when not known yet, the entry keeps the server as named (`serverSpec`). */
  api?: ApiName | undefined;
  user: string | undefined;
  replyTo: string | undefined;
  source: string;
  /** The `Idempotency-Key` every attempt at this status carries (Mastodon). */
  idempotencyKey?: string | undefined;
  visibility?: string | undefined;
  spoilerText?: string | undefined;
  language?: string | undefined;
  /** Posted with `--if-absent`: the entry keeps that, so `outbox send` checks first too. */
  ifAbsent?: boolean | undefined;
  /**
   * Which token it was tried with, when no account was named (IDENTICA_TOKEN, --token-file): a short
   * digest, so that `outbox send` never posts it, or looks for it, as another account.
   */
  tokenId?: string | undefined;
}

/** The Draft's optional fields as an outbox entry keeps them (only those that are set). */
export function draftExtras(d: Omit<Draft, "user" | "replyTo" | "source"> & { text?: string }) {
  return {
    ...(d.api === undefined ? { serverSpec: d.server.spec } : { api: d.api }),
    ...(d.idempotencyKey === undefined ? {} : { idempotencyKey: d.idempotencyKey }),
    // Which text the key was used for: an entry edited since gets a key of its own (commands/outbox.ts).
    ...(d.idempotencyKey === undefined || d.text === undefined ? {} : { keyTextHash: textHash(d.text) }),
    ...(d.visibility === undefined ? {} : { visibility: d.visibility }),
    ...(d.spoilerText === undefined ? {} : { spoilerText: d.spoilerText }),
    ...(d.language === undefined ? {} : { language: d.language }),
    ...(d.ifAbsent === true ? { ifAbsent: true } : {}),
    ...(d.tokenId === undefined ? {} : { tokenId: d.tokenId }),
  };
}

/** A short digest of a text, to tell whether an entry's text was edited since its key was used. */
export function textHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16);
}

/**
 * Saves a new entry after a failed attempt that began at `startedAt`; returns where it went. `sent`
 * means the outcome is unknown: the attempt's start is then the entry's first uncertain time.
 */
export function keeper(
  outbox: Outbox,
  d: Draft,
  startedAt: Date,
  clock: ServerClock = () => undefined,
): SavePending {
  return orPrint({ text: d.text }, (sent, exitCode, reason) => {
    const at = startedAt.toISOString();
    const skew = clock();
    const entry = outbox.save({
      text: d.text,
      server: d.server.root,
      user: d.user ?? null,
      replyTo: d.replyTo ?? null,
      source: d.source,
      ...draftExtras(d),
      attemptedAt: at,
      uncertainSince: sent ? at : null,
      uncertainSinceServer:
        sent && skew !== undefined ? new Date(startedAt.getTime() + skew).toISOString() : null,
      sent,
      refused: exitCode === ExitCode.Data,
      exitCode,
      error: reason,
    });
    return { kind: "saved", path: outbox.pathOf(entry.id), id: entry.id, refused: entry.refused };
  });
}

/** Records one more attempt at an existing entry (`outbox send`); the first uncertain time never moves. */
export function updater(
  outbox: Outbox,
  entry: OutboxEntry,
  startedAt: Date,
  clock: ServerClock = () => undefined,
): SavePending {
  return orPrint(entryInput(entry), (sent, exitCode, reason) => {
    const next = afterAttempt(entry, {
      startedAt,
      uncertain: sent,
      exitCode,
      error: reason,
      serverClockSkewMs: clock(),
    });
    outbox.update(next);
    return { kind: "saved", path: outbox.pathOf(entry.id), id: entry.id, refused: next.refused };
  });
}

/**
 * A save that cannot fail: when the outbox cannot be written, the text itself is handed back to print
 * (made safe for the terminal, with its exact bytes, when it needs to be: `printable`).
 */
function orPrint(input: ReadInput, save: SavePending): SavePending {
  return (sent, exitCode, reason) => {
    try {
      return save(sent, exitCode, reason);
    } catch (err) {
      const why = (err as Error).message;
      const [text, bytes] = printable(input);
      return bytes
        ? { kind: "unsaved", why, text, bytesBase64: bytes.toString("base64") }
        : { kind: "unsaved", why, text };
    }
  };
}

/**
 * A text that could not be saved, as it can be printed: as typed, unless it holds what a terminal must
 * not get (a text refused for its control characters) or bytes that are not UTF-8; then made visible,
 * with its exact bytes (base64) after it.
 */
function printable(input: ReadInput): [string, Buffer | undefined] {
  const shown = sanitizeForTerminal(input.text, true);
  if (!input.bytes && shown === input.text) return [input.text, undefined];
  return [shown, input.bytes ?? Buffer.from(input.text, "utf8")];
}

/** An entry's text as it was read: with its exact bytes when they were not UTF-8. */
function entryInput(entry: OutboxEntry): ReadInput {
  return typeof entry.bytesBase64 === "string"
    ? { text: entry.text, bytes: Buffer.from(entry.bytesBase64, "base64") }
    : { text: entry.text };
}

/** What the user must do to a text that identica refused before sending it. */
export const FIX_REFUSED = 'fix its "text" in that file';
/** ... and to a text that was still being read when the run was interrupted. */
export const FIX_PARTIAL = 'check and complete its "text" in that file';

/** How a text that was never sent is kept (`keepUnsent`). */
export interface Unsent {
  startedAt: Date;
  /** Kept out of `outbox send` until `--retry-refused`: it must not be sent as it is. */
  refused: boolean;
  exitCode: number;
  error: string;
  /** What to do to the text first (FIX_REFUSED, FIX_PARTIAL), for the message. */
  fix?: string | undefined;
}

/**
 * Saves a text that was never sent: one identica refused (65), a line read but not yet posted when the
 * run was interrupted, or the part of a text read so far. Input that was not UTF-8 keeps its exact
 * bytes (base64, `bytesBase64`) beside the text with U+FFFD, so nothing is lost in decoding.
 */
export function keepUnsent(outbox: Outbox, d: Omit<Draft, "text">, input: ReadInput, how: Unsent): Kept {
  const save = orPrint(input, () => {
    const entry = outbox.save({
      text: input.text,
      ...(input.bytes !== undefined ? { bytesBase64: input.bytes?.toString("base64") ?? null } : {}),
      server: d.server.root,
      user: d.user ?? null,
      replyTo: d.replyTo ?? null,
      source: d.source,
      ...draftExtras({ ...d, text: input.text }),
      attemptedAt: how.startedAt.toISOString(),
      uncertainSince: null,
      sent: false,
      refused: how.refused,
      exitCode: how.exitCode,
      error: how.error,
    });
    const kept: Kept = { kind: "saved", path: outbox.pathOf(entry.id), id: entry.id, refused: how.refused };
    return how.fix === undefined ? kept : { ...kept, fix: how.fix };
  });
  return save(false, how.exitCode, how.error);
}

/**
 * After identica itself refused the text (RefusedTextError: NUL, a control character, not UTF-8): keeps
 * it, marked refused, so that `outbox send` never sends it as it is; a piped text exists nowhere else.
 * Other errors are returned as they are.
 */
export function keepRefused(err: unknown, outbox: Outbox, d: Omit<Draft, "text">, startedAt: Date): unknown {
  if (!(err instanceof RefusedTextError)) return err;
  err.kept = keepUnsent(outbox, d, err.input, {
    startedAt,
    refused: true,
    exitCode: err.exitCode,
    error: err.message,
    fix: FIX_REFUSED,
  });
  return err;
}

/**
 * While the text is still being read from stdin: an interrupted run keeps what was read so far, marked
 * refused, since it may be incomplete and must never be sent on its own.
 */
export function partialKeeper(
  outbox: Outbox,
  d: Omit<Draft, "text">,
  soFar: () => Buffer,
  startedAt: Date,
): SavePending {
  return (_sent, exitCode, reason) =>
    keepUnsent(outbox, d, stdinText(soFar()), {
      startedAt,
      refused: true,
      exitCode,
      error: `${reason} while the text was being read from stdin; it may be incomplete`,
      fix: FIX_PARTIAL,
    });
}

/**
 * After a failed post: keeps the text (docs/cli.md "The outbox's promises") unless the failure was bad usage
 * (64, nothing sent, the user still has the text) or the server already has the status (a refused
 * duplicate). An unknown outcome that may have posted marks the entry uncertain. If the outbox cannot be written, the
 * error carries the whole text, so the report can print it.
 */
export function keepOnFailure(err: unknown, keep: SavePending): unknown {
  const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
  if (code === ExitCode.Usage) return err;
  const e = err instanceof IdenticaError ? err : undefined;
  if (e?.kept?.kind === "already-posted") return err;
  const kept = keep(mayHavePosted(err), code, (err as Error)?.message ?? String(err));
  if (e) e.kept = kept;
  else if (err instanceof Error) Object.assign(err, { kept });
  return err;
}

/**
 * Whether a failed attempt may have posted the status: a 76, unless it came from a read (the
 * `--if-absent` check) or from the first request, sent without credentials, which cannot post.
 */
export function mayHavePosted(err: unknown): boolean {
  if (err instanceof HttpError && err.details.mayHavePosted === true) return true;
  if (!(err instanceof IdenticaError) || err.exitCode !== ExitCode.Protocol) return false;
  return !(err instanceof HttpError) || err.details.sent;
}

/**
 * What to tell the user about where the status went: whole lines for stderr, written as they are
 * (`identica: …` notes; when it could not be saved, the text itself follows, unchanged).
 */
export function keptLines(kept: Kept | undefined, what = "the status"): string[] {
  switch (kept?.kind) {
    case undefined:
      return [];
    case "already-posted":
      return [`identica: ${what} is already on the server; nothing was kept`];
    case "saved":
      if (!kept.refused) {
        return [
          `identica: ${what} is saved in the outbox: ${kept.path} (send it with: identica outbox send)`,
        ];
      }
      return kept.fix === undefined
        ? [
            `identica: ${what} is kept in the outbox, marked refused: ${kept.path} (outbox send skips it; to try again: identica outbox send --retry-refused ${kept.id}; to remove it: identica outbox drop ${kept.id})`,
          ]
        : [
            `identica: ${what} is kept in the outbox, marked refused: ${kept.path} (outbox send skips it; ${kept.fix}, then: identica outbox send --retry-refused ${kept.id}; or remove it: identica outbox drop ${kept.id})`,
          ];
    case "unsaved":
      return kept.bytesBase64 === undefined
        ? [`identica: ${what} could not be saved in the outbox (${kept.why}); here it is:`, kept.text]
        : [
            `identica: ${what} could not be saved in the outbox (${kept.why}); here it is, made safe for the terminal, then its exact bytes (base64):`,
            kept.text,
            kept.bytesBase64,
          ];
  }
}

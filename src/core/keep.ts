import type { Server } from "../config/server.js";
import { ExitCode, HttpError, IdenticaError, type Kept } from "../errors.js";
import { afterAttempt, type Outbox, type OutboxEntry } from "./outbox.js";
import type { SavePending } from "./pending.js";

/** A status about to be posted, as the outbox would keep it. */
export interface Draft {
  text: string;
  server: Server;
  user: string | undefined;
  replyTo: string | undefined;
  source: string;
}

/**
 * Saves a new entry after a failed attempt that began at `startedAt`; returns where it went. `sent`
 * means the outcome is unknown: the attempt's start is then the entry's first uncertain time.
 */
export function keeper(outbox: Outbox, d: Draft, startedAt: Date): SavePending {
  return orPrint(d.text, (sent, exitCode, reason) => {
    const at = startedAt.toISOString();
    const entry = outbox.save({
      text: d.text,
      server: d.server.root,
      user: d.user ?? null,
      replyTo: d.replyTo ?? null,
      source: d.source,
      attemptedAt: at,
      uncertainSince: sent ? at : null,
      sent,
      refused: exitCode === ExitCode.Data,
      exitCode,
      error: reason,
    });
    return { kind: "saved", path: outbox.pathOf(entry.id), id: entry.id, refused: entry.refused };
  });
}

/** Records one more attempt at an existing entry (`outbox send`); the first uncertain time never moves. */
export function updater(outbox: Outbox, entry: OutboxEntry, startedAt: Date): SavePending {
  return orPrint(entry.text, (sent, exitCode, reason) => {
    const next = afterAttempt(entry, { startedAt, uncertain: sent, exitCode, error: reason });
    outbox.update(next);
    return { kind: "saved", path: outbox.pathOf(entry.id), id: entry.id, refused: next.refused };
  });
}

/** A save that cannot fail: when the outbox cannot be written, the text itself is handed back to print. */
function orPrint(text: string, save: SavePending): SavePending {
  return (sent, exitCode, reason) => {
    try {
      return save(sent, exitCode, reason);
    } catch (err) {
      return { kind: "unsaved", why: (err as Error).message, text };
    }
  };
}

/**
 * After a failed post: keeps the text (CLI.md "The outbox's promises") unless the failure was bad usage
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
      return kept.refused
        ? [
            `identica: ${what} is kept in the outbox, marked refused: ${kept.path} (outbox send skips it; to try again: identica outbox send --retry-refused ${kept.id}; to remove it: identica outbox drop ${kept.id})`,
          ]
        : [`identica: ${what} is saved in the outbox: ${kept.path} (send it with: identica outbox send)`];
    case "unsaved":
      return [`identica: ${what} could not be saved in the outbox (${kept.why}); here it is:`, kept.text];
  }
}

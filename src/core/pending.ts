import type { Kept } from "../errors.js";
import { keptLines } from "./keep.js";

/**
 * The status being posted right now, so that an interrupted run can still save it to the outbox
 * (docs/cli.md: nothing the user typed is lost). Set by `post` once the text is read (while stdin is still
 * being read: what was read so far), cleared once the outcome is known.
 */
export type SavePending = (sent: boolean, exitCode: number, reason: string) => Kept;

/**
 * Input already read but not yet used (`post --lines`: the lines after the one being posted), saved
 * by an interrupted run; returns the lines that say where it went, ready for stderr.
 */
export type SaveUnread = (exitCode: number, reason: string) => string[];

let pending: { save: SavePending; what: string } | undefined;
let unread: SaveUnread | undefined;

/** `what` names the status in messages ("line 3" for `post --lines`). */
export function setPending(save: SavePending | undefined, what = "the status"): void {
  pending = save && { save, what };
}

export function setUnread(save: SaveUnread | undefined): void {
  unread = save;
}

/** Saves the pending status (once) and returns where it went. */
export function savePending(sent: boolean, exitCode: number, reason: string): Kept | undefined {
  const p = pending;
  pending = undefined;
  return p?.save(sent, exitCode, reason);
}

/**
 * For a run that is ending early (a signal, the watchdog): saves the pending status and the unread
 * input (each once); returns what became of the status and every line for stderr saying where it all
 * went (the user's text itself when it could not be saved).
 */
export function saveAll(
  sent: boolean,
  exitCode: number,
  reason: string,
): { kept: Kept | undefined; lines: string[] } {
  const what = pending?.what;
  const kept = savePending(sent, exitCode, reason);
  const save = unread;
  unread = undefined;
  return { kept, lines: [...keptLines(kept, what), ...(save?.(exitCode, reason) ?? [])] };
}

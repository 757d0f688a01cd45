import type { Kept } from "../errors.js";
import { keptLines } from "./keep.js";
import type { SavePending, SaveUnread } from "./save-types.js";

export type { SavePending, SaveUnread };

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

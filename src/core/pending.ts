import type { Kept } from "../errors.js";

/**
 * The status being posted right now, so that an interrupted run can still save it to the outbox
 * (CLI.md: nothing the user typed is lost). Set by `post` once the text is read, cleared once the
 * outcome is known.
 */
export type SavePending = (sent: boolean, exitCode: number, reason: string) => Kept;

let pending: SavePending | undefined;

export function setPending(save: SavePending | undefined): void {
  pending = save;
}

/** Saves the pending status (once) and returns where it went. */
export function savePending(sent: boolean, exitCode: number, reason: string): Kept | undefined {
  const save = pending;
  pending = undefined;
  return save?.(sent, exitCode, reason);
}

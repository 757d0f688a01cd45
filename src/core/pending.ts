import type { Kept } from "../errors.js";
import type { Wire } from "../http/wire.js";
import { keptLines } from "./keep.js";
import type { SavePending, SaveUnread } from "./save-types.js";

export type { SavePending, SaveUnread };

/**
 * What an interrupted run must still save (docs/cli.md: nothing the user typed is lost): the status
 * being posted right now — set once the text is read (while stdin is still being read: what was read so
 * far), cleared once the outcome is known — and, for `post --lines`, the input read but not yet used.
 * One per run (the run session holds it).
 */
export class Pending {
  #pending: { save: SavePending; what: string } | undefined;
  #unread: SaveUnread | undefined;
  /**
   * Several accounts posted to at once (`post --to`): each target's status, with the wire of its own
   * connection, which alone tells whether that target's request had gone out.
   */
  readonly #targets = new Map<string, { save: SavePending; wire: Wire }>();

  /** A target's status being posted (`what` is its handle); undefined once its outcome is known. */
  setTarget(what: string, save: SavePending | undefined, wire: Wire): void {
    if (save === undefined) this.#targets.delete(what);
    else this.#targets.set(what, { save, wire });
  }

  /** Whether statuses of several targets are pending (the signal's words are then theirs). */
  get hasTargets(): boolean {
    return this.#targets.size > 0;
  }

  /** `what` names the status in messages ("line 3" for `post --lines`). */
  set(save: SavePending | undefined, what = "the status"): void {
    this.#pending = save && { save, what };
  }

  setUnread(save: SaveUnread | undefined): void {
    this.#unread = save;
  }

  /** Saves the pending status (once) and returns where it went. */
  save(sent: boolean, exitCode: number, reason: string): Kept | undefined {
    const p = this.#pending;
    this.#pending = undefined;
    return p?.save(sent, exitCode, reason);
  }

  /**
   * For a run that is ending early (a signal, the watchdog): saves the pending status and the unread
   * input (each once); returns what became of the status and every line for stderr saying where it all
   * went (the user's text itself when it could not be saved).
   */
  saveAll(sent: boolean, exitCode: number, reason: string): { kept: Kept | undefined; lines: string[] } {
    const what = this.#pending?.what;
    const kept = this.save(sent, exitCode, reason);
    const save = this.#unread;
    this.#unread = undefined;
    const targets: string[] = [];
    for (const [handle, t] of this.#targets) {
      const mine = t.wire.authenticatedRequestInFlight();
      const state = mine ? "its request had gone out; it may have been posted" : "nothing was posted there";
      targets.push(
        `identica: ${handle}: ${state}`,
        ...keptLines(t.save(mine, exitCode, reason), `the status for ${handle}`),
      );
    }
    this.#targets.clear();
    return { kept, lines: [...keptLines(kept, what), ...targets, ...(save?.(exitCode, reason) ?? [])] };
  }
}

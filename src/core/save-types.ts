import type { Kept } from "../errors.js";

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

import { ExitCode } from "./errors.js";
import type { RunSession } from "./run-session.js";

/** Node's code for a process whose top-level await never settled: the event loop ran out of work. */
const UNSETTLED_TOP_LEVEL_AWAIT = 13;

/**
 * The last guard of docs/cli.md's promises (docs/threats.md I5): if the process is about to end while the
 * command is still running — a library lost a promise and the event loop ran empty, which Node ends
 * with code 13 and no word — the status is saved, one line says what happened and whether the status
 * may have been posted, and the code is 76 (an authenticated write was on the wire) or 70 (a bug).
 * Returns the function to call once the command has finished.
 */
export function watchUntilFinished(
  run: RunSession,
  stderr: { write(s: string): unknown } = process.stderr,
): () => void {
  let finished = false;
  const end = (): number => {
    finished = true;
    const inFlight = run.wire.authenticatedRequestInFlight();
    const code = inFlight ? ExitCode.Protocol : ExitCode.Internal;
    const what = "the run ended before the command finished (a bug: nothing was left to wait for)";
    const { kept, lines } = run.pending.saveAll(inFlight, code, what);
    const done =
      run.wire.effectInFlight() === "deleted"
        ? "the request was sent and no reply came back, so the status may have been deleted (see whether it is still there)"
        : "the status was sent and no reply came back, so it may have been posted (check the timeline before posting again)";
    stderr.write(
      inFlight
        ? `identica: ${what}; ${done}\n`
        : `identica: internal error: ${what}${kept ? "; nothing was posted" : ""}\n`,
    );
    for (const line of lines) stderr.write(`${line}\n`);
    return code;
  };
  const onBeforeExit = () => {
    if (!finished) process.exit(end());
  };
  // A fallback for a Node that skips 'beforeExit' here: only synchronous work is possible now, and
  // the code Node is about to use is 13 (it may still read 0 in the listener).
  const onExit = (code: number) => {
    if (finished) return;
    if (code !== UNSETTLED_TOP_LEVEL_AWAIT && process.exitCode !== UNSETTLED_TOP_LEVEL_AWAIT) return;
    process.exit(end());
  };
  process.on("beforeExit", onBeforeExit);
  process.on("exit", onExit);
  return () => {
    finished = true;
    process.off("beforeExit", onBeforeExit);
    process.off("exit", onExit);
  };
}

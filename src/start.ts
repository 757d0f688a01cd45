import { accessSync, constants } from "node:fs";
import { processContext } from "./context.js";
import { ExitCode } from "./errors.js";
import { watchUntilFinished } from "./watchdog.js";

/**
 * Runs the program for run.ts (everything but the prebuilt answers). A closed stdout (`identica post hi
 * | head -c0`) must not turn a successful post into a crash: the exit code stands.
 */
export async function start(argv: string[]): Promise<void> {
  // A closed stdout or stderr (`identica post x 2>&1 | head -1`), a full disk (`>/dev/full`) or a dead
  // terminal (EIO) must not change the exit code: the outcome decides it, and a wrapper that retries
  // on "1" would post twice (docs/threats.md H1, I9). Nothing more can be said on a stream that failed.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  const ctx = processContext();
  const { run } = ctx;
  for (const [signal, code] of [
    ["SIGINT", ExitCode.Interrupted],
    ["SIGTERM", ExitCode.Terminated],
    // A closed terminal or ssh session: the same as SIGTERM, so piped text is not lost.
    ["SIGHUP", ExitCode.HangUp],
  ] as const) {
    process.once(signal, () => {
      const sent = run.wire.authenticatedRequestInFlight();
      const state = run.pending.hasTargets
        ? "each account's line says whether its request had gone out"
        : !sent
          ? "nothing was posted"
          : run.wire.effectInFlight() === "deleted"
            ? "after the request was sent; the status may have been deleted (see whether it is still there)"
            : "after the status was sent; it may have been posted (check before posting again)";
      // The status being posted (or the text being read) and, for --lines, the lines read after it.
      const { lines } = run.pending.saveAll(sent, code, `interrupted (${signal})`);
      for (const flush of run.onInterrupt) {
        try {
          flush(code);
        } catch {
          // What could not be written stays unwritten; the lines below still say what was kept.
        }
      }
      for (const line of [`identica: interrupted (${signal}); ${state}`, ...lines]) {
        process.stderr.write(`${line}\n`);
      }
      endProcess(code, signal);
    });
  }
  const { main } = await import("./cli.js");
  // Whatever a library does, the process ends with a documented code and the status saved.
  const finished = watchUntilFinished(run);
  let code: number;
  try {
    code = await main(argv, ctx);
  } finally {
    finished();
  }
  process.exitCode = code;
  // Nothing should still be running; if something is (a library's stray handle), it must not keep the
  // process alive. (Keychain calls run in a helper process that cannot: credentials/keytar-child.ts.)
  // The timer is unref'd: it fires only if something else is still keeping the event loop busy.
  setTimeout(() => endProcess(code), 200).unref();
}

/**
 * libuv's requests that run on its thread pool (fs calls, getaddrinfo), as
 * process.getActiveResourcesInfo() names them.
 */
const POOL_REQUEST = /^(?:FSReq|CloseReq$|GetAddrInfoReqWrap$|GetNameInfoReqWrap$)/;

/**
 * Ends the process with `code`, even when a call in libuv's thread pool never returns (a FIFO without a
 * writer, a hung network mount, a resolver that never answers). process.exit() — and process.reallyExit,
 * and Node's own exit once the loop is empty — first joins every thread of that pool, so such a call kept
 * the process alive for good, deaf to signals: the handler above ran, printed its line, and the process
 * stayed (seen on Node 20 and 24). Only a process that is replaced or killed skips the join:
 * - where Node has process.execve (≥ 22.15), the process becomes a shell that exits with `code`: same pid
 *   and parent, everything already written, the exact code;
 * - on a signal, the process ends by that same signal (our listener is gone, so its default action
 *   applies): the parent's shell, cron or systemd see 128 + n, which is the documented 130/143/129;
 * - otherwise process.exit() waits for the call; with every signal listener removed first, a SIGTERM or
 *   Ctrl-C then ends the process instead of being swallowed.
 */
function endProcess(code: number, signal?: NodeJS.Signals): never {
  if (!process.getActiveResourcesInfo().some((r) => POOL_REQUEST.test(r))) process.exit(code);
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(s);
  const { execve } = process as { execve?: (file: string, args: string[], env: object) => never };
  if (typeof execve === "function" && Number.isInteger(code) && code >= 0 && code <= 255) {
    try {
      accessSync("/bin/sh", constants.X_OK);
      execve.call(process, "/bin/sh", ["sh", "-c", `exit ${code}`], {});
    } catch {
      // No shell to become: the ways below still end the process.
    }
  }
  if (signal !== undefined) process.kill(process.pid, signal);
  process.exit(code);
}

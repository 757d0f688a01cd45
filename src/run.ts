import { processContext } from "./context.js";
import { saveAll } from "./core/pending.js";
import { ExitCode } from "./errors.js";
import { authenticatedRequestInFlight } from "./http/wire.js";
import { watchUntilFinished } from "./watchdog.js";

/**
 * The process entry point used by bin/identica.js. A closed stdout (`identica post hi | head -c0`) must
 * not turn a successful post into a crash, so EPIPE on stdout is ignored and the exit code stands.
 */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  // The one answer that needs no command-line parser: commander is not even loaded for it.
  if (argv.length === 1 && argv[0] === "--version") {
    const { version } = await import("./version.js");
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (argv.length <= 2 && argv.some((a) => a === "--help" || a === "-h" || a === "help")) {
    const { prebuiltHelp } = await import("./help.js");
    const text = prebuiltHelp(argv, process.stdout.isTTY ? process.stdout.columns : undefined);
    if (text !== undefined) {
      process.stdout.write(text);
      return;
    }
  }
  // A closed stdout or stderr (`identica post x 2>&1 | head -1`), a full disk (`>/dev/full`) or a dead
  // terminal (EIO) must not change the exit code: the outcome decides it, and a wrapper that retries
  // on "1" would post twice (SECURITY.md H1, I9). Nothing more can be said on a stream that failed.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  for (const [signal, code] of [
    ["SIGINT", ExitCode.Interrupted],
    ["SIGTERM", ExitCode.Terminated],
    // A closed terminal or ssh session: the same as SIGTERM, so piped text is not lost.
    ["SIGHUP", ExitCode.HangUp],
  ] as const) {
    process.once(signal, () => {
      const sent = authenticatedRequestInFlight();
      const state = sent
        ? "after the status was sent; it may have been posted (check before posting again)"
        : "nothing was posted";
      // The status being posted (or the text being read) and, for --lines, the lines read after it.
      const { lines } = saveAll(sent, code, `interrupted (${signal})`);
      for (const line of [`identica: interrupted (${signal}); ${state}`, ...lines]) {
        process.stderr.write(`${line}\n`);
      }
      process.exit(code);
    });
  }
  const { main } = await import("./cli.js");
  // Whatever a library does, the process ends with a documented code and the status saved.
  const finished = watchUntilFinished();
  let code: number;
  try {
    code = await main(argv, processContext());
  } finally {
    finished();
  }
  process.exitCode = code;
  // Nothing should still be running; if something is (a library's stray handle), it must not keep the
  // process alive. (Keychain calls run in a helper process that cannot: credentials/keytar-child.ts.)
  // The timer is unref'd: it fires only if something else is still keeping the event loop busy.
  setTimeout(() => process.exit(code), 200).unref();
}

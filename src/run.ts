import { loadBundle } from "./bundles.js";
import { prebuiltHelp } from "./help.js";
import { version } from "./version.js";

/**
 * The process entry point, dist/run.cjs (bin/identica.js requires it). It answers `--version` and the
 * prebuilt `--help` texts by itself and loads the program (dist/start.cjs, from start.ts) for
 * everything else: each file loaded and compiled costs start-up time, and these answers need none.
 */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  // The one answer that needs no command-line parser.
  if (argv.length === 1 && argv[0] === "--version") {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (argv.length <= 2 && argv.some((a) => a === "--help" || a === "-h" || a === "help")) {
    const text = prebuiltHelp(argv, process.stdout.isTTY ? process.stdout.columns : undefined);
    if (text !== undefined) {
      process.stdout.write(text);
      return;
    }
  }
  // While the program loads there is nothing to save yet: an interrupt ends the run with its code
  // (docs/cli.md: 129, 130, 143) and says so. These listeners also keep a signal that arrives while the
  // bundle loads from killing the process outright: it waits for start()'s own handlers, which save
  // the status, and which start() installs before it first waits for anything.
  const early = new Map<NodeJS.Signals, () => void>();
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    const onSignal = () => {
      process.stderr.write(`identica: interrupted (${signal}); nothing was posted\n`);
      process.exit(code);
    };
    early.set(signal, onSignal);
    process.once(signal, onSignal);
  }
  const { start } = loadBundle("start.cjs") as typeof import("./start.js");
  const running = start(argv);
  for (const [signal, onSignal] of early) process.off(signal, onSignal);
  await running;
}

import { main } from "./cli.js";
import { processContext } from "./context.js";

/**
 * The process entry point used by bin/identica.js. A closed stdout (`identica post hi | head -c0`) must
 * not turn a successful post into a crash, so EPIPE on stdout is ignored and the exit code stands.
 */
export async function run(): Promise<void> {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
  const code = await main(process.argv.slice(2), processContext());
  process.exitCode = code;
}

import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";
import { TIMELINE_KINDS } from "../../services/service.js";
import { orList, withDefault } from "./words.js";

/** `identica timeline`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineTimeline(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("timeline")
    .description(`recent statuses: ${withDefault(TIMELINE_KINDS)}`)
    .argument("[kind]", orList(TIMELINE_KINDS))
    .option("--count <n>", "how many (1-200; the server's default is 20)")
    .option("--since-id <id>", "only statuses newer than this id")
    .option("--max-id <id>", "only statuses up to this id")
    .option("--of <nickname>", "for the user timeline: whose (no login needed, except on the AT Protocol)")
    .addHelpText(
      "after",
      "\nExamples:\n  identica timeline\n  identica timeline public --count 5\n  identica timeline user --of bob -o json",
    )
    .action(async (kind: string | undefined, flags, cmd: Command) => {
      const { timelineCommand } = await import("../statuses.js");
      setCode(await timelineCommand(ctx, kind, flags, cmd.optsWithGlobals()));
    });
}

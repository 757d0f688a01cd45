import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica delete`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineDelete(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("delete")
    .description("delete one of your statuses (statuses/destroy)")
    .argument("<id>", "the status id")
    .addHelpText(
      "after",
      "\nExamples:\n  identica delete 12345\n  identica post -o id oops | xargs identica delete",
    )
    .action(async (id: string, _flags, cmd: Command) => {
      const { deleteCommand } = await import("../statuses.js");
      setCode(await deleteCommand(ctx, id, cmd.optsWithGlobals()));
    });
}

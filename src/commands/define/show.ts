import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica show`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineShow(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("show")
    .description("show one status")
    .argument("<id>", "the status id")
    .addHelpText(
      "after",
      "\nExamples:\n  identica show 12345\n  identica show 12345 -o json --format json\n  identica show https://bsky.app/profile/alice.bsky.social/post/3n3hqbvuvpk2p",
    )
    .action(async (id: string, _flags, cmd: Command) => {
      const { showCommand } = await import("../statuses.js");
      setCode(await showCommand(ctx, id, cmd.optsWithGlobals()));
    });
}

import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica whoami`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineWhoami(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("whoami")
    .description("who the credentials belong to (account/verify_credentials)")
    .addHelpText("after", "\nExamples:\n  identica whoami\n  identica whoami -o json --server social.example")
    .action(async (_flags, cmd: Command) => {
      const { whoamiCommand } = await import("../whoami.js");
      setCode(await whoamiCommand(ctx, cmd.optsWithGlobals()));
    });
}

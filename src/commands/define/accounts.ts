import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica accounts`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineAccounts(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("accounts")
    .description("the accounts stored in the OS keychain, by handle (user@host), with their API")
    .addHelpText("after", "\nExamples:\n  identica accounts\n  identica accounts -o json")
    .action(async (_flags, cmd: Command) => {
      const { accountsCommand } = await import("../accounts.js");
      setCode(await accountsCommand(ctx, cmd.optsWithGlobals()));
    });
}

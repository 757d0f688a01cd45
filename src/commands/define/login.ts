import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica login`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineLogin(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("login")
    .description(
      "check a password with the server, store it in the OS keychain, make this server/user the default",
    )
    .option("--password-stdin", "read the password from the first line of stdin")
    .addHelpText(
      "after",
      `
Examples:
  identica login --server social.example --user alice
  printf '%s\n' "$PW" | identica login --server social.example --user alice --password-stdin`,
    )
    .action(async (flags, cmd: Command) => {
      const { loginCommand } = await import("../login.js");
      setCode(await loginCommand(ctx, flags, cmd.optsWithGlobals()));
    });
}

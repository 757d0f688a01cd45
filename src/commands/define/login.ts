import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica login`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineLogin(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("login")
    .description(
      "check a password (StatusNet), authorize identica (Mastodon) or make a session with an app password (AT Protocol), store the secret in the OS keychain, make this server/user the default",
    )
    .option(
      "--password-stdin",
      "read the password (AT Protocol: the app password) from the first line of stdin",
    )
    .option("--token-stdin", "Mastodon: store a token made in the server's web UI, read from stdin")
    .option("--no-browser", "Mastodon: only print the authorization URL, do not open a browser")
    .addHelpText(
      "after",
      `
Examples:
  identica login --server mastodon.example
  identica login --server social.example --user alice
  identica login --server bsky.social --user alice.bsky.social   # with an app password
  printf '%s\\n' "$PW" | identica login --server social.example --user alice --password-stdin`,
    )
    .action(async (flags, cmd: Command) => {
      const { loginCommand } = await import("../login.js");
      setCode(await loginCommand(ctx, flags, cmd.optsWithGlobals()));
    });
}

import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica logout`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineLogout(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("logout")
    .description(
      "revoke the token (Mastodon) or end the session (AT Protocol), and remove the stored password, token or app password for server/user",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  identica logout\n  identica logout --server social.example --user alice\n  identica logout --server bsky.social --user alice.bsky.social",
    )
    .action(async (_flags, cmd: Command) => {
      const { logoutCommand } = await import("../logout.js");
      setCode(await logoutCommand(ctx, cmd.optsWithGlobals()));
    });
}

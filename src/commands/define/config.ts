import type { Command } from "commander";
import { configKeysHelp } from "../../config/keys.js";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";
import { withDefault } from "./words.js";

/** What `config` does; completion offers the same. */
export const CONFIG_ACTIONS = ["list", "get", "set", "unset"] as const;

/** `identica config`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineConfig(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("config")
    .description("read and change the config file: list, get KEY, set KEY VALUE, unset KEY")
    .argument("[action]", withDefault(CONFIG_ACTIONS))
    .argument("[args...]", "the key, and for set the value")
    .addHelpText(
      "after",
      // Written from the keys' own definitions, so a new key cannot be left out of the help.
      `\nKeys:\n${configKeysHelp()}\n\nExamples:\n  identica config set server social.example\n  identica config get server\n  identica config set targets "alice@social.example, alice@mastodon.example"\n  identica config set api mastodon --server mastodon.example\n  identica config list -o json`,
    )
    .action(async (action: string | undefined, args: string[], _flags, cmd: Command) => {
      const { configCommand } = await import("../config.js");
      setCode(await configCommand(ctx, action, args, cmd.optsWithGlobals()));
    });
}

import type { Command } from "commander";
import { checkStateDir } from "../../config/paths.js";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";
import { withDefault } from "./words.js";

/** What `outbox` does; completion offers the same. */
export const OUTBOX_ACTIONS = ["list", "send", "drop"] as const;

/** `identica outbox`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function defineOutbox(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("outbox")
    .description("statuses that could not be posted: list, send, drop ID")
    .argument("[action]", withDefault(OUTBOX_ACTIONS))
    .argument("[id]", "for drop: the entry's id")
    .addHelpText(
      "after",
      "\nExamples:\n  identica outbox list\n  identica outbox send       # oldest first, never twice\n  identica outbox send --retry-refused 20261127-064512123-a1b2c3\n  identica outbox drop 20261127-064512123-a1b2c3",
    )
    .option("--retry-refused <id>", "for send: also send this entry, which the server refused before")
    .action(async (action: string | undefined, id: string | undefined, flags, cmd: Command) => {
      // Every action works on the state folder: one that cannot be a folder is the user's setting (78).
      if (action === undefined || (OUTBOX_ACTIONS as readonly string[]).includes(action))
        checkStateDir(ctx.env);
      const { outboxCommand } = await import("../outbox.js");
      setCode(await outboxCommand(ctx, action, id === undefined ? [] : [id], cmd.optsWithGlobals(), flags));
    });
}

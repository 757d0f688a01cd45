import type { Context } from "../context.js";
import type { PostResult } from "../core/post.js";
import { loadStyle, useColor } from "../output/color.js";
import { plainStatusOutput, prettyStatus, statusJson } from "../output/status.js";
import { jsonForTerminal } from "../sanitize.js";
import type { Globals } from "./globals.js";

/** The options of `identica post` (and `post --lines`, which shares them). */
export interface PostFlags {
  replyTo?: string;
  source: string;
  dryRun?: boolean;
  maxLength?: string;
  ifAbsent?: boolean;
  lines?: boolean;
  /** `--to`, repeated: the accounts to post to (handles, or "all"). */
  to?: string[];
  /** Mastodon only. */
  visibility?: string;
  cw?: string;
  language?: string;
}

/**
 * Prints a posted (or found) status as `-o` asks: `post`, `post --lines` and `outbox send`. `stream`:
 * one of several results (`--lines`, `outbox send`): JSON on one line, a raw body ended by a newline.
 */
export async function printResult(
  ctx: Context,
  g: Globals,
  result: PostResult,
  stream = false,
): Promise<void> {
  if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    const already = result.existing ? style.dim("(already posted; nothing sent)\n") : "";
    g.printer.result(`${already}${prettyStatus(result.status, result.url, style, ctx.now())}`);
  } else if (g.output === "json" && stream) {
    g.printer.result(`${jsonForTerminal(statusJson(result.status, result.url))}\n`);
  } else {
    g.printer.result(
      plainStatusOutput(g.output, result.status, result.url, result.reply.text, g.printer.tty, stream),
    );
  }
}

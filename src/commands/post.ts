import { cacheDir } from "../config/paths.js";
import type { Context } from "../context.js";
import { readStatusText } from "../core/text.js";
import { ExitCode, UsageError } from "../errors.js";
import { loadStyle, useColor } from "../output/color.js";
import { plainStatusOutput, prettyStatus } from "../output/status.js";
import { credentialSource, type GlobalFlags, httpConfig, readGlobals, serverOf, userOf } from "./globals.js";

export interface PostFlags {
  replyTo?: string;
  source: string;
  dryRun?: boolean;
  maxLength?: string;
}

/** `identica post [text...]`: read the text, check it, send it, print the status the server made. */
export async function postCommand(
  ctx: Context,
  words: string[],
  flags: PostFlags,
  gflags: GlobalFlags,
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  if (flags.replyTo !== undefined && !/^\d+$/.test(flags.replyTo)) {
    throw new UsageError(`--reply-to takes a numeric status id, not "${flags.replyTo}"`);
  }
  if (flags.source.trim() === "") throw new UsageError("--source must not be empty");
  const maxLength = flags.maxLength === undefined ? undefined : parseMaxLength(flags.maxLength);
  const server = serverOf(g, ctx);
  const text = await readStatusText({ args: words, stdin: ctx.stdin });
  const { checkLength, LimitCache } = await import("../core/limit.js");
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
  if (maxLength !== undefined) checkLength(text, maxLength, "the --max-length");
  const request = {
    server,
    user: userOf(g, ctx, server),
    format: g.format,
    text,
    source: flags.source,
    replyTo: flags.replyTo,
  };

  if (flags.dryRun) {
    const { describePost } = await import("../core/post.js");
    // No network for a dry run: only a limit already in the cache is checked.
    if (maxLength === undefined) checkLength(text, await cache.get(server), `${server.key}'s`);
    g.printer.result(describePost({ ...request, http: await httpConfig(g, ctx) }));
    return ExitCode.Ok;
  }

  const { postStatus } = await import("../core/post.js");
  const result = await postStatus(
    { ...request, credential: credentialSource(g, ctx, server), http: await httpConfig(g, ctx) },
    { maxLength, cache, note: g.printer.note },
  );
  if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    g.printer.result(prettyStatus(result.status, result.url, style, ctx.now()));
  } else {
    g.printer.result(plainStatusOutput(g.output, result.status, result.url, result.reply.text));
  }
  return ExitCode.Ok;
}

function parseMaxLength(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--max-length takes a whole number (0 = no limit), not "${v}"`);
  return Number(v);
}

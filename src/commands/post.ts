import { cacheDir, stateDir } from "../config/paths.js";
import type { Context } from "../context.js";
import { type Draft, keeper, keepOnFailure, keepRefused, partialKeeper } from "../core/keep.js";
import { checkLength, LimitCache } from "../core/limit-cache.js";
import { Outbox } from "../core/outbox.js";
import type { PostResult } from "../core/post.js";
import { readStatusText } from "../core/text.js";
import { ExitCode, UsageError } from "../errors.js";
import { rulesFor } from "../services/open.js";
import { type GlobalFlags, readGlobals, serverOf, userOf, withSpinner } from "./globals.js";
import { type PostFlags, printResult } from "./post-result.js";
import { httpConfig, serviceOptions } from "./session-options.js";

export type { PostFlags };

/** `identica post [text...]`: read the text, check it, send it, print the status the server made. */
export async function postCommand(
  ctx: Context,
  words: string[],
  flags: PostFlags,
  gflags: GlobalFlags,
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const server = serverOf(g, ctx);
  const rules = rulesFor(server);
  if (flags.replyTo !== undefined) rules.statusId(flags.replyTo, "--reply-to");
  if (flags.source.trim() === "") throw new UsageError("--source must not be empty");
  const maxLength = flags.maxLength === undefined ? undefined : parseMaxLength(flags.maxLength);
  if (flags.lines) {
    if (words.length > 0 && !(words.length === 1 && words[0] === "-")) {
      throw new UsageError("--lines reads the statuses from stdin; give no text arguments");
    }
    if (flags.dryRun) throw new UsageError("--lines cannot be combined with --dry-run");
    const { postLines } = await import("./post-lines.js");
    return postLines(ctx, g, server, { ...flags, maxLength });
  }
  const user = userOf(g, ctx, server);
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  const unsent = { server, user, replyTo: flags.replyTo, source: flags.source };
  const text = await readText(ctx, words, flags.dryRun === true, outbox, unsent);
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
  if (maxLength !== undefined) checkLength(text, maxLength, "the --max-length", rules.textLength);
  const request = {
    server,
    user,
    format: g.format,
    text,
    source: flags.source,
    replyTo: flags.replyTo,
  };

  if (flags.dryRun) {
    const { describePost } = await import("../services/open.js");
    // No network for a dry run: only a limit already in the cache is checked.
    if (maxLength === undefined)
      checkLength(text, await cache.get(server), `${server.key}'s`, rules.textLength);
    g.printer.result(describePost({ ...request, http: await httpConfig(g, ctx) }));
    return ExitCode.Ok;
  }

  const { postStatus } = await import("../core/post.js");
  const draft = { ...unsent, text };
  const keep = keeper(outbox, draft, ctx.now(), () => ctx.run.wire.serverClockSkewMs.get(server.origin));
  ctx.run.pending.set(keep);
  let result: PostResult;
  try {
    const opts = await serviceOptions(g, ctx, server, user);
    result = await withSpinner(g, ctx, `posting to ${server.key}`, () =>
      postStatus(
        { ...request, ...opts },
        { maxLength, cache, note: g.printer.note, unlessPosted: flags.ifAbsent ? {} : undefined },
      ),
    );
  } catch (err) {
    ctx.run.pending.set(undefined);
    throw keepOnFailure(err, keep);
  }
  ctx.run.pending.set(undefined);
  await printResult(ctx, g, result);
  return ExitCode.Ok;
}

/** The status text from the arguments or stdin; what was read is kept if the run is cut short. */
async function readText(
  ctx: Context,
  words: string[],
  dryRun: boolean,
  outbox: Outbox,
  unsent: Omit<Draft, "text">,
): Promise<string> {
  const readAt = ctx.now();
  try {
    return await readStatusText({
      args: words,
      stdin: ctx.stdin,
      // A signal before the end of stdin keeps what was read, marked refused: it may be incomplete.
      reading: (soFar) => {
        if (!dryRun) ctx.run.pending.set(partialKeeper(outbox, unsent, soFar, readAt));
      },
    });
  } catch (err) {
    // A text identica refuses (65) is kept too: a piped text exists nowhere else. A dry run writes
    // nothing, the outbox included: it only says what a real run would do.
    throw dryRun ? err : keepRefused(err, outbox, unsent, readAt);
  } finally {
    ctx.run.pending.set(undefined);
  }
}

function parseMaxLength(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--max-length takes a whole number (0 = no limit), not "${v}"`);
  return Number(v);
}

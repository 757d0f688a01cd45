import type { Account } from "../config/handles.js";
import { cacheDir, stateDir } from "../config/paths.js";
import type { Context } from "../context.js";
import { keepRefused, keptLines } from "../core/keep.js";
import { LimitCache } from "../core/limit-cache.js";
import { LineSplitter, MAX_LINE_BYTES, quoteLine, splitLines } from "../core/lines.js";
import { Outbox } from "../core/outbox.js";
import { ExitCode, IdenticaError, UsageError, worse } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import type { Globals } from "./globals.js";
import type { MastodonPostOptions } from "./post.js";
import { keepUnread, lineToPost } from "./post-lines-unread.js";
import { Reporter, sendToTargets } from "./post-multi.js";
import type { PostFlags } from "./post-result.js";

/**
 * `post --lines --to A --to B`: each line of stdin, as it arrives, to every account at once (each line
 * checked against every target's limit first, as a single post is). A line that fails for an account
 * is kept for that account; the stream goes on; the exit code is the worst outcome of any line. An
 * interrupted run keeps the lines read but not yet sent, one entry per account.
 */
export async function postLinesToAccounts(
  ctx: Context,
  g: Globals,
  accounts: Account[],
  flags: PostFlags,
  mastodon: MastodonPostOptions,
  maxLength: number | undefined,
): Promise<ExitCode> {
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
  const unsent = accounts.map((a) => ({
    server: a.server,
    api: a.api,
    user: a.user,
    replyTo: flags.replyTo,
    source: flags.source,
  }));
  let worst: ExitCode = ExitCode.Ok;
  const splitter = new LineSplitter();
  ctx.run.pending.setUnread((exitCode, reason) =>
    keepUnread(ctx, splitter, { outbox, unsent, exitCode, reason, checkLimit: undefined }),
  );
  try {
    for await (const line of splitLines(ctx.stdin, MAX_LINE_BYTES, splitter)) {
      const what = `line ${line.lineNo}: `;
      let text: string | undefined;
      try {
        text = lineToPost(line);
      } catch (err) {
        // A line identica refuses (65) is kept for every account, marked refused; one too long (64) is not.
        // Each account's entry is a file of its own: say where every one went, not only the last.
        let e: IdenticaError | undefined;
        const where: string[] = [];
        accounts.forEach((a, i) => {
          e = keepRefused(err, outbox, unsent[i] as (typeof unsent)[number], ctx.now()) as IdenticaError;
          where.push(...keptLines(e?.kept, `line ${line.lineNo} for ${a.handle}`));
        });
        const code = e instanceof IdenticaError ? e.exitCode : ExitCode.Internal;
        worst = worse(worst, code);
        writeDiagnostic(ctx, `identica: ${what}${(e ?? (err as Error)).message}`);
        for (const l of where) ctx.stderr.write(`${l}\n`);
        continue;
      }
      if (text === undefined) continue;
      try {
        const r = await Reporter.create(ctx, g, accounts, what, true);
        await sendToTargets(ctx, g, accounts, text, flags, mastodon, maxLength, outbox, cache, (i, o) =>
          r.done(i, o),
        );
        worst = worse(worst, r.finish());
      } catch (err) {
        // Over a target's limit, or a bug: quoted so that the line is not lost (cron mails stderr).
        const e = err instanceof IdenticaError ? err : undefined;
        worst = worse(worst, e?.exitCode ?? ExitCode.Internal);
        const quoted = err instanceof UsageError ? `: ${quoteLine(text)}` : "";
        writeDiagnostic(ctx, `identica: ${what}${(err as Error).message}${quoted}`);
      }
    }
  } finally {
    ctx.run.pending.setUnread(undefined);
  }
  return worst;
}

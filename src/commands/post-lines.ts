import { cacheDir, stateDir } from "../config/paths.js";
import type { Server } from "../config/server.js";
import type { Context } from "../context.js";
import { keeper, keepOnFailure, keptLines } from "../core/keep.js";
import { checkLength, LimitCache } from "../core/limit-cache.js";
import { lineText, quoteLine, splitLines } from "../core/lines.js";
import { Outbox } from "../core/outbox.js";
import { setPending } from "../core/pending.js";
import { type PostResult, postOn } from "../core/post.js";
import { withApi } from "../core/session.js";
import { checkText } from "../core/text.js";
import { ExitCode, HttpError, IdenticaError, worse } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import { credentialSource, type Globals, httpConfig, userOf } from "./globals.js";
import { type PostFlags, printResult } from "./post.js";

/** The longest `Retry-After` honoured before a line goes to the outbox instead. */
const MAX_RETRY_WAIT_S = 300;
const MAX_RETRIES = 3;

/**
 * `post --lines`: each line of stdin is its own status, posted as it arrives, all on one keep-alive
 * connection; the challenge is answered once and later lines carry the credential directly. A line
 * that fails goes to the outbox and the stream goes on; the exit code is the worst outcome seen.
 */
export async function postLines(
  ctx: Context,
  g: Globals,
  server: Server,
  flags: Omit<PostFlags, "maxLength"> & { maxLength: number | undefined },
): Promise<ExitCode> {
  const user = userOf(g, ctx, server);
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  let worst: ExitCode = ExitCode.Ok;
  const fail = (lineNo: number, err: unknown) => {
    const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
    worst = worse(worst, code);
    const e = err as IdenticaError;
    writeDiagnostic(ctx, `identica: line ${lineNo}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`);
    for (const line of keptLines(e.kept, `line ${lineNo}`)) ctx.stderr.write(`${line}\n`);
  };
  const opts = {
    server,
    user,
    format: g.format,
    http: await httpConfig(g, ctx, server),
    credential: credentialSource(g, ctx, server),
  };
  await withApi(opts, async (api) => {
    let limit: number | undefined = flags.maxLength;
    let limitKnown = flags.maxLength !== undefined;
    // Each line is read as its end arrives, with at most 1 MiB of it in memory (SECURITY.md I13).
    for await (const line of splitLines(ctx.stdin)) {
      const lineNo = line.lineNo;
      let text: string;
      try {
        text = lineText(line);
      } catch (err) {
        fail(lineNo, err);
        continue;
      }
      if (text.trim() === "") continue;
      // --timeout is per line: the stream may last for days.
      api.session.newDeadline();
      try {
        checkText(text);
        if (!limitKnown) {
          const { serverLimit } = await import("../core/limit.js");
          limit = await serverLimit(api, cache, g.printer.note);
          limitKnown = true;
        }
        // A line over the limit is not lost: it is quoted in the message (cron mails stderr), whole
        // unless it is far longer than any status (then only its start: quoteLine).
        try {
          checkLength(text, limit, flags.maxLength === undefined ? `${server.key}'s` : "the --max-length");
        } catch (err) {
          throw new IdenticaError(ExitCode.Usage, `${(err as Error).message}: ${quoteLine(text)}`);
        }
      } catch (err) {
        fail(lineNo, err);
        continue;
      }
      const draft = { text, server, user, replyTo: flags.replyTo, source: flags.source };
      const keep = keeper(outbox, draft, ctx.now());
      setPending(keep);
      let result: PostResult;
      try {
        result = await withRetryAfter((retry) => {
          // The wait for Retry-After is not the server failing to answer: a new deadline.
          if (retry) api.session.newDeadline();
          return postOn(
            api,
            { ...opts, text, source: flags.source, replyTo: flags.replyTo },
            { maxLength: 0, cache, note: g.printer.note, unlessPosted: flags.ifAbsent ? {} : undefined },
          );
        }, g.printer.note);
      } catch (err) {
        setPending(undefined);
        fail(lineNo, keepOnFailure(err, keep));
        continue;
      }
      setPending(undefined);
      await printResult(ctx, g, result, true);
    }
  });
  return worst;
}

/** 429 and 503 say nothing was posted; with a Retry-After the same line is tried again after the wait. */
async function withRetryAfter<T>(
  fn: (retry: boolean) => Promise<T>,
  note: (line: string) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt > 0);
    } catch (err) {
      const wait = err instanceof HttpError ? err.details.retryAfter : undefined;
      if (wait === undefined || wait > MAX_RETRY_WAIT_S || attempt >= MAX_RETRIES) throw err;
      note(`* ${err instanceof Error ? err.message : err}; trying again in ${wait} s`);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }
}

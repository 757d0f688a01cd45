import { cacheDir, stateDir } from "../config/paths.js";
import type { Server } from "../config/server.js";
import type { Context, InStream } from "../context.js";
import {
  type Draft,
  FIX_PARTIAL,
  keeper,
  keepOnFailure,
  keepRefused,
  keepUnsent,
  keptLines,
} from "../core/keep.js";
import { checkLength, LimitCache } from "../core/limit-cache.js";
import { type Line, LineSplitter, lineText, MAX_LINE_BYTES, quoteLine, splitLines } from "../core/lines.js";
import { Outbox } from "../core/outbox.js";
import { type PostResult, postOn } from "../core/post.js";
import { checkText, decodeKeeping } from "../core/text.js";
import { ExitCode, HttpError, IdenticaError, worse } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import { sanitizeForTerminal } from "../sanitize.js";
import { rulesFor, withService } from "../services/open.js";
import { type Globals, serviceOptions, userOf } from "./globals.js";
import { type PostFlags, printResult } from "./post-result.js";

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
  const unsent = { server, user, replyTo: flags.replyTo, source: flags.source };
  let worst: ExitCode = ExitCode.Ok;
  const fail = (lineNo: number, err: unknown) => {
    const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
    worst = worse(worst, code);
    const e = err as IdenticaError;
    writeDiagnostic(ctx, `identica: line ${lineNo}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`);
    for (const line of keptLines(e.kept, `line ${lineNo}`)) ctx.stderr.write(`${line}\n`);
  };
  let limit: number | undefined = flags.maxLength;
  let limitKnown = flags.maxLength !== undefined;
  // A line over the limit is not lost: it is quoted in the message (cron mails stderr), whole unless it
  // is far longer than any status (then only its start: quoteLine).
  const checkLimit = (text: string) => {
    try {
      checkLength(
        text,
        limit,
        flags.maxLength === undefined ? `${server.key}'s` : "the --max-length",
        rulesFor(server).textLength,
      );
    } catch (err) {
      throw new IdenticaError(ExitCode.Usage, `${(err as Error).message}: ${quoteLine(text)}`);
    }
  };
  // Each line is read as its end arrives, with at most 1 MiB of it in memory (docs/threats.md I13); what
  // the splitter holds beyond the line being posted is kept by an interrupted run (keepUnread).
  const splitter = new LineSplitter();
  ctx.run.pending.setUnread((exitCode, reason) =>
    keepUnread(ctx, splitter, {
      outbox,
      unsent,
      exitCode,
      reason,
      checkLimit: limitKnown ? checkLimit : undefined,
    }),
  );
  const opts = await serviceOptions(g, ctx, server, user);
  try {
    await withService(opts, async (svc) => {
      for await (const line of splitLines(ctx.stdin, MAX_LINE_BYTES, splitter)) {
        const lineNo = line.lineNo;
        let text: string | undefined;
        try {
          text = lineToPost(line);
        } catch (err) {
          // A line identica refuses (65) is kept, marked refused; one too long (64) is not.
          fail(lineNo, keepRefused(err, outbox, unsent, ctx.now()));
          continue;
        }
        if (text === undefined) continue;
        const keep = keeper(outbox, { ...unsent, text }, ctx.now(), () =>
          ctx.run.wire.serverClockSkewMs.get(server.origin),
        );
        // From here until its outcome is known, an interrupted run saves this line.
        ctx.run.pending.set(keep, `line ${lineNo}`);
        // --timeout is per line: the stream may last for days.
        svc.newDeadline();
        try {
          if (!limitKnown) {
            const { serverLimit } = await import("../core/limit.js");
            limit = await serverLimit(svc, cache, g.printer.note);
            limitKnown = true;
          }
          checkLimit(text);
        } catch (err) {
          ctx.run.pending.set(undefined);
          fail(lineNo, keepOnFailure(err, keep));
          continue;
        }
        let result: PostResult;
        try {
          result = await withRetryAfter((retry) => {
            // The wait for Retry-After is not the server failing to answer: a new deadline.
            if (retry) svc.newDeadline();
            return postOn(
              svc,
              { user, text, source: flags.source, replyTo: flags.replyTo },
              { maxLength: 0, cache, note: g.printer.note, unlessPosted: flags.ifAbsent ? {} : undefined },
            );
          }, g.printer.note);
        } catch (err) {
          ctx.run.pending.set(undefined);
          fail(lineNo, keepOnFailure(err, keep));
          continue;
        }
        ctx.run.pending.set(undefined);
        await printResult(ctx, g, result, true);
      }
    });
  } finally {
    ctx.run.pending.setUnread(undefined);
  }
  return worst;
}

/**
 * The text of a line to post, or undefined for a blank line (skipped). Throws what the loop reports:
 * 64 for a line over 1 MiB or made of invisible characters only, 65 (RefusedTextError, kept) for bytes
 * that are not UTF-8, NUL or a control character.
 */
function lineToPost(line: Line): string | undefined {
  const text = lineText(line);
  if (text.trim() === "") return undefined;
  checkText(text);
  return text;
}

/**
 * For a run interrupted while posting one line: saves every line read after it but not yet posted
 * (what the splitter holds and what stdin still buffers), each as an entry to send later, checked as a
 * posted line would be (refused ones kept marked refused); and a line whose end has not arrived, marked
 * refused since it may be incomplete. Returns the lines for stderr: how many were saved, and from which
 * line the input was not read, so that the user knows where to resume.
 */
function keepUnread(
  ctx: Context,
  splitter: LineSplitter,
  o: {
    outbox: Outbox;
    unsent: Omit<Draft, "text">;
    exitCode: number;
    reason: string;
    /** Only when the limit is already known: nothing more goes to the network now. */
    checkLimit: ((text: string) => void) | undefined;
  },
): string[] {
  const ended = inputEnded(ctx.stdin);
  const { lines, partial } = splitter.unread(drainBuffered(ctx.stdin), ended);
  const diagnostic = (line: string) => sanitizeForTerminal(ctx.redactor.redact(line));
  // Saved in reading order, which the outbox ids keep (Outbox.save), so a send keeps it too.
  const now = ctx.now();
  const saved: number[] = [];
  const problems: string[] = [];
  for (const line of lines) {
    let text: string | undefined;
    try {
      text = lineToPost(line);
      if (text !== undefined) o.checkLimit?.(text);
    } catch (err) {
      const e = keepRefused(err, o.outbox, o.unsent, now) as IdenticaError;
      problems.push(
        diagnostic(`identica: line ${line.lineNo}: ${e.message}`),
        ...keptLines(e.kept, `line ${line.lineNo}`),
      );
      continue;
    }
    if (text === undefined) continue;
    const kept = keepUnsent(
      o.outbox,
      o.unsent,
      { text },
      {
        startedAt: now,
        refused: false,
        exitCode: o.exitCode,
        error: `${o.reason} before this line was sent`,
      },
    );
    if (kept.kind === "saved") saved.push(line.lineNo);
    else problems.push(...keptLines(kept, `line ${line.lineNo}`));
  }
  const out: string[] = [];
  if (saved.length === 1) {
    out.push(
      `identica: 1 line read but not yet sent (line ${saved[0]}) is saved in the outbox (send it with: identica outbox send)`,
    );
  } else if (saved.length > 1) {
    out.push(
      `identica: ${saved.length} lines read but not yet sent (lines ${ranges(saved)}) are saved in the outbox, one entry each (send them with: identica outbox send)`,
    );
  }
  out.push(...problems);
  if (partial) {
    const what = `line ${partial.lineNo}, read only in part,`;
    if (partial.tooLong) {
      out.push(diagnostic(`identica: ${what} is over 1 MiB already; not kept (resend the whole line)`));
    } else {
      const input = decodeKeeping(partial.bytes, partial.lineNo !== 1);
      const kept = keepUnsent(o.outbox, o.unsent, input, {
        startedAt: now,
        refused: true,
        exitCode: o.exitCode,
        error: `${o.reason} while line ${partial.lineNo} was being read; it may be incomplete`,
        fix: FIX_PARTIAL,
      });
      out.push(...keptLines(kept, what));
    }
    out.push(
      `identica: the input was read up to part of line ${partial.lineNo}: resume from line ${partial.lineNo}`,
    );
  } else if (ended) {
    out.push("identica: the whole input was read; nothing is left to resume");
  } else {
    const last = splitter.lineNo;
    out.push(
      last === 0
        ? "identica: no line of the input was read: resume from line 1"
        : `identica: the input was read up to the end of line ${last}: resume from line ${last + 1}`,
    );
  }
  return out;
}

/** `2-3, 5`: line numbers, ascending, as ranges. */
function ranges(nos: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nos.length; ) {
    let j = i;
    while (j + 1 < nos.length && (nos[j + 1] as number) === (nos[j] as number) + 1) j++;
    parts.push(i === j ? `${nos[i]}` : `${nos[i]}-${nos[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/** What stdin has read from its file or pipe but not yet handed to the line splitter (synchronous). */
function drainBuffered(stdin: InStream): Buffer[] {
  const out: Buffer[] = [];
  let size = 0;
  try {
    // Bounded: a stream buffers about its high-water mark; a source that makes data synchronously
    // without end must not keep a signal handler here.
    for (let c = stdin.read(); c !== null && size < 8 * MAX_LINE_BYTES; c = stdin.read()) {
      const buf = typeof c === "string" ? Buffer.from(c, "utf8") : (c as Buffer);
      out.push(buf);
      size += buf.length;
    }
  } catch {
    // A destroyed stream has nothing more to give.
  }
  return out;
}

/**
 * Whether stdin has reached its end, so that a last line without a line end is complete. Node says so
 * publicly only once every byte was consumed (`readableEnded`); its state knows it as soon as the end
 * was read. When unsure, the last line counts as incomplete: kept, but marked refused.
 */
function inputEnded(stdin: InStream): boolean {
  const state = (stdin as { _readableState?: { ended?: unknown } })._readableState;
  return stdin.readableEnded || state?.ended === true;
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

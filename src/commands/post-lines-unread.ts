import type { Context, InStream } from "../context.js";
import { type Draft, FIX_PARTIAL, keepRefused, keepUnsent, keptLines } from "../core/keep.js";
import { type Line, type LineSplitter, lineText, MAX_LINE_BYTES } from "../core/lines.js";
import type { Outbox } from "../core/outbox.js";
import { checkText, decodeKeeping } from "../core/text.js";
import type { IdenticaError } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";

/**
 * The text of a line to post, or undefined for a blank line (skipped). Throws what the loop reports:
 * 64 for a line over 1 MiB or made of invisible characters only, 65 (RefusedTextError, kept) for bytes
 * that are not UTF-8, NUL or a control character.
 */
export function lineToPost(line: Line): string | undefined {
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
export function keepUnread(
  ctx: Context,
  splitter: LineSplitter,
  o: {
    outbox: Outbox;
    /** Where each line was going: one account, or every account of `post --to` (one entry each). */
    unsent: Omit<Draft, "text"> | Omit<Draft, "text">[];
    exitCode: number;
    reason: string;
    /** Only when the limit is already known: nothing more goes to the network now. */
    checkLimit: ((text: string) => void) | undefined;
  },
): string[] {
  const targets = Array.isArray(o.unsent) ? o.unsent : [o.unsent];
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
      for (const [i, unsent] of targets.entries()) {
        const e = keepRefused(err, o.outbox, unsent, now) as IdenticaError;
        if (i === 0) problems.push(diagnostic(`identica: line ${line.lineNo}: ${e.message}`));
        problems.push(...keptLines(e.kept, `line ${line.lineNo}${whose(unsent, targets.length)}`));
      }
      continue;
    }
    if (text === undefined) continue;
    let all = true;
    for (const unsent of targets) {
      const kept = keepUnsent(
        o.outbox,
        unsent,
        { text },
        {
          startedAt: now,
          refused: false,
          exitCode: o.exitCode,
          error: `${o.reason} before this line was sent`,
        },
      );
      if (kept.kind !== "saved") {
        all = false;
        problems.push(...keptLines(kept, `line ${line.lineNo}${whose(unsent, targets.length)}`));
      }
    }
    if (all) saved.push(line.lineNo);
  }
  const out: string[] = [];
  const each = targets.length > 1 ? `, one entry for each of the ${targets.length} accounts` : "";
  if (saved.length === 1) {
    out.push(
      `identica: 1 line read but not yet sent (line ${saved[0]}) is saved in the outbox${each} (send it with: identica outbox send)`,
    );
  } else if (saved.length > 1) {
    out.push(
      `identica: ${saved.length} lines read but not yet sent (lines ${ranges(saved)}) are saved in the outbox, one entry each${each} (send them with: identica outbox send)`,
    );
  }
  out.push(...problems);
  if (partial) {
    const what = `line ${partial.lineNo}, read only in part,`;
    if (partial.tooLong) {
      out.push(diagnostic(`identica: ${what} is over 1 MiB already; not kept (resend the whole line)`));
    } else {
      const input = decodeKeeping(partial.bytes, partial.lineNo !== 1);
      for (const unsent of targets) {
        const kept = keepUnsent(o.outbox, unsent, input, {
          startedAt: now,
          refused: true,
          exitCode: o.exitCode,
          error: `${o.reason} while line ${partial.lineNo} was being read; it may be incomplete`,
          fix: FIX_PARTIAL,
        });
        out.push(...keptLines(kept, `${what}${whose(unsent, targets.length)}`));
      }
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

/** ` for alice@host` when lines go to several accounts. */
function whose(unsent: Omit<Draft, "text">, n: number): string {
  return n > 1 ? ` for ${unsent.user ?? "?"}@${unsent.server.key}` : "";
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

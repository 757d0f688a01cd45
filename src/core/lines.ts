import { ExitCode, IdenticaError, UsageError } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
import { codePointLength, MAX_STDIN_BYTES } from "./text.js";

/** A line of `post --lines` may be as long as the whole text of `post` (CLI.md "Status text"). */
export const MAX_LINE_BYTES = MAX_STDIN_BYTES;

/** How much of a refused line a message quotes: enough to find it, short enough for a cron mail. */
export const QUOTE_CHARS = 80;

/**
 * A line over the server's limit is quoted whole up to this length, so a status that is merely too
 * long can be copied back from stderr (64 keeps nothing in the outbox); anything longer is not a status
 * anyone will send again, and quoting it would mail megabytes per line.
 */
export const QUOTE_WHOLE_MAX_CHARS = 10_000;

// A refused line keeps only its start: 4 bytes per code point cover the quoted characters.
const HEAD_BYTES = QUOTE_CHARS * 4;

export type Line =
  | { lineNo: number; tooLong: false; bytes: Buffer }
  /** `size` counts the line's bytes without its end; `head` is its first bytes, the rest was dropped. */
  | { lineNo: number; tooLong: true; size: number; head: Buffer };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines as readline did for `post --lines`: a line ends at LF, CRLF or a lone
 * CR, and a last line without an end counts. Each line is yielded as soon as its end arrives (so
 * `tail -f | identica post --lines` posts as it goes), and the stream is only read while the caller
 * asks for the next line. A line longer than `maxBytes` is not kept: its bytes are dropped as they
 * stream by and only its start and its size are yielded, so memory stays bounded whatever the input.
 */
export async function* splitLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<Line> {
  let lineNo = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let head: Buffer | undefined; // set once the line is too long; `parts` is then empty
  // After a CR that ended a line, an LF that follows (maybe in the next chunk) is the same line end.
  let afterCR = false;

  const add = (piece: Buffer) => {
    if (piece.length === 0) return;
    size += piece.length;
    if (head) return;
    if (size <= maxBytes) {
      parts.push(piece);
      return;
    }
    // A copy of the first bytes only, so the chunks they came from can be collected.
    head = Buffer.concat([...parts, piece], Math.min(HEAD_BYTES, size));
    parts = [];
  };
  const take = (): Line => {
    lineNo++;
    const line: Line = head
      ? { lineNo, tooLong: true, size, head }
      : { lineNo, tooLong: false, bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts) };
    parts = [];
    size = 0;
    head = undefined;
    return line;
  };

  for await (const chunk of input) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let pos = 0;
    if (afterCR && buf.length > 0) {
      if (buf[0] === LF) pos = 1;
      afterCR = false;
    }
    // Searched once per chunk and again only when passed, so many LFs before a far CR stay linear.
    let nextCR = buf.indexOf(CR, pos);
    while (pos < buf.length) {
      if (nextCR !== -1 && nextCR < pos) nextCR = buf.indexOf(CR, pos);
      const nextLF = buf.indexOf(LF, pos);
      const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      if (end === -1) {
        add(buf.subarray(pos));
        break;
      }
      add(buf.subarray(pos, end));
      yield take();
      pos = end + 1;
      if (buf[end] === CR) {
        if (pos === buf.length) afterCR = true;
        else if (buf[pos] === LF) pos++;
      }
    }
  }
  if (size > 0) yield take();
}

/**
 * The text of a line, or why it cannot be posted: 64 for a line over `maxBytes` (quoting only its
 * start), 65 for bytes that are not UTF-8. A BOM is dropped from the first line only, as `post` drops
 * it from the start of stdin; elsewhere U+FEFF is the user's character.
 */
export function lineText(line: Line, maxBytes = MAX_LINE_BYTES): string {
  if (line.tooLong) {
    throw new UsageError(
      `the line is ${line.size} bytes long, over the limit of ${describeBytes(maxBytes)} for a line; nothing was sent: ${quoteStart(line.head)}`,
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: line.lineNo !== 1 }).decode(line.bytes);
  } catch {
    throw new IdenticaError(ExitCode.Data, "the line is not valid UTF-8; nothing was sent");
  }
}

/**
 * A line refused for the server's length limit, as its message quotes it: whole when it could be a
 * status someone will fix and send again (up to QUOTE_WHOLE_MAX_CHARS), else only its start. Control
 * characters are made visible; tabs are kept so that the quote can be copied back.
 */
export function quoteLine(text: string): string {
  if (codePointLength(text) <= QUOTE_WHOLE_MAX_CHARS) return sanitizeForTerminal(text, true);
  return `${sanitizeForTerminal(firstCodePoints(text, QUOTE_CHARS))}…`;
}

function quoteStart(head: Buffer): string {
  // Not fatal: the start of a line may be cut inside a character or not be UTF-8 at all.
  const text = new TextDecoder("utf-8").decode(head);
  return `${sanitizeForTerminal(firstCodePoints(text, QUOTE_CHARS))}…`;
}

function firstCodePoints(text: string, n: number): string {
  let out = "";
  let i = 0;
  for (const c of text) {
    if (i++ === n) break;
    out += c;
  }
  return out;
}

function describeBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

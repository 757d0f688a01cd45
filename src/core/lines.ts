import { UsageError } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
import { codePointLength, decodeKeeping, MAX_STDIN_BYTES, RefusedTextError } from "./text.js";

/** A line of `post --lines` may be as long as the whole text of `post` (docs/cli.md "Status text"). */
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
const EMPTY = Buffer.alloc(0);

/**
 * Splits bytes into lines as readline did for `post --lines`: a line ends at LF, CRLF or a lone CR, and
 * a last line without an end counts. Synchronous and pull-based (`push` a chunk, take lines with `next`
 * until it says more input is needed), so that a signal handler can still take every line that was
 * read but not yet handed out (`unread`). A line longer than `maxBytes` is not kept: its bytes are
 * dropped as they stream by and only its start and its size are kept, so memory stays bounded.
 */
export class LineSplitter {
  readonly #maxBytes: number;
  #lineNo = 0;
  #parts: Buffer[] = [];
  #size = 0;
  #head: Buffer | undefined; // set once the line is too long; `parts` is then empty
  // After a CR that ended a line, an LF that follows (maybe in the next chunk) is the same line end.
  #afterCR = false;
  // The chunk being split and how far: the bytes from `pos` on are read but not yet handed out.
  #buf: Buffer = EMPTY;
  #pos = 0;
  #nextCR = -1;

  constructor(maxBytes = MAX_LINE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** How many lines were handed out so far (the number of the last one). */
  get lineNo(): number {
    return this.#lineNo;
  }

  /** The next chunk of input; call only once `next` has returned undefined. */
  push(chunk: Buffer): void {
    this.#buf = chunk;
    this.#pos = 0;
    if (this.#afterCR && chunk.length > 0) {
      if (chunk[0] === LF) this.#pos = 1;
      this.#afterCR = false;
    }
    // Searched once per chunk and again only when passed, so many LFs before a far CR stay linear.
    this.#nextCR = chunk.indexOf(CR, this.#pos);
  }

  /** The next complete line of what was pushed, or undefined when it needs more input. */
  next(): Line | undefined {
    const buf = this.#buf;
    const pos = this.#pos;
    if (pos >= buf.length) return undefined;
    if (this.#nextCR !== -1 && this.#nextCR < pos) this.#nextCR = buf.indexOf(CR, pos);
    const nextLF = buf.indexOf(LF, pos);
    const nextCR = this.#nextCR;
    const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
    if (end === -1) {
      this.#add(buf.subarray(pos));
      this.#buf = EMPTY;
      this.#pos = 0;
      return undefined;
    }
    this.#add(buf.subarray(pos, end));
    this.#pos = end + 1;
    if (buf[end] === CR) {
      if (this.#pos === buf.length) this.#afterCR = true;
      else if (buf[this.#pos] === LF) this.#pos++;
    }
    return this.#take();
  }

  /** At the end of the input: the last line, which had no line end, if there is one. */
  end(): Line | undefined {
    return this.#size > 0 ? this.#take() : undefined;
  }

  /**
   * Everything read but not yet handed out, for a run that is being interrupted: the complete lines of
   * the current chunk and of `more` (what the stream still buffers), then the line whose end has not
   * arrived (`partial`; at the end of the input, when `ended`, it is a complete line). The splitter is
   * used up afterwards.
   */
  unread(more: Buffer[], ended: boolean): { lines: Line[]; partial: Line | undefined } {
    const lines: Line[] = [];
    const drain = () => {
      for (let line = this.next(); line !== undefined; line = this.next()) lines.push(line);
    };
    drain();
    for (const chunk of more) {
      this.push(chunk);
      drain();
    }
    const last = this.end();
    if (last && ended) return { lines: [...lines, last], partial: undefined };
    return { lines, partial: last };
  }

  #add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#size += piece.length;
    if (this.#head) return;
    if (this.#size <= this.#maxBytes) {
      this.#parts.push(piece);
      return;
    }
    // A copy of the first bytes only, so the chunks they came from can be collected.
    this.#head = Buffer.concat([...this.#parts, piece], Math.min(HEAD_BYTES, this.#size));
    this.#parts = [];
  }

  #take(): Line {
    this.#lineNo++;
    const lineNo = this.#lineNo;
    const parts = this.#parts;
    const line: Line = this.#head
      ? { lineNo, tooLong: true, size: this.#size, head: this.#head }
      : { lineNo, tooLong: false, bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts) };
    this.#parts = [];
    this.#size = 0;
    this.#head = undefined;
    return line;
  }
}

/**
 * The lines of a byte stream (LineSplitter), each yielded as soon as its end arrives (so `tail -f |
 * identica post --lines` posts as it goes); the stream is only read while the caller asks for the next
 * line. Pass a splitter to be able to take what was read but not yet yielded (`unread`).
 */
export async function* splitLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes = MAX_LINE_BYTES,
  splitter = new LineSplitter(maxBytes),
): AsyncGenerator<Line> {
  for await (const chunk of input) {
    splitter.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
    for (let line = splitter.next(); line !== undefined; line = splitter.next()) yield line;
  }
  const last = splitter.end();
  if (last) yield last;
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
  const input = decodeKeeping(line.bytes, line.lineNo !== 1);
  if (input.bytes) throw new RefusedTextError("the line is not valid UTF-8; nothing was sent", input);
  return input.text;
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

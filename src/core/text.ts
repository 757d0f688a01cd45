import { ExitCode, IdenticaError, UsageError } from "../errors.js";
import type { InStream } from "../io.js";

/** stdin beyond this is refused without being read into memory (docs/cli.md "Status text"). */
export const MAX_STDIN_BYTES = 1024 * 1024;

export interface TextSource {
  args: string[];
  stdin: InStream;
  /**
   * Told once stdin has given its first bytes, with a way to get every byte read so far: until the text
   * is complete, an interrupted run keeps those (post.ts sets them pending, core/pending.ts).
   */
  reading?: (soFar: () => Buffer) => void;
}

/**
 * The text as identica read it, for the outbox: `bytes` holds the exact input when it was not valid
 * UTF-8 (`text` then has U+FFFD for each bad sequence), and is null when the bytes are not known (argv,
 * which Node had already decoded).
 */
export interface ReadInput {
  text: string;
  bytes?: Buffer | null;
}

/**
 * A text that identica itself refuses (65: NUL, a control character, not UTF-8): nothing was sent, but
 * the text is carried along so that it can be kept in the outbox, marked refused (core/keep.ts), since a
 * piped text exists nowhere else.
 */
export class RefusedTextError extends IdenticaError {
  readonly input: ReadInput;

  constructor(message: string, input: ReadInput, options?: { hint?: string }) {
    super(ExitCode.Data, message, options);
    this.name = "RefusedTextError";
    this.input = input;
  }
}

/**
 * The status text: the words of the arguments joined by single spaces, or all of stdin when the only
 * argument is `-` or there is none and stdin is not a terminal. Throws 64 when there is no text and
 * 65 when it is not clean UTF-8.
 */
export async function readStatusText(src: TextSource): Promise<string> {
  const fromStdin = (src.args.length === 1 && src.args[0] === "-") || src.args.length === 0;
  if (fromStdin && src.args.length === 0 && src.stdin.isTTY) {
    throw new UsageError("no status text given", {
      hint: 'usage: identica post "text", or pipe the text in',
    });
  }
  const text = fromStdin ? await readStdin(src.stdin, src.reading) : fromArgs(src.args);
  checkText(text);
  return text;
}

function fromArgs(args: string[]): string {
  const text = args.join(" ");
  // Node turns argv bytes that are not UTF-8 into U+FFFD; refusing it keeps mojibake off the timeline.
  if (text.includes("\uFFFD")) {
    throw new RefusedTextError(
      "the text is not valid UTF-8 (it contains U+FFFD)",
      { text, bytes: null },
      { hint: "check your terminal's locale, or pipe the text in" },
    );
  }
  return text;
}

async function readStdin(stdin: InStream, reading: TextSource["reading"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let told = false;
  for await (const chunk of stdin) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_STDIN_BYTES) {
      stdin.destroy();
      throw new UsageError(`the text on stdin is larger than 1 MiB; nothing was sent`);
    }
    chunks.push(buf);
    if (!told && buf.length > 0) {
      told = true;
      reading?.(() => Buffer.concat(chunks));
    }
  }
  const input = stdinText(Buffer.concat(chunks));
  if (input.bytes)
    throw new RefusedTextError("the text on stdin is not valid UTF-8; nothing was sent", input);
  return input.text;
}

/**
 * Bytes from stdin as `post` takes them: UTF-8 without one leading BOM and without one trailing
 * newline. Bytes that are not UTF-8 are never posted, but they are not dropped either: the text has
 * U+FFFD for each bad sequence and `bytes` keeps the input exactly.
 */
export function stdinText(bytes: Buffer): ReadInput {
  const input = decodeKeeping(bytes);
  return { ...input, text: dropOneNewline(input.text) };
}

/**
 * Decodes UTF-8 strictly (refusing U+FFFD in place of bytes keeps mojibake off the timeline); when that
 * fails, the text with U+FFFD and the bytes themselves, so that the user can still see and fix them.
 */
export function decodeKeeping(bytes: Buffer, ignoreBOM = false): ReadInput {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM }).decode(bytes) };
  } catch {
    return { text: new TextDecoder("utf-8", { ignoreBOM }).decode(bytes), bytes };
  }
}

function dropOneNewline(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

// Invisible characters that `trim()` keeps but that leave a status blank (docs/threats.md E2).
const INVISIBLE = /[\s\u200B-\u200D\u2060\uFEFF]/gu;

/** Refuses NUL and control characters (65) and blank text (64). */
export function checkText(text: string): void {
  const nul = text.indexOf("\0");
  if (nul >= 0) throw new RefusedTextError("the text contains a NUL byte; nothing was sent", { text });
  // Other C0 controls (escape sequences and the like) are never meant for a status (docs/threats.md E6).
  const ctl = /[\u0001-\u0008\u000B\u000C\u000E-\u001F\u007F]/.exec(text);
  if (ctl) {
    const code = ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new RefusedTextError(`the text contains the control character U+${code}; nothing was sent`, {
      text,
    });
  }
  if (text.replace(INVISIBLE, "") === "") throw new UsageError("the status text is empty; nothing was sent");
}

/** Length in Unicode code points (what a terminal quote is cut by; services count their own way). */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

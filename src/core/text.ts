import type { InStream } from "../context.js";
import { ExitCode, IdenticaError, UsageError } from "../errors.js";

/** stdin beyond this is refused without being read into memory (CLI.md "Status text"). */
export const MAX_STDIN_BYTES = 1024 * 1024;

export interface TextSource {
  args: string[];
  stdin: InStream;
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
  const text = fromStdin ? dropOneNewline(await readStdin(src.stdin)) : fromArgs(src.args);
  checkText(text);
  return text;
}

function fromArgs(args: string[]): string {
  const text = args.join(" ");
  // Node turns argv bytes that are not UTF-8 into U+FFFD; refusing it keeps mojibake off the timeline.
  if (text.includes("\uFFFD")) {
    throw new IdenticaError(ExitCode.Data, "the text is not valid UTF-8 (it contains U+FFFD)", {
      hint: "check your terminal's locale, or pipe the text in",
    });
  }
  return text;
}

async function readStdin(stdin: InStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_STDIN_BYTES) {
      stdin.destroy();
      throw new UsageError(`the text on stdin is larger than 1 MiB; nothing was sent`);
    }
    chunks.push(buf);
  }
  try {
    // fatal: refuse invalid UTF-8 instead of posting U+FFFD; the decoder also drops one leading BOM.
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new IdenticaError(ExitCode.Data, "the text on stdin is not valid UTF-8; nothing was sent");
  }
}

function dropOneNewline(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

// Invisible characters that `trim()` keeps but that leave a status blank (SECURITY.md E2).
const INVISIBLE = /[\s\u200B-\u200D\u2060\uFEFF]/gu;

/** Refuses NUL and control characters (65) and blank text (64). */
export function checkText(text: string): void {
  const nul = text.indexOf("\0");
  if (nul >= 0) throw new IdenticaError(ExitCode.Data, "the text contains a NUL byte; nothing was sent");
  // Other C0 controls (escape sequences and the like) are never meant for a status (SECURITY.md E6).
  const ctl = /[\u0001-\u0008\u000B\u000C\u000E-\u001F\u007F]/.exec(text);
  if (ctl) {
    const code = ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new IdenticaError(
      ExitCode.Data,
      `the text contains the control character U+${code}; nothing was sent`,
    );
  }
  if (text.replace(INVISIBLE, "") === "") throw new UsageError("the status text is empty; nothing was sent");
}

/** Length as the servers count it (`mb_strlen`): Unicode code points. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * The text the server stores and measures: GNU social runs PHP `trim()` on the status before its
 * length check (apistatusesupdate.php), which strips space, tab, LF, CR, NUL and vertical tab from
 * both ends, and nothing else (no NBSP, no Unicode spaces).
 */
export function serverTrimmed(text: string): string {
  return text.replace(/^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g, "");
}

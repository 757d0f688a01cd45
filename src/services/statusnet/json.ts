import { oneLine } from "../../sanitize.js";
import { ReplyFormatError } from "./xml.js";

/**
 * `JSON.parse` that keeps integers beyond 2^53 exact: such literals are turned into strings before
 * parsing (the servers write notice ids as bare numbers). A linear scan that skips string contents.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(quoteBigIntegers(text));
  } catch (err) {
    // V8's message quotes a snippet of the reply: it goes through the sanitiser.
    throw new ReplyFormatError(`the reply is not valid JSON (${oneLine((err as Error).message, 120)})`);
  }
}

export function quoteBigIntegers(text: string): string {
  let out = "";
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string literal, honouring backslash escapes.
      i++;
      while (i < n && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      if (c === 0x2d) i++;
      while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      const isInteger = !/[.eE]/.test(text[i] ?? "");
      const digits = i - start - (c === 0x2d ? 1 : 0);
      if (isInteger && digits > 15) {
        out += `${text.slice(last, start)}"${text.slice(start, i)}"`;
        last = i;
      }
      while (i < n && /[0-9.eE+-]/.test(text[i] as string)) i++;
      continue;
    }
    i++;
  }
  return out + text.slice(last);
}

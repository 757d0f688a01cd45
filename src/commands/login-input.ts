import type { Context } from "../context.js";
import { UsageError } from "../errors.js";

/** The most `login` reads from stdin for one secret: a password, a token or a code is far shorter. */
const MAX_STDIN_SECRET = 64 * 1024;

/**
 * The first line of stdin, for `--password-stdin`, `--token-stdin` and a piped authorization code:
 * nothing else on stdin is read past 64 KiB, and an empty first line is 64. Reading stops at the end
 * of that line: a program (or a person at a pipe) that types the code and waits for identica to go
 * on must not have to close stdin first — the login would wait for an EOF that never comes.
 */
export async function readFirstLine(ctx: Context, option: string, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.stdin) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_STDIN_SECRET) throw new UsageError(`${option}: more than 64 KiB on stdin`);
    chunks.push(buf);
    if (buf.includes(0x0a)) break;
  }
  const first = Buffer.concat(chunks).toString("utf8").split(/\r?\n/, 1)[0] ?? "";
  if (first.trim() === "") throw new UsageError(`${option}: no ${what} on stdin`);
  return first;
}

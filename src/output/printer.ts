import type { Context } from "../context.js";
import { sanitizeForTerminal } from "../sanitize.js";

/**
 * The one way a diagnostic reaches stderr (error messages, `-v` notes and the HTTP trace): registered
 * credentials masked (see Redactor), then the whole line through the terminal sanitiser, so whatever
 * it quotes (a server's error text, a parser's message about the reply, a header) cannot carry an
 * escape sequence or a bidi control, and a newline inside it cannot turn one message into two lines.
 */
export function writeDiagnostic(ctx: Context, line: string): void {
  ctx.stderr.write(`${sanitizeForTerminal(ctx.redactor.redact(line))}\n`);
}

/**
 * The one place output is written. Results go to stdout as the formatters made them, never rewritten
 * (the formatters sanitise what they print for a person; JSON and ids are data); everything else goes
 * to stderr through `writeDiagnostic`. `-q` silences all but errors, `-v` adds notes and the HTTP trace.
 */
export class Printer {
  readonly #ctx: Context;
  readonly quiet: boolean;
  readonly verbose: boolean;

  constructor(ctx: Context, opts: { quiet: boolean; verbose: boolean }) {
    this.#ctx = ctx;
    this.quiet = opts.quiet;
    this.verbose = opts.verbose;
  }

  /** Whether stdout is a terminal: the server's raw reply (`-o xml`) is then shown sanitised. */
  get tty(): boolean {
    return this.#ctx.stdout.isTTY === true;
  }

  /** A command's result, on stdout. */
  result(text: string): void {
    if (this.quiet || text === "") return;
    this.#ctx.stdout.write(text);
  }

  /** A `-v` diagnostic line on stderr. */
  note = (line: string): void => {
    if (this.verbose) writeDiagnostic(this.#ctx, line);
  };
}

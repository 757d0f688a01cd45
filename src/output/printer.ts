import type { Context } from "../context.js";

/**
 * The one place output is written. Results go to stdout, everything else to stderr; every line passes
 * through the redactor; `-q` silences all but errors, `-v` adds notes and the HTTP trace.
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

  /** A command's result, on stdout. */
  result(text: string): void {
    if (this.quiet || text === "") return;
    this.#ctx.stdout.write(this.#ctx.redactor.redact(text));
  }

  /** A `-v` diagnostic line on stderr. */
  note = (line: string): void => {
    if (this.verbose) this.#ctx.stderr.write(`${this.#ctx.redactor.redact(line)}\n`);
  };
}

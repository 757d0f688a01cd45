import type { Context } from "../context.js";
import { ExitCode, IdenticaError } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
import type { CredentialStore, CredentialTarget, PasswordLookup } from "./store.js";

/** Whether a prompt may be shown: stdin and stderr are terminals and `--no-input` was not given. */
export function canPrompt(ctx: Context, noInput: boolean): boolean {
  return !noInput && ctx.stdin.isTTY === true && ctx.stderr.isTTY === true;
}

/**
 * Reads one line from the terminal in raw mode, echoing nothing (or the characters, with `echo`).
 * Ctrl-C cancels with 130, Ctrl-D on an empty line cancels with `nothing` (by default 78, "no password
 * entered": what is asked for is not always a password); backspace and Ctrl-U edit. The `--timeout`
 * deadline stands still meanwhile: a person typing is not a server that does not answer.
 */
export function readLineFromTerminal(
  ctx: Context,
  prompt: string,
  echo = false,
  nothing: () => IdenticaError = () => new IdenticaError(ExitCode.Config, "no password entered"),
): Promise<string> {
  return ctx.run.pauses.whilePaused(() => readLine(ctx, prompt, echo, nothing));
}

function readLine(
  ctx: Context,
  prompt: string,
  echo: boolean,
  nothing: () => IdenticaError,
): Promise<string> {
  ctx.run.spinner.stop();
  const stdin = ctx.stdin as Context["stdin"] & { setRawMode?: (raw: boolean) => void };
  // Echo goes off before the prompt appears, so nothing typed right after it shows on the screen.
  stdin.setRawMode?.(true);
  ctx.stderr.write(prompt);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (fn: () => void) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      ctx.stderr.write("\n");
      fn();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done(() => resolve(value));
        if (ch === "\u0003") {
          return done(() =>
            reject(new IdenticaError(ExitCode.Interrupted, "interrupted; nothing was posted")),
          );
        }
        if (ch === "\u0004") {
          if (value === "") return done(() => reject(nothing()));
          continue;
        }
        if (ch === "\u007f" || ch === "\b") {
          if (value !== "" && echo) ctx.stderr.write("\b \b");
          value = [...value].slice(0, -1).join("");
          continue;
        }
        if (ch === "\u0015") {
          value = "";
          continue;
        }
        if (ch < " ") continue;
        value += ch;
        if (echo) ctx.stderr.write(ch);
      }
    };
    stdin.on("data", onData);
  });
}

/** The last source: ask on the terminal, without echo (docs/cli.md "Credentials" 5). */
export class PromptStore implements CredentialStore {
  readonly name = "terminal prompt";
  readonly interactive = true;
  readonly setupHint = "";
  readonly #ctx: Context;
  readonly #noInput: boolean;

  constructor(ctx: Context, noInput: boolean) {
    this.#ctx = ctx;
    this.#noInput = noInput;
  }

  async get(target: CredentialTarget): Promise<PasswordLookup> {
    if (this.#noInput) return { kind: "unavailable", reason: "--no-input" };
    if (!canPrompt(this.#ctx, false)) return { kind: "unavailable", reason: "not a terminal" };
    const host = sanitizeForTerminal(target.key);
    const pw = await readLineFromTerminal(
      this.#ctx,
      `Password for ${sanitizeForTerminal(target.user)} at ${host}: `,
    );
    return pw === "" ? { kind: "missing" } : { kind: "found", password: pw };
  }
}

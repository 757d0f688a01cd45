import type { Readable, Writable } from "node:stream";

export type InStream = Readable & { isTTY?: boolean };
export type OutStream = Writable & { isTTY?: boolean; columns?: number };
export type Env = Record<string, string | undefined>;

/**
 * Everything the CLI takes from its surroundings, passed in rather than read from globals, so tests
 * swap in their own streams, environment and clock (httpie's `Environment`).
 */
export interface Context {
  env: Env;
  stdin: InStream;
  stdout: OutStream;
  stderr: OutStream;
  now: () => Date;
  /** Secrets registered here are masked in everything written through `out` and `err`. */
  redactor: Redactor;
}

/**
 * The last line of defence against leaking a password: every byte the CLI prints passes through
 * `redact`, which masks each registered secret (the password and its Basic base64 form).
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  add(secret: string): void {
    if (secret.length >= 1) this.#secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join("<redacted>");
    return out;
  }
}

export function processContext(): Context {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    redactor: new Redactor(),
  };
}

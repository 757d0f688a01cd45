import type { Env, InStream, OutStream } from "./io.js";
import { RunSession } from "./run-session.js";

export type { Env, InStream, OutStream };

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
  /** Credentials registered here are masked in diagnostics (never in results: see Redactor). */
  redactor: Redactor;
  /** What this run has in flight and must save if it is cut short (the signal handler asks it). */
  run: RunSession;
}

/** A credential as the HTTP layer used it; `token68` is the Basic value actually sent, when there was one. */
export interface RegisteredCredential {
  user: string;
  password: string;
  token68?: string | undefined;
}

/**
 * Defence in depth for diagnostics (the -v trace, notes and error messages on stderr). The secret never
 * reaches any output by construction: the trace prints every Authorization value as `Basic <redacted>`
 * (http/trace.ts) and no message quotes a password. This catches what a server or a library might echo.
 *
 * Results on stdout never pass through here: they are data, and a password such as `2026` is also a
 * year, part of an id and a word of a status text. Even in diagnostics only the forms that nothing but
 * the credential takes are masked, so that a date or a status text quoted in an error stays intact:
 * - the Basic token (base64 of `user:password`, padded or not) and `user:password`, each only as a whole
 *   token: a base64 form touching a base64 or base64url character (`A-Z a-z 0-9 + / = _ -`) is part of
 *   a longer base64 string, and `user:password` touching a letter, digit, `_` or `-` is part of a
 *   longer word or a date, so those are left alone (`mcarol:2026`, `carol:2026-11-29`);
 * - the bare password only as the whole value of a known secret field (`password=…`, `password: …`,
 *   `"password":"…"`, likewise `passwd`, `token`, `access_token`, `refresh_token`, `client_secret`).
 * A bare password anywhere else is not masked: it cannot be told from data, and no code path puts it
 * there (credential sources name themselves, never the value; a bad password is refused without
 * quoting it).
 */
export class Redactor {
  /** Each credential form with what may not touch it on either side for it to be a whole token. */
  readonly #tokens = new Map<string, string>();
  readonly #passwords = new Set<string>();

  addCredential(c: RegisteredCredential): void {
    if (c.password === "") return;
    this.#passwords.add(c.password);
    const pair = `${c.user}:${c.password}`;
    this.#tokens.set(pair, WORD_CHAR);
    for (const b64 of [Buffer.from(pair, "utf8").toString("base64"), c.token68]) {
      if (!b64) continue;
      this.#tokens.set(b64, BASE64_CHAR);
      const unpadded = b64.replace(/=+$/, "");
      if (unpadded !== "") this.#tokens.set(unpadded, BASE64_CHAR);
    }
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so that the padded token is masked whole before its unpadded prefix is tried.
    for (const [t, near] of [...this.#tokens].sort((a, b) => b[0].length - a[0].length)) {
      out = out.replace(new RegExp(`(?<!${near})${escapeRegExp(t)}(?!${near})`, "gu"), MASK);
    }
    for (const p of this.#passwords) {
      // The field name in any case; the value only as it is (the `i` flag would match it in any case too).
      const field = new RegExp(
        `(${SECRET_FIELD}["']?\\s*[:=]\\s*["']?)(${escapeRegExp(p)})(?!${WORD_CHAR})`,
        "giu",
      );
      out = out.replace(field, (m, name: string, value: string) => (value === p ? `${name}${MASK}` : m));
    }
    return out;
  }
}

const MASK = "<redacted>";
const BASE64_CHAR = "[A-Za-z0-9+/=_-]";
const WORD_CHAR = "[\\p{L}\\p{N}\\p{M}_-]";
const SECRET_FIELD = "\\b(?:password|passwd|token|access_token|refresh_token|client_secret)";

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function processContext(): Context {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    redactor: new Redactor(),
    run: new RunSession(),
  };
}

import { homedir } from "node:os";
import { join } from "node:path";
import { NotRegularFile, readRegularFile } from "../config/regular-file.js";
import type { Env } from "../io.js";
import type { CredentialStore, CredentialTarget, PasswordLookup } from "./store.js";

export interface NetrcEntry {
  /** The host, or undefined for `default`. */
  machine: string | undefined;
  login?: string;
  password?: string;
}

/**
 * The `.netrc` format as curl reads it (lib/netrc.c): whitespace-separated tokens, double-quoted
 * strings with backslash escapes, `machine`/`default` starting an entry, `login`/`password`/`account`
 * inside it, and `macdef` bodies skipped up to the next blank line.
 */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: NetrcEntry | undefined;
  let i = 0;
  const n = text.length;
  const next = (): string | undefined => {
    while (i < n && /\s/.test(text[i] as string)) i++;
    if (i >= n) return undefined;
    if (text[i] === '"') {
      i++;
      let out = "";
      while (i < n && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < n) i++;
        out += text[i];
        i++;
      }
      i++;
      return out;
    }
    const start = i;
    while (i < n && !/\s/.test(text[i] as string)) i++;
    return text.slice(start, i);
  };
  for (let tok = next(); tok !== undefined; tok = next()) {
    switch (tok) {
      case "machine":
        current = { machine: (next() ?? "").toLowerCase() };
        entries.push(current);
        break;
      case "default":
        current = { machine: undefined };
        entries.push(current);
        break;
      case "login":
      case "password": {
        const value = next();
        if (current && value !== undefined) current[tok] = value;
        break;
      }
      case "account":
        next();
        break;
      case "macdef": {
        const end = text.indexOf("\n\n", i);
        i = end < 0 ? n : end + 2;
        break;
      }
      default:
        break;
    }
  }
  return entries;
}

/**
 * `~/.netrc` (or `$NETRC`): `machine <host> login <nickname> password <pw>`. As in curl, the machine
 * is the host name alone and `default` applies to any host; an entry's login must be the user.
 */
export class NetrcStore implements CredentialStore {
  readonly name: string;
  readonly setupHint: string;
  readonly #path: string;
  /** Whether the `default` entry applies: it names no host, so not for another origin's outbox entry. */
  readonly #useDefault: boolean;

  constructor(env: Env, opts: { useDefault?: boolean } = {}) {
    this.#useDefault = opts.useDefault ?? true;
    this.#path = env.NETRC || join(env.HOME || homedir(), ".netrc");
    this.name = `netrc (${this.#path})`;
    this.setupHint = `add "machine HOST login USER password PASSWORD" to ${this.#path} (mode 0600)`;
  }

  async get(target: CredentialTarget): Promise<PasswordLookup> {
    let text: string;
    try {
      // Never waited on: a FIFO or a device at that path (NETRC=/dev/tty, say) is skipped as unavailable.
      text = await readRegularFile(this.#path);
    } catch (err) {
      if (err instanceof NotRegularFile)
        return { kind: "unavailable", reason: `${this.#path} is ${err.kind}, not a regular file` };
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return { kind: "missing" };
      return { kind: "unavailable", reason: `cannot read ${this.#path} (${code})` };
    }
    // IPv6 literals are written without brackets in .netrc, as curl expects them.
    const host = new URL(target.origin).hostname.toLowerCase().replace(/^\[|\]$/g, "");
    const entries = parseNetrc(text);
    const matches = (e: NetrcEntry) => e.login === undefined || e.login === target.user;
    const hit =
      entries.find((e) => e.machine === host && matches(e)) ??
      (entries.some((e) => e.machine === host) || !this.#useDefault
        ? undefined
        : entries.find((e) => e.machine === undefined && matches(e)));
    if (hit?.password === undefined || hit.password === "") return { kind: "missing" };
    return { kind: "found", password: hit.password };
  }
}

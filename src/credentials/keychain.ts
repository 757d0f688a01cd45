import { execFile } from "node:child_process";
import type { Env } from "../context.js";
import { ConfigError } from "../errors.js";
import type { CredentialStore, CredentialTarget, Lookup } from "./store.js";

/** The part of keytar identica uses; tests may pass a fake. */
export interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<{ account: string; password: string }[]>;
}

/** `identica:<host[:port]>` (CLI.md "Credentials"): the same key that parsed the connection's URL. */
export function serviceName(key: string): string {
  return `identica:${key}`;
}

export class KeychainUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeychainUnavailable";
  }
}

export interface KeychainOptions {
  env: Env;
  /** Each keychain call gets this long before the keychain counts as unavailable (D6). */
  timeoutMs?: number;
  /** How keytar is loaded; tests inject a fake or a failing loader. */
  load?: () => Promise<KeytarApi>;
  /** Whether the default collection is locked: true, false, or undefined when it cannot be told. */
  probeLocked?: (env: Env) => Promise<boolean | undefined>;
}

export const KEYCHAIN_HINT =
  "for cron or a headless machine, use --password-file FILE (mode 0600), IDENTICA_PASSWORD or ~/.netrc";

/**
 * The OS keychain through keytar (libsecret on Linux, Keychain on macOS, Credential Vault on Windows).
 * keytar is a native module and is loaded only here, on first use. Every call is time-boxed, and
 * "the keychain cannot be used now" (no D-Bus session, locked, module missing) is kept apart from
 * "it has no entry", because the first needs a different fix (SECURITY.md D1–D3, D6).
 */
export class KeychainStore implements CredentialStore {
  readonly name = "OS keychain";
  readonly setupHint = "run: identica login";
  readonly #env: Env;
  readonly #timeoutMs: number;
  readonly #load: () => Promise<KeytarApi>;
  readonly #probeLocked: (env: Env) => Promise<boolean | undefined>;
  #keytar: Promise<KeytarApi> | undefined;

  constructor(opts: KeychainOptions) {
    this.#env = opts.env;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#load = opts.load ?? loadKeytar;
    this.#probeLocked = opts.probeLocked ?? probeLockedWithDbusSend;
  }

  async get(target: CredentialTarget): Promise<Lookup> {
    try {
      const pw = await this.#call("read", (k) => k.getPassword(serviceName(target.key), target.user));
      if (pw !== null && pw !== "") return { kind: "found", password: pw };
      // libsecret answers a locked collection with "nothing found"; ask D-Bus which it was (D2).
      if (await this.#probeLocked(this.#env)) return { kind: "unavailable", reason: "the keyring is locked" };
      return { kind: "missing" };
    } catch (err) {
      if (err instanceof KeychainUnavailable) return { kind: "unavailable", reason: err.message };
      throw err;
    }
  }

  /** Stores a password; throws 78 when the keychain cannot be used. */
  async set(target: CredentialTarget, password: string): Promise<void> {
    await this.#orConfigError(() =>
      this.#call("write", (k) => k.setPassword(serviceName(target.key), target.user, password)),
    );
    // Read it back: some backends report success for a write that did not happen (SECURITY.md D8).
    const back = await this.#orConfigError(() =>
      this.#call("read", (k) => k.getPassword(serviceName(target.key), target.user)),
    );
    if (back !== password)
      throw new ConfigError("the keychain did not keep the password", { hint: KEYCHAIN_HINT });
  }

  async delete(target: CredentialTarget): Promise<boolean> {
    return this.#orConfigError(() =>
      this.#call("write", (k) => k.deletePassword(serviceName(target.key), target.user)),
    );
  }

  /** The accounts stored for one server (never their passwords). */
  async accounts(key: string): Promise<string[]> {
    // findCredentials on a locked gnome-keyring crashes keytar (SIGSEGV, SECURITY.md D2): look first.
    if (await this.#probeLocked(this.#env))
      throw new ConfigError("the keyring is locked", { hint: KEYCHAIN_HINT });
    const found = await this.#orConfigError(() =>
      this.#call("read", (k) => k.findCredentials(serviceName(key))),
    );
    return found.map((c) => c.account).sort();
  }

  /** Throws KeychainUnavailable unless the keychain answers (used by `login` before asking for a password). */
  async check(target: CredentialTarget): Promise<void> {
    const r = await this.get(target);
    if (r.kind === "unavailable")
      throw new ConfigError(`the OS keychain is unavailable: ${r.reason}`, { hint: KEYCHAIN_HINT });
  }

  async #orConfigError<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof KeychainUnavailable) {
        throw new ConfigError(`the OS keychain is unavailable: ${err.message}`, {
          hint: KEYCHAIN_HINT,
          cause: err,
        });
      }
      throw err;
    }
  }

  async #call<T>(what: string, fn: (k: KeytarApi) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new KeychainUnavailable(`no answer within ${this.#timeoutMs / 1000} s`)),
        this.#timeoutMs,
      );
      timer.unref();
    });
    try {
      this.#keytar ??= this.#load();
      const keytar = await Promise.race([this.#keytar, timeout]);
      return await Promise.race([fn(keytar), timeout]);
    } catch (err) {
      if (err instanceof KeychainUnavailable) throw err;
      throw new KeychainUnavailable(describeKeytarError(err, what, this.#env));
    } finally {
      clearTimeout(timer);
    }
  }
}

async function loadKeytar(): Promise<KeytarApi> {
  try {
    const mod = (await import("keytar")) as unknown as { default?: KeytarApi } & KeytarApi;
    return mod.default ?? mod;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeychainUnavailable(
      code === "ERR_MODULE_NOT_FOUND"
        ? "the keytar module is not installed (on Linux it needs libsecret: apt-get install libsecret-1-0)"
        : `the keytar module could not be loaded (${(err as Error).message.split("\n")[0]})`,
    );
  }
}

/** keytar's errors, in words that say what to do. */
function describeKeytarError(err: unknown, what: string, env: Env): string {
  const msg = (err as Error)?.message ?? String(err);
  if (/autolaunch D-Bus|DBUS_SESSION_BUS_ADDRESS|Could not connect|Failed to connect to socket/i.test(msg)) {
    return env.DBUS_SESSION_BUS_ADDRESS
      ? `cannot reach the D-Bus session bus (${msg})`
      : "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set, as under cron or ssh)";
  }
  if (/org\.freedesktop\.secrets|ServiceUnknown|was not provided by any \.service/i.test(msg)) {
    return "no Secret Service is running (install and start gnome-keyring or KeePassXC)";
  }
  if (/locked/i.test(msg)) return "the keyring is locked";
  return `could not ${what} the keychain (${msg})`;
}

/**
 * Asks the Secret Service whether the default collection is locked, with `dbus-send` (D-Bus's own
 * command-line client) so no D-Bus library is needed; undefined when it cannot tell.
 */
function probeLockedWithDbusSend(env: Env): Promise<boolean | undefined> {
  if (process.platform !== "linux" || !env.DBUS_SESSION_BUS_ADDRESS) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile(
      "dbus-send",
      [
        "--session",
        "--print-reply",
        "--reply-timeout=2000",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets/aliases/default",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
      ],
      { env: env as NodeJS.ProcessEnv, timeout: 3000 },
      (err, stdout) => {
        if (err) return resolve(undefined);
        resolve(/boolean true/.test(stdout) ? true : /boolean false/.test(stdout) ? false : undefined);
      },
    );
  });
}

import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import type { Env } from "../io.js";
import type { KeytarApi } from "./keytar-api.js";
import { KeytarLoadError, keytarInChild } from "./keytar-child.js";
import { type CredentialStore, type CredentialTarget, found, type Lookup, type SecretKind } from "./store.js";

export type { KeytarApi };

/** `identica:<host[:port]>` (docs/cli.md "Credentials"): the same key that parsed the connection's URL. */
export function serviceName(key: string): string {
  return `identica:${key}`;
}

/** The keychain account under which an AT Protocol session is kept, beside `<handle>` (docs/cli.md). */
export const SESSION_SUFFIX = "#session";

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
  /** How keytar is loaded (by default: in a helper process); tests inject a fake or a failing loader. */
  load?: () => Promise<KeytarApi>;
  /**
   * Whether the default collection is locked: true, false, or undefined when it cannot be told. Given
   * the same time limit as a keytar call; `signal` aborts when it is up.
   */
  probeLocked?: (env: Env, signal: AbortSignal) => Promise<boolean | undefined>;
}

/**
 * The keychains (one per environment, i.e. per D-Bus session) that did not answer in time during this
 * run, with the reason: they are not asked again, so one wedged session bus costs one timeout, not one
 * per call or per outbox entry (docs/threats.md I8).
 */
const unanswered = new WeakMap<Env, string>();

export const KEYCHAIN_HINT =
  "for cron or a headless machine, use --password-file FILE (mode 0600), IDENTICA_PASSWORD or ~/.netrc";

/**
 * The OS keychain through keytar (libsecret on Linux, Keychain on macOS, Credential Vault on Windows).
 * keytar is a native module, run in a helper process started on first use (keytar-child.ts): a call
 * blocked in keytar cannot be cancelled, so it must block a process that can be killed, not this one
 * (docs/threats.md I8). Every call, and the lock probe, is time-boxed, and "the keychain cannot be used
 * now" (no D-Bus session, locked, module missing, no answer) is kept apart from "it has no entry",
 * because the first needs a different fix (docs/threats.md D1–D3, D6).
 */
export class KeychainStore implements CredentialStore {
  readonly name = "OS keychain";
  readonly setupHint = "run: identica login";
  /** The same service and account scheme for either: the secret is a password or a token. */
  readonly holds: readonly SecretKind[] = ["password", "token"];
  readonly #env: Env;
  readonly #timeoutMs: number;
  readonly #load: () => Promise<KeytarApi>;
  readonly #probeLocked: (env: Env, signal: AbortSignal) => Promise<boolean | undefined>;
  #keytar: Promise<KeytarApi> | undefined;

  constructor(opts: KeychainOptions) {
    this.#env = opts.env;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#load =
      opts.load ??
      (async () => {
        // No session bus to find (cron, ssh): libsecret would fail once a helper process had started
        // and loaded keytar (~40 ms of every such run, more on a slow disk), with nothing to gain.
        if (noSessionBus(opts.env))
          throw new KeychainUnavailable(
            "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set, as under cron or ssh)",
          );
        return keytarInChild(opts.env);
      });
    this.#probeLocked = opts.probeLocked ?? probeLockedWithDbusSend;
  }

  async get(target: CredentialTarget): Promise<Lookup> {
    try {
      const pw = await this.#call("read", (k) => k.getPassword(serviceName(target.key), target.user));
      if (pw !== null && pw !== "") return found(target, pw);
      // libsecret answers a locked collection with "nothing found"; ask D-Bus which it was (D2).
      const locked = await this.#isLocked();
      if (locked) return { kind: "unavailable", reason: "the keyring is locked" };
      // Stored under the server's spelling of the name (`login` keeps "Carol" for `--user carol`).
      const other = await this.#sameNameOtherCase(target.key, target.user);
      if (other !== undefined) {
        const secret = await this.#call("read", (k) => k.getPassword(serviceName(target.key), other));
        if (secret !== null && secret !== "") return found(target, secret);
      }
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
    // Read it back: some backends report success for a write that did not happen (docs/threats.md D8).
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

  /**
   * The accounts stored for one server (never their passwords). An AT Protocol session is kept as a
   * second entry beside the account's app password (`<handle>#session`): it is not an account.
   */
  async accounts(key: string): Promise<string[]> {
    // findCredentials on a locked gnome-keyring crashes keytar (SIGSEGV, docs/threats.md D2): look first.
    if (await this.#orConfigError(() => this.#isLocked()))
      throw new ConfigError("the keyring is locked", { hint: KEYCHAIN_HINT });
    const found = await this.#orConfigError(() =>
      this.#call("read", (k) => k.findCredentials(serviceName(key))),
    );
    return found
      .map((c) => c.account)
      .filter((a) => !a.endsWith(SESSION_SUFFIX))
      .sort();
  }

  /**
   * The name an account is stored under: `user` itself, else the one stored name that differs from it
   * only in case. Server nicknames are case-insensitive but case-preserving (Mastodon's "Gargron"), and
   * `login` stores the server's spelling: `--user gargron` must still find, and `logout` remove, it.
   */
  async storedName(key: string, user: string): Promise<string> {
    const r = await this.#orConfigError(() =>
      this.#call("read", (k) => k.getPassword(serviceName(key), user)),
    );
    if (r !== null) return user;
    if (await this.#orConfigError(() => this.#isLocked())) return user;
    return (await this.#orConfigError(() => this.#sameNameOtherCase(key, user))) ?? user;
  }

  /** The one stored account whose name is `user` but for case (never on a locked keyring: D2). */
  async #sameNameOtherCase(key: string, user: string): Promise<string | undefined> {
    const lower = user.toLowerCase();
    const all = await this.#call("read", (k) => k.findCredentials(serviceName(key)));
    const same = all.map((c) => c.account).filter((a) => a !== user && a.toLowerCase() === lower);
    return same.length === 1 ? same[0] : undefined;
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

  #isLocked(): Promise<boolean | undefined> {
    return this.#within((signal) => this.#probeLocked(this.#env, signal));
  }

  #call<T>(what: string, fn: (k: KeytarApi) => Promise<T>): Promise<T> {
    return this.#within(async (signal) => {
      try {
        this.#keytar ??= this.#load();
        const keytar = await this.#keytar;
        if (signal.aborted) keytar.abandon?.();
        else signal.addEventListener("abort", () => keytar.abandon?.(), { once: true });
        return await fn(keytar);
      } catch (err) {
        if (err instanceof KeychainUnavailable) throw err;
        throw new KeychainUnavailable(describeKeytarError(err, what, this.#env));
      }
    });
  }

  /**
   * One step (a keytar call, the lock probe) within the timeout. When the time is up the step is
   * aborted (the helper process or dbus-send is killed) and the keychain counts as unavailable for the
   * rest of the run. The timer is not unref'd: it is what ends the wait when nothing else would.
   */
  async #within<T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const gone = unanswered.get(this.#env);
    if (gone !== undefined) throw new KeychainUnavailable(gone);
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const reason = `no answer within ${this.#timeoutMs / 1000} s`;
        unanswered.set(this.#env, reason);
        reject(new KeychainUnavailable(reason));
        abort.abort();
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([step(abort.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Whether libsecret certainly has no session bus to talk to: on Linux, GLib finds it in
 * DBUS_SESSION_BUS_ADDRESS, else at `$XDG_RUNTIME_DIR/bus` (a systemd user session), else by X11
 * autolaunch (DISPLAY). With none of them, a keychain call can only fail.
 */
function noSessionBus(env: Env): boolean {
  if (process.platform !== "linux" || env.DBUS_SESSION_BUS_ADDRESS || env.DISPLAY) return false;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime) {
    try {
      if (statSync(join(runtime, "bus")).isSocket()) return false;
    } catch {
      // No socket there.
    }
  }
  return true;
}

/** keytar's errors, in words that say what to do. */
function describeKeytarError(err: unknown, what: string, env: Env): string {
  const msg = (err as Error)?.message ?? String(err);
  if (err instanceof KeytarLoadError || (err as NodeJS.ErrnoException)?.code === "ERR_DLOPEN_FAILED") {
    return (err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND"
      ? "the keytar module is not installed (on Linux it needs libsecret: apt-get install libsecret-1-0)"
      : `the keytar module could not be loaded (${msg.split("\n")[0]})`;
  }
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
 * command-line client) so no D-Bus library is needed; undefined when it cannot tell. On a session bus
 * that accepts and never answers, dbus-send waits forever (its --reply-timeout starts only once it is
 * connected): `signal` kills it when the keychain's time is up, and our exit (Ctrl-C) kills it too,
 * or it would be left behind for good.
 */
function probeLockedWithDbusSend(env: Env, signal: AbortSignal): Promise<boolean | undefined> {
  if (process.platform !== "linux" || !env.DBUS_SESSION_BUS_ADDRESS) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const atExit = () => probe.kill("SIGKILL");
    process.on("exit", atExit);
    const probe = execFile(
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
      { env: env as NodeJS.ProcessEnv, signal, killSignal: "SIGKILL" },
      (err, stdout) => {
        process.removeListener("exit", atExit);
        if (err) return resolve(undefined);
        resolve(/boolean true/.test(stdout) ? true : /boolean false/.test(stdout) ? false : undefined);
      },
    );
  });
}

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PrivateKeyring {
  /** DBUS_SESSION_BUS_ADDRESS plus a private HOME and XDG directories for the CLI under test. */
  env: Record<string, string>;
  /** `secret-tool` with this session's bus. */
  secretTool(args: string[]): Promise<{ code: number; stdout: string }>;
  close(): void;
}

/**
 * A private D-Bus session bus with an unlocked gnome-keyring on it, in a temporary HOME: the real
 * Secret Service, never the real user's keyring. With `locked`, the daemon is started without the
 * password, as after a reboot on a headless machine.
 */
export async function startKeyring(opts: { locked?: boolean } = {}): Promise<PrivateKeyring> {
  const home = mkdtempSync(join(tmpdir(), "identica-keyring-"));
  const runtime = join(home, "run");
  mkdirSync(runtime, { mode: 0o700 });
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(home, ".local/share"),
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local/state"),
  };
  const children: ChildProcess[] = [];
  const close = () => {
    for (const c of children.reverse()) c.kill("SIGTERM");
  };
  try {
    const dbus = spawn("dbus-daemon", ["--session", "--nofork", "--nopidfile", "--print-address=1"], {
      env: base,
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.push(dbus);
    const address = await firstLine(dbus);
    const env = { ...base, DBUS_SESSION_BUS_ADDRESS: address };
    if (opts.locked) {
      // Create the login keyring with a password first, then restart the daemon without unlocking it.
      await startDaemon(env, children, "keyring-test-password");
      children.pop()?.kill("SIGTERM");
      await waitFor(async () => !(await nameHasOwner(env)));
      await startDaemon(env, children, undefined);
    } else {
      await startDaemon(env, children, "keyring-test-password");
    }
    return {
      env,
      secretTool: async (args) => {
        try {
          const { stdout } = await run("secret-tool", args, { env, timeout: 10_000 });
          return { code: 0, stdout };
        } catch (err) {
          return {
            code: (err as { code: number }).code ?? 1,
            stdout: (err as { stdout?: string }).stdout ?? "",
          };
        }
      },
      close,
    };
  } catch (err) {
    close();
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(
      missing
        ? "the keychain tests need dbus-daemon, gnome-keyring-daemon and secret-tool: apt-get install dbus gnome-keyring libsecret-tools"
        : `could not start a private keyring: ${(err as Error).message}`,
    );
  }
}

async function startDaemon(
  env: Record<string, string>,
  children: ChildProcess[],
  password: string | undefined,
) {
  const args = ["--foreground", "--components=secrets", ...(password === undefined ? [] : ["--unlock"])];
  const gk = spawn("gnome-keyring-daemon", args, { env, stdio: ["pipe", "ignore", "ignore"] });
  children.push(gk);
  const failed = new Promise<never>((_, reject) => gk.once("error", reject));
  gk.stdin?.end(password ?? "");
  await Promise.race([failed, waitFor(() => nameHasOwner(env))]);
  if (password !== undefined)
    await Promise.race([failed, waitFor(async () => (await locked(env)) === false)]);
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    child.once("error", reject);
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(buf.slice(0, nl).trim());
    });
    child.once("exit", (code) => reject(new Error(`dbus-daemon exited (${code})`)));
  });
}

async function dbusSend(env: Record<string, string>, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(
      "dbus-send",
      ["--session", "--print-reply", "--reply-timeout=2000", ...args],
      {
        env,
        timeout: 5000,
      },
    );
    return stdout;
  } catch {
    return undefined;
  }
}

async function nameHasOwner(env: Record<string, string>): Promise<boolean> {
  const out = await dbusSend(env, [
    "--dest=org.freedesktop.DBus",
    "/org/freedesktop/DBus",
    "org.freedesktop.DBus.NameHasOwner",
    "string:org.freedesktop.secrets",
  ]);
  return /boolean true/.test(out ?? "");
}

async function locked(env: Record<string, string>): Promise<boolean | undefined> {
  const out = await dbusSend(env, [
    "--dest=org.freedesktop.secrets",
    "/org/freedesktop/secrets/aliases/default",
    "org.freedesktop.DBus.Properties.Get",
    "string:org.freedesktop.Secret.Collection",
    "string:Locked",
  ]);
  if (out === undefined) return undefined;
  return /boolean true/.test(out);
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting for the keyring daemon");
}

import { statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.js";
import type { Env } from "../io.js";

/** XDG base directories with the fallbacks docs/cli.md names ("Files"); `IDENTICA_CONFIG` overrides the config file. */
export function configFile(env: Env): string {
  if (env.IDENTICA_CONFIG) return env.IDENTICA_CONFIG;
  if (process.platform === "win32" && env.APPDATA) return join(env.APPDATA, "identica", "config.json");
  return join(env.XDG_CONFIG_HOME || join(home(env), ".config"), "identica", "config.json");
}

export function cacheDir(env: Env): string {
  return join(env.XDG_CACHE_HOME || join(home(env), ".cache"), "identica");
}

export function stateDir(env: Env): string {
  return join(env.XDG_STATE_HOME || join(home(env), ".local", "state"), "identica");
}

function home(env: Env): string {
  return env.HOME || homedir();
}

/**
 * Throws 78 when the outbox's folder cannot be one: `XDG_STATE_HOME` (or a folder below it) is a
 * regular file, or cannot be looked at. A folder that does not exist yet is fine (it is made when
 * needed). For the commands that work on the outbox; a failed `post` instead prints the text it
 * could not keep, with its own exit code.
 */
export function checkStateDir(env: Env): void {
  const dir = stateDir(env);
  let path = join(dir, "outbox");
  for (;;) {
    try {
      if (statSync(path).isDirectory()) return;
      throw stateDirError(dir, `${path} is not a folder`);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a folder on the way is a file; the walk up finds which one.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw stateDirError(dir, (err as Error).message);
    }
    const parent = dirname(path);
    if (parent === path) return;
    path = parent;
  }
}

function stateDirError(dir: string, why: string): ConfigError {
  return new ConfigError(`cannot use the state folder ${dir}: ${why}`, {
    hint: "XDG_STATE_HOME must name a folder, or be unset",
  });
}

import { homedir } from "node:os";
import { join } from "node:path";
import type { Env } from "../context.js";

/** XDG base directories with the fallbacks CLI.md names ("Files"); `IDENTICA_CONFIG` overrides the config file. */
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

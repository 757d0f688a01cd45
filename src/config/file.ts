import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { CONFIG_KEYS, isConfigKey } from "./keys.js";

/** The config file: defaults only, never a secret. */
export interface ConfigFile {
  /** The default server, as an API root URL. */
  server?: string;
  /** Per server (keyed by API root URL): the default account. */
  servers?: Record<string, { user?: string }>;
  /** Default user when no per-server entry matches. */
  user?: string;
  output?: string;
  color?: string;
  timeout?: number;
  preemptive?: string;
}

/** Reads the config file; a missing file is an empty config, an unreadable or invalid one is exit 78. */
export function readConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(`cannot read the config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the config file ${path} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
      hint: "fix or delete it",
    });
  }
  return validate(data, path);
}

function validate(data: unknown, path: string): ConfigFile {
  const bad = (what: string) =>
    new ConfigError(`the config file ${path} is invalid: ${what}`, {
      hint: "fix it, or use identica config set",
    });
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw bad("expected a JSON object");
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (key === "servers") {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw bad('"servers" must be an object');
      const servers: Record<string, { user?: string }> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const user = (v as { user?: unknown } | null)?.user;
        if (user !== undefined && typeof user !== "string") throw bad(`"servers.${k}.user" must be a string`);
        servers[k] = user === undefined ? {} : { user };
      }
      out.servers = servers;
    } else if (isConfigKey(key)) {
      try {
        out[key] = CONFIG_KEYS[key].parse(String(value));
      } catch (err) {
        throw bad(`"${key}": ${(err as Error).message}`);
      }
    }
    // Unknown keys are kept out of the parsed config but left in the file (a newer version may use them).
  }
  return out as ConfigFile;
}

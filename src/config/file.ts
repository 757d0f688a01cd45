import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";

/** The config file: defaults only, never a secret. */
export interface ConfigFile {
  /** The default server, as the user gave it (host, host:port or API root URL). */
  server?: string;
  /** Per server (keyed by API root URL): the default account. */
  servers?: Record<string, { user?: string }>;
  /** Default user when no per-server entry matches. */
  user?: string;
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
  const bad = (what: string) => new ConfigError(`the config file ${path} is invalid: ${what}`);
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw bad("expected a JSON object");
  const obj = data as Record<string, unknown>;
  const out: ConfigFile = {};
  if (obj.server !== undefined) {
    if (typeof obj.server !== "string") throw bad('"server" must be a string');
    out.server = obj.server;
  }
  if (obj.user !== undefined) {
    if (typeof obj.user !== "string") throw bad('"user" must be a string');
    out.user = obj.user;
  }
  if (obj.servers !== undefined) {
    if (typeof obj.servers !== "object" || obj.servers === null || Array.isArray(obj.servers)) {
      throw bad('"servers" must be an object');
    }
    const servers: Record<string, { user?: string }> = {};
    for (const [k, v] of Object.entries(obj.servers as Record<string, unknown>)) {
      const user = (v as { user?: unknown } | null)?.user;
      if (user !== undefined && typeof user !== "string") throw bad(`"servers.${k}.user" must be a string`);
      servers[k] = user === undefined ? {} : { user };
    }
    out.servers = servers;
  }
  return out;
}

import { ConfigError } from "../errors.js";
import { oneLine } from "../sanitize.js";
import { CONFIG_KEYS, type ConfigKey, isConfigKey } from "./keys.js";
import { readRegularFileSync } from "./regular-file.js";

/** What the config file keeps per server (keyed by its API root URL, or `host[:port]` as given). */
export interface ServerSettings {
  /** The default account there. */
  user?: string;
  /** The API it speaks, when fixed by `login` or by hand (docs/cli.md "Two APIs"). */
  api?: "statusnet" | "mastodon";
  /**
   * The OAuth app `login` registered on a Mastodon server: needed again to revoke the token. Not a
   * user's secret (it grants nothing without a user's token); the file is 0600 all the same.
   */
  app?: { clientId: string; clientSecret: string; user?: string };
}

/** The config file: defaults only; the only secret-like thing in it is a registered app's client secret. */
export interface ConfigFile {
  /** The default server: `host[:port]` (its API detected) or an API root URL. */
  server?: string;
  /** Per server: the default account, its API, the app registered there. */
  servers?: Record<string, ServerSettings>;
  /** Default user when no per-server entry matches. */
  user?: string;
  output?: string;
  color?: string;
  timeout?: number;
  preemptive?: string;
}

/**
 * Reads the config file; a missing file is an empty config, an unreadable or invalid one is exit 78.
 * A leading UTF-8 byte order mark (Windows editors write one) is not part of the JSON.
 */
export function readConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readRegularFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(`cannot read the config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    // JSON.parse quotes the file's text: one line, and short.
    throw new ConfigError(
      `the config file ${path} is not valid JSON: ${oneLine((err as Error).message, 120)}`,
      {
        cause: err,
        hint: "fix or delete it",
      },
    );
  }
  return validate(data, path);
}

/**
 * The JSON types a key may have. A value is checked as it is, never turned into a string first:
 * `"server": null` or `42` would otherwise pass as the hosts `null` and `0.0.0.42`. `timeout` is a
 * number (a string of one, as `config set` takes it, too); `preemptive` is a string as `config set`
 * writes it, or the boolean a person writes in JSON.
 */
const TYPES: Record<ConfigKey, readonly ("string" | "number" | "boolean")[]> = {
  server: ["string"],
  user: ["string"],
  output: ["string"],
  color: ["string"],
  preemptive: ["string", "boolean"],
  timeout: ["number", "string"],
};

/** How a JSON value is named in a message: its type, and a short, sanitised quote of it. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string "${oneLine(value, 60)}"`;
  if (typeof value === "number") return `the number ${oneLine(String(value), 60)}`;
  return oneLine(String(value), 60);
}

function validate(data: unknown, path: string): ConfigFile {
  const invalid = (what: string) =>
    new ConfigError(`the config file ${path} is invalid: ${what}`, {
      hint: "fix it, or use identica config set",
    });
  const bad = (key: string, what: string) => invalid(`"${oneLine(key, 80)}" ${what}`);
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw invalid(`it must hold a JSON object, not ${describe(data)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (key === "servers") {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw bad("servers", `must be an object, not ${describe(value)}`);
      const servers: Record<string, ServerSettings> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const name = `servers.${k}`;
        if (typeof v !== "object" || v === null || Array.isArray(v))
          throw bad(name, `must be an object, not ${describe(v)}`);
        const { user, api, app } = v as { user?: unknown; api?: unknown; app?: unknown };
        const entry: ServerSettings = {};
        if (user !== undefined && typeof user !== "string")
          throw bad(`${name}.user`, `must be a string, not ${describe(user)}`);
        // Not held to the nickname pattern: `login` stores the name the server accepted, as typed.
        if (typeof user === "string") entry.user = user;
        if (api !== undefined) {
          if (api !== "statusnet" && api !== "mastodon")
            throw bad(`${name}.api`, `must be "statusnet" or "mastodon", not ${describe(api)}`);
          entry.api = api;
        }
        if (app !== undefined) {
          const a = app as { clientId?: unknown; clientSecret?: unknown; user?: unknown } | null;
          if (
            typeof a !== "object" ||
            a === null ||
            typeof a.clientId !== "string" ||
            typeof a.clientSecret !== "string" ||
            (a.user !== undefined && typeof a.user !== "string")
          )
            throw bad(`${name}.app`, "must be an object with the strings clientId and clientSecret");
          entry.app = {
            clientId: a.clientId,
            clientSecret: a.clientSecret,
            ...(typeof a.user === "string" ? { user: a.user } : {}),
          };
        }
        servers[k] = entry;
      }
      out.servers = servers;
    } else if (isConfigKey(key)) {
      const types = TYPES[key];
      const type = typeof value;
      if (!(types as readonly string[]).includes(type))
        throw bad(key, `must be ${types.map((t) => `a ${t}`).join(" or ")}, not ${describe(value)}`);
      try {
        out[key] = CONFIG_KEYS[key].parse(String(value));
      } catch (err) {
        // The key's own check (the one `config set` makes); its message may quote the value.
        throw invalid(`"${key}": ${oneLine((err as Error).message, 160)}`);
      }
    }
    // Unknown keys are kept out of the parsed config but left in the file (a newer version may use them).
  }
  return out as ConfigFile;
}

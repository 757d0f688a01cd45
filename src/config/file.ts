import { ConfigError } from "../errors.js";
import { oneLine } from "../sanitize.js";
import { CONFIG_KEYS, type ConfigKey, isConfigKey } from "./keys.js";
import { readRegularFileSync } from "./regular-file.js";

/** What the config file keeps per server (keyed by its API root URL, or `host[:port]` as given). */
export interface ServerSettings {
  /** The default account there. */
  user?: string;
  /** The API it speaks, when fixed by `login` or by hand (docs/cli.md "Two APIs"). */
  api?: "statusnet" | "mastodon" | "atproto";
  /**
   * The OAuth apps `login` registered on a Mastodon server, by the account each obtained a token for:
   * needed again to revoke that token. One per account, because every login registers anew: with a
   * single app, logging a second account in lost the app of the first, whose token `logout` then
   * could no longer revoke. Not a user's secret (an app grants nothing without a user's token); the
   * file is 0600 all the same.
   */
  apps?: Record<string, AppCredentials>;
  /** The one app of earlier versions, with the account it got a token for: read, never written. */
  app?: AppCredentials & { user?: string };
}

/** A registered app's client id and secret. */
export interface AppCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * The app kept for this account's token (`apps`, or an earlier version's `app`), if any: only it can
 * revoke that token. Account names are matched as the keychain's are, case aside.
 */
export function keptApp(settings: ServerSettings | undefined, user: string): AppCredentials | undefined {
  const same = (u: string) => u.toLowerCase() === user.toLowerCase();
  const apps = settings?.apps ?? {};
  const found = Object.hasOwn(apps, user) ? apps[user] : Object.entries(apps).find(([u]) => same(u))?.[1];
  if (found !== undefined) return found;
  const legacy = settings?.app;
  if (legacy === undefined || (legacy.user !== undefined && !same(legacy.user))) return undefined;
  return { clientId: legacy.clientId, clientSecret: legacy.clientSecret };
}

/**
 * The apps once this account's token has gone (`logout`) or been replaced (`login`, with `app` the one
 * that obtained the new token, undefined for a pasted token): an earlier version's single `app` is
 * moved in under its account; undefined when none are left.
 */
export function appsWith(
  settings: ServerSettings | undefined,
  user: string,
  app: AppCredentials | undefined,
): Record<string, AppCredentials> | undefined {
  const out: Record<string, AppCredentials> = {};
  const legacy = settings?.app;
  if (legacy?.user !== undefined)
    out[legacy.user] = { clientId: legacy.clientId, clientSecret: legacy.clientSecret };
  for (const [u, a] of Object.entries(settings?.apps ?? {})) out[u] = a;
  for (const u of Object.keys(out)) if (u.toLowerCase() === user.toLowerCase()) delete out[u];
  if (app !== undefined) out[user] = { clientId: app.clientId, clientSecret: app.clientSecret };
  return Object.keys(out).length === 0 ? undefined : out;
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
  /** The accounts `post` goes to without --to (handles, comma-separated). */
  targets?: string;
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
  targets: ["string"],
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

/** An app's client id and secret, when `value` holds them as strings. */
function appOf(value: unknown): AppCredentials | undefined {
  const a = value as { clientId?: unknown; clientSecret?: unknown } | null;
  if (typeof a !== "object" || a === null || Array.isArray(a)) return undefined;
  if (typeof a.clientId !== "string" || typeof a.clientSecret !== "string") return undefined;
  return { clientId: a.clientId, clientSecret: a.clientSecret };
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
        const { user, api, app, apps } = v as {
          user?: unknown;
          api?: unknown;
          app?: unknown;
          apps?: unknown;
        };
        const entry: ServerSettings = {};
        if (user !== undefined && typeof user !== "string")
          throw bad(`${name}.user`, `must be a string, not ${describe(user)}`);
        // Not held to the nickname pattern: `login` stores the name the server accepted, as typed.
        if (typeof user === "string") entry.user = user;
        if (api !== undefined) {
          if (api !== "statusnet" && api !== "mastodon" && api !== "atproto")
            throw bad(`${name}.api`, `must be "statusnet", "mastodon" or "atproto", not ${describe(api)}`);
          entry.api = api;
        }
        if (app !== undefined) {
          const a = appOf(app);
          const u = (app as { user?: unknown } | null)?.user;
          if (a === undefined || (u !== undefined && typeof u !== "string"))
            throw bad(`${name}.app`, "must be an object with the strings clientId and clientSecret");
          entry.app = { ...a, ...(typeof u === "string" ? { user: u } : {}) };
        }
        if (apps !== undefined) {
          if (typeof apps !== "object" || apps === null || Array.isArray(apps))
            throw bad(`${name}.apps`, `must be an object, not ${describe(apps)}`);
          // No prototype: an account named "__proto__" is a key like any other.
          const byUser: Record<string, AppCredentials> = Object.create(null);
          for (const [u, a] of Object.entries(apps as Record<string, unknown>)) {
            const creds = appOf(a);
            if (creds === undefined)
              throw bad(`${name}.apps.${u}`, "must be an object with the strings clientId and clientSecret");
            byUser[u] = creds;
          }
          entry.apps = byUser;
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

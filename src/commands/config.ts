import type { ConfigFile } from "../config/file.js";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, CONFIG_SETTINGS, isConfigKey } from "../config/keys.js";
import { configFile } from "../config/paths.js";
import { updateConfig } from "../config/write.js";
import type { Context } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";
import { API_NAMES, parseApi } from "../services/api.js";
import { type GlobalFlags, type Globals, readGlobals, serverOf } from "./globals.js";

// `api` too: it is taken by get/set/unset before these checks (apiSetting), so it must be named.
const KEY_LIST = CONFIG_SETTINGS.join(", ");

function key(k: string | undefined): keyof typeof CONFIG_KEYS {
  if (k === undefined) throw new UsageError(`which setting? (${KEY_LIST})`);
  if (/pass|secret|token/i.test(k)) {
    throw new UsageError("passwords never go in the config file", {
      hint: "identica login keeps it in the OS keychain",
    });
  }
  if (!isConfigKey(k)) throw new UsageError(`unknown setting "${k}" (settings: ${KEY_LIST})`);
  return k;
}

/** `config get|set|unset api [VALUE]`: the API of one server (`--server`, else the default server). */
async function apiSetting(
  ctx: Context,
  g: Globals,
  action: "get" | "set" | "unset",
  value: string | undefined,
  path: string,
): Promise<ExitCode> {
  const server = serverOf(g, ctx);
  const spec = server.spec;
  if (action === "get") {
    const api = g.config.servers?.[spec]?.api ?? g.config.servers?.[server.root]?.api;
    if (g.output === "json") g.printer.result(`${JSON.stringify(api ?? null)}\n`);
    else if (api !== undefined) g.printer.result(`${api}\n`);
    return ExitCode.Ok;
  }
  if (action === "set" && value === undefined)
    throw new UsageError(`config set api needs a value: ${API_NAMES.join(" or ")} (for ${server.key})`);
  const api = action === "set" ? parseApi(value as string, "config set api") : undefined;
  await updateConfig(path, (cfg) => {
    const { api: _old, ...rest } = cfg.servers?.[spec] ?? {};
    return { ...cfg, servers: { ...cfg.servers, [spec]: api === undefined ? rest : { ...rest, api } } };
  });
  g.printer.note(`* servers.${spec}.api = ${api ?? "(detected)"} in ${path}`);
  return ExitCode.Ok;
}

/** `identica config list | get KEY | set KEY VALUE | unset KEY`: validated, written atomically. */
export async function configCommand(
  ctx: Context,
  action: string | undefined,
  args: string[],
  gflags: GlobalFlags,
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const path = configFile(ctx.env);
  const shown = (cfg: ConfigFile) =>
    Object.fromEntries(CONFIG_KEY_NAMES.filter((k) => cfg[k] !== undefined).map((k) => [k, cfg[k]]));
  // `api` is per server (docs/cli.md "Two APIs"): it belongs to the server named by --server, else
  // the default one, and is kept under `servers.<that server as named>.api`.
  if ((action === "get" || action === "set" || action === "unset") && args[0] === "api") {
    return apiSetting(ctx, g, action, args[1], path);
  }
  switch (action ?? "list") {
    case "list": {
      const values = shown(g.config);
      // A registered app's client secret is shown as redacted: it is in the file only to revoke a token.
      const redacted = <T extends { clientSecret: string }>(a: T): T => ({
        ...a,
        clientSecret: "<redacted>",
      });
      const servers = Object.fromEntries(
        Object.entries(g.config.servers ?? {}).map(([root, s]) => [
          root,
          {
            ...s,
            ...(s.app ? { app: redacted(s.app) } : {}),
            ...(s.apps
              ? { apps: Object.fromEntries(Object.entries(s.apps).map(([u, a]) => [u, redacted(a)])) }
              : {}),
          },
        ]),
      );
      if (g.output === "json")
        g.printer.result(`${JSON.stringify({ file: path, ...values, servers }, null, 2)}\n`);
      else {
        const lines = Object.entries(values).map(([k, v]) => `${k} = ${v}`);
        for (const [root, s] of Object.entries(g.config.servers ?? {})) {
          if (s.user) lines.push(`servers.${root}.user = ${s.user}`);
          if (s.api) lines.push(`servers.${root}.api = ${s.api}`);
        }
        g.printer.result(lines.length > 0 ? `${lines.join("\n")}\n` : `(nothing set in ${path})\n`);
      }
      return ExitCode.Ok;
    }
    case "get": {
      const value = g.config[key(args[0])];
      if (g.output === "json") g.printer.result(`${JSON.stringify(value ?? null)}\n`);
      else if (value !== undefined) g.printer.result(`${value}\n`);
      return ExitCode.Ok;
    }
    case "set": {
      const k = key(args[0]);
      if (args[1] === undefined)
        throw new UsageError(`config set ${k} needs a value: ${CONFIG_KEYS[k].help}`);
      let value: string | number;
      try {
        value = CONFIG_KEYS[k].parse(args[1]);
      } catch (err) {
        throw new UsageError(`invalid ${k}: ${(err as Error).message}`);
      }
      await updateConfig(path, (cfg) => ({ ...cfg, [k]: value }));
      g.printer.note(`* ${k} = ${value} in ${path}`);
      return ExitCode.Ok;
    }
    case "unset": {
      const k = key(args[0]);
      await updateConfig(path, (cfg) => {
        const next = { ...cfg };
        delete next[k];
        return next;
      });
      return ExitCode.Ok;
    }
    default:
      throw new UsageError(`unknown config action "${action}" (use list, get, set or unset)`);
  }
}

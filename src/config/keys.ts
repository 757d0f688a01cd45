import { OUTPUT_MODES } from "../output/status.js";
import { handleList, parseHandle } from "./handles.js";
import { parseServer } from "./server.js";

/**
 * The settings `identica config` can set, each with its check. Nothing secret is among them: a key
 * that is not here (a password, say) is refused.
 */
export const CONFIG_KEYS = {
  server: {
    help: "the default server (host, host:port or API root URL)",
    parse: (v: string): string => parseServer(v).spec,
  },
  user: {
    help: "the default account (nickname)",
    parse: (v: string): string => {
      if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new Error(`"${v}" is not a nickname`);
      return v;
    },
  },
  output: {
    help: `the default output mode (${OUTPUT_MODES.join(", ")})`,
    parse: (v: string): string => {
      if (!(OUTPUT_MODES as readonly string[]).includes(v))
        throw new Error(`use one of ${OUTPUT_MODES.join(", ")}`);
      return v;
    },
  },
  color: {
    help: "colour: auto (on a terminal), always or never",
    parse: (v: string): string => {
      if (!["auto", "always", "never"].includes(v)) throw new Error("use auto, always or never");
      return v;
    },
  },
  preemptive: {
    help: "send Basic at once to servers that challenged before: true (default) or false",
    parse: (v: string): string => {
      if (!["true", "false"].includes(v)) throw new Error("use true or false");
      return v;
    },
  },
  targets: {
    help: 'the accounts `post` posts to without --to: "user@host, user@host:port"',
    parse: (v: string): string => {
      const list = handleList([v]);
      if (list.length === 0) throw new Error("name at least one account, user@host");
      const seen = new Set<string>();
      for (const h of list) {
        const key =
          h.toLowerCase() === "all"
            ? "all"
            : (() => {
                const p = parseHandle(h);
                return `${p.user.toLowerCase()}@${p.host}`;
              })();
        if (seen.has(key)) throw new Error(`${h} is named twice`);
        seen.add(key);
      }
      return list.join(", ");
    },
  },
  timeout: {
    help: "the default --timeout, in seconds",
    parse: (v: string): number => {
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 3600)
        throw new Error("use a number of seconds up to 3600");
      return n;
    },
  },
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

/**
 * Every name `config get|set|unset` takes: the keys above and `api`, which belongs to one server
 * (`servers.<server>.api`, src/commands/config.ts). Help and completion list these.
 */
export const CONFIG_SETTINGS = [...CONFIG_KEY_NAMES, "api"] as const;

/** One line per setting, for `config --help`. */
export function configKeysHelp(): string {
  const rows: [string, string][] = [
    ...CONFIG_KEY_NAMES.map((k): [string, string] => [k, CONFIG_KEYS[k].help]),
    [
      "api",
      "the API of the server named by --server, else of the default one: statusnet, mastodon or atproto",
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, help]) => `  ${k.padEnd(w)}  ${help}`).join("\n");
}

export function isConfigKey(k: string): k is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, k);
}

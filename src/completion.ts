import tab from "@bomb.sh/tab/commander";
import type { Command } from "commander";
import { CONFIG_ACTIONS } from "./commands/define/config.js";
import { OUTBOX_ACTIONS } from "./commands/define/outbox.js";
import { type ConfigFile, readConfig } from "./config/file.js";
import { handleList } from "./config/handles.js";
import { CONFIG_SETTINGS } from "./config/keys.js";
import { configFile } from "./config/paths.js";
import { parseServer } from "./config/server.js";
import { OUTPUT_MODES } from "./output/status.js";
import { API_NAMES } from "./services/api.js";
import { VISIBILITIES } from "./services/mastodon/rules.js";
import { TIMELINE_KINDS, WIRE_FORMATS } from "./services/service.js";

/**
 * `identica completion bash|zsh|fish` (@bomb.sh/tab): the script asks the program itself for
 * suggestions (`identica complete -- …`), which knows the commands, the options, the timeline kinds
 * and the servers in the config file. The fixed values are the lists the definitions and the checks use.
 */
export function addCompletion(program: Command): void {
  const completion = tab(program, { completionCommandName: "completion" });
  const values = (vs: readonly string[]) => (complete: (value: string, description: string) => void) => {
    for (const v of vs) complete(v, "");
  };
  const setOption = (
    cmd: { options: Map<string, { handler?: unknown }> } | undefined,
    name: string,
    h: unknown,
  ) => {
    const opt = cmd?.options.get(name);
    if (opt) opt.handler = h;
  };
  setOption(completion, "output", values(OUTPUT_MODES));
  setOption(completion, "format", values(WIRE_FORMATS));
  setOption(completion, "api", values(API_NAMES));
  setOption(completion.commands.get("post"), "visibility", values(VISIBILITIES));
  setOption(completion, "server", (complete: (value: string, description: string) => void) => {
    for (const s of configuredServers()) complete(s, "configured server");
  });
  // `post --to`: the accounts the config knows, by handle, and "all" (docs/cli.md "Several accounts").
  setOption(
    completion.commands.get("post"),
    "to",
    (complete: (value: string, description: string) => void) => {
      for (const h of configuredHandles()) complete(h, "account");
      complete("all", "every stored account");
    },
  );
  // Global options are accepted after the command name too, so every command completes them.
  for (const sub of completion.commands.values()) {
    for (const [name, opt] of completion.options) if (!sub.options.has(name)) sub.options.set(name, opt);
  }
  const kind = completion.commands.get("timeline")?.arguments.get("kind");
  if (kind) kind.handler = values(TIMELINE_KINDS);
  const configAction = completion.commands.get("config")?.arguments.get("action");
  if (configAction) configAction.handler = values(CONFIG_ACTIONS);
  // `config get|set|unset KEY [VALUE]`: tab hands a variadic argument's handler no position, so the
  // words are taken from the request (`parse` is what `identica complete -- …` calls).
  let words: string[] = [];
  const parse = completion.parse.bind(completion);
  completion.parse = (args: string[]) => {
    words = [...args];
    parse(args);
  };
  const configArgs = completion.commands.get("config")?.arguments.get("args");
  if (configArgs)
    configArgs.handler = (complete) => {
      const i = words.indexOf("config");
      const after = i < 0 ? [] : words.slice(i + 1).filter((w) => !w.startsWith("-"));
      // The last word is the one being completed (empty after a space).
      const [action, key] = after;
      if (after.length === 2 && action !== "list") for (const k of CONFIG_SETTINGS) complete(k, "");
      else if (after.length === 3 && action === "set") for (const v of settingValues(key)) complete(v, "");
    };
  const outboxAction = completion.commands.get("outbox")?.arguments.get("action");
  if (outboxAction) outboxAction.handler = values(OUTBOX_ACTIONS);
  const shellCmd = program.commands.find((c) => c.name() === "completion");
  shellCmd?.description("print a shell completion script: bash, zsh or fish");
  shellCmd?.addHelpText(
    "after",
    `
Examples:
  identica completion bash > ~/.local/share/bash-completion/completions/identica
  identica completion zsh > "\${fpath[1]}/_identica"
  identica completion fish > ~/.config/fish/completions/identica.fish`,
  );
}

/** The servers the config file names, for completing --server. */
function configuredServers(): string[] {
  try {
    const cfg = readConfig(configFile(process.env));
    return [
      ...new Set([cfg.server, ...Object.keys(cfg.servers ?? {})].filter((s): s is string => s !== undefined)),
    ];
  } catch {
    return [];
  }
}

/** What `config set KEY` takes, where it is one of a few words or the accounts the config knows. */
function settingValues(key: string | undefined): readonly string[] {
  switch (key) {
    case "api":
      return API_NAMES;
    case "output":
      return OUTPUT_MODES;
    case "color":
      return ["auto", "always", "never"];
    case "preemptive":
      return ["true", "false"];
    case "targets":
      return [...configuredHandles(), "all"];
    default:
      return [];
  }
}

/**
 * The handles (`user@host[:port]`) of the accounts the config file knows: each server's user and
 * the users it holds an app for, the default server's default user, and the `targets` list.
 */
function configuredHandles(): string[] {
  let cfg: ConfigFile;
  try {
    cfg = readConfig(configFile(process.env));
  } catch {
    return [];
  }
  const handles = new Set<string>();
  const add = (user: string | undefined, server: string | undefined) => {
    if (!user || !server) return;
    try {
      handles.add(`${user}@${parseServer(server).key}`);
    } catch {
      // Not a server: nothing to offer.
    }
  };
  add(cfg.servers?.[cfg.server ?? ""]?.user ?? cfg.user, cfg.server);
  for (const [root, s] of Object.entries(cfg.servers ?? {})) {
    add(s.user, root);
    for (const user of Object.keys(s.apps ?? {})) add(user, root);
  }
  for (const h of handleList(cfg.targets ? [cfg.targets] : [])) {
    if (h !== "all") handles.add(h);
  }
  return [...handles];
}

import tab from "@bomb.sh/tab/commander";
import type { Command } from "commander";
import { CONFIG_ACTIONS } from "./commands/define/config.js";
import { OUTBOX_ACTIONS } from "./commands/define/outbox.js";
import { readConfig } from "./config/file.js";
import { configFile } from "./config/paths.js";
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
  // Global options are accepted after the command name too, so every command completes them.
  for (const sub of completion.commands.values()) {
    for (const [name, opt] of completion.options) if (!sub.options.has(name)) sub.options.set(name, opt);
  }
  const kind = completion.commands.get("timeline")?.arguments.get("kind");
  if (kind) kind.handler = values(TIMELINE_KINDS);
  const configAction = completion.commands.get("config")?.arguments.get("action");
  if (configAction) configAction.handler = values(CONFIG_ACTIONS);
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

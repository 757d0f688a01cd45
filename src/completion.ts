import tab from "@bomb.sh/tab/commander";
import type { Command } from "commander";
import { readConfig } from "./config/file.js";
import { configFile } from "./config/paths.js";

/**
 * `identica completion bash|zsh|fish` (@bomb.sh/tab): the script asks the program itself for
 * suggestions (`identica complete -- …`), which knows the commands, the options, the timeline kinds
 * and the servers in the config file.
 */
export function addCompletion(program: Command): void {
  const completion = tab(program, { completionCommandName: "completion" });
  const values =
    (...vs: string[]) =>
    (complete: (value: string, description: string) => void) => {
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
  setOption(completion, "output", values("pretty", "json", "xml", "id", "url", "none"));
  setOption(completion, "format", values("xml", "json"));
  setOption(completion, "server", (complete: (value: string, description: string) => void) => {
    for (const s of configuredServers()) complete(s, "configured server");
  });
  // Global options are accepted after the command name too, so every command completes them.
  for (const sub of completion.commands.values()) {
    for (const [name, opt] of completion.options) if (!sub.options.has(name)) sub.options.set(name, opt);
  }
  const kind = completion.commands.get("timeline")?.arguments.get("kind");
  if (kind) kind.handler = values("home", "user", "mentions", "public");
  const configAction = completion.commands.get("config")?.arguments.get("action");
  if (configAction) configAction.handler = values("list", "get", "set", "unset");
  const outboxAction = completion.commands.get("outbox")?.arguments.get("action");
  if (outboxAction) outboxAction.handler = values("list", "send", "drop");
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

/**
 * Build step (not shipped): the README's option tables and the man page's SYNOPSIS, COMMANDS and
 * GLOBAL OPTIONS, written from the assembled program, so that a flag declared in
 * src/commands/define/ (or a global one in cli.ts) is documented without restating it. The texts are
 * the help texts: what `--help` says is what the docs say.
 */
import type { Argument, Command, Option } from "commander";

/** The commands a user sees (not `complete`, which the completion scripts call). */
const visibleCommands = (program: Command): Command[] =>
  program.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);

const visibleOptions = (cmd: Command): Option[] => cmd.options.filter((o) => !o.hidden);

/** The option's help text, with its default as the help shows it. */
function meaning(o: Option): string {
  const d = o.defaultValue;
  return typeof d === "string" ? `${o.description} (default \`${d}\`)` : o.description;
}

// ---- README: Markdown tables --------------------------------------------------------------------

const cell = (s: string) => s.replaceAll("|", "\\|");

/** A Markdown table of a command's options (the program's: the global options). */
export function optionTable(cmd: Command): string {
  const rows = visibleOptions(cmd).map((o) => `| \`${cell(o.flags)}\` | ${cell(meaning(o))} |`);
  return ["| option | meaning |", "| --- | --- |", ...rows].join("\n");
}

/**
 * README.md with each region `<!-- options NAME -->` … `<!-- /options -->` holding NAME's option
 * table (`global`: the program's). A region whose command does not exist is an error, not a gap.
 */
export function fillReadme(readme: string, program: Command): string {
  return readme.replace(
    /(<!-- options ([a-z-]+) -->\n)[\s\S]*?(<!-- \/options -->)/g,
    (_m, open: string, name: string, close: string) => {
      const cmd = name === "global" ? program : program.commands.find((c) => c.name() === name);
      if (!cmd) throw new Error(`README.md: no command "${name}" for its option table`);
      return `${open}${optionTable(cmd)}\n${close}`;
    },
  );
}

// ---- man page: marked-man Markdown ---------------------------------------------------------------

/** `-o, --output <mode>` → `` `-o`, `--output` *mode* `` */
const manFlags = (flags: string) =>
  flags
    .split(/,?\s+/)
    .map((w) => w.replace(/^<(.+)>$/, "*$1*").replace(/^\[(.+)\]$/, "[*$1*]"))
    .map((w) => (w.startsWith("-") ? `\`${w}\`` : w))
    .join(" ")
    .replace(/` `-/g, "`, `-");

const manArgument = (a: Argument) => {
  const name = `*${a.name()}*${a.variadic ? "..." : ""}`;
  return a.required ? name : `[${name}]`;
};

const sentence = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}${/\.$/.test(s) ? "" : "."}`;

function manOptionList(cmd: Command, indent: string): string[] {
  return visibleOptions(cmd).flatMap((o) => [
    `${indent}* ${manFlags(o.flags)}:`,
    `${indent}  ${sentence(meaning(o))}`,
  ]);
}

/** One synopsis line per command. */
export function manSynopsis(program: Command): string {
  return visibleCommands(program)
    .map((c) => {
      const opts = visibleOptions(c).map((o) => `[${manFlags(o.flags)}]`);
      const args = c.registeredArguments.map(manArgument);
      return ["`identica`", "[*global options*]", `\`${c.name()}\``, ...opts, ...args].join(" ");
    })
    .join("\n\n");
}

/** Each command, its arguments and its options. */
export function manCommands(program: Command): string {
  return visibleCommands(program)
    .flatMap((c) => [
      `* \`${c.name()}\`${c.registeredArguments.map((a) => ` ${manArgument(a)}`).join("")}:`,
      `  ${sentence(c.description())}`,
      ...manOptionList(c, "  "),
    ])
    .join("\n");
}

/** The program's own options, which every command accepts. */
export function manGlobalOptions(program: Command): string {
  return manOptionList(program, "").join("\n");
}

/** The man page's template with each `<!-- NAME -->` line replaced by what NAME renders. */
export function fillManPage(template: string, program: Command): string {
  const parts: Record<string, (p: Command) => string> = {
    synopsis: manSynopsis,
    commands: manCommands,
    "global options": manGlobalOptions,
  };
  return template.replace(/^<!-- ([a-z ]+) -->$/gm, (_m, name: string) => {
    const render = parts[name];
    if (!render) throw new Error(`identica.1.md: unknown part "${name}"`);
    return render(program);
  });
}

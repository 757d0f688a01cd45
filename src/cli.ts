import { Command, CommanderError, Option } from "commander";
import { COMMAND_DEFINITIONS, needsCompletion } from "./commands/define/index.js";
import type { Context } from "./context.js";
import { ExitCode, IdenticaError, type Kept } from "./errors.js";
import { writeDiagnostic } from "./output/printer.js";
import { OUTPUT_MODES } from "./output/status.js";
import { WIRE_FORMATS } from "./services/service.js";
import { version } from "./version.js";

/**
 * The command line. Only commander is loaded up front; each command's module (and with it undici,
 * the XML parser, chalk) is imported when that command runs, so `--help` and `--version` stay fast.
 */
function buildProgram(
  ctx: Context,
  setCode: (code: ExitCode) => void,
  addCompletion?: (program: Command) => void,
): Command {
  const program = new Command("identica")
    .description(
      "Post to Mastodon, GoToSocial, Akkoma, Friendica, snac, Bluesky (AT Protocol), GNU social and StatusNet servers from the command line",
    )
    .version(version(), "--version", "print the version")
    .helpOption("-h, --help", "show help")
    .option(
      "--server <host-or-url>",
      "the server: host[:port] (https; its API detected) or an API root URL [env IDENTICA_SERVER]",
    )
    .option(
      "--user <nickname>",
      "the account (AT Protocol: the handle, such as alice.bsky.social) [env IDENTICA_USER]",
    )
    .option(
      "--password-file <path>",
      "read the password (AT Protocol: the app password) from the first line of a file (mode 0600)",
    )
    .option("--token-file <path>", "read the Mastodon access token from the first line of a file (mode 0600)")
    .option(
      "--api <name>",
      "the server's API: statusnet, mastodon or atproto (default: detected once) [env IDENTICA_API]",
    )
    .addOption(new Option("-o, --output <mode>", `output: ${OUTPUT_MODES.join(", ")}`))
    .addOption(
      new Option(
        "--format <format>",
        `reply format asked of the server: ${WIRE_FORMATS.join(" or ")} (default xml)`,
      ),
    )
    .option("-v, --verbose", "write the HTTP exchange to stderr (credentials redacted)")
    .option("-q, --quiet", "print nothing but errors")
    .option("--no-input", "never prompt")
    .option("--color", "force colour")
    .option("--no-color", "no colour")
    .option("--timeout <seconds>", "one deadline for the whole run (default 30)")
    .option("--cacert <file>", "also trust this CA (PEM), for self-hosted servers")
    .option("--insecure-http", "allow sending the password or token over plain http to a non-loopback host")
    .option("--no-preemptive", "always wait for the server's challenge before sending the password")
    .option("--proxy <url>", "use this HTTP proxy (default: HTTPS_PROXY / HTTP_PROXY, NO_PROXY)")
    .option("--no-proxy", "connect directly, whatever the environment says")
    .option("--debug", "print stack traces")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Examples:
  identica login --server social.example --user alice
  identica login --server bsky.social --user alice.bsky.social
  identica post "Hello, fediverse"
  uptime | identica post -o url
  identica timeline public --count 5

Exit codes: 0 ok, 64 usage, 65 refused, 69 unavailable, 75 try later (nothing posted),
76 outcome unknown, 77 permission, 78 configuration. See man identica.`,
    );

  for (const define of COMMAND_DEFINITIONS) define(program, ctx, setCode);
  addCompletion?.(program);
  return program;
}

/** The assembled program, for the build steps that write the docs from it (src/docs.ts). */
export function programForDocs(ctx: Context, addCompletion: (program: Command) => void): Command {
  return buildProgram(ctx, () => {}, addCompletion);
}

/**
 * Every help text as commander renders it at 80 columns, keyed by command ("" for the program). The
 * build stores them in dist/help.json so that `--help` is answered without loading commander.
 */
export function renderHelpTexts(
  ctx: Context,
  addCompletion: (program: Command) => void,
): Record<string, string> {
  let out = "";
  const write = (s: string) => {
    out += s;
    return true;
  };
  const capture = {
    ...ctx,
    stdout: Object.assign(Object.create(ctx.stdout), { write, columns: 80, isTTY: false }),
  };
  const program = buildProgram(capture as Context, () => {}, addCompletion);
  const texts: Record<string, string> = {};
  for (const [name, cmd] of [
    ["", program] as const,
    ...program.commands.map((c) => [c.name(), c] as const),
  ]) {
    out = "";
    cmd.outputHelp();
    texts[name] = out;
  }
  return texts;
}

/** Runs the CLI and returns the exit code; it never calls `process.exit` itself. */
export async function main(argv: string[], ctx: Context): Promise<number> {
  let code: ExitCode = ExitCode.Ok;
  const completion = needsCompletion(argv) ? (await import("./completion.js")).addCompletion : undefined;
  const program = buildProgram(
    ctx,
    (c) => {
      code = c;
    },
    completion,
  );
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return ExitCode.Usage;
    }
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    return await report(err, ctx, argv.includes("--debug"));
  } finally {
    // Sessions this run made and could keep nowhere (an AT Protocol PDS without a keychain) are ended
    // once everything is printed: none stays valid on the server unused.
    await ctx.run.sessions.finish();
  }
}

async function report(err: unknown, ctx: Context, debug: boolean): Promise<number> {
  // Through the one diagnostic path (credentials masked, server text sanitised): a message stays one
  // line whatever it quotes (a newline in it is shown as ^J); a --debug stack is written line by line.
  const write = (line: string) => writeDiagnostic(ctx, line);
  const writeStack = (e: unknown) => {
    for (const line of stackOf(e).split("\n")) writeDiagnostic(ctx, line);
  };
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return ExitCode.Ok;
    if (err.code === "commander.help") return ExitCode.Usage;
    write(`identica: ${withoutValues(err).replace(/^error: /, "")} (see identica --help)`);
    return ExitCode.Usage;
  }
  const fs = refusedByFilesystem(err);
  const code = err instanceof IdenticaError ? err.exitCode : fs ? ExitCode.Config : ExitCode.Internal;
  if (err instanceof IdenticaError) write(`identica: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
  else if (fs)
    write(
      `identica: cannot use ${fs.path}: ${fs.message} (check that folder and its permissions; XDG_CONFIG_HOME, XDG_CACHE_HOME and XDG_STATE_HOME say where identica keeps its files)`,
    );
  else {
    const message = (err as Error)?.message ?? String(err);
    write(`identica: internal error: ${message} (this is a bug; --debug shows the stack)`);
  }
  // Where the status went; the user's own text, when it could not be saved, is printed as typed.
  const kept = (err as { kept?: Kept } | undefined)?.kept;
  if (kept) {
    const { keptLines } = await import("./core/keep.js");
    for (const line of keptLines(kept)) ctx.stderr.write(`${line}\n`);
  }
  if (debug) writeStack(err);
  return code;
}

/**
 * Commander quotes an unknown option as typed: `--token=SECRET` or `--password=hunter2` would put the
 * secret into stderr (and a cron mail). The value after `=` is never shown, only the option's name.
 */
function withoutValues(err: CommanderError): string {
  return err.message.replace(/'(-{1,2}[^'=\s]*)=[^']*'/g, "'$1=…'");
}

/**
 * The errors of a file or folder that the machine refuses (a read-only or full disk, no permission, a
 * file where a folder should be): where identica keeps its files is the user's setting, so 78, not a
 * bug. Only errors that name a path: a bug elsewhere stays 70.
 */
const FS_REFUSALS = new Set([
  "EACCES",
  "EPERM",
  "EROFS",
  "ENOTDIR",
  "EISDIR",
  "EEXIST",
  "ELOOP",
  "ENAMETOOLONG",
  "ENOSPC",
  "EDQUOT",
]);

function refusedByFilesystem(err: unknown): { path: string; message: string } | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.path !== "string" || !FS_REFUSALS.has(e.code ?? "")) return undefined;
  // Node's message is "CODE: description, syscall 'path'": the description is what a person needs.
  const description = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] ?? e.code ?? "refused";
  return { path: e.path, message: description };
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  while (e instanceof Error) {
    parts.push(e.stack ?? String(e));
    e = e.cause;
  }
  return parts.join("\ncaused by: ");
}

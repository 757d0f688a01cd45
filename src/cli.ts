import { Command, CommanderError, Option } from "commander";
import { checkStateDir } from "./config/paths.js";
import type { Context } from "./context.js";
import { ExitCode, IdenticaError, type Kept } from "./errors.js";
import { writeDiagnostic } from "./output/printer.js";
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
    .description("Post to GNU social, StatusNet and Friendica servers from the command line")
    .version(version(), "--version", "print the version")
    .helpOption("-h, --help", "show help")
    .option(
      "--server <host-or-url>",
      "the server: host[:port] (https, /api) or the API root URL [env IDENTICA_SERVER]",
    )
    .option("--user <nickname>", "the account [env IDENTICA_USER]")
    .option("--password-file <path>", "read the password from the first line of a file (mode 0600)")
    .addOption(new Option("-o, --output <mode>", "output: pretty, json, xml, id, url, none"))
    .addOption(new Option("--format <format>", "reply format asked of the server: xml or json (default xml)"))
    .option("-v, --verbose", "write the HTTP exchange to stderr (credentials redacted)")
    .option("-q, --quiet", "print nothing but errors")
    .option("--no-input", "never prompt")
    .option("--color", "force colour")
    .option("--no-color", "no colour")
    .option("--timeout <seconds>", "one deadline for the whole run (default 30)")
    .option("--cacert <file>", "also trust this CA (PEM), for self-hosted servers")
    .option("--insecure-http", "allow sending the password over plain http to a non-loopback host")
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
  identica post "Hello, fediverse"
  uptime | identica post -o url
  identica timeline public --count 5

Exit codes: 0 ok, 64 usage, 65 refused, 69 unavailable, 75 try later (nothing posted),
76 outcome unknown, 77 permission, 78 configuration. See man identica.`,
    );

  program
    .command("post")
    .description("publish a status")
    .argument("[text...]", 'the text; words are joined with spaces; "-" or none (with a pipe) reads stdin')
    .option("--reply-to <id>", "the id of the status this replies to")
    .option("--source <name>", "the client name the server shows", "identica")
    .option("--dry-run", "print the request that would be sent, and send nothing")
    .option("--max-length <n>", "refuse text longer than n characters (0 = no limit)")
    .option("--if-absent", "post nothing (exit 0) if your recent statuses already hold exactly this text")
    .option("--lines", "post each line of stdin as its own status, as it arrives")
    .addHelpText(
      "after",
      `
Examples:
  identica post "Hello, fediverse"
  uptime | identica post --server social.example --user alice
  identica post --reply-to 12345 -o url "Agreed!"
  journalctl -f | grep --line-buffered ERROR | identica post --lines`,
    )
    .action(async (words: string[], flags, cmd: Command) => {
      const { postCommand } = await import("./commands/post.js");
      setCode(await postCommand(ctx, words, flags, cmd.optsWithGlobals()));
    });

  program
    .command("show")
    .description("show one status")
    .argument("<id>", "the status id")
    .addHelpText("after", "\nExamples:\n  identica show 12345\n  identica show 12345 -o json --format json")
    .action(async (id: string, _flags, cmd: Command) => {
      const { showCommand } = await import("./commands/statuses.js");
      setCode(await showCommand(ctx, id, cmd.optsWithGlobals()));
    });

  program
    .command("delete")
    .description("delete one of your statuses (statuses/destroy)")
    .argument("<id>", "the status id")
    .addHelpText(
      "after",
      "\nExamples:\n  identica delete 12345\n  identica post -o id oops | xargs identica delete",
    )
    .action(async (id: string, _flags, cmd: Command) => {
      const { deleteCommand } = await import("./commands/statuses.js");
      setCode(await deleteCommand(ctx, id, cmd.optsWithGlobals()));
    });

  program
    .command("timeline")
    .description("recent statuses: home (default), user, mentions or public")
    .argument("[kind]", "home, user, mentions or public")
    .option("--count <n>", "how many (1-200; the server's default is 20)")
    .option("--since-id <id>", "only statuses newer than this id")
    .option("--max-id <id>", "only statuses up to this id")
    .option("--of <nickname>", "for the user timeline: whose (no login needed)")
    .addHelpText(
      "after",
      "\nExamples:\n  identica timeline\n  identica timeline public --count 5\n  identica timeline user --of bob -o json",
    )
    .action(async (kind: string | undefined, flags, cmd: Command) => {
      const { timelineCommand } = await import("./commands/statuses.js");
      setCode(await timelineCommand(ctx, kind, flags, cmd.optsWithGlobals()));
    });

  program
    .command("config")
    .description("read and change the config file: list, get KEY, set KEY VALUE, unset KEY")
    .argument("[action]", "list (default), get, set or unset")
    .argument("[args...]", "the key, and for set the value")
    .addHelpText(
      "after",
      "\nKeys: server, user, output, color (auto|always|never), timeout (seconds).\n\nExamples:\n  identica config set server social.example\n  identica config get server\n  identica config list -o json",
    )
    .action(async (action: string | undefined, args: string[], _flags, cmd: Command) => {
      const { configCommand } = await import("./commands/config.js");
      setCode(await configCommand(ctx, action, args, cmd.optsWithGlobals()));
    });

  program
    .command("outbox")
    .description("statuses that could not be posted: list, send, drop ID")
    .argument("[action]", "list (default), send or drop")
    .argument("[id]", "for drop: the entry's id")
    .addHelpText(
      "after",
      "\nExamples:\n  identica outbox list\n  identica outbox send       # oldest first, never twice\n  identica outbox send --retry-refused 20261127-064512123-a1b2c3\n  identica outbox drop 20261127-064512123-a1b2c3",
    )
    .option("--retry-refused <id>", "for send: also send this entry, which the server refused before")
    .action(async (action: string | undefined, id: string | undefined, flags, cmd: Command) => {
      // Every action works on the state folder: one that cannot be a folder is the user's setting (78).
      if (["list", "send", "drop", undefined].includes(action)) checkStateDir(ctx.env);
      const { outboxCommand } = await import("./commands/outbox.js");
      setCode(await outboxCommand(ctx, action, id === undefined ? [] : [id], cmd.optsWithGlobals(), flags));
    });

  program
    .command("login")
    .description(
      "check a password with the server, store it in the OS keychain, make this server/user the default",
    )
    .option("--password-stdin", "read the password from the first line of stdin")
    .addHelpText(
      "after",
      `
Examples:
  identica login --server social.example --user alice
  printf '%s\n' "$PW" | identica login --server social.example --user alice --password-stdin`,
    )
    .action(async (flags, cmd: Command) => {
      const { loginCommand } = await import("./commands/login.js");
      setCode(await loginCommand(ctx, flags, cmd.optsWithGlobals()));
    });

  program
    .command("logout")
    .description("remove the stored password for server/user from the OS keychain")
    .addHelpText(
      "after",
      "\nExamples:\n  identica logout\n  identica logout --server social.example --user alice",
    )
    .action(async (_flags, cmd: Command) => {
      const { logoutCommand } = await import("./commands/logout.js");
      setCode(await logoutCommand(ctx, cmd.optsWithGlobals()));
    });

  program
    .command("whoami")
    .description("who the credentials belong to (account/verify_credentials)")
    .addHelpText("after", "\nExamples:\n  identica whoami\n  identica whoami -o json --server social.example")
    .action(async (_flags, cmd: Command) => {
      const { whoamiCommand } = await import("./commands/whoami.js");
      setCode(await whoamiCommand(ctx, cmd.optsWithGlobals()));
    });

  program
    .command("accounts")
    .description("the accounts stored in the OS keychain, per server")
    .addHelpText("after", "\nExamples:\n  identica accounts\n  identica accounts -o json")
    .action(async (_flags, cmd: Command) => {
      const { accountsCommand } = await import("./commands/accounts.js");
      setCode(await accountsCommand(ctx, cmd.optsWithGlobals()));
    });

  addCompletion?.(program);
  return program;
}

const COMMANDS = new Set([
  "post",
  "show",
  "delete",
  "timeline",
  "config",
  "outbox",
  "login",
  "logout",
  "whoami",
  "accounts",
]);
const GLOBAL_OPTIONS_WITH_VALUE = new Set([
  "--server",
  "--user",
  "--password-file",
  "-o",
  "--output",
  "--format",
  "--timeout",
  "--cacert",
  "--proxy",
]);

/**
 * Whether this run may need the `completion` and `complete` commands (@bomb.sh/tab), which are then
 * loaded: for them, for help (which lists them), and for anything that is not plainly one of the other
 * commands (an unknown command's "did you mean" considers them). Any doubt loads them.
 */
export function needsCompletion(argv: readonly string[]): boolean {
  if (argv.includes("--help") || argv.includes("-h")) return true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith("-")) return !COMMANDS.has(a);
  }
  return true;
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
    write(`identica: ${err.message.replace(/^error: /, "")} (see identica --help)`);
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

import { resolveServer, resolveUser } from "../config/account.js";
import { type ConfigFile, readConfig } from "../config/file.js";
import { configFile } from "../config/paths.js";
import type { Server } from "../config/server.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { Printer } from "../output/printer.js";
import { OUTPUT_MODES, type OutputMode } from "../output/status.js";
import type { WireFormat } from "../services/service.js";

/** The global flags as commander hands them over (docs/cli.md "Global options"). */
export interface GlobalFlags {
  server?: string;
  user?: string;
  passwordFile?: string;
  /** `--token-file PATH`: a Mastodon access token. */
  tokenFile?: string;
  /** `--api statusnet|mastodon|atproto`. */
  api?: string;
  output?: string;
  format?: string;
  verbose?: boolean;
  quiet?: boolean;
  input?: boolean;
  color?: boolean;
  timeout?: string;
  cacert?: string;
  insecureHttp?: boolean;
  debug?: boolean;
  preemptive?: boolean;
  /** `--proxy URL` (a string) or `--no-proxy` (false). */
  proxy?: string | boolean;
}

/** Validated global options, plus the things every command derives from them. */
export interface Globals {
  flags: GlobalFlags;
  output: OutputMode;
  format: WireFormat;
  timeoutMs: number;
  /** `--color`/`--no-color`, else the config file's `color`; undefined means decide by the stream. */
  color: boolean | undefined;
  printer: Printer;
  config: ConfigFile;
}

export function readGlobals(flags: GlobalFlags, ctx: Context): Globals {
  const config = readConfig(configFile(ctx.env));
  const output = (flags.output ?? config.output ?? "pretty") as OutputMode;
  if (!OUTPUT_MODES.includes(output)) {
    throw new UsageError(`unknown output mode "${flags.output}" (use ${OUTPUT_MODES.join(", ")})`);
  }
  if (flags.format !== undefined && flags.format !== "xml" && flags.format !== "json") {
    throw new UsageError(`unknown format "${flags.format}" (use xml or json)`);
  }
  if (output === "xml" && flags.format === "json") {
    throw new UsageError("-o xml prints the server's XML reply; it cannot be combined with --format json");
  }
  const format: WireFormat = flags.format === "json" ? "json" : "xml";
  let timeoutMs = Math.round((config.timeout ?? 30) * 1000);
  if (flags.timeout !== undefined) {
    const secs = Number(flags.timeout);
    if (!Number.isFinite(secs) || secs <= 0 || secs > 3600) {
      throw new UsageError(
        `--timeout must be a number of seconds between 0 and 3600, not "${flags.timeout}"`,
      );
    }
    timeoutMs = Math.round(secs * 1000);
  }
  const color =
    flags.color ?? (config.color === "always" ? true : config.color === "never" ? false : undefined);
  const printer = new Printer(ctx, { quiet: flags.quiet === true, verbose: flags.verbose === true });
  return { flags, output, format, timeoutMs, color, printer, config };
}

export function serverOf(g: Globals, ctx: Context): Server {
  return resolveServer({ server: g.flags.server }, ctx.env, g.config);
}

export function userOf(g: Globals, ctx: Context, server: Server): string | undefined {
  return resolveUser({ user: g.flags.user }, ctx.env, g.config, server);
}

/**
 * Runs `fn` with a spinner on stderr after ~300 ms, only on a terminal and never with -q, -o json or
 * --lines (whose callers do not use this).
 */
export async function withSpinner<T>(
  g: Globals,
  ctx: Context,
  label: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (g.printer.quiet || g.output === "json" || g.printer.verbose || ctx.stderr.isTTY !== true) return fn();
  const { startSpinner } = await import("../output/spinner.js");
  const stop = startSpinner(ctx.stderr, label, ctx.run.spinner);
  try {
    return await fn();
  } finally {
    stop();
  }
}

import { resolveServer, resolveUser } from "../config/account.js";
import { type ConfigFile, readConfig } from "../config/file.js";
import { cacheDir, configFile } from "../config/paths.js";
import { readRegularFile } from "../config/regular-file.js";
import type { Server } from "../config/server.js";
import type { Context } from "../context.js";
import { EnvStore } from "../credentials/env.js";
import { PasswordFileStore } from "../credentials/file.js";
import { KeychainStore } from "../credentials/keychain.js";
import { NetrcStore } from "../credentials/netrc.js";
import { PromptStore } from "../credentials/prompt.js";
import type { CredentialStore } from "../credentials/store.js";
import { UsageError } from "../errors.js";
import type { HttpConfig } from "../http/config.js";
import { MAX_RESPONSE_BYTES } from "../http/config.js";
import { Printer } from "../output/printer.js";
import { OUTPUT_MODES, type OutputMode } from "../output/status.js";
import { knownSpaces, type ServiceOptions } from "../services/open.js";
import type { ConnectionConfig } from "../services/options.js";
import type { WireFormat } from "../services/service.js";
import { userAgent } from "../version.js";

/** The global flags as commander hands them over (docs/cli.md "Global options"). */
export interface GlobalFlags {
  server?: string;
  user?: string;
  passwordFile?: string;
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
 * The credential sources in docs/cli.md's order: the password file, the environment, the OS keychain,
 * ~/.netrc, then a prompt on the terminal. Nothing here touches a source; they are asked in turn only
 * when a server has challenged. `--password-file`, `IDENTICA_PASSWORD` and netrc's `default` entry name
 * no server: they belong to the run's own server and account only, so for anything else (an outbox
 * entry of another server or user) they are left out and only the sources bound to an origin and a
 * user remain (docs/threats.md I7).
 */
export function credentialStores(
  g: Globals,
  ctx: Context,
  keychain = new KeychainStore({ env: ctx.env }),
  originFree = true,
): CredentialStore[] {
  const stores: CredentialStore[] = [];
  if (originFree) {
    if (g.flags.passwordFile !== undefined) stores.push(new PasswordFileStore(g.flags.passwordFile));
    stores.push(new EnvStore(ctx.env));
  }
  stores.push(
    keychain,
    new NetrcStore(ctx.env, { useDefault: originFree }),
    new PromptStore(ctx, g.flags.input === false),
  );
  return stores;
}

/**
 * How commands that may need a credential look it up, with the keychain's sole account as the user of
 * last resort. `originFree: false` leaves out the sources that name no server (see credentialStores).
 */
export function credentialSource(g: Globals, ctx: Context, server: Server, originFree = true) {
  const keychain = new KeychainStore({ env: ctx.env });
  return {
    stores: credentialStores(g, ctx, keychain, originFree),
    note: g.printer.note,
    soleAccount: async () => {
      try {
        const accounts = await keychain.accounts(server.key);
        if (accounts.length === 1)
          g.printer.note(`user ${accounts[0]} (the one account stored for ${server.key})`);
        return accounts.length === 1 ? accounts[0] : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * What opening the server's service needs, from the global flags: the one place a command's session
 * is built (server, account, reply format, HTTP settings, where the secret comes from).
 */
export async function serviceOptions(
  g: Globals,
  ctx: Context,
  server: Server = serverOf(g, ctx),
  user: string | undefined = userOf(g, ctx, server),
): Promise<ServiceOptions> {
  return {
    server,
    user,
    format: g.format,
    http: await httpConfig(g, ctx, server),
    credential: credentialSource(g, ctx, server),
  };
}

/**
 * The HTTP settings of a run. With a server (and unless `--no-preemptive` or `config set preemptive
 * false`), protection spaces remembered from earlier runs let requests carry Basic at once.
 */
export async function httpConfig(g: Globals, ctx: Context, server?: Server): Promise<ConnectionConfig> {
  const preemptive = g.flags.preemptive !== false && g.config.preemptive !== "false";
  return {
    spaces: server && preemptive ? knownSpaces(cacheDir(ctx.env), server.apiRoot, ctx.now) : undefined,
    proxy: proxySetting(g.flags.proxy, ctx),
    timeoutMs: g.timeoutMs,
    userAgent: userAgent(),
    extraCa: g.flags.cacert === undefined ? undefined : await extraCaList(g.flags.cacert, ctx),
    insecureHttp: g.flags.insecureHttp === true,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    trace: g.printer.verbose ? g.printer.note : undefined,
    onSecret: (c) => ctx.redactor.addCredential(c),
    wire: ctx.run.wire,
    pauses: ctx.run.pauses,
  };
}

/**
 * `--cacert` adds to the trusted CAs rather than replacing them (http/dispatcher.ts). NODE_EXTRA_CA_CERTS
 * goes with it, for a Node where the CAs must be listed in full (Node drops it with its defaults then).
 */
async function extraCaList(path: string, ctx: Context): Promise<string[]> {
  const read = async (p: string, what: string) => {
    try {
      // Only a regular file: a FIFO without a writer would hold the run past --timeout and SIGTERM.
      const pem = await readRegularFile(p);
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error("no PEM certificate in it");
      return pem;
    } catch (err) {
      throw new UsageError(`cannot use ${what} ${p}: ${(err as Error).message}`);
    }
  };
  const list = [await read(path, "--cacert")];
  const extra = ctx.env.NODE_EXTRA_CA_CERTS;
  if (extra) list.push(await read(extra, "NODE_EXTRA_CA_CERTS"));
  return list;
}

/** `--no-proxy` wins, then `--proxy URL`, then HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case, as curl). */
function proxySetting(flag: string | boolean | undefined, ctx: Context): HttpConfig["proxy"] {
  if (flag === false) return undefined;
  if (typeof flag === "string") {
    let url: URL;
    try {
      url = new URL(flag);
    } catch {
      throw new UsageError(`--proxy takes a URL such as http://proxy.example:3128, not "${flag}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new UsageError("--proxy must be an http:// or https:// URL");
    return { url: url.href };
  }
  const e = ctx.env;
  return {
    env: {
      httpProxy: e.http_proxy ?? e.HTTP_PROXY ?? "",
      httpsProxy: e.https_proxy ?? e.HTTPS_PROXY ?? "",
      noProxy: e.no_proxy ?? e.NO_PROXY ?? "",
    },
  };
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

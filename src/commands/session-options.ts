import { cacheDir } from "../config/paths.js";
import { readRegularFile } from "../config/regular-file.js";
import { parseServer, type Server } from "../config/server.js";
import type { Context } from "../context.js";
import { EnvStore, EnvTokenStore } from "../credentials/env.js";
import { PasswordFileStore, TokenFileStore } from "../credentials/file.js";
import { KeychainStore } from "../credentials/keychain.js";
import { NetrcStore } from "../credentials/netrc.js";
import { PromptStore } from "../credentials/prompt.js";
import type { CredentialStore } from "../credentials/store.js";
import { UsageError } from "../errors.js";
import { type HttpConfig, MAX_RESPONSE_BYTES } from "../http/config.js";
import { writeDiagnostic } from "../output/printer.js";
import { type Endpoint, endpointFor, knownApiFrom } from "../services/api.js";
import { knownSpaces, type ServiceOptions } from "../services/open.js";
import type { ConnectionConfig } from "../services/options.js";
import { userAgent } from "../version.js";
import { type Globals, serverOf, userOf } from "./globals.js";

// A command's session from the global flags: the credential sources, the connection settings, and
// what opening the server's service needs (globals.ts reads and checks the flags themselves).

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
    // Tokens (Mastodon): the same rule; each store holds one kind, and a service asks only for its own.
    if (g.flags.tokenFile !== undefined) stores.push(new TokenFileStore(g.flags.tokenFile));
    stores.push(new EnvTokenStore(ctx.env));
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
    warn: (line: string) => writeDiagnostic(ctx, line),
    passwordLogin: (user: string) => passwordLoginFor(g, server, user),
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
 * Whether the config shows that the keychain entry for this user at this host is a StatusNet password
 * (a StatusNet login recorded for the host and user, and no Mastodon login): the keychain keeps either
 * secret under the same service and account, so a password must not be sent as a Bearer token to a
 * host that (like Friendica) also speaks the Mastodon API (docs/threats.md J1).
 */
function passwordLoginFor(g: Globals, server: Server, user: string): boolean {
  const servers = g.config.servers ?? {};
  const same = (u: string | undefined) => u !== undefined && u.toLowerCase() === user.toLowerCase();
  const mastodon = servers[server.origin];
  if (mastodon?.api === "mastodon" && (same(mastodon.user) || Object.keys(mastodon.apps ?? {}).some(same)))
    return false;
  return Object.entries(servers).some(([root, s]) => {
    if (root === server.origin || !same(s.user) || s.api === "mastodon") return false;
    try {
      return parseServer(root).key === server.key;
    } catch {
      return false;
    }
  });
}

/**
 * The server and the API it speaks: known without a request when `--api`, `IDENTICA_API`, the config,
 * a path in the server URL or an earlier detection says; otherwise found out once with one request
 * (services/detect.ts) and remembered.
 */
export async function endpointOf(
  g: Globals,
  ctx: Context,
  server: Server = serverOf(g, ctx),
): Promise<Endpoint> {
  const known = await knownEndpoint(g, ctx, server);
  if (known !== undefined) return known;
  const { detectApi } = await import("../services/detect.js");
  const { LimitCache } = await import("../core/limit-cache.js");
  const dir = cacheDir(ctx.env);
  return detectApi(server, await httpConfig(g, ctx), dir, new LimitCache(dir, ctx.now), g.printer.note);
}

/** The endpoint when its API is known without asking the server (see endpointOf); else undefined. */
export async function knownEndpoint(g: Globals, ctx: Context, server: Server): Promise<Endpoint | undefined> {
  const known = await knownApiFrom(server, g.flags.api, ctx.env, g.config, cacheDir(ctx.env));
  if (known === undefined) return undefined;
  const endpoint = endpointFor(server, known.api);
  return known.probed ? { ...endpoint, probed: true } : endpoint;
}

/**
 * What opening the server's service needs, from the global flags: the one place a command's session
 * is built (server, API, account, reply format, HTTP settings, where the secret comes from).
 */
export async function serviceOptions(
  g: Globals,
  ctx: Context,
  endpoint?: Endpoint,
  user?: string,
): Promise<ServiceOptions> {
  const { server, api } = endpoint ?? (await endpointOf(g, ctx));
  return {
    server,
    api,
    user: user ?? userOf(g, ctx, server),
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
    sessions: ctx.run.sessions,
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

import { cacheDir } from "../config/paths.js";
import { atOrigin, parseServer, type Server } from "../config/server.js";
import type { Context } from "../context.js";
import { KeychainStore, serviceName } from "../credentials/keychain.js";
import { ExitCode } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
import { type ApiName, apiTitle, atOriginApi, knownApi } from "../services/api.js";
import { type GlobalFlags, readGlobals } from "./globals.js";

/**
 * `identica accounts`: the accounts stored in the keychain, one line each, named by the handle
 * `user@host[:port]` that `post --to` takes (docs/cli.md "Several accounts in one command"), with its
 * API. keytar cannot list services, so the servers are the ones the config file knows (every `login`
 * records its server there), plus `--server` / IDENTICA_SERVER.
 */
export async function accountsCommand(ctx: Context, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const roots = new Map<string, Server>();
  const add = (s: string | undefined) => {
    if (!s) return;
    try {
      const server = parseServer(s);
      roots.set(server.root, server);
    } catch {
      // An invalid entry in the config is not this command's business.
    }
  };
  add(gflags.server ?? ctx.env.IDENTICA_SERVER);
  add(g.config.server);
  for (const root of Object.keys(g.config.servers ?? {})) add(root);

  const keychain = new KeychainStore({ env: ctx.env });
  const result: {
    server: string;
    api: string | null;
    service: string;
    accounts: { user: string; handle: string; default: boolean }[];
  }[] = [];
  // One keychain service per host[:port], whatever the API: each is listed once.
  const listed = new Set<string>();
  for (const server of roots.values()) {
    if (listed.has(server.key)) continue;
    listed.add(server.key);
    // Known without a request; null when the server was never used (detected on first use).
    const api = (await knownApi(server, undefined, {}, g.config, cacheDir(ctx.env))) ?? null;
    const root = atOriginApi(api ?? undefined) ? atOrigin(server).root : server.root;
    const defaultUser = g.config.servers?.[root]?.user ?? g.config.user;
    const users = await keychain.accounts(server.key);
    if (users.length === 0) continue;
    result.push({
      server: root,
      api,
      service: serviceName(server.key),
      // The keychain's service is `identica:<host[:port]>` (server.key), which is the handle's host.
      accounts: users.map((user) => ({
        user,
        handle: `${user}@${server.key}`,
        default: user === defaultUser,
      })),
    });
  }

  if (g.output === "json") {
    g.printer.result(`${JSON.stringify(result, null, 2)}\n`);
  } else if (g.output !== "none") {
    if (roots.size === 0) {
      // Nothing was asked of the keychain: it is asked per server, and no server is known.
      g.printer.result(
        "No server is configured, so no keychain entry was looked up. Add an account with: identica login --server HOST --user NICK (or ask for one server: identica accounts --server HOST)\n",
      );
    } else if (result.length === 0) {
      g.printer.result(
        "No accounts stored in the OS keychain. Add one with: identica login --server HOST --user NICK\n",
      );
    }
    // One line per account, the handles in a column so the APIs line up:
    // `alice@mastodon.example  Mastodon API  (default)`.
    const rows = result.flatMap((r) =>
      r.accounts.map((a) => ({
        handle: sanitizeForTerminal(a.handle),
        api: apiLabel(r.api),
        default: a.default,
      })),
    );
    const handleWidth = Math.max(0, ...rows.map((r) => r.handle.length));
    const apiWidth = Math.max(0, ...rows.map((r) => r.api.length));
    for (const r of rows) {
      const line = r.default
        ? `${r.handle.padEnd(handleWidth)}  ${r.api.padEnd(apiWidth)}  (default)`
        : `${r.handle.padEnd(handleWidth)}  ${r.api}`;
      g.printer.result(`${line}\n`);
    }
  }
  return ExitCode.Ok;
}

/** The API as the listing names it; a server never used yet has its API detected on first use. */
function apiLabel(api: string | null): string {
  return api === null ? "API not known yet" : apiTitle(api as ApiName);
}

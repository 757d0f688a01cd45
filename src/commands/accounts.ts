import { cacheDir } from "../config/paths.js";
import { atOrigin, parseServer, type Server } from "../config/server.js";
import type { Context } from "../context.js";
import { KeychainStore, serviceName } from "../credentials/keychain.js";
import { ExitCode } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
import { knownApi } from "../services/api.js";
import { type GlobalFlags, readGlobals } from "./globals.js";

/**
 * `identica accounts`: the accounts stored in the keychain, per server. keytar cannot list services,
 * so the servers are the ones the config file knows (every `login` records its server there), plus
 * `--server` / IDENTICA_SERVER.
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
    accounts: { user: string; default: boolean }[];
  }[] = [];
  // One keychain service per host[:port], whatever the API: each is listed once.
  const listed = new Set<string>();
  for (const server of roots.values()) {
    if (listed.has(server.key)) continue;
    listed.add(server.key);
    // Known without a request; null when the server was never used (detected on first use).
    const api = (await knownApi(server, undefined, {}, g.config, cacheDir(ctx.env))) ?? null;
    const root = api === "mastodon" ? atOrigin(server).root : server.root;
    const defaultUser = g.config.servers?.[root]?.user ?? g.config.user;
    const users = await keychain.accounts(server.key);
    if (users.length === 0) continue;
    result.push({
      server: root,
      api,
      service: serviceName(server.key),
      accounts: users.map((user) => ({ user, default: user === defaultUser })),
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
    for (const r of result) {
      const users = r.accounts.map((a) => `  ${sanitizeForTerminal(a.user)}${a.default ? " (default)" : ""}`);
      const api = r.api === "mastodon" ? " (Mastodon API)" : r.api === "statusnet" ? " (StatusNet API)" : "";
      g.printer.result(`${r.server}${api}\n${users.join("\n")}\n`);
    }
  }
  return ExitCode.Ok;
}

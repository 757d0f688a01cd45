import { parseServer, type Server } from "../config/server.js";
import type { Context } from "../context.js";
import { KeychainStore, serviceName } from "../credentials/keychain.js";
import { ExitCode } from "../errors.js";
import { sanitizeForTerminal } from "../sanitize.js";
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
  const result: { server: string; service: string; accounts: { user: string; default: boolean }[] }[] = [];
  for (const server of roots.values()) {
    const defaultUser = g.config.servers?.[server.root]?.user ?? g.config.user;
    const users = await keychain.accounts(server.key);
    if (users.length === 0) continue;
    result.push({
      server: server.root,
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
      g.printer.result(`${r.server}\n${users.join("\n")}\n`);
    }
  }
  return ExitCode.Ok;
}

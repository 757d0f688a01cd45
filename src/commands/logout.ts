import type { Context } from "../context.js";
import { KeychainStore, serviceName } from "../credentials/keychain.js";
import { ExitCode, UsageError } from "../errors.js";
import { type GlobalFlags, readGlobals, serverOf, userOf } from "./globals.js";

/** `identica logout`: remove the stored password for server/user; 0 whether or not there was one. */
export async function logoutCommand(ctx: Context, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const server = serverOf(g, ctx);
  const user = userOf(g, ctx, server);
  if (user === undefined) throw new UsageError("no user name: pass --user NICK");
  const keychain = new KeychainStore({ env: ctx.env });
  const removed = await keychain.delete({ origin: server.origin, key: server.key, user });
  const entry = `${serviceName(server.key)} / ${user}`;
  if (g.output === "json") {
    g.printer.result(
      `${JSON.stringify({ server: server.root, service: serviceName(server.key), account: user, removed })}\n`,
    );
  } else if (g.output !== "none") {
    g.printer.result(
      removed
        ? `Removed the password for ${user} at ${server.key} (${entry}).\n`
        : `No password was stored for ${user} at ${server.key} (${entry}).\n`,
    );
  }
  return ExitCode.Ok;
}

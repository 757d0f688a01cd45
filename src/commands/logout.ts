import { appsWith, keptApp } from "../config/file.js";
import { configFile } from "../config/paths.js";
import { maySendSecret } from "../config/server.js";
import { updateConfig } from "../config/write.js";
import type { Context } from "../context.js";
import { KeychainStore, SESSION_SUFFIX, serviceName } from "../credentials/keychain.js";
import { ExitCode, UsageError } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import { oneLine } from "../sanitize.js";
import type { Endpoint } from "../services/api.js";
import { type GlobalFlags, type Globals, readGlobals, serverOf, userOf } from "./globals.js";
import { httpConfig, knownEndpoint } from "./session-options.js";

/**
 * `identica logout`: remove the stored password or token for server/user; 0 whether or not there was
 * one. On a Mastodon server the token is revoked first (`POST /oauth/revoke`) when identica's own app
 * issued it; a revocation that fails is reported, and the token is removed all the same.
 */
export async function logoutCommand(ctx: Context, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const given = serverOf(g, ctx);
  // No request just to find the API: logging out works offline. A server never used as Mastodon has
  // nothing to revoke.
  const endpoint = (await knownEndpoint(g, ctx, given)) ?? { server: given, api: "statusnet" as const };
  const { server } = endpoint;
  const named = userOf(g, ctx, server);
  if (named === undefined) throw new UsageError("no user name: pass --user NICK");
  const keychain = new KeychainStore({ env: ctx.env });
  // The name as stored, which is the server's spelling: `--user carol` logs "Carol" out.
  const user = await keychain.storedName(server.key, named);
  const target = { origin: server.origin, key: server.key, user };
  let revoked: boolean | undefined;
  if (endpoint.api === "mastodon") revoked = await revoke(ctx, g, endpoint, keychain, user);
  // The AT Protocol: the session is ended on the server, and its entry removed with the app password's.
  if (endpoint.api === "atproto") revoked = await endSession(ctx, g, endpoint, keychain, user);
  const removed = await keychain.delete(target);
  const secret =
    endpoint.api === "mastodon" ? "token" : endpoint.api === "atproto" ? "app password" : "password";
  const entry = `${serviceName(server.key)} / ${user}`;
  if (g.output === "json") {
    g.printer.result(
      `${JSON.stringify({ server: server.root, service: serviceName(server.key), account: user, removed, ...(revoked === undefined ? {} : { revoked }) })}\n`,
    );
  } else if (g.output !== "none") {
    const rev = !revoked
      ? "Removed"
      : endpoint.api === "atproto"
        ? "Ended the session and removed"
        : "Revoked and removed";
    g.printer.result(
      removed
        ? `${rev} the ${secret} for ${user} at ${server.key} (${entry}).\n`
        : `No ${secret} was stored for ${user} at ${server.key} (${entry}).\n`,
    );
  }
  return ExitCode.Ok;
}

/**
 * Ends the stored AT Protocol session on the server (`deleteSession` with its refresh token) and
 * removes its keychain entry. Whether it was ended; undefined when no session was stored.
 */
async function endSession(
  ctx: Context,
  g: Globals,
  { server }: Endpoint,
  keychain: KeychainStore,
  user: string,
): Promise<boolean | undefined> {
  const entry = { origin: server.origin, key: server.key, user: `${user}${SESSION_SUFFIX}` };
  const found = await keychain.get(entry);
  if (found.kind !== "found" || !("password" in found)) return undefined;
  const { parseSession, deleteSession, maskSecrets } = await import("../services/atproto/session.js");
  let session: ReturnType<typeof parseSession>;
  try {
    session = parseSession(JSON.parse(found.password));
  } catch {
    session = undefined;
  }
  let ended = false;
  if (session !== undefined) {
    maskSecrets((c) => ctx.redactor.addCredential(c), user, session.accessJwt, session.refreshJwt);
    if (!maySendSecret(server.apiRoot, g.flags.insecureHttp === true)) {
      writeDiagnostic(
        ctx,
        `identica: not ending the session at ${server.key} over plain http (pass --insecure-http to); removing it here only`,
      );
    } else {
      const { HttpSession } = await import("../http/client.js");
      const conn = new HttpSession(server.origin, await httpConfig(g, ctx));
      try {
        await deleteSession(conn, server.origin, session);
        ended = true;
      } catch (err) {
        writeDiagnostic(
          ctx,
          `identica: could not end the session at ${server.key}: ${oneLine((err as Error).message.replace(/; (the status may have been (posted|deleted)|nothing was (posted|changed))$/, ""), 300)}; removing it here all the same (revoke the app password in the account's settings)`,
        );
      } finally {
        await conn.close();
      }
    }
  }
  await keychain.delete(entry);
  return ended;
}

/**
 * Revokes the stored token through the app that `login` registered, when that app issued it (a token
 * pasted with `--token-stdin` belongs to the web UI's app, which only the web UI can revoke). Returns
 * whether it was revoked; undefined when there was nothing identica could revoke.
 */
async function revoke(
  ctx: Context,
  g: Globals,
  { server }: Endpoint,
  keychain: KeychainStore,
  user: string,
): Promise<boolean | undefined> {
  const app = keptApp(g.config.servers?.[server.root], user);
  const found = await keychain.get({ origin: server.origin, key: server.key, user, secret: "token" });
  if (found.kind !== "found" || !("token" in found)) return undefined;
  if (app === undefined) {
    g.printer.note(
      `* the token for ${user} was not issued through identica's app; revoke it in ${server.key}'s settings if need be`,
    );
    return undefined;
  }
  if (!maySendSecret(server.apiRoot, g.flags.insecureHttp === true)) {
    writeDiagnostic(
      ctx,
      `identica: not revoking the token at ${server.key} over plain http (pass --insecure-http to); removing it here only`,
    );
    return false;
  }
  ctx.redactor.addCredential({ user, password: found.token, token68: found.token });
  ctx.redactor.addCredential({ user: app.clientId, password: app.clientSecret, token68: app.clientSecret });
  const { HttpSession } = await import("../http/client.js");
  const { revokeToken } = await import("../services/mastodon/oauth.js");
  const session = new HttpSession(server.origin, await httpConfig(g, ctx));
  try {
    await revokeToken(session, server.origin, app, found.token);
  } catch (err) {
    writeDiagnostic(
      ctx,
      `identica: could not revoke the token at ${server.key}: ${oneLine((err as Error).message, 300)}; removing it here all the same (revoke it in the server's settings)`,
    );
    return false;
  } finally {
    await session.close();
  }
  // The app was for this token: snac deletes it on revocation, and it is of no further use. The other
  // accounts' apps stay, for their own logout.
  await updateConfig(configFile(ctx.env), (cfg) => {
    const { app: _app, apps: _apps, ...rest } = cfg.servers?.[server.root] ?? {};
    const apps = appsWith(cfg.servers?.[server.root], user, undefined);
    return { ...cfg, servers: { ...cfg.servers, [server.root]: { ...rest, ...(apps ? { apps } : {}) } } };
  });
  return true;
}

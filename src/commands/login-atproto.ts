import { configFile } from "../config/paths.js";
import { updateConfig } from "../config/write.js";
import type { Context } from "../context.js";
import { KeychainStore, SESSION_SUFFIX, serviceName } from "../credentials/keychain.js";
import { canPrompt, readLineFromTerminal } from "../credentials/prompt.js";
import type { CredentialTarget } from "../credentials/store.js";
import { ExitCode, HttpError, UsageError } from "../errors.js";
import { loadStyle, useColor } from "../output/color.js";
import { writeDiagnostic } from "../output/printer.js";
import { jsonForTerminal, oneLine, sanitizeForTerminal } from "../sanitize.js";
import type { Endpoint } from "../services/api.js";
import {
  type AtSession,
  createSession,
  deleteSession,
  isMainPasswordSession,
  maskSecrets,
  parseSession,
} from "../services/atproto/session.js";
import { type Globals, userOf } from "./globals.js";
import { type LoginFlags, readPassword } from "./login.js";
import { httpConfig } from "./session-options.js";

/**
 * `identica login` on an AT Protocol PDS (docs/cli.md "A third API"): `createSession` with the handle
 * and an app password. A session made with the account's main password is deleted again and nothing is
 * stored (77): identica keeps only app passwords, which the user can revoke one by one. Otherwise the
 * app password and the session go into the OS keychain, as `<handle>` and `<handle>#session`.
 */
export async function atprotoLogin(
  ctx: Context,
  g: Globals,
  endpoint: Endpoint,
  flags: LoginFlags,
): Promise<ExitCode> {
  const { server } = endpoint;
  const noInput = g.flags.input === false;
  let user = userOf(g, ctx, server);
  if (user === undefined && !flags.passwordStdin && canPrompt(ctx, noInput)) {
    user = (await readLineFromTerminal(ctx, `Handle at ${sanitizeForTerminal(server.key)}: `, true)).trim();
  }
  if (!user) throw new UsageError("no handle: pass --user HANDLE (e.g. --user alice.bsky.social)");
  user = user.replace(/^@/, "");
  const keychain = new KeychainStore({ env: ctx.env });
  const target: CredentialTarget = { origin: server.origin, key: server.key, user };
  await keychain.check(target);

  const password = await readPassword(ctx, g, flags, target, noInput);
  maskSecrets((c) => ctx.redactor.addCredential(c), user, password);
  const http = await httpConfig(g, ctx);
  const { HttpSession } = await import("../http/client.js");
  const conn = new HttpSession(server.origin, http);
  let session: AtSession;
  try {
    session = await createSession(conn, server.origin, user, password, http);
    maskSecrets((c) => ctx.redactor.addCredential(c), session.handle, session.accessJwt, session.refreshJwt);
    // A token whose scope cannot be read proves nothing: only a session that says it was made with the
    // main password is refused.
    if (isMainPasswordSession(session)) {
      await deleteSession(conn, server.origin, session).catch(() => undefined);
      throw new HttpError(
        ExitCode.NoPerm,
        `that is ${oneLine(session.handle, 60)}'s main password, not an app password: identica stores only app passwords; nothing was stored`,
        { status: 200, sent: true },
        {
          hint: "make one in Settings > Privacy and security > App passwords (xxxx-xxxx-xxxx-xxxx), then log in with it",
        },
      );
    }
    // Handles are case-insensitive; a PDS writes them in lower case, and so are they kept.
    const account = session.handle.toLowerCase();
    const entry = { origin: server.origin, key: server.key, user: account };
    const sessionEntry = { ...entry, user: `${account}${SESSION_SUFFIX}` };
    // The session this login replaces is ended on the server once the new one is stored.
    const before = await keychain.get(sessionEntry);
    const old =
      before.kind === "found" && "password" in before ? parseJsonSession(before.password) : undefined;
    await keychain.set(entry, password);
    await keychain.set(sessionEntry, JSON.stringify(session));
    await updateConfig(configFile(ctx.env), (cfg) => ({
      ...cfg,
      server: server.spec,
      servers: {
        ...cfg.servers,
        [server.root]: { ...cfg.servers?.[server.root], user: account, api: "atproto" as const },
      },
    }));
    const formers = await sameAccountElsewhere(keychain, server, account, session.did);
    for (const former of formers) {
      // The same account under a former handle (it was renamed) or another spelling: its entries
      // would make it a second account for `--to all`, and every status would be posted to it twice.
      await keychain.delete({ ...entry, user: former.name });
      await keychain.delete({ ...entry, user: `${former.name}${SESSION_SUFFIX}` });
      g.printer.note(
        `* ${former.name} at ${server.key} is the same account (${session.did}): replaced by ${account}`,
      );
      if (former.session.refreshJwt !== session.refreshJwt) {
        maskSecrets((c) => ctx.redactor.addCredential(c), former.name, former.session.refreshJwt);
        conn.newDeadline();
        await deleteSession(conn, server.origin, former.session).catch(() => undefined);
      }
    }
    if (old !== undefined && old.refreshJwt !== session.refreshJwt) {
      maskSecrets((c) => ctx.redactor.addCredential(c), account, old.refreshJwt);
      conn.newDeadline();
      await deleteSession(conn, server.origin, old).catch((err: unknown) => {
        // An old session that is already gone (expired, deleted) is no failure of this login.
        if (!(err instanceof HttpError && err.details.status === 400)) {
          writeDiagnostic(
            ctx,
            `identica: could not end the session this login replaces: ${oneLine((err as Error).message, 200)}`,
          );
        }
      });
    }
    await report(ctx, g, endpoint, session);
  } finally {
    await conn.close();
  }
  return ExitCode.Ok;
}

/**
 * The other accounts stored for this server whose session is for the same DID: the account under a
 * handle it had before, or spelt in another case.
 */
async function sameAccountElsewhere(
  keychain: KeychainStore,
  server: Endpoint["server"],
  account: string,
  did: string,
): Promise<{ name: string; session: AtSession }[]> {
  const out: { name: string; session: AtSession }[] = [];
  for (const name of await keychain.accounts(server.key).catch(() => [] as string[])) {
    if (name === account) continue;
    const found = await keychain.get({
      origin: server.origin,
      key: server.key,
      user: `${name}${SESSION_SUFFIX}`,
    });
    const s = found.kind === "found" && "password" in found ? parseJsonSession(found.password) : undefined;
    if (s?.did === did) out.push({ name, session: s });
  }
  return out;
}

function parseJsonSession(text: string): AtSession | undefined {
  try {
    return parseSession(JSON.parse(text));
  } catch {
    return undefined;
  }
}

async function report(ctx: Context, g: Globals, { server }: Endpoint, session: AtSession): Promise<void> {
  const account = session.handle;
  if (g.output === "json") {
    const stored = {
      service: serviceName(server.key),
      account,
      session: `${account}${SESSION_SUFFIX}`,
    };
    const profile = {
      id: session.did,
      screenName: account,
      name: account,
      server: server.root,
      url: `https://bsky.app/profile/${account}`,
    };
    g.printer.result(`${jsonForTerminal({ ...profile, api: "atproto", stored }, 2)}\n`);
  } else if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    g.printer.result(
      `Logged in to ${server.key} (AT Protocol) as ${style.accent(`@${sanitizeForTerminal(account)}`)} (${sanitizeForTerminal(session.did)}).\n` +
        style.dim(
          `The app password and the session are in the OS keychain as ${serviceName(server.key)} / ${sanitizeForTerminal(account)} and ${sanitizeForTerminal(account)}${SESSION_SUFFIX}; ${server.key} is now the default server.`,
        ) +
        "\n",
    );
  } else if (g.output === "id") {
    g.printer.result(`${session.did}\n`);
  }
}

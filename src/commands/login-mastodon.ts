import { type AppCredentials, appsWith, keptApp } from "../config/file.js";
import { configFile } from "../config/paths.js";
import { maySendSecret } from "../config/server.js";
import { updateConfig } from "../config/write.js";
import type { Context } from "../context.js";
import { KeychainStore, serviceName } from "../credentials/keychain.js";
import { canPrompt, readLineFromTerminal } from "../credentials/prompt.js";
import { ExitCode, IdenticaError, UsageError } from "../errors.js";
import { loadStyle, useColor } from "../output/color.js";
import { writeDiagnostic } from "../output/printer.js";
import { profileJson } from "../output/user.js";
import { jsonForTerminal, oneLine, sanitizeForTerminal } from "../sanitize.js";
import type { Endpoint } from "../services/api.js";
import { withService } from "../services/open.js";
import type { Profile } from "../services/service.js";
import { type Globals, userOf } from "./globals.js";
import { readFirstLine } from "./login-input.js";
import { httpConfig } from "./session-options.js";

export interface MastodonLoginFlags {
  tokenStdin?: boolean;
  /** `--no-browser` makes this false. */
  browser?: boolean;
}

/**
 * `identica login` on a Mastodon-API server (docs/cli.md "Two APIs"): the authorization-code flow with
 * the out-of-band redirect and PKCE, or a token made in the server's web UI (`--token-stdin`); either
 * is checked with `verify_credentials` before it is stored in the OS keychain under the account's
 * username, and the server and user become the defaults.
 */
export async function mastodonLogin(
  ctx: Context,
  g: Globals,
  endpoint: Endpoint,
  flags: MastodonLoginFlags,
): Promise<ExitCode> {
  const { server } = endpoint;
  // The code, the app's secret and the token are as good as a password: not over plain http to a host
  // that is not loopback (docs/threats.md A8), unless the user accepts it.
  if (!maySendSecret(server.apiRoot, g.flags.insecureHttp === true)) {
    throw new IdenticaError(
      ExitCode.NoPerm,
      `refusing to log in to ${server.key} over plain http; nothing was sent`,
      {
        hint: "use an https:// server URL, or pass --insecure-http if you accept the risk",
      },
    );
  }
  const keychain = new KeychainStore({ env: ctx.env });
  const named = userOf(g, ctx, server);
  // Before anything is asked of the user or the server: a keychain that cannot store the token makes
  // the login pointless.
  await keychain.check({
    origin: server.origin,
    key: server.key,
    user: named ?? "identica",
    secret: "token",
  });

  let token: string;
  let app: { clientId: string; clientSecret: string } | undefined;
  if (flags.tokenStdin) {
    // A token has no white space in it: any around it came with the copy from the web page (or the
    // terminal) and would only make the token "contain a space" (78).
    token = (await readFirstLine(ctx, "--token-stdin", "token")).trim();
  } else {
    ({ token, app } = await authorize(ctx, g, endpoint, flags.browser !== false));
  }
  ctx.redactor.addCredential({ user: named ?? "", password: token, token68: token });

  const { profile } = await withService(
    {
      server,
      api: "mastodon",
      user: named,
      format: g.format,
      http: await httpConfig(g, ctx),
      credential: { fixedToken: { user: named ?? "(the token's account)", token } },
    },
    (svc) => svc.whoami(),
  );
  const account = profile.screenName;
  if (named !== undefined && named.toLowerCase() !== account.toLowerCase()) {
    g.printer.note(`* the token belongs to ${account}, not ${named}: storing it for ${account}`);
  }
  const stored = { origin: server.origin, key: server.key, user: account, secret: "token" as const };
  // A token this login replaces, and the app that obtained it: once the config forgets that app, the
  // old token could never be revoked, and Mastodon's tokens do not expire.
  const before = await keychain.get(stored);
  const replaced = before.kind === "found" && "token" in before ? before.token : undefined;
  const replacedApp = keptApp(g.config.servers?.[server.root], account);
  await keychain.set(stored, token);
  await updateConfig(configFile(ctx.env), (cfg) => {
    const { app: _legacy, apps: _apps, ...rest } = cfg.servers?.[server.root] ?? {};
    // The app is kept only with a token it issued, one per account: `logout` revokes through it, and
    // a pasted token belongs to the web UI's own app, which this one cannot revoke.
    const apps = appsWith(cfg.servers?.[server.root], account, app);
    return {
      ...cfg,
      server: server.spec,
      servers: {
        ...cfg.servers,
        [server.root]: { ...rest, user: account, api: "mastodon", ...(apps ? { apps } : {}) },
      },
    };
  });
  if (replaced !== undefined && replaced !== token && replacedApp !== undefined)
    await revokeReplaced(ctx, g, endpoint, account, replacedApp, replaced);
  await report(ctx, g, endpoint, profile, account);
  return ExitCode.Ok;
}

/**
 * Revokes the token a new login replaced, through the app that obtained it; a failure is one line on
 * stderr and the login stands (the new token is stored and checked).
 */
async function revokeReplaced(
  ctx: Context,
  g: Globals,
  { server }: Endpoint,
  account: string,
  app: AppCredentials,
  old: string,
): Promise<void> {
  ctx.redactor.addCredential({ user: account, password: old, token68: old });
  ctx.redactor.addCredential({ user: app.clientId, password: app.clientSecret, token68: app.clientSecret });
  const { HttpSession } = await import("../http/client.js");
  const { revokeToken } = await import("../services/mastodon/oauth.js");
  const session = new HttpSession(server.origin, await httpConfig(g, ctx));
  try {
    await revokeToken(session, server.origin, app, old);
    g.printer.note(`* revoked the token this login replaces for ${account}`);
  } catch (err) {
    writeDiagnostic(
      ctx,
      `identica: could not revoke the token this login replaces for ${account}: ${oneLine((err as Error).message, 300)} (revoke it in the server's settings)`,
    );
  } finally {
    await session.close();
  }
}

/**
 * Registers identica as an app, shows the authorization page's URL (and opens it on a desktop), reads
 * the code the server then shows, and exchanges it with the PKCE verifier for a token.
 */
async function authorize(
  ctx: Context,
  g: Globals,
  { server }: Endpoint,
  browser: boolean,
): Promise<{ token: string; app: { clientId: string; clientSecret: string } }> {
  const { HttpSession } = await import("../http/client.js");
  const oauth = await import("../services/mastodon/oauth.js");
  // Whether the code can be read at all, before an app is registered for nothing.
  const interactive = canPrompt(ctx, g.flags.input === false);
  if (!interactive && ctx.stdin.isTTY === true) {
    throw new UsageError("login needs the code the server shows, and --no-input forbids asking for it", {
      hint: "pipe the code into identica login, or store a token made in the web UI with --token-stdin",
    });
  }
  const session = new HttpSession(server.origin, await httpConfig(g, ctx));
  try {
    const app = await oauth.registerApp(session, server.origin, {
      clientName: "identica",
      website: "https://www.npmjs.com/package/identica",
    });
    ctx.redactor.addCredential({ user: app.clientId, password: app.clientSecret, token68: app.clientSecret });
    const pkce = oauth.pkcePair();
    const url = oauth.authorizeUrl(server.origin, app.clientId, pkce.challenge);
    ctx.stderr.write(
      `To let identica post as you on ${sanitizeForTerminal(server.key)}, open this page, log in and authorize it:\n\n  ${sanitizeForTerminal(url)}\n\n`,
    );
    if (browser && interactive) {
      const { openInBrowser } = await import("../output/opener.js");
      if (openInBrowser(url, ctx.env)) ctx.stderr.write("(opened in your browser)\n");
    }
    let input: string;
    if (interactive) {
      // Ctrl-D instead of a code is "no code" (64, as from stdin), not the password prompt's 78.
      input = await readLineFromTerminal(ctx, "Then paste the code it shows: ", true, oauth.noCode);
    } else {
      input = await readFirstLine(ctx, "login", "authorization code");
    }
    const code = oauth.cleanCode(input);
    session.newDeadline();
    const token = await oauth.exchangeCode(session, server.origin, app, code, pkce.verifier);
    return { token, app };
  } finally {
    await session.close();
  }
}

async function report(ctx: Context, g: Globals, { server }: Endpoint, profile: Profile, account: string) {
  if (g.output === "json") {
    const stored = { service: serviceName(server.key), account };
    g.printer.result(
      `${jsonForTerminal({ ...profileJson(profile, server.root), api: "mastodon", stored }, 2)}\n`,
    );
  } else if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    g.printer.result(
      `Logged in to ${server.key} (Mastodon API) as ${style.accent(`@${sanitizeForTerminal(account)}`)} (${sanitizeForTerminal(profile.name)}).\n` +
        style.dim(
          `The token is in the OS keychain as ${serviceName(server.key)} / ${sanitizeForTerminal(account)}; ${server.key} is now the default server.`,
        ) +
        "\n",
    );
  } else if (g.output === "id") {
    g.printer.result(`${profile.id}\n`);
  }
}

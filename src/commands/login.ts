import { configFile } from "../config/paths.js";
import { updateConfig } from "../config/write.js";
import type { Context } from "../context.js";
import { PasswordFileStore } from "../credentials/file.js";
import { KeychainStore, serviceName } from "../credentials/keychain.js";
import { canPrompt, readLineFromTerminal } from "../credentials/prompt.js";
import type { CredentialTarget } from "../credentials/store.js";
import { ExitCode, UsageError } from "../errors.js";
import { loadStyle, useColor } from "../output/color.js";
import { profileJson } from "../output/user.js";
import { jsonForTerminal, sanitizeForTerminal } from "../sanitize.js";
import { withService } from "../services/open.js";
import { type GlobalFlags, type Globals, readGlobals, serverOf, userOf } from "./globals.js";
import { readFirstLine } from "./login-input.js";
import { endpointOf, httpConfig } from "./session-options.js";

export interface LoginFlags {
  passwordStdin?: boolean;
  /** Mastodon: a token made in the server's web UI, on stdin. */
  tokenStdin?: boolean;
  /** `--no-browser` (Mastodon): only print the authorization URL. */
  browser?: boolean;
}

/**
 * `identica login`: read the password, check it with `account/verify_credentials` (through the same
 * challenge and retry as a post), and only if the server accepts it store it in the OS keychain and
 * make this server and user the defaults.
 */
export async function loginCommand(ctx: Context, flags: LoginFlags, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  if (flags.passwordStdin && flags.tokenStdin)
    throw new UsageError("--password-stdin and --token-stdin cannot both read stdin");
  // The natural place to find out the server's API: remembered from here on.
  const endpoint = await endpointOf(g, ctx, serverOf(g, ctx));
  if (endpoint.api === "mastodon") {
    if (flags.passwordStdin)
      throw new UsageError(
        `${endpoint.server.key} speaks the Mastodon API, which takes a token, not a password`,
        { hint: "run identica login to authorize in a browser, or pass a token with --token-stdin" },
      );
    const { mastodonLogin } = await import("./login-mastodon.js");
    return mastodonLogin(ctx, g, endpoint, flags);
  }
  if (endpoint.api === "atproto") {
    if (flags.tokenStdin)
      throw new UsageError(
        `${endpoint.server.key} speaks the AT Protocol, which takes an app password, not a token`,
        { hint: "use --password-stdin with an app password" },
      );
    const { atprotoLogin } = await import("./login-atproto.js");
    return atprotoLogin(ctx, g, endpoint, flags);
  }
  if (flags.tokenStdin)
    throw new UsageError(
      `${endpoint.server.key} speaks the StatusNet API, which takes a password, not a token`,
      {
        hint: "use --password-stdin",
      },
    );
  const server = endpoint.server;
  const noInput = gflags.input === false;
  let user = userOf(g, ctx, server);
  if (user === undefined && !flags.passwordStdin && canPrompt(ctx, noInput)) {
    user = (
      await readLineFromTerminal(ctx, `User name at ${sanitizeForTerminal(server.key)}: `, true)
    ).trim();
  }
  if (!user) throw new UsageError("no user name: pass --user NICK");
  const keychain = new KeychainStore({ env: ctx.env });
  const target: CredentialTarget = { origin: server.origin, key: server.key, user };
  // Before asking for anything: a keychain that cannot store the password makes the login pointless.
  await keychain.check(target);

  const password = await readPassword(ctx, g, flags, target, noInput);
  ctx.redactor.addCredential({ user, password });
  const { profile } = await withService(
    {
      server,
      api: "statusnet",
      user,
      format: g.format,
      http: await httpConfig(g, ctx),
      credential: { fixed: { user, password } },
    },
    (svc) => svc.whoami(),
  );
  // The server's own spelling of the nickname is the one later lookups use.
  const account = profile.screenName.toLowerCase() === user.toLowerCase() ? profile.screenName : user;
  await keychain.set({ ...target, user: account }, password);
  await updateConfig(configFile(ctx.env), (cfg) => ({
    ...cfg,
    server: server.spec,
    servers: {
      ...cfg.servers,
      [server.root]: { ...cfg.servers?.[server.root], user: account, api: "statusnet" },
    },
  }));

  if (g.output === "json") {
    const stored = { service: serviceName(server.key), account };
    g.printer.result(`${jsonForTerminal({ ...profileJson(profile, server.root), stored }, 2)}\n`);
  } else if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    g.printer.result(
      `Logged in to ${server.key} as ${style.accent(`@${sanitizeForTerminal(account)}`)} (${sanitizeForTerminal(profile.name)}).\n` +
        style.dim(
          `The password is in the OS keychain as ${serviceName(server.key)} / ${sanitizeForTerminal(account)}; ${server.root} is now the default server.`,
        ) +
        "\n",
    );
  } else if (g.output === "id") {
    g.printer.result(`${profile.id}\n`);
  }
  return ExitCode.Ok;
}

export async function readPassword(
  ctx: Context,
  g: Globals,
  flags: LoginFlags,
  target: CredentialTarget,
  noInput: boolean,
): Promise<string> {
  if (flags.passwordStdin) return readFirstLine(ctx, "--password-stdin", "password");
  if (g.flags.passwordFile !== undefined) {
    const found = await new PasswordFileStore(g.flags.passwordFile).get();
    if (found.kind === "found") return found.password;
  }
  if (ctx.env.IDENTICA_PASSWORD) return ctx.env.IDENTICA_PASSWORD;
  if (canPrompt(ctx, noInput)) {
    const pw = await readLineFromTerminal(
      ctx,
      `Password for ${sanitizeForTerminal(target.user)} at ${sanitizeForTerminal(target.key)}: `,
    );
    if (pw !== "") return pw;
  }
  throw new UsageError("no password given", {
    hint: "run identica login in a terminal, or pipe it in with --password-stdin",
  });
}

import { EnvStore } from "../../credentials/env.js";
import { PasswordFileStore } from "../../credentials/file.js";
import { resolveCredential } from "../../credentials/resolve.js";
import type { CredentialStore } from "../../credentials/store.js";
import { ConfigError } from "../../errors.js";
import type { ServiceOptions } from "../options.js";
import type { Service } from "../service.js";
import { BearerSession } from "./bearer.js";
import { loadHtmlText } from "./html.js";
import { Mastodon } from "./mastodon.js";

/**
 * Opens one connection to a Mastodon-API server, runs `fn` with the service bound to it, and closes
 * it. The token comes from the sources that hold tokens (docs/cli.md "Two APIs": `--token-file`,
 * `IDENTICA_TOKEN`, the keychain), for this server's origin only, and is looked up on first need.
 */
export async function withMastodon<T>(opts: ServiceOptions, fn: (svc: Service) => Promise<T>): Promise<T> {
  const { HttpSession } = await import("../../http/client.js");
  // Every status is turned from HTML into text within fn: the parser is loaded before the first request.
  const htmlText = await loadHtmlText();
  const source = opts.credential;
  const token = async (): Promise<{ user: string; token: string }> => {
    if ("fixedToken" in source) return source.fixedToken;
    if ("fixed" in source) throw new ConfigError("a Mastodon server takes a token, not a password");
    const user = opts.user ?? (await source.soleAccount?.());
    // Without an account name, only a token that needs none (--token-file, IDENTICA_TOKEN): the server
    // knows whose it is.
    const stores = user === undefined ? source.stores.filter((s) => s.anyUser === true) : source.stores;
    if (user === undefined && !stores.some((s) => s.holds?.includes("token"))) {
      throw new ConfigError(`no account is set for ${opts.server.key}`, {
        hint: "pass --user NAME, set IDENTICA_USER, or run: identica login",
      });
    }
    let cred: Awaited<ReturnType<typeof resolveCredential>>;
    try {
      cred = await resolveCredential(
        { origin: opts.server.origin, key: opts.server.key, user: user ?? "an account", secret: "token" },
        stores,
        source.note,
      );
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw await noToken(err, source.stores, opts.server.key);
    }
    if (!("token" in cred)) throw new Error("a credential store answered a token request with a password");
    return { user: cred.user, token: cred.token };
  };
  const session = new BearerSession(new HttpSession(opts.server.origin, opts.http), opts.http, token);
  try {
    return await fn(new Mastodon({ server: opts.server, session, htmlText, user: opts.user }));
  } finally {
    await session.close();
  }
}

/**
 * No token anywhere: the hint names every way to give one, whichever sources this run asked (only those
 * a token can come from, and the keychain only with an account name, so the stores' own hints left
 * `--token-file` and `login` out). A password given for the run is named as what does not work, since
 * it is what the user most likely meant to use (docs/cli.md "Two APIs": passwords do not apply).
 */
async function noToken(
  err: ConfigError,
  stores: readonly CredentialStore[],
  key: string,
): Promise<ConfigError> {
  let message = err.message;
  for (const store of stores) {
    if (!(store instanceof EnvStore || store instanceof PasswordFileStore)) continue;
    const found = await store.get().catch(() => undefined);
    if (found?.kind === "found") {
      message += `; ${store.name} holds a password, which the Mastodon API does not take`;
      break;
    }
  }
  return new ConfigError(message, {
    hint: `pass --token-file FILE (mode 0600), set IDENTICA_TOKEN, or run: identica login --server ${key}`,
  });
}

import { EnvStore } from "../../credentials/env.js";
import { PasswordFileStore } from "../../credentials/file.js";
import { KeychainStore } from "../../credentials/keychain.js";
import { resolveCredential } from "../../credentials/resolve.js";
import type { CredentialStore } from "../../credentials/store.js";
import { ConfigError } from "../../errors.js";
import { oneLine } from "../../sanitize.js";
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
    // A token that needs no account name (--token-file, IDENTICA_TOKEN, first in the order anyway) is
    // taken without asking the keychain which accounts it holds: the server knows whose token it is.
    const free = source.stores.filter((s) => s.anyUser === true);
    const target = { origin: opts.server.origin, key: opts.server.key, secret: "token" as const };
    if (opts.user === undefined) {
      for (const store of free) {
        const found = await store.get({ ...target, user: "" });
        if (found.kind === "found" && "token" in found) {
          source.note(`token for the run's account at ${opts.server.origin} from ${store.name}`);
          return { user: "", token: found.token };
        }
      }
    }
    const user = opts.user ?? (await source.soleAccount?.());
    if (user === undefined) {
      throw await noToken(
        new ConfigError(`no token for ${opts.server.key}: no account is set, and no token was given`),
        source.stores,
        opts.server.key,
      );
    }
    // The keychain keeps a password and a token under the same name: one a StatusNet login stored is
    // never sent as a Bearer token.
    let stores = source.stores;
    const passwordLogin = source.passwordLogin?.(user) === true;
    const why = `the keychain entry for ${oneLine(user, 60)} at ${opts.server.key} is a StatusNet password (the config records that login), not a token`;
    if (passwordLogin) {
      source.note(`* ${why}`);
      stores = stores.filter((s) => !(s instanceof KeychainStore));
    }
    let cred: Awaited<ReturnType<typeof resolveCredential>>;
    try {
      cred = await resolveCredential({ ...target, user }, stores, source.note);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // Without -v the note is not shown: the error says it, or "no token" would contradict a login
      // the user remembers making.
      throw await noToken(
        passwordLogin ? new ConfigError(`${err.message}; ${why}`) : err,
        source.stores,
        opts.server.key,
      );
    }
    if (!("token" in cred)) throw new Error("a credential store answered a token request with a password");
    return { user: cred.user, token: cred.token };
  };
  const session = new BearerSession(new HttpSession(opts.server.origin, opts.http), opts.http, token);
  try {
    return await fn(
      new Mastodon({
        server: opts.server,
        session,
        htmlText,
        user: opts.user,
        note: "stores" in source ? source.note : undefined,
      }),
    );
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

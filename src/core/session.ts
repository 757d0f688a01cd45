import type { WireFormat } from "../api/reply.js";
import type { Api } from "../api/update.js";
import { loadXmlParser } from "../api/xml.js";
import type { Server } from "../config/server.js";
import { resolveCredential } from "../credentials/resolve.js";
import type { CredentialStore } from "../credentials/store.js";
import { ConfigError } from "../errors.js";
import type { BasicCredential, HttpConfig } from "../http/client.js";

export interface ApiOptions {
  server: Server;
  /** The account; needed only once the server challenges. */
  user: string | undefined;
  format: WireFormat;
  http: HttpConfig;
  /** Where the password comes from when the server asks: a fixed one (login) or the sources in order. */
  credential:
    | {
        stores: readonly CredentialStore[];
        note: (line: string) => void;
        /** When no user is set: the one account stored for this server, if there is exactly one. */
        soleAccount?: () => Promise<string | undefined>;
      }
    | { fixed: BasicCredential };
}

/**
 * Opens one connection to the server, runs `fn` with an Api bound to it, and closes it. The credential
 * is looked up only when a request is challenged, and only for this server's origin.
 */
export async function withApi<T>(opts: ApiOptions, fn: (api: Api) => Promise<T>): Promise<T> {
  const { HttpSession } = await import("../http/client.js");
  // Every reply is parsed within fn: the parser is loaded before the first request (api/xml.ts).
  await loadXmlParser();
  const session = new HttpSession(opts.server.origin, opts.http);
  const source = opts.credential;
  // `interactive: false` (a known protection space, before any challenge): only the sources that ask
  // no one; the ConfigError when none has it tells the HTTP layer to send without credentials.
  const credential = async (_challenge: unknown, how = { interactive: true }): Promise<BasicCredential> => {
    if ("fixed" in source) return source.fixed;
    const user = opts.user ?? (await source.soleAccount?.());
    if (user === undefined) {
      throw new ConfigError(`${opts.server.key} asks for a login, but no user is set`, {
        hint: "pass --user NICK, set IDENTICA_USER, or run: identica login",
      });
    }
    return resolveCredential(
      { origin: opts.server.origin, key: opts.server.key, user },
      how.interactive ? source.stores : source.stores.filter((s) => s.interactive !== true),
      source.note,
    );
  };
  try {
    return await fn({ server: opts.server, session, format: opts.format, credential });
  } finally {
    await session.close();
  }
}

import { resolveCredential } from "../../credentials/resolve.js";
import { ConfigError } from "../../errors.js";
import type { BasicCredential, ServiceOptions } from "../options.js";
import type { Service } from "../service.js";
import { BasicSession } from "./auth.js";
import { STATUSNET_SECRET, StatusNet } from "./statusnet.js";
import { loadXmlParser } from "./xml.js";

/**
 * Opens one connection to the server, runs `fn` with the StatusNet service bound to it, and closes it.
 * Challenge-first Basic: the credential is looked up only when a request is challenged (or, without
 * asking anyone, for a protection space already known), and only for this server's origin.
 */
export async function withStatusNet<T>(opts: ServiceOptions, fn: (svc: Service) => Promise<T>): Promise<T> {
  const { HttpSession } = await import("../../http/client.js");
  // Every reply is parsed within fn: the parser is loaded before the first request (xml.ts).
  await loadXmlParser();
  const session = new BasicSession(new HttpSession(opts.server.origin, opts.http), opts.http);
  const source = opts.credential;
  // `interactive: false` (a known protection space, before any challenge): only the sources that ask
  // no one; the ConfigError when none has it tells the HTTP layer to send without credentials.
  const credential = async (_challenge: unknown, how = { interactive: true }): Promise<BasicCredential> => {
    if ("fixed" in source) return source.fixed;
    if ("fixedToken" in source) throw new ConfigError("StatusNet takes a password, not a token");
    const user = opts.user ?? (await source.soleAccount?.());
    if (user === undefined) {
      throw new ConfigError(`${opts.server.key} asks for a login, but no user is set`, {
        hint: "pass --user NICK, set IDENTICA_USER, or run: identica login",
      });
    }
    const cred = await resolveCredential(
      { origin: opts.server.origin, key: opts.server.key, user, secret: STATUSNET_SECRET },
      how.interactive ? source.stores : source.stores.filter((s) => s.interactive !== true),
      source.note,
    );
    if (!("password" in cred)) throw new Error("a credential store answered a password request with a token");
    return { user: cred.user, password: cred.password };
  };
  try {
    return await fn(new StatusNet({ server: opts.server, session, format: opts.format, credential }));
  } finally {
    await session.close();
  }
}

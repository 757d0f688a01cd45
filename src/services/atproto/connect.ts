import { KeychainStore, SESSION_SUFFIX } from "../../credentials/keychain.js";
import { resolveCredential } from "../../credentials/resolve.js";
import { ConfigError } from "../../errors.js";
import { RunSessions } from "../../run-session.js";
import type { ServiceOptions } from "../options.js";
import type { Service } from "../service.js";
import { Atproto } from "./atproto.js";
import { type AtSession, deleteSession, parseSession, type SessionStore, XrpcSession } from "./session.js";

/**
 * Opens one connection to an AT Protocol PDS, runs `fn` with the service bound to it, and closes it.
 * The account's session comes from the OS keychain (`<handle>#session`); when there is none, or the
 * server no longer takes it, one is made from the app password, which comes from the same sources as
 * a StatusNet password (docs/cli.md "A third API": `--password-file`, `IDENTICA_PASSWORD`, the
 * keychain, netrc, the prompt), for this server's origin only.
 */
export async function withAtproto<T>(
  opts: ServiceOptions & { session?: AtSession },
  fn: (svc: Service) => Promise<T>,
): Promise<T> {
  const { HttpSession } = await import("../../http/client.js");
  const source = opts.credential;
  const note = "stores" in source ? source.note : undefined;
  let user: Promise<string> | undefined;
  const account = (): Promise<string> => {
    user ??= (async () => {
      if ("fixed" in source) return source.fixed.user;
      if ("fixedToken" in source) throw new ConfigError("the AT Protocol takes an app password, not a token");
      const named = opts.user ?? (await source.soleAccount?.());
      if (named === undefined) {
        throw new ConfigError(`no account is set for ${opts.server.key}`, {
          hint: `pass --user HANDLE, or run: identica login --server ${opts.server.key} --user HANDLE`,
        });
      }
      // A handle written as a mention (`--user @alice.bsky.social`) is the handle.
      return named.replace(/^@/, "");
    })();
    return user;
  };
  const password = async () => {
    if ("fixed" in source) return source.fixed;
    if ("fixedToken" in source) throw new ConfigError("the AT Protocol takes an app password, not a token");
    const named = await account();
    const cred = await resolveCredential(
      { origin: opts.server.origin, key: opts.server.key, user: named, secret: "password" },
      source.stores,
      source.note,
    );
    if (!("password" in cred)) throw new Error("a credential store answered a password request with a token");
    return { user: cred.user, password: cred.password };
  };
  const keychain = "stores" in source ? source.stores.find((s) => s instanceof KeychainStore) : undefined;
  // The run's own sessions (run-session.ts): one made earlier in this run for the same account and kept
  // nowhere else is used again (outbox send: one login for all of an account's entries), and ended when
  // the run is done. A caller with no run, or fixed credentials (which no other request may use), gets
  // sessions of its own, ended with this connection.
  const own =
    "fixed" in source || "fixedToken" in source || opts.http.sessions === undefined
      ? new RunSessions()
      : undefined;
  const run = own ?? (opts.http.sessions as RunSessions);
  const runKey = async () => `${opts.server.origin}\n${(await account()).toLowerCase()}`;
  const store: SessionStore = {
    load: async () => {
      const found = keychain ? await keychain.get(sessionTarget(opts, await account())) : undefined;
      if (found?.kind === "found" && "password" in found) {
        try {
          const stored = parseSession(JSON.parse(found.password));
          if (stored !== undefined) return stored;
        } catch {
          // Not a session: as if there were none.
        }
      }
      return run.get<AtSession>(await runKey());
    },
    save: async (s) => {
      if (keychain === undefined) throw new Error("no keychain");
      await keychain.set(sessionTarget(opts, await account()), JSON.stringify(s));
    },
  };
  const keepForRun = async (s: AtSession) => {
    run.set(await runKey(), s, () => endSession(opts, s));
  };
  const xrpc = new XrpcSession(new HttpSession(opts.server.origin, opts.http), opts.server.origin, {
    http: opts.http,
    password,
    store,
    note,
    warn: "stores" in source ? source.warn : undefined,
    keepForRun,
    session: opts.session,
  });
  try {
    return await fn(new Atproto(opts.server, xrpc, note));
  } finally {
    await xrpc.close();
    await own?.finish();
  }
}

/** Ends a session kept for the run only, on a connection of its own (the run's are closed by then). */
async function endSession(opts: ServiceOptions, s: AtSession): Promise<void> {
  const { HttpSession } = await import("../../http/client.js");
  const http = new HttpSession(opts.server.origin, {
    ...opts.http,
    timeoutMs: Math.min(opts.http.timeoutMs, 3000),
  });
  try {
    await deleteSession(http, opts.server.origin, s);
    opts.http.trace?.("* ended this run's session (it could not be kept)");
  } finally {
    await http.close();
  }
}

function sessionTarget(opts: ServiceOptions, user: string) {
  return { origin: opts.server.origin, key: opts.server.key, user: `${user}${SESSION_SUFFIX}` };
}

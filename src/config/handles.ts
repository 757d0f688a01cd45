import { UsageError } from "../errors.js";
import { type ApiName, atOriginApi } from "../services/api.js";
import type { ConfigFile, ServerSettings } from "./file.js";
import { atOrigin, parseServer, type Server } from "./server.js";

/**
 * An account named by its handle, `user@host[:port]` (docs/cli.md "Several accounts in one command"):
 * the account, the server as the config file knows it (its scheme, API root and API), or, for a host
 * the config does not know, the host as named (`https`, its API detected on first use).
 */
export interface Account {
  /** As identica writes it: the user as given, `@`, the lower-case host and a port when not default. */
  handle: string;
  user: string;
  server: Server;
  /** Known without a request (the config records it, or the root has a path); else to be detected. */
  api: ApiName | undefined;
}

/** `user@host[:port]`: the user is everything before the last `@` (an AT Protocol handle has dots). */
export function parseHandle(text: string): { user: string; host: string } {
  const h = text.trim();
  const at = h.lastIndexOf("@");
  const user = at < 0 ? "" : h.slice(0, at).replace(/^@/, "");
  const host = at < 0 ? "" : h.slice(at + 1);
  if (
    user === "" ||
    host === "" ||
    /[\s/@?#\\]/.test(host) ||
    // A nickname (StatusNet), a username (Mastodon) or a domain-like handle (AT Protocol).
    !/^[A-Za-z0-9_.-]+$/.test(user)
  ) {
    throw new UsageError(`"${h}" is not an account handle: write it as user@host or user@host:port`);
  }
  // The host part must be a host[:port] (parseServer's own check), with a port a server can have.
  const server = parseServer(host);
  if (server.apiRoot.port === "0") throw new UsageError(`"${h}": port 0 is no server's port`);
  return { user, host: host.toLowerCase() };
}

const same = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();

/** Whether the config records this user at this root (as its default account, or with an app there). */
function hasUser(s: ServerSettings | undefined, user: string): boolean {
  return same(s?.user, user) || Object.keys(s?.apps ?? {}).some((u) => same(u, user));
}

/**
 * The account a handle names. The config's servers for that host (a `login` recorded each, with its
 * scheme and API) decide: the one that records this user, else the only one; a host the config does
 * not know is `https://host[:port]`, its API detected on first use.
 */
export function resolveHandle(text: string, config: ConfigFile): Account {
  const { user, host } = parseHandle(text);
  const candidates: { root: string; server: Server; settings: ServerSettings }[] = [];
  for (const [root, settings] of Object.entries(config.servers ?? {})) {
    try {
      const server = parseServer(root);
      if (server.key === host) candidates.push({ root, server, settings });
    } catch {
      // Not a server: not this handle's.
    }
  }
  const mine = candidates.filter((c) => hasUser(c.settings, user));
  const pick = mine.length > 0 ? mine : candidates.length === 1 ? candidates : [];
  const found = pick.find((c) => atOriginApi(c.settings.api)) ?? pick[0];
  if (found === undefined) {
    // Not a guess: an account is one the config knows (a login recorded it, or `config set api`),
    // with its scheme and API root; an unknown host would be probed over https, and a typo posted to.
    throw new UsageError(`${user}@${host} is not an account identica knows`, {
      hint: `log in to it first: identica login --server ${host} --user ${user}`,
    });
  }
  const api: ApiName | undefined = found.settings.api ?? (found.server.probe ? undefined : "statusnet");
  const server = atOriginApi(api) ? atOrigin(found.server) : found.server;
  return { handle: `${user}@${server.key}`, user, server, api };
}

/** A comma- or space-separated list of handles (`config set targets`, repeated `--to`). */
export function handleList(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(/[\s,]+/))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

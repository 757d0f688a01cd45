import { ConfigError, UsageError } from "../errors.js";

/** One server's API root, parsed once; the credential key and the connection target both come from it. */
export interface Server {
  /** The API root, e.g. `https://social.example/api` (its path is "/" for a root at the site root). */
  apiRoot: URL;
  /** The API root as a string (`origin` + path, no trailing slash); the config file keys servers by it. */
  root: string;
  /** `scheme://host[:port]`, the origin a credential is bound to. */
  origin: string;
  /** Lower-case host, with the port only when it is not the scheme's default: the keychain key. */
  key: string;
  /** The API root minus its last `/api` segment; notice pages live under it. */
  webRoot: string;
  /**
   * How the server was named, normalised: `host[:port]` for a bare host, else the API root URL. A bare
   * host, or a URL with an empty path, leaves the API to be detected (docs/cli.md "Two APIs"); this is
   * what the config file keeps as the default server, so that it is detected, not taken for StatusNet.
   */
  spec: string;
  /** Whether the API is to be found out (a bare host, or a URL with an empty path), not given by a path. */
  probe: boolean;
}

const SCHEMES = new Set(["https:", "http:"]);

/**
 * `host` or `host:port` means `https://host[:port]/api`; a URL is the API root as written
 * (docs/cli.md "Servers and accounts"). Userinfo, queries and fragments are refused: they are how
 * credentials get sent to the wrong host (requests CVE-2024-47081, docs/threats.md A5).
 */
export function parseServer(input: string): Server {
  const raw = input.trim();
  if (raw === "") throw new UsageError("the server is empty");
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (!isUrl && /[/?#@\s\\]/.test(raw)) {
    throw new UsageError(
      `not a server: "${raw}" (give a host, host:port, or a URL such as https://host/api)`,
    );
  }
  let url: URL;
  try {
    url = new URL(isUrl ? raw : `https://${raw}/api`);
  } catch {
    throw new UsageError(`not a valid server URL: "${raw}"`);
  }
  if (!SCHEMES.has(url.protocol))
    throw new UsageError(`unsupported scheme ${url.protocol} (use https or http)`);
  if (
    url.username !== "" ||
    url.password !== "" ||
    /@/.test(raw.replace(/^[a-z]+:\/\//i, "").split("/")[0] ?? "")
  ) {
    throw new UsageError(
      "the server URL must not contain a user name or password; use --user and a credential source",
    );
  }
  if (url.search !== "" || url.hash !== "")
    throw new UsageError("the server URL must not have a query or fragment");
  if (url.hostname === "") throw new UsageError(`the server URL has no host: "${raw}"`);
  // Without its trailing slashes; an API root at the site root (`http://host:port/`) keeps none at all,
  // although a URL's path cannot be empty (it reads back as "/"): endpoints are `<root>/<path>`.
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path;
  const host = url.hostname.toLowerCase();
  const key = url.port === "" ? host : `${host}:${url.port}`;
  const base = `${url.origin}${path}`;
  const webRoot = base.replace(/\/api$/, "");
  const probe = !isUrl || path === "";
  const spec = isUrl ? base : url.port === "" ? host : `${host}:${url.port}`;
  return { apiRoot: url, root: base, origin: url.origin, key, webRoot, spec, probe };
}

/**
 * The same server as a Mastodon API base: its origin (the client API lives under `/api/v1/`, OAuth
 * under `/oauth/`, with no path prefix). Its root, the config file's key for it, is the origin.
 */
export function atOrigin(server: Server): Server {
  const apiRoot = new URL(server.origin);
  apiRoot.pathname = "";
  return {
    apiRoot,
    root: server.origin,
    origin: server.origin,
    key: server.key,
    webRoot: server.origin,
    spec: server.origin,
    probe: false,
  };
}

export function noServerError(): ConfigError {
  return new ConfigError("no server configured", {
    hint: "pass --server HOST, set IDENTICA_SERVER, or run: identica login --server HOST",
  });
}

/**
 * Whether a secret (a password, a token, an OAuth code or client secret) may go to this URL: over
 * https, or plain http to loopback, or anywhere with --insecure-http (RFC 7617 §4, RFC 6750 §5.3,
 * docs/threats.md A8, J4).
 */
export function maySendSecret(url: URL, insecureHttp: boolean): boolean {
  return url.protocol !== "http:" || isLoopback(url.hostname) || insecureHttp;
}

/** Loopback hosts, where Basic auth over plain http cannot be sniffed off a network. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

import { maySendSecret } from "../../config/server.js";
import { ConfigError, ExitCode, HttpError } from "../../errors.js";
import type { HttpRequest, HttpResponse, HttpSession } from "../../http/client.js";
import { oneLine } from "../../sanitize.js";
import type { ConnectionConfig } from "../options.js";

/** Whether a request needs the token, may use it when there is one, or goes without. */
export type TokenUse = "required" | "optional" | "none";

/** The account's token, looked up once for the session; a ConfigError when there is none. */
export type TokenSource = () => Promise<{ user: string; token: string }>;

/**
 * Mastodon's bearer tokens on one HTTP session (docs/cli.md "Two APIs"). There is no challenge: a
 * request that needs the token carries it at once, as `Authorization: Bearer` (spelt so: snac matches
 * the scheme case-sensitively), never in a query (URLs end up in logs). The token is looked up on first
 * need and only ever sent to this session's origin.
 */
export class BearerSession {
  readonly #http: HttpSession;
  readonly #config: ConnectionConfig;
  readonly #source: TokenSource;
  #found: Promise<{ user: string; token: string } | undefined> | undefined;
  #tokenError: unknown;

  constructor(http: HttpSession, config: ConnectionConfig, source: TokenSource) {
    this.#http = http;
    this.#config = config;
    this.#source = source;
  }

  newDeadline(): void {
    this.#http.newDeadline();
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  /** The account the token belongs to, when one was found (the user named for it). */
  async user(): Promise<string | undefined> {
    return (await this.#lookup())?.user;
  }

  /**
   * Sends the request; with `required`, a missing token is the ConfigError that says where it was
   * looked for (78); with `optional`, the request then goes without one. Returns the response and
   * whether it carried the token, for the error mapping (a 422 to a request without a token means
   * "log in", not "bad content").
   */
  async send(req: HttpRequest, use: TokenUse): Promise<{ res: HttpResponse; tokenSent: boolean }> {
    this.#http.checkOrigin(req.url);
    let authorization: string | undefined;
    if (use !== "none") {
      const found = await this.#lookup();
      if (found === undefined && use === "required") throw this.#tokenError;
      if (found !== undefined) {
        if (!this.#mayAuthenticate(req.url)) {
          if (use === "required") {
            throw new HttpError(
              ExitCode.NoPerm,
              `refusing to send a token over plain http to ${req.url.host}; nothing was sent`,
              { sent: false },
              { hint: "use an https:// server URL, or pass --insecure-http if you accept the risk" },
            );
          }
          this.#config.trace?.(`* not sending the token over plain http to ${req.url.host}`);
        } else {
          authorization = `Bearer ${found.token}`;
        }
      }
    }
    const res = await this.#http.send(req, authorization);
    return { res, tokenSent: authorization !== undefined };
  }

  #lookup(): Promise<{ user: string; token: string } | undefined> {
    this.#found ??= this.#source().then(
      (found) => {
        checkToken(found.token, found.user);
        this.#config.onSecret?.({ user: found.user, password: found.token, token68: found.token });
        return found;
      },
      (err: unknown) => {
        if (!(err instanceof ConfigError)) throw err;
        this.#tokenError = err;
        this.#config.trace?.(`* no token: ${oneLine(err.message, 200)}`);
        return undefined;
      },
    );
    return this.#found;
  }

  /** A token over plain http only to loopback, unless --insecure-http (as Basic, docs/threats.md A8). */
  #mayAuthenticate(url: URL): boolean {
    return maySendSecret(url, this.#config.insecureHttp);
  }
}

/**
 * A token is one header value: no whitespace, no control characters (RFC 6750's b64token is narrower
 * still, but servers issue what they like within it). Checked before it is sent, without quoting it.
 */
export function checkToken(token: string, account: string): void {
  const user = account === "" ? "this run's account" : account;
  if (token === "") throw new ConfigError(`the token for ${oneLine(user, 60)} is empty`);
  // An AT Protocol app password (the keychain keeps it under the same service and account scheme) is
  // never a Mastodon token: a server set to the wrong API must not get it as a Bearer header.
  if (/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/.test(token)) {
    throw new ConfigError(
      `the secret for ${oneLine(user, 60)} looks like an AT Protocol app password, not a Mastodon token; nothing was sent`,
      { hint: "if the server is a Bluesky PDS: identica config set api atproto --server HOST" },
    );
  }
  if (/[\s\u0000-\u001F\u007F]/.test(token)) {
    throw new ConfigError(
      `the token for ${oneLine(user, 60)} contains a space or a control character; nothing was sent`,
      { hint: "fix the token source (a token file is read up to its first newline)" },
    );
  }
}

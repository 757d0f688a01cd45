import { maySendSecret } from "../../config/server.js";
import { ConfigError, ExitCode, HttpError } from "../../errors.js";
import {
  basicAuthorization,
  type Challenge,
  findBasic,
  MalformedChallengeError,
  parseChallenges,
} from "../../http/challenge.js";
import type { HttpRequest, HttpResponse, HttpSession } from "../../http/client.js";
import { oneLine } from "../../sanitize.js";
import type { BasicCredential, ConnectionConfig } from "../options.js";

/**
 * Asked for the credential only once a Basic challenge has arrived (docs/threats.md A1), or for a known
 * protection space with `interactive: false`: then only sources that need no person are asked, and a
 * ConfigError (no user, no password) means "send without it".
 */
export type CredentialCallback = (
  challenge: Challenge,
  options?: { interactive: boolean },
) => Promise<BasicCredential>;

export interface AuthRequest extends HttpRequest {
  /** How to answer a Basic challenge; without it a 401 is returned as is. */
  credential?: CredentialCallback | undefined;
}

/** A Basic Authorization value this session sends without waiting for a challenge, and whose it is. */
interface Sent {
  authorization: string;
  user: string;
}

/**
 * StatusNet's challenge-first Basic on one HTTP session: a request goes without credentials, and a 401
 * with a Basic challenge is answered exactly once on the same connection; a URL in a protection space
 * known from an earlier run, or one this session has already been let into, carries Basic at once.
 */
export class BasicSession {
  readonly #http: HttpSession;
  readonly #config: ConnectionConfig;
  /** The Authorization that the last challenge accepted, for the next requests of this session. */
  #authorization: Sent | undefined;

  constructor(http: HttpSession, config: ConnectionConfig) {
    this.#http = http;
    this.#config = config;
  }

  /** The session's whole `--timeout`, in milliseconds. */
  get timeoutMs(): number {
    return this.#http.timeoutMs;
  }

  /** The next request starts a deadline of its own (see HttpSession.newDeadline). */
  newDeadline(): void {
    this.#http.newDeadline();
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  /**
   * Sends the request without credentials; on a 401 with a Basic challenge, asks for the credential and
   * sends it again exactly once. Returns any other response for the caller to interpret.
   */
  async send(req: AuthRequest): Promise<HttpResponse> {
    const { credential, ...plain } = req;
    if (!credential) return this.#http.send(plain);
    this.#http.checkOrigin(req.url);
    // After one successful challenge on this connection, or in an earlier run for this protection
    // space, the request carries the credential at once (same origin, by construction); a 401 all
    // the same sends us through the challenge once.
    const known = this.#authorization ?? (await this.#preemptive(req.url, credential));
    const first = await this.#http.send(plain, known?.authorization);
    if (first.status !== 401) {
      // Accepted: the rest of this session sends it without looking the credential up again.
      if (known !== undefined) this.#authorization = known;
      return first;
    }
    if (known !== undefined) {
      this.#authorization = undefined;
      this.#config.spaces?.forget(req.url);
      this.#config.trace?.("* the server refused the credential sent at once; going through its challenge");
    }

    const host = req.url.host;
    // A 401 with no challenge at all to a request that carried Basic: the server knows Basic here (it
    // challenged before, or accepted it on this connection) and refused this credential.
    if (known !== undefined && challengeLines(first).every((v) => v.trim() === "")) {
      throw rejected(host, known.user);
    }
    const challenge = this.#basicChallenge(first);
    if (!this.#mayAuthenticate(req.url)) {
      throw new HttpError(
        ExitCode.NoPerm,
        `refusing to send a password over plain http to ${host}; nothing was posted`,
        { status: 401, sent: true },
        { hint: "use an https:// server URL, or pass --insecure-http if you accept the risk" },
      );
    }
    const cred = await credential(challenge);
    checkCredential(cred);
    const authorization = basicAuthorization(cred.user, cred.password, challenge);
    this.#config.onSecret?.({ ...cred, token68: authorization.slice("Basic ".length) });
    const second = await this.#http.send(plain, authorization);
    if (second.status === 401) throw rejected(host, cred.user);
    this.#authorization = { authorization, user: cred.user };
    this.#config.spaces?.remember(req.url, challenge.params.get("realm"), challenge.params.get("charset"));
    return second;
  }

  /**
   * The Authorization for a URL in a known protection space, or undefined. Sending it at once only
   * saves a round trip, so it never asks a person and never fails the request: without a user or a
   * password from a source that needs no one, the request goes without it and the server decides (a
   * public timeline needs no login; a real challenge then takes the ordinary path).
   */
  async #preemptive(url: URL, credential: CredentialCallback): Promise<Sent | undefined> {
    const space = this.#config.spaces?.covers(url);
    if (!space || !this.#mayAuthenticate(url)) return undefined;
    // The challenge this space was remembered from, as far as it matters here (its charset).
    const challenge: Challenge = {
      scheme: "basic",
      params: new Map(space.charset === null ? [] : [["charset", space.charset]]),
    };
    let cred: BasicCredential;
    try {
      cred = await credential(challenge, { interactive: false });
      checkCredential(cred);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#config.trace?.(
        `* ${url.origin}${url.pathname} is in a known protection space, but ${oneLine(err.message, 200)}: sending without credentials`,
      );
      return undefined;
    }
    const authorization = basicAuthorization(cred.user, cred.password, challenge);
    this.#config.onSecret?.({ ...cred, token68: authorization.slice("Basic ".length) });
    this.#config.trace?.(
      `* ${url.origin}${url.pathname} is in a known protection space: sending Basic at once`,
    );
    return { authorization, user: cred.user };
  }

  /** Basic over plain http only to loopback, unless --insecure-http (RFC 7617 §4, docs/threats.md A8). */
  #mayAuthenticate(url: URL): boolean {
    return maySendSecret(url, this.#config.insecureHttp);
  }

  #basicChallenge(res: HttpResponse): Challenge {
    let challenges: Challenge[];
    try {
      challenges = parseChallenges(challengeLines(res));
    } catch (err) {
      const why = err instanceof MalformedChallengeError ? err.message : String(err);
      throw new HttpError(ExitCode.NoPerm, `the server sent a malformed WWW-Authenticate header (${why})`, {
        status: 401,
        sent: true,
      });
    }
    const basic = findBasic(challenges);
    if (basic) {
      if (!basic.params.has("realm")) this.#config.trace?.("* warning: Basic challenge without a realm");
      return basic;
    }
    if (challenges.length === 0) {
      throw new HttpError(ExitCode.NoPerm, "the server answered 401 without an authentication challenge", {
        status: 401,
        sent: true,
      });
    }
    const schemes = [...new Set(challenges.map((c) => oneLine(c.scheme, 40)))].join(", ");
    throw new HttpError(
      ExitCode.NoPerm,
      `the server requires ${schemes} authentication, which identica does not support (only Basic)`,
      { status: 401, sent: true },
    );
  }
}

function challengeLines(res: HttpResponse): string[] {
  const raw = res.headers["www-authenticate"];
  return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
}

function rejected(host: string, user: string): HttpError {
  return new HttpError(
    ExitCode.NoPerm,
    `the server at ${host} rejected the password for ${user}; nothing was posted`,
    { status: 401, sent: true },
    { hint: "check the user name and the password source (-v shows which one was used)" },
  );
}

/** RFC 7617 §2: no colon in the user-id and no control characters anywhere; checked before encoding. */
function checkCredential(cred: BasicCredential): void {
  if (cred.user.includes(":"))
    throw new ConfigError(`the user name "${oneLine(cred.user, 60)}" contains ":"`);
  const ctl = /[\u0000-\u001F\u007F]/;
  if (ctl.test(cred.user)) throw new ConfigError("the user name contains a control character");
  if (ctl.test(cred.password)) {
    throw new ConfigError(`the password for ${cred.user} contains a control character; nothing was sent`, {
      hint: "fix the password source (a password file is read up to its first newline)",
    });
  }
  if (cred.password === "") throw new ConfigError(`the password for ${cred.user} is empty`);
}

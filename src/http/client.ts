import diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import type { Dispatcher } from "undici";
import { isLoopback } from "../config/server.js";
import { ConfigError, ExitCode, HttpError } from "../errors.js";
import { oneLine } from "../sanitize.js";
import {
  basicAuthorization,
  type Challenge,
  findBasic,
  MalformedChallengeError,
  parseChallenges,
} from "./challenge.js";
import type { BasicCredential, HttpConfig, ProtectionSpaces } from "./config.js";
import { Deadline, DeadlineExpired, PauseClock } from "./deadline.js";
import { makeDispatcher } from "./dispatcher.js";
import { classifyNetworkError } from "./network-errors.js";
import { traceRequestHead, traceResponse } from "./trace.js";
import { type OnTheWire, Wire } from "./wire.js";

export type { BasicCredential, HttpConfig, ProtectionSpaces };

/**
 * Asked for the credential only once a Basic challenge has arrived (docs/threats.md A1), or for a known
 * protection space with `interactive: false`: then only sources that need no person are asked, and a
 * ConfigError (no user, no password) means "send without it".
 */
export type CredentialCallback = (
  challenge: Challenge,
  options?: { interactive: boolean },
) => Promise<BasicCredential>;

export interface HttpRequest {
  method: "GET" | "POST" | "DELETE";
  url: URL;
  /** The form body, built once as a string so the retry sends the very same bytes (docs/threats.md A3). */
  form?: string | undefined;
  accept: string;
  /** How to answer a Basic challenge; without it a 401 is returned as is. */
  credential?: CredentialCallback | undefined;
  /** A shorter limit within the session's deadline, for requests that are only a nicety (the limit lookup). */
  timeoutMs?: number | undefined;
  /**
   * For a POST to an endpoint that changes nothing without credentials (statuses/update and destroy
   * need a logged-in user): a failure of the first request, sent without them, means nothing was
   * posted (75, not 76). A GET changes nothing in any case (RFC 9110 §9.2.1).
   */
  writesOnlyWhenAuthenticated?: boolean | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
  bytes: Buffer;
  /** Whether the request that got this response carried Authorization. */
  authenticated: boolean;
}

/** A Basic Authorization value this session sends without waiting for a challenge, and whose it is. */
interface Sent {
  authorization: string;
  user: string;
}

/** The attempt in flight; undici reports through a diagnostics channel when its headers hit the socket. */
interface Attempt {
  sent: boolean;
  /** The status line and headers of a reply came back (a failure then is in the body). */
  answered: boolean;
  trace: ((line: string) => void) | undefined;
  authorization: boolean;
  /** The request can change something on the server (not a GET). */
  mayWrite: boolean;
  form: string | undefined;
  /** What this attempt put on the run's wire record, to clear it when the attempt ends. */
  onWire?: OnTheWire | undefined;
}

/** The shape of undici's diagnostics messages that identica reads. */
interface RequestMessage {
  request: { method?: string };
}
interface SendHeadersMessage extends RequestMessage {
  headers: string;
  socket: Socket;
}

/**
 * One origin, one connection: an undici `Client` keeps a single socket, so the challenge and the retry
 * travel on the same connection whenever the server keeps it open. `request()` never follows redirects.
 */
export class HttpSession {
  readonly #origin: string;
  readonly #config: HttpConfig;
  /** Made on first use, and again after a failed exchange (see #attempt). */
  #client: Dispatcher | undefined;
  /** undici's request(), of the same copy of undici as #client (see http/dispatcher.ts). */
  #request: Dispatcher["request"] | undefined;
  /** The session's one deadline, started by its first request (see `newDeadline`). */
  #deadline: Deadline | undefined;
  /** The Authorization that the last challenge accepted, for the next requests of this session. */
  #authorization: Sent | undefined;
  /** The run's record of what is on the wire, and its time at prompts (see run-session.ts). */
  readonly #wire: Wire;
  readonly #pauses: PauseClock;
  /**
   * This session's undici requests, each with its attempt: undici reports through a diagnostics channel
   * (shared by the whole process) when a request's headers hit the socket, and only requests made here
   * count for this session, however many sessions are running.
   */
  readonly #requests = new WeakMap<object, Attempt>();
  readonly #onSendHeaders = (message: unknown) => this.#headersSent(message as SendHeadersMessage);

  constructor(origin: string, config: HttpConfig) {
    this.#origin = origin;
    this.#config = config;
    this.#client = config.dispatcher;
    this.#wire = config.wire ?? new Wire();
    this.#pauses = config.pauses ?? new PauseClock();
  }

  #headersSent({ headers, socket, request }: SendHeadersMessage): void {
    const attempt = this.#requests.get(request);
    // A proxy's CONNECT carries nothing of ours to the site: a tunnel it refuses means nothing was sent.
    if (attempt === undefined || request.method === "CONNECT") return;
    attempt.sent = true;
    attempt.onWire = { sent: true, authenticated: attempt.authorization, mayWrite: attempt.mayWrite };
    this.#wire.current = attempt.onWire;
    if (attempt.trace) {
      const { id, reused } = this.#wire.connection(socket);
      attempt.trace(
        `* ${reused ? "re-using" : "new"} connection #${id} to ${socket.remoteAddress}:${socket.remotePort}`,
      );
      traceRequestHead(headers, attempt.form, attempt.trace);
    }
  }

  /** The session's whole `--timeout`, in milliseconds. */
  get timeoutMs(): number {
    return this.#config.timeoutMs;
  }

  /**
   * The next request starts a deadline of its own: for a session that outlives one exchange
   * (`post --lines` makes one per line, however long stdin takes to bring it).
   */
  newDeadline(): void {
    this.#deadline = undefined;
  }

  /**
   * Sends the request without credentials; on a 401 with a Basic challenge, asks for the credential and
   * sends it again exactly once. Returns any other response for the caller to interpret.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    if (req.url.origin !== this.#origin)
      throw new Error(`request for ${req.url.origin} on a session for ${this.#origin}`);
    // After one successful challenge on this connection, or in an earlier run for this protection
    // space, the request carries the credential at once (same origin, by construction); a 401 all the
    // same sends us through the challenge once.
    const known = req.credential ? (this.#authorization ?? (await this.#preemptive(req))) : undefined;
    const first = await this.#attempt(req, known?.authorization);
    if (first.status !== 401 || !req.credential) {
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
    const cred = await req.credential(challenge);
    checkCredential(cred);
    const authorization = basicAuthorization(cred.user, cred.password, challenge);
    this.#config.onSecret?.({ ...cred, token68: authorization.slice("Basic ".length) });
    const second = await this.#attempt(req, authorization);
    if (second.status !== 401) {
      this.#authorization = { authorization, user: cred.user };
      this.#config.spaces?.remember(req.url, challenge.params.get("realm"), challenge.params.get("charset"));
    }
    if (second.status === 401) throw rejected(host, cred.user);
    return second;
  }

  /**
   * The Authorization for a URL in a known protection space, or undefined. Sending it at once only
   * saves a round trip, so it never asks a person and never fails the request: without a user or a
   * password from a source that needs no one, the request goes without it and the server decides (a
   * public timeline needs no login; a real challenge then takes the ordinary path).
   */
  async #preemptive(req: HttpRequest): Promise<Sent | undefined> {
    const space = this.#config.spaces?.covers(req.url);
    if (!space || !req.credential || !this.#mayAuthenticate(req.url)) return undefined;
    // The challenge this space was remembered from, as far as it matters here (its charset).
    const challenge: Challenge = {
      scheme: "basic",
      params: new Map(space.charset === null ? [] : [["charset", space.charset]]),
    };
    let cred: BasicCredential;
    try {
      cred = await req.credential(challenge, { interactive: false });
      checkCredential(cred);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#config.trace?.(
        `* ${req.url.origin}${req.url.pathname} is in a known protection space, but ${oneLine(err.message, 200)}: sending without credentials`,
      );
      return undefined;
    }
    const authorization = basicAuthorization(cred.user, cred.password, challenge);
    this.#config.onSecret?.({ ...cred, token68: authorization.slice("Basic ".length) });
    this.#config.trace?.(
      `* ${req.url.origin}${req.url.pathname} is in a known protection space: sending Basic at once`,
    );
    return { authorization, user: cred.user };
  }

  /** Basic over plain http only to loopback, unless --insecure-http (RFC 7617 §4, docs/threats.md A8). */
  #mayAuthenticate(url: URL): boolean {
    return url.protocol !== "http:" || isLoopback(url.hostname) || this.#config.insecureHttp;
  }

  async close(): Promise<void> {
    if (this.#config.dispatcher) return;
    await this.#discard();
  }

  /**
   * Drops the connection. Bounded: the outcome is known by now, and a client that never finishes
   * closing must not hold the process (nor leave it with nothing to wait for: the timer is ref'd).
   */
  async #discard(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.destroy().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    clearTimeout(timer);
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

  /**
   * One request and its whole reply, within the session's deadline. The deadline settles it even when
   * undici does not (docs/threats.md I5), and after any failure the connection is replaced: undici 7.30.2
   * never runs another request on a Client whose connection failed the certificate's name check.
   */
  async #attempt(req: HttpRequest, authorization: string | undefined): Promise<HttpResponse> {
    const headers: Record<string, string> = { "user-agent": this.#config.userAgent, accept: req.accept };
    if (req.form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
    if (authorization !== undefined) headers.authorization = authorization;
    const attempt: Attempt = {
      sent: false,
      answered: false,
      trace: this.#config.trace,
      authorization: authorization !== undefined,
      mayWrite: req.method !== "GET",
      form: req.form,
    };
    // Whether this request can have changed anything if it fails after it was written.
    const harmless =
      req.method === "GET"
        ? "read"
        : req.writesOnlyWhenAuthenticated && authorization === undefined
          ? "anonymous"
          : undefined;
    this.#deadline ??= new Deadline(this.#config.timeoutMs, this.#pauses);
    diagnostics.subscribe("undici:client:sendHeaders", this.#onSendHeaders);
    try {
      return await this.#deadline.run(
        (signal) => this.#exchange(req, headers, attempt, signal),
        req.timeoutMs,
      );
    } catch (err) {
      if (!this.#config.dispatcher) void this.#discard();
      throw classifyNetworkError(err, {
        sent: attempt.sent,
        answered: attempt.answered,
        deadlineHit: err instanceof DeadlineExpired,
        timeoutMs: err instanceof DeadlineExpired ? err.limitMs : this.#config.timeoutMs,
        host: req.url.host,
        harmless,
      });
    } finally {
      diagnostics.unsubscribe("undici:client:sendHeaders", this.#onSendHeaders);
      if (attempt.onWire !== undefined && this.#wire.current === attempt.onWire)
        this.#wire.current = undefined;
    }
  }

  async #exchange(
    req: HttpRequest,
    headers: Record<string, string>,
    attempt: Attempt,
    signal: AbortSignal,
  ): Promise<HttpResponse> {
    if (this.#client === undefined) {
      const { dispatcher, request } = await makeDispatcher(this.#origin, this.#config);
      // undici loads asynchronously: if the deadline passed meanwhile, the session found no client to
      // discard, so this one is closed here.
      if (signal.aborted) {
        void dispatcher.destroy().catch(() => {});
        throw signal.reason;
      }
      this.#client = dispatcher;
      this.#request = request;
    }
    // A dispatcher given in the config (unit tests' MockAgent) is driven by the bundled request().
    this.#request ??= (await import("../net-libs.js")).request;
    // undici makes its request object synchronously within this call: that is when it is tagged as
    // this attempt's (see #requests).
    const tag = (message: unknown) => this.#requests.set((message as RequestMessage).request, attempt);
    diagnostics.subscribe("undici:request:create", tag);
    let pending: ReturnType<Dispatcher["request"]>;
    try {
      pending = this.#request.call(this.#client, {
        origin: this.#origin,
        method: req.method,
        path: `${req.url.pathname}${req.url.search}`,
        headers,
        body: req.form ?? null,
        signal,
      });
    } finally {
      diagnostics.unsubscribe("undici:request:create", tag);
    }
    const res = await pending;
    attempt.answered = true;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > this.#config.maxResponseBytes) {
        res.body.destroy();
        throw Object.assign(new Error("reply too large"), { code: "UND_ERR_RES_EXCEEDED_MAX_SIZE" });
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const contentType = headerValue(res.headers["content-type"]) ?? "";
    if (attempt.trace) traceResponse(res.statusCode, res.headers, bytes, attempt.trace);
    const serverNow = Date.parse(String(headerValue(res.headers.date) ?? ""));
    if (!Number.isNaN(serverNow)) this.#wire.serverClockSkewMs.set(this.#origin, serverNow - Date.now());
    return {
      status: res.statusCode,
      headers: res.headers,
      contentType,
      bytes,
      authenticated: attempt.authorization,
    };
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

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
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

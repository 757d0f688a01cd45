import diagnostics from "node:diagnostics_channel";
import type { Socket } from "node:net";
import type { Dispatcher } from "undici";
import type { HttpConfig } from "./config.js";
import { Deadline, DeadlineExpired, PauseClock } from "./deadline.js";
import { makeDispatcher } from "./dispatcher.js";
import { classifyNetworkError } from "./network-errors.js";
import { traceRequestHead, traceResponse } from "./trace.js";
import type { HttpRequest, HttpResponse } from "./types.js";
import { type OnTheWire, Wire } from "./wire.js";

export type { HttpConfig, HttpRequest, HttpResponse };

/** The attempt in flight; undici reports through a diagnostics channel when its headers hit the socket. */
interface Attempt {
  sent: boolean;
  /** The status line and headers of a reply came back (a failure then is in the body). */
  answered: boolean;
  trace: ((line: string) => void) | undefined;
  authorization: boolean;
  /** The request can change something on the server (not a GET). */
  mayWrite: boolean;
  /** It deletes a status (HttpRequest.deletes). */
  deletes: boolean;
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
 * One origin, one connection: an undici `Client` keeps a single socket, so a challenge and its retry
 * (services/statusnet/auth.ts) travel on the same connection whenever the server keeps it open.
 * `request()` never follows redirects.
 */
export class HttpSession {
  readonly #origin: string;
  readonly #config: HttpConfig;
  /** Made on first use, and again after a failed exchange (see #attempt). */
  #client: Dispatcher | undefined;
  /** undici's request(), of the same copy of undici as #client (see http/dispatcher.ts). */
  #request: Dispatcher["request"] | undefined;
  /**
   * A reply has come back on the current connection: the next request reuses it, and must first let a
   * close that came with that reply be seen (see #exchange).
   */
  #served = false;
  /**
   * The last reply said its connection stays open (`Connection: keep-alive` or a `Keep-Alive` header,
   * as nginx, Apache and Node send). A server that says nothing may close it right after the reply
   * (snac over plain http): a write is then sent on a new connection, since one written into a
   * connection the server is closing fails with its outcome unknown.
   */
  #keptAlive = false;
  /** The session's one deadline, started by its first request (see `newDeadline`). */
  #deadline: Deadline | undefined;
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
    attempt.onWire = {
      sent: true,
      authenticated: attempt.authorization,
      mayWrite: attempt.mayWrite,
      deletes: attempt.deletes,
    };
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
   * One request and its whole reply, with `authorization` (a header value the caller made) or
   * without; any status comes back for the caller to interpret. Authentication is the service's
   * business (services/statusnet/auth.ts): this layer only carries the header and remembers, for the
   * error of a failed request, whether it carried one.
   */
  async send(req: HttpRequest, authorization?: string): Promise<HttpResponse> {
    this.checkOrigin(req.url);
    return this.#attempt(req, authorization);
  }

  /** A session talks to its one origin: a credential meant for it must never go elsewhere. */
  checkOrigin(url: URL): void {
    if (url.origin !== this.#origin)
      throw new Error(`request for ${url.origin} on a session for ${this.#origin}`);
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
    this.#served = false;
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

  /**
   * One request and its whole reply, within the session's deadline. The deadline settles it even when
   * undici does not (docs/threats.md I5), and after any failure the connection is replaced: undici 7.30.2
   * never runs another request on a Client whose connection failed the certificate's name check.
   */
  async #attempt(req: HttpRequest, authorization: string | undefined): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      ...req.headers,
      "user-agent": this.#config.userAgent,
      accept: req.accept,
    };
    if (req.form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
    else if (req.json !== undefined) headers["content-type"] = "application/json";
    if (authorization !== undefined) headers.authorization = authorization;
    const attempt: Attempt = {
      sent: false,
      answered: false,
      trace: this.#config.trace,
      authorization: authorization !== undefined,
      mayWrite: req.method !== "GET",
      deletes: req.deletes === true,
      form: req.form ?? req.json,
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
    const deadline = this.#deadline;
    try {
      const reused = this.#served;
      try {
        return await deadline.run((signal) => this.#exchange(req, headers, attempt, signal), req.timeoutMs);
      } catch (err) {
        // A server that closes after every reply (snac, docs/mastodon-api.md §12) can close a reused
        // connection under a read that had not been answered: a GET changes nothing, so it is sent
        // once more on a new connection. A write never is: that is the outbox's business.
        if (!(reused && req.method === "GET" && !attempt.answered && isClosedConnection(err))) throw err;
        if (!this.#config.dispatcher) await this.#discard();
        attempt.sent = false;
        this.#config.trace?.(
          "* the server had closed the connection; sending the request again on a new one",
        );
        return await deadline.run((signal) => this.#exchange(req, headers, attempt, signal), req.timeoutMs);
      }
    } catch (err) {
      if (!this.#config.dispatcher) void this.#discard();
      throw classifyNetworkError(err, {
        sent: attempt.sent,
        answered: attempt.answered,
        deadlineHit: err instanceof DeadlineExpired,
        timeoutMs: err instanceof DeadlineExpired ? err.limitMs : this.#config.timeoutMs,
        host: req.url.host,
        harmless,
        deletes: req.deletes === true,
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
    if (this.#served) {
      // A server that ends its reply by closing the connection (snac writes the reply and closes)
      // sends the close with it: one turn of the event loop lets undici see it, so the next request
      // goes out on a new connection instead of into one the server has already shut.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (req.method !== "GET" && !this.#keptAlive && !this.#config.dispatcher) await this.#discard();
    }
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
        body: req.form ?? req.json ?? null,
        signal,
      });
    } finally {
      diagnostics.unsubscribe("undici:request:create", tag);
    }
    const res = await pending;
    attempt.answered = true;
    const bytes = await readBody(res.body, this.#config.maxResponseBytes);
    this.#served = true;
    this.#keptAlive =
      /keep-alive/i.test(String(headerValue(res.headers.connection) ?? "")) ||
      res.headers["keep-alive"] !== undefined;
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

/** The connection was closed or reset under the request (undici's SocketError, or the socket's own). */
function isClosedConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE";
}

/** The whole body, or undici's own too-large error past `max` bytes (network-errors.ts words it). */
async function readBody(body: Dispatcher.ResponseData["body"], max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw Object.assign(new Error("reply too large"), { code: "UND_ERR_RES_EXCEEDED_MAX_SIZE" });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

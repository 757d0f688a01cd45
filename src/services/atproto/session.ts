import { maySendSecret } from "../../config/server.js";
import { ConfigError, ExitCode, HttpError } from "../../errors.js";
import type { HttpRequest, HttpResponse, HttpSession } from "../../http/client.js";
import { oneLine } from "../../sanitize.js";
import type { ConnectionConfig } from "../options.js";
import { atprotoError, xrpcErrorBody } from "./errors.js";

/** What `createSession` and `refreshSession` give: kept in the OS keychain only (docs/cli.md). */
export interface AtSession {
  did: string;
  handle: string;
  accessJwt: string;
  refreshJwt: string;
}

/** Where a session outlives the run: the keychain's `<handle>#session` entry, or nowhere. */
export interface SessionStore {
  load(): Promise<AtSession | undefined>;
  save(session: AtSession): Promise<void>;
}

/** The account's app password (or, for one run, its main password), looked up on first need. */
export type PasswordSource = () => Promise<{ user: string; password: string }>;

/** An XRPC call: a query (GET) or a procedure (POST with a JSON body). */
export interface XrpcCall {
  method: "GET" | "POST";
  nsid: string;
  query?: Record<string, string | undefined> | undefined;
  /**
   * The JSON body of a procedure, serialised once per session so a retry sends the same bytes; a
   * function of the session when it names the account (`repo`), so that a retry after the session was
   * remade names the account the new session is for.
   */
  body?: unknown;
  bodyFor?: ((session: AtSession) => unknown) | undefined;
  /** Whether the call acts for the account (carries the access token). */
  auth: boolean;
  deletes?: boolean | undefined;
  timeoutMs?: number | undefined;
}

export interface XrpcOptions {
  http: ConnectionConfig;
  password: PasswordSource;
  /** Undefined when there is nowhere to keep a session (no keychain): a session per run. */
  store?: SessionStore | undefined;
  note?: ((line: string) => void) | undefined;
  /** What the user must see even without -v. */
  warn?: ((line: string) => void) | undefined;
  /**
   * A session that could not be stored (no keychain, a main password) is kept for the rest of the run
   * here and ended when the run is done (connect.ts).
   */
  keepForRun?: ((session: AtSession) => Promise<void>) | undefined;
  /** `login` makes its own session and gives it here: never a stored one, never refreshed from a store. */
  session?: AtSession | undefined;
}

const APP_PASSWORD_SCOPES = new Set(["com.atproto.appPass", "com.atproto.appPassPrivileged"]);

/** The scope a session's access token carries (read from its payload, which the client may read). */
export function sessionScope(accessJwt: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(accessJwt.split(".")[1] ?? "", "base64url").toString("utf8"));
    return typeof payload?.scope === "string" ? payload.scope : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the session was made with an app password (its token's scope says so). */
export function isAppPasswordSession(s: AtSession): boolean {
  return APP_PASSWORD_SCOPES.has(sessionScope(s.accessJwt) ?? "");
}

/**
 * Whether the session was certainly made with the account's main password: its token's scope says so.
 * A token whose scope cannot be read (not a JWT: a server's own format) proves nothing either way.
 */
export function isMainPasswordSession(s: AtSession): boolean {
  const scope = sessionScope(s.accessJwt);
  return scope !== undefined && !APP_PASSWORD_SCOPES.has(scope);
}

/** Gives `add` (the run's redactor, or the HTTP layer's onSecret) every form of each secret. */
export function maskSecrets(
  add: ((c: { user: string; password: string; token68: string }) => void) | undefined,
  user: string,
  ...secrets: string[]
): void {
  for (const secret of secrets)
    for (const form of secretForms(secret)) add?.({ user, password: form, token68: form });
}

/**
 * Every form of a secret that a server might quote back, for the run's redactor: the secret, its
 * base64, and for a JWT its signature (the part that makes it a credential).
 */
export function secretForms(secret: string): string[] {
  const forms = [secret, Buffer.from(secret, "utf8").toString("base64")];
  const parts = secret.split(".");
  if (parts.length === 3 && (parts[2] ?? "").length >= 16) forms.push(parts[2] as string);
  return forms;
}

/** A session object as the server sent it, or undefined when it is not one. */
export function parseSession(value: unknown): AtSession | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const ok = (k: string) =>
    typeof v[k] === "string" && v[k] !== "" && !/[\s\u0000-\u001f]/.test(v[k] as string);
  if (!ok("did") || !ok("handle") || !ok("accessJwt") || !ok("refreshJwt")) return undefined;
  if (!(v.did as string).startsWith("did:")) return undefined;
  return {
    did: v.did as string,
    handle: v.handle as string,
    accessJwt: v.accessJwt as string,
    refreshJwt: v.refreshJwt as string,
  };
}

/**
 * The AT Protocol's sessions on one HTTP session (docs/cli.md "A third API"). A request that acts for
 * the account carries the access token at once (`Authorization: Bearer`), to this origin only. The
 * session is the stored one when there is one; on `ExpiredToken` it is refreshed once
 * (`refreshSession`, with the refresh token) and stored again; when that fails, or a stored session's
 * token is refused as invalid, a new one is made from the app password (`createSession`) and the
 * request is sent once more. Only a request refused before it did anything is sent again.
 */
export class XrpcSession {
  readonly #http: HttpSession;
  readonly #origin: string;
  readonly #opts: XrpcOptions;
  #session: Promise<AtSession> | undefined;
  /** Made in this run (createSession): a refusal of it is final (77), not a reason to make another. */
  #fresh = false;

  constructor(http: HttpSession, origin: string, opts: XrpcOptions) {
    this.#http = http;
    this.#origin = origin;
    this.#opts = opts;
    if (opts.session !== undefined) {
      this.#session = Promise.resolve(opts.session);
      this.#fresh = true;
      this.#register(opts.session);
    }
  }

  get origin(): string {
    return this.#origin;
  }

  newDeadline(): void {
    this.#http.newDeadline();
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  /** The session (stored, or made now): whose repository, under which handle. */
  session(): Promise<AtSession> {
    this.#session ??= this.#start();
    return this.#session;
  }

  /**
   * Sends the call; with `auth`, as the account, refreshing or remaking the session once if the
   * server says its token expired or is no longer valid. Returns the reply, whatever its status.
   */
  async call(c: XrpcCall): Promise<{ res: HttpResponse; tokenSent: boolean }> {
    if (!c.auth) return { res: await this.#http.send(this.#request(c)), tokenSent: false };
    let session = await this.session();
    const res = await this.#send(this.#request(c, session), session);
    const error = xrpcErrorBody(res).error;
    if (res.status === 400 && error === "ExpiredToken") {
      session = await this.#renew(session, true);
    } else if ((res.status === 400 && error === "InvalidToken") || res.status === 401) {
      // A stored session the server no longer knows (revoked, the account's password changed): a
      // new one from the app password. One made in this run is not made again.
      if (this.#fresh) return { res, tokenSent: true };
      session = await this.#renew(session, false);
    } else {
      return { res, tokenSent: true };
    }
    return { res: await this.#send(this.#request(c, session), session), tokenSent: true };
  }

  #request(c: XrpcCall, session?: AtSession): HttpRequest {
    const url = new URL(`/xrpc/${c.nsid}`, this.#origin);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return {
      method: c.method,
      url,
      accept: "application/json",
      ...(c.method === "POST"
        ? { json: JSON.stringify((session && c.bodyFor ? c.bodyFor(session) : c.body) ?? {}) }
        : {}),
      ...(c.deletes ? { deletes: true } : {}),
      ...(c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs }),
    };
  }

  async #send(req: HttpRequest, session: AtSession, token = session.accessJwt): Promise<HttpResponse> {
    this.#checkSecretMaySend(req.url);
    return this.#http.send(req, `Bearer ${token}`);
  }

  /** A token over plain http only to loopback, unless --insecure-http (as Basic, docs/threats.md A8). */
  #checkSecretMaySend(url: URL): void {
    if (maySendSecret(url, this.#opts.http.insecureHttp)) return;
    throw new HttpError(
      ExitCode.NoPerm,
      `refusing to send a password or session over plain http to ${url.host}; nothing was sent`,
      { sent: false },
      { hint: "use an https:// server URL, or pass --insecure-http if you accept the risk" },
    );
  }

  /** The stored session, else a new one from the app password. */
  async #start(): Promise<AtSession> {
    const stored = await this.#opts.store?.load();
    if (stored !== undefined) {
      this.#register(stored);
      this.#opts.http.trace?.(`* using the stored session of ${stored.handle}`);
      return stored;
    }
    return this.#create();
  }

  /** The session after its token was refused: refreshed (when it expired), else made anew. */
  async #renew(old: AtSession, expired: boolean): Promise<AtSession> {
    let next = expired ? await this.#refresh(old) : undefined;
    try {
      // By its DID: the handle may have changed since the session was made.
      next ??= await this.#create(old.did);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError(
        `the stored session of ${oneLine(old.handle, 60)} at ${new URL(this.#origin).host} is no longer valid, and ${err.message}`,
        { hint: err.hint ?? "run: identica login", cause: err },
      );
    }
    this.#session = Promise.resolve(next);
    return next;
  }

  /** `refreshSession` with the refresh token; undefined when the server will not refresh it. */
  async #refresh(old: AtSession): Promise<AtSession | undefined> {
    const req = this.#request({ method: "POST", nsid: "com.atproto.server.refreshSession", auth: true });
    delete req.json;
    let res: HttpResponse;
    try {
      res = await this.#send(req, old, old.refreshJwt);
    } catch (err) {
      // No answer to the refresh: the request it was for was refused before it did anything, so this
      // is no "outcome unknown"; a new session from the app password is the next thing to try.
      if (!(err instanceof HttpError)) throw err;
      this.#opts.note?.(
        `* the session could not be refreshed (${oneLine(err.message, 120)}); making a new one`,
      );
      this.#http.newDeadline();
      return undefined;
    }
    if (res.status !== 200) {
      this.#opts.note?.(
        `* the session could not be refreshed (${res.status} ${oneLine(xrpcErrorBody(res).error ?? "", 40)}); making a new one`,
      );
      return undefined;
    }
    const fresh = parseSession(jsonBody(res));
    if (fresh === undefined || fresh.did !== old.did) return undefined;
    this.#register(fresh);
    this.#opts.http.trace?.("* session refreshed");
    if (!(await this.#save(fresh))) await this.#opts.keepForRun?.(fresh);
    return fresh;
  }

  /** `createSession` with the account's app password; stored when it is an app-password session. */
  async #create(identifier?: string): Promise<AtSession> {
    const { user, password } = await this.#opts.password();
    maskSecrets(this.#opts.http.onSecret, user, password);
    const session = await createSession(
      this.#http,
      this.#origin,
      identifier ?? user,
      password,
      this.#opts.http,
    );
    this.#register(session);
    this.#fresh = true;
    if (!isMainPasswordSession(session)) {
      if (!(await this.#save(session))) await this.#opts.keepForRun?.(session);
    } else {
      await this.#opts.keepForRun?.(session);
      // docs/cli.md: a main password still works for one run, with a warning, and is never kept.
      (this.#opts.warn ?? this.#opts.note)?.(
        `identica: warning: ${oneLine(user, 60)}'s password is the account's main password, not an app password; make one in the account's settings (App passwords) and run: identica login`,
      );
    }
    return session;
  }

  /** Whether the session is now stored (a main password's never is). */
  async #save(session: AtSession): Promise<boolean> {
    if (isMainPasswordSession(session) || this.#opts.store === undefined) return false;
    try {
      await this.#opts.store.save(session);
      return true;
    } catch (err) {
      this.#opts.http.trace?.(`* the session was not stored: ${oneLine((err as Error).message, 200)}`);
      return false;
    }
  }

  /** The run's redactor learns both tokens (and their forms) before any can be traced or printed. */
  #register(s: AtSession): void {
    maskSecrets(this.#opts.http.onSecret, s.handle, s.accessJwt, s.refreshJwt);
  }
}

/**
 * `com.atproto.server.createSession`: the identifier (handle, DID or e-mail) and password go in the
 * JSON body, over https (or to loopback) only. A refusal is 77; 429 is 75 naming when to retry.
 */
export async function createSession(
  http: HttpSession,
  origin: string,
  identifier: string,
  password: string,
  config: ConnectionConfig,
): Promise<AtSession> {
  const url = new URL("/xrpc/com.atproto.server.createSession", origin);
  if (!maySendSecret(url, config.insecureHttp)) {
    throw new HttpError(
      ExitCode.NoPerm,
      `refusing to send a password over plain http to ${url.host}; nothing was sent`,
      { sent: false },
      { hint: "use an https:// server URL, or pass --insecure-http if you accept the risk" },
    );
  }
  const res = await http.send({
    method: "POST",
    url,
    accept: "application/json",
    json: JSON.stringify({ identifier, password }),
    // Logging in changes nothing the user posted: a failure of it never leaves a status uncertain.
    writesOnlyWhenAuthenticated: true,
  });
  if (res.status !== 200) {
    const err = atprotoError(res, { host: url.host, what: "log in", endpoint: "session", tokenSent: false });
    if (res.status === 401) {
      return Promise.reject(
        new HttpError(
          ExitCode.NoPerm,
          `${url.host} refused the password for ${oneLine(identifier, 60)} (401)${err.details.serverMessage ? `: ${err.details.serverMessage}` : ""}`,
          err.details,
          { hint: "make an app password in the account's settings, then: identica login" },
        ),
      );
    }
    throw err;
  }
  const session = parseSession(jsonBody(res));
  if (session === undefined) {
    throw new HttpError(ExitCode.Unavailable, `${url.host} answered createSession with no session in it`, {
      status: res.status,
      sent: true,
    });
  }
  return session;
}

/** `com.atproto.server.deleteSession`, with the refresh token as the bearer (docs/cli.md `logout`). */
export async function deleteSession(http: HttpSession, origin: string, session: AtSession): Promise<void> {
  const url = new URL("/xrpc/com.atproto.server.deleteSession", origin);
  const res = await http.send(
    { method: "POST", url, accept: "application/json" },
    `Bearer ${session.refreshJwt}`,
  );
  if (res.status !== 200) {
    throw atprotoError(res, {
      host: url.host,
      what: "end the session",
      endpoint: "session",
      tokenSent: true,
    });
  }
}

/** The reply's JSON body, or undefined when it is not JSON. */
export function jsonBody(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Recorded } from "./gnusocial.js";
import { formValues, parseBody, type Replies, type Reply, str, type Values } from "./mastodon-http.js";
import {
  type App,
  appId,
  clientCredentials,
  type Grant,
  type MastodonStore,
  type Mode,
  secretToken,
  type Token,
  vapidKey,
} from "./mastodon-model.js";
import { authorizePage, codePage, errorPage, gtsOobPage, snacLoginPage } from "./mastodon-pages.js";
import type { Clock } from "./model.js";

/**
 * OAuth as each server does it: app registration (`POST /api/v1/apps`), the authorization page
 * (snac's login form, Doorkeeper's pages), `/oauth/token` and `/oauth/revoke` (Doorkeeper checks
 * everything, snac only the client secret: fixtures/snac/05–17, 46), and the test-side shortcuts.
 */

export const OOB = "urn:ietf:wg:oauth:2.0:oob";

const KNOWN_SCOPES =
  /^(read|write|follow|push|profile|crypto|(read|write):[a-z_]+|admin:(read|write)(:[a-z_]+)?)$/;

const DOORKEEPER = {
  invalid_client:
    "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
  invalid_grant:
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
  invalid_redirect_uri: "The requested redirect uri is malformed or doesn't match client redirect URI.",
  invalid_scope: "The requested scope is invalid, unknown, or malformed.",
  unsupported_grant_type: "The authorization grant type is not supported by the authorization server.",
  unsupported_response_type: "The authorization server does not support this response type.",
  invalid_code_challenge_method: "The code challenge method must be S256.",
} as const;

const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");

/** Splits an OAuth scope string (spaces, or `+` left undecoded by a hand-written URL). */
export const splitScopes = (s: string) => s.split(/[\s+]+/).filter((x) => x !== "");

/** What the OAuth side needs of the server: its mode and address (live), state and clock. */
export interface OAuthContext {
  readonly mode: Mode;
  readonly origin: string;
  readonly domain: string;
  store: MastodonStore;
  clock: Clock;
  replies: Replies;
}

export function createOAuth(ctx: OAuthContext) {
  const { json, error, html, snacError, snacEmpty } = ctx.replies;
  let appCount = 0;
  /** snac's authorize page sees the PKCE challenge its login form then drops: kept for tests to see. */
  const snacChallenges = new Map<string, { challenge: string | null; method: string | null }>();

  function liveApp(clientId: string | undefined): App | undefined {
    return clientId === undefined
      ? undefined
      : ctx.store.apps.find((a) => a.clientId === clientId && !a.deleted);
  }

  function newApp(name: string, redirectUris: string[], scopes: string[], website: string | null): App {
    const now = ctx.clock.now();
    const app: App = {
      id: appId(ctx.mode, ++appCount, now),
      name,
      website,
      ...clientCredentials(ctx.mode, now),
      redirectUris,
      scopes,
      vapidKey: ctx.mode === "snac" ? secretToken("snac") : vapidKey(),
      createdAt: now,
      uid: null,
      deleted: false,
    };
    ctx.store.apps.push(app);
    return app;
  }

  function appJson(app: App): Record<string, unknown> {
    if (ctx.mode === "snac") {
      return {
        name: app.name,
        redirect_uri: app.redirectUris[0],
        client_id: app.clientId,
        client_secret: app.clientSecret,
        vapid_key: app.vapidKey,
        id: app.id,
        client_secret_expires_at: 0,
      };
    }
    return {
      id: app.id,
      name: app.name,
      website: app.website,
      scopes: app.scopes,
      redirect_uris: app.redirectUris,
      vapid_key: app.vapidKey,
      redirect_uri: app.redirectUris.join("\n"),
      client_id: app.clientId,
      client_secret: app.clientSecret,
      client_secret_expires_at: 0,
    };
  }

  type PreAuth =
    | { ok: false; error: keyof typeof DOORKEEPER | "invalid_request"; description: string; status: number }
    | {
        ok: true;
        app: App;
        redirectUri: string;
        scopes: string[];
        challenge: string | null;
        method: string | null;
        state: string | null;
      };

  /** Doorkeeper's `PreAuthorization` checks, in its order. */
  function preAuthorize(q: URLSearchParams): PreAuth {
    const fail = (
      error: keyof typeof DOORKEEPER | "invalid_request",
      status = 400,
      missing?: string,
    ): PreAuth => ({
      ok: false,
      error,
      status,
      description:
        error === "invalid_request"
          ? `The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed. Missing required parameter: ${missing}.`
          : DOORKEEPER[error],
    });
    const clientId = q.get("client_id");
    if (!clientId) return fail("invalid_request", 400, "client_id");
    const app = liveApp(clientId);
    if (!app) return fail("invalid_client", 401);
    const redirectUri = q.get("redirect_uri");
    if (!redirectUri) return fail("invalid_request", 400, "redirect_uri");
    if (!app.redirectUris.includes(redirectUri)) return fail("invalid_redirect_uri");
    const responseType = q.get("response_type");
    if (!responseType) return fail("invalid_request", 400, "response_type");
    if (responseType !== "code") return fail("unsupported_response_type");
    const scopes = splitScopes(q.get("scope") ?? "read");
    if (scopes.length === 0 || !scopes.every((s) => app.scopes.includes(s))) return fail("invalid_scope");
    const challenge = q.get("code_challenge");
    const method = q.get("code_challenge_method");
    if (challenge && method !== "S256") return fail("invalid_code_challenge_method");
    return { ok: true, app, redirectUri, scopes, challenge, method, state: q.get("state") };
  }

  function newGrant(
    app: App,
    username: string,
    fields: Pick<Grant, "redirectUri" | "scopes" | "codeChallenge" | "codeChallengeMethod" | "state">,
  ): Grant {
    const grant: Grant = {
      code: secretToken(ctx.mode),
      clientId: app.clientId,
      username,
      ...fields,
      createdAt: ctx.clock.now(),
      used: false,
    };
    ctx.store.grants.push(grant);
    return grant;
  }

  function newToken(fields: Omit<Token, "token" | "createdAt" | "revoked">): Token {
    const t: Token = { token: secretToken(ctx.mode), ...fields, createdAt: ctx.clock.now(), revoked: false };
    ctx.store.tokens.push(t);
    return t;
  }

  function doorkeeperError(status: number, error: string, description: string): Reply {
    const headers: [string, string][] = [
      ["cache-control", "no-store"],
      ["pragma", "no-cache"],
    ];
    if (status === 401)
      headers.push([
        "www-authenticate",
        `Bearer realm="Doorkeeper", error="${error}", error_description="${description}"`,
      ]);
    return json(status, { error, error_description: description }, headers);
  }

  /** snac's successful `x-snac-login`: a code, the app handed to the user. The oob body is the bare code. */
  function snacLogin(app: App | undefined, username: string, redir: string, state: string | null) {
    const code = secretToken("snac");
    let body = redir === OOB ? code : `${redir}${redir.includes("?") ? "&" : "?"}code=${code}`;
    if (state) body += `&state=${state}`;
    if (app) {
      app.uid = username;
      ctx.store.grants.push({
        code,
        clientId: app.clientId,
        username,
        redirectUri: redir,
        scopes: app.scopes,
        codeChallenge: snacChallenges.get(app.clientId)?.challenge ?? null,
        codeChallengeMethod: snacChallenges.get(app.clientId)?.method ?? null,
        state,
        createdAt: ctx.clock.now(),
        used: false,
      });
    }
    return { code, body, redirect: redir !== OOB };
  }

  /** Client authentication: HTTP Basic (`client_id:client_secret`, each form-encoded) or the body. */
  function clientAuth(req: IncomingMessage, p: Values): { id?: string; secret?: string } {
    const header = req.headers.authorization ?? "";
    if (/^basic /i.test(header)) {
      const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0) {
        const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
        try {
          return { id: dec(decoded.slice(0, colon)), secret: dec(decoded.slice(colon + 1)) };
        } catch {}
      }
    }
    const out: { id?: string; secret?: string } = {};
    const id = str(p, "client_id");
    const secret = str(p, "client_secret");
    if (id !== undefined) out.id = id;
    if (secret !== undefined) out.secret = secret;
    return out;
  }

  function tokenAnswer(t: Token): Reply {
    return json(
      200,
      {
        access_token: t.token,
        token_type: "Bearer",
        scope: t.scopes.join(" "),
        created_at: Math.floor(t.createdAt.getTime() / 1000),
      },
      ctx.mode === "snac"
        ? []
        : [
            ["cache-control", "no-store"],
            ["pragma", "no-cache"],
          ],
    );
  }

  /** `POST /oauth/token` as Doorkeeper (Mastodon 4.3: authorization_code and client_credentials only). */
  function mastodonToken(req: IncomingMessage, p: Values): Reply {
    const grantType = str(p, "grant_type");
    if (!grantType)
      return doorkeeperError(
        400,
        "invalid_request",
        "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed. Missing required parameter: grant_type.",
      );
    if (grantType !== "authorization_code" && grantType !== "client_credentials")
      return doorkeeperError(400, "unsupported_grant_type", DOORKEEPER.unsupported_grant_type);
    const auth = clientAuth(req, p);
    const app = liveApp(auth.id);
    const client = app && app.clientSecret === auth.secret ? app : undefined;
    if (grantType === "client_credentials") {
      if (!client) return doorkeeperError(401, "invalid_client", DOORKEEPER.invalid_client);
      const scopes = splitScopes(str(p, "scope") ?? "read");
      if (scopes.length === 0 || !scopes.every((s) => client.scopes.includes(s)))
        return doorkeeperError(400, "invalid_scope", DOORKEEPER.invalid_scope);
      return tokenAnswer(
        newToken({
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          username: null,
          scopes,
          grantType,
        }),
      );
    }
    const code = str(p, "code");
    const grant = code ? ctx.store.grants.find((g) => g.code === code) : undefined;
    const verifier = str(p, "code_verifier");
    const redirectUri = str(p, "redirect_uri");
    const missing = (name: string) =>
      doorkeeperError(
        400,
        "invalid_request",
        `The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed. Missing required parameter: ${name}.`,
      );
    if (grant?.codeChallenge && !verifier) return missing("code_verifier");
    if (!redirectUri) return missing("redirect_uri");
    if (!client) return doorkeeperError(401, "invalid_client", DOORKEEPER.invalid_client);
    const expired = grant !== undefined && ctx.clock.now().getTime() - grant.createdAt.getTime() >= 600_000;
    if (
      !grant ||
      grant.used ||
      expired ||
      grant.clientId !== client.clientId ||
      grant.redirectUri !== redirectUri ||
      (grant.codeChallenge !== null && s256(verifier ?? "") !== grant.codeChallenge)
    )
      return doorkeeperError(400, "invalid_grant", DOORKEEPER.invalid_grant);
    grant.used = true;
    return tokenAnswer(
      newToken({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        username: grant.username,
        scopes: grant.scopes,
        grantType,
      }),
    );
  }

  /**
   * snac's `/oauth/token` (snac/10, 13–16): needs grant_type, client_id, client_secret (or Basic)
   * and redirect_uri, checks the secret and nothing else — not the code, the password or the grant
   * type. The token belongs to whoever last logged in through the app (nobody: verify says 422).
   */
  function snacToken(req: IncomingMessage, p: Values): Reply {
    const gtype = str(p, "grant_type");
    const cid = str(p, "client_id");
    let csec = str(p, "client_secret");
    const ruri = str(p, "redirect_uri");
    const header = req.headers.authorization ?? "";
    if (csec === undefined && header.startsWith("Basic ")) {
      const parts = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
      if (parts.length === 2) csec = parts[1];
    }
    if (!gtype || !cid || csec === undefined || ruri === undefined) return snacError(400);
    const app = liveApp(cid);
    if (!app || app.clientSecret !== csec) return snacEmpty(401);
    const t = newToken({
      clientId: cid,
      clientSecret: csec,
      username: app.uid,
      scopes: splitScopes(str(p, "scope") ?? ""),
      grantType: gtype,
    });
    return json(200, {
      access_token: t.token,
      token_type: "Bearer",
      created_at: Math.floor(t.createdAt.getTime() / 1000),
      scope: str(p, "scope") ?? "",
    });
  }

  function oauth(rec: Recorded, req: IncomingMessage, url: URL): Reply | undefined {
    const path = url.pathname;
    const method = rec.method;
    const q = url.searchParams;
    if (ctx.mode === "snac") {
      if ((method === "GET" || method === "HEAD") && path === "/oauth/authorize") {
        const cid = q.get("client_id");
        const ruri = q.get("redirect_uri");
        if (!cid || !ruri || q.get("response_type") !== "code" || !liveApp(cid)) return snacError(400);
        snacChallenges.set(cid, {
          challenge: q.get("code_challenge"),
          method: q.get("code_challenge_method"),
        });
        const page = snacLoginPage(
          ctx.origin,
          ctx.domain,
          "",
          "oauth/x-snac-login",
          ruri,
          cid,
          q.get("state") ?? "",
        );
        return { status: 200, contentType: "text/html", body: page, headers: [] };
      }
      if ((method === "GET" || method === "HEAD") && path === "/oauth/x-snac-get-token") {
        const page = snacLoginPage(ctx.origin, ctx.domain, "", "oauth/x-snac-get-token", "", "", "");
        return { status: 200, contentType: "text/html", body: page, headers: [] };
      }
      if (method !== "POST" || !path.startsWith("/oauth/")) return undefined;
      const body = parseBody(rec);
      if (body.invalid) return snacError(400);
      const p = body.values;
      if (path === "/oauth/x-snac-login") {
        const [login, passwd, redir, cid, state] = ["login", "passwd", "redir", "cid", "state"].map((k) =>
          str(p, k),
        );
        const user = login === undefined ? undefined : ctx.store.users.find((u) => u.username === login);
        if (
          user &&
          passwd !== undefined &&
          redir !== undefined &&
          cid !== undefined &&
          passwd === user.password
        ) {
          const r = snacLogin(liveApp(cid), user.username, redir, state ?? null);
          return {
            status: r.redirect ? 303 : 200,
            contentType: "text/html",
            body: r.body,
            headers: r.redirect ? [["location", r.body]] : [],
          };
        }
        const page = snacLoginPage(
          ctx.origin,
          ctx.domain,
          "LOGIN INCORRECT",
          "oauth/x-snac-login",
          redir ?? "(null)",
          cid ?? "(null)",
          state ?? "(null)",
        );
        return { status: 200, contentType: "text/html", body: page, headers: [] };
      }
      if (path === "/oauth/x-snac-get-token") {
        const user = ctx.store.users.find((u) => u.username === str(p, "login"));
        if (user && str(p, "passwd") === user.password) {
          const t = newToken({
            clientId: "snac-client",
            clientSecret: "",
            username: user.username,
            scopes: [],
            grantType: "x-snac-get-token",
          });
          return { status: 200, contentType: "text/plain", body: t.token, headers: [] };
        }
        const page = snacLoginPage(
          ctx.origin,
          ctx.domain,
          "LOGIN INCORRECT",
          "oauth/x-snac-get-token",
          "",
          "",
          "",
        );
        return { status: 200, contentType: "text/html", body: page, headers: [] };
      }
      if (path === "/oauth/token") return snacToken(req, p);
      if (path === "/oauth/revoke") {
        const [cid, csec, tok] = ["client_id", "client_secret", "token"].map((k) => str(p, k));
        if (cid === undefined || csec === undefined || tok === undefined) return snacError(403);
        const t = ctx.store.tokens.find((x) => x.token === tok && !x.revoked);
        if (!t || t.clientSecret !== csec)
          return { status: 403, contentType: "application/json", body: "{}", headers: [] };
        t.revoked = true;
        // "also delete the app, as it serves no purpose from now on" (snac/46): the one named.
        const app = liveApp(cid);
        if (app) app.deleted = true;
        return { status: 200, contentType: "application/json", body: "{}", headers: [] };
      }
      return undefined;
    }

    if ((method === "GET" || method === "HEAD") && path === "/oauth/authorize") {
      const pre = preAuthorize(q);
      if (!pre.ok) return html(pre.status, errorPage(pre.description));
      const approver = q.get("test_approve");
      if (approver === null) {
        return html(200, authorizePage(pre.app.name, pre.scopes));
      }
      const user = ctx.store.user(approver);
      if (!user) return html(400, errorPage(`test_approve: no user ${approver}`));
      const grant = newGrant(pre.app, user.username, {
        redirectUri: pre.redirectUri,
        scopes: pre.scopes,
        codeChallenge: pre.challenge,
        codeChallengeMethod: pre.method,
        state: pre.state,
      });
      if (pre.redirectUri === OOB) {
        // GoToSocial sends the browser on to /oauth/oob, which shows the code.
        if (ctx.mode === "gotosocial")
          return html(302, "", [
            ["location", `${ctx.origin}/oauth/oob?code=${encodeURIComponent(grant.code)}`],
          ]);
        return html(200, codePage(grant.code));
      }
      const target = new URL(pre.redirectUri);
      target.searchParams.set("code", grant.code);
      if (pre.state !== null) target.searchParams.set("state", pre.state);
      return html(302, "", [["location", target.toString()]]);
    }
    if (ctx.mode === "gotosocial" && (method === "GET" || method === "HEAD") && path === "/oauth/oob") {
      return html(200, gtsOobPage(ctx.domain, q.get("code") ?? ""));
    }
    if (method !== "POST" || (path !== "/oauth/token" && path !== "/oauth/revoke")) return undefined;
    const body = parseBody(rec);
    if (body.invalid) return error(400, "Error occurred while parsing request parameters");
    const p = { ...formValues(url.search.slice(1)), ...body.values };
    if (path === "/oauth/token") return mastodonToken(req, p);
    // Doorkeeper's revoke: an unknown token is fine; another app's token is not yours to revoke.
    const tok = str(p, "token");
    const t = tok === undefined ? undefined : ctx.store.tokens.find((x) => x.token === tok);
    if (!t || t.revoked) return json(200, {});
    const auth = clientAuth(req, p);
    const client = liveApp(auth.id);
    const authorized =
      t.clientId === null ||
      (client !== undefined && client.clientSecret === auth.secret && client.clientId === t.clientId);
    if (!authorized)
      return json(403, {
        error: "unauthorized_client",
        error_description: "You are not authorized to revoke this token",
      });
    t.revoked = true;
    return json(200, {});
  }

  function postApp(rec: Recorded, url: URL): Reply {
    const body = parseBody(rec);
    if (ctx.mode === "snac") {
      let p = body.values;
      if (
        str(p, "client_name") === undefined &&
        p.redirect_uris === undefined &&
        str(p, "scope") === undefined
      )
        p = formValues(url.search.slice(1));
      const name = str(p, "client_name");
      const ruri = Array.isArray(p.redirect_uris) ? String(p.redirect_uris[0]) : str(p, "redirect_uris");
      if (name === undefined || ruri === undefined) return snacError(404);
      const scopes = splitScopes(str(p, "scopes") ?? str(p, "scope") ?? "");
      return json(200, appJson(newApp(name, [ruri], scopes, str(p, "website") ?? null)));
    }
    if (body.invalid) return error(400, "Error occurred while parsing request parameters");
    const p = { ...formValues(url.search.slice(1)), ...body.values };
    const name = str(p, "client_name")?.trim() ?? "";
    const raw = p.redirect_uris;
    const uris = (Array.isArray(raw) ? raw.map(String) : (str(p, "redirect_uris") ?? "").split(/\s+/)).filter(
      (u) => u !== "",
    );
    if (name === "") return error(422, "Validation failed: Application name can't be blank");
    if (uris.length === 0) return error(422, "Validation failed: Redirect URI can't be blank");
    for (const u of uris) {
      let ok = u === OOB;
      try {
        const parsed = new URL(u);
        ok ||= parsed.hash === "" && /^[a-z][a-z0-9+.-]*:$/i.test(parsed.protocol);
      } catch {}
      if (!ok) return error(422, "Validation failed: Redirect URI must be an absolute URI.");
    }
    const scopes = splitScopes(str(p, "scopes") ?? "read");
    if (!scopes.every((s) => KNOWN_SCOPES.test(s)))
      return error(422, "Validation failed: Scopes doesn't match configured on the server.");
    const website = str(p, "website");
    return json(
      200,
      appJson(newApp(name, uris, scopes, website === undefined || website === "" ? null : website)),
    );
  }

  /** `MastodonServer.registerApp`. */
  function registerApp(
    o: { name?: string; redirectUris?: string[]; scopes?: string[]; website?: string } = {},
  ): App {
    return newApp(
      o.name ?? "identica",
      o.redirectUris ?? [OOB],
      o.scopes ?? ["read", "write"],
      o.website ?? null,
    );
  }

  /** `MastodonServer.authorize`: the checks of the authorization page, then the person's "yes". */
  function authorize(request: string | URLSearchParams | Record<string, string>, username = "alice"): string {
    let q: URLSearchParams;
    if (request instanceof URLSearchParams) q = request;
    else if (typeof request === "string") {
      const at = request.indexOf("?");
      q = new URLSearchParams(at >= 0 ? request.slice(at + 1) : request.includes("=") ? request : "");
    } else q = new URLSearchParams(request);
    const user = ctx.store.user(username);
    if (!user) throw new Error(`no user ${username}`);
    if (ctx.mode === "snac") {
      // The authorize page's checks (snac/07b), then the login form's success (snac/09).
      const app = liveApp(q.get("client_id") ?? undefined);
      const redir = q.get("redirect_uri");
      if (!app || !redir || q.get("response_type") !== "code")
        throw new Error("invalid_request: 400 Bad Request");
      snacChallenges.set(app.clientId, {
        challenge: q.get("code_challenge"),
        method: q.get("code_challenge_method"),
      });
      const code = snacLogin(app, user.username, redir, q.get("state")).code;
      (ctx.store.grants.at(-1) as Grant).scopes = splitScopes(q.get("scope") ?? "");
      return code;
    }
    const pre = preAuthorize(q);
    if (!pre.ok) throw new Error(`${pre.error}: ${pre.description}`);
    return newGrant(pre.app, user.username, {
      redirectUri: pre.redirectUri,
      scopes: pre.scopes,
      codeChallenge: pre.challenge,
      codeChallengeMethod: pre.method,
      state: pre.state,
    }).code;
  }

  /** `MastodonServer.issueToken`: a token as the web UI makes one (or for an app). */
  function issueToken(
    username: string | null,
    o: { scopes?: string | string[]; clientId?: string } = {},
  ): string {
    const user = username === null ? undefined : ctx.store.user(username);
    if (username !== null && !user) throw new Error(`no user ${username}`);
    const app = o.clientId === undefined ? undefined : liveApp(o.clientId);
    const scopes =
      typeof o.scopes === "string" ? splitScopes(o.scopes) : (o.scopes ?? ["read", "write", "follow"]);
    return newToken({
      clientId: app?.clientId ?? null,
      clientSecret: app?.clientSecret ?? "",
      username: user?.username ?? null,
      scopes,
      grantType: "test",
    }).token;
  }

  return { route: oauth, postApp, registerApp, authorize, issueToken };
}

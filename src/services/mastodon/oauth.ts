import { createHash, randomBytes } from "node:crypto";
import { ExitCode, HttpError, UsageError } from "../../errors.js";
import type { HttpSession } from "../../http/client.js";
import {
  isWord,
  jsonObject,
  malformed,
  OAuthError,
  type OAuthRefusal,
  ok,
  serverText,
  statusFailure,
} from "./oauth-reply.js";

export { OAuthError, type OAuthRefusal };

/**
 * The OAuth 2 building blocks of `identica login` / `logout` on a Mastodon server (docs/cli.md "Two APIs",
 * MASTODON.md §1–3): the out-of-band authorization-code flow with PKCE S256. The code, the client
 * secret, the verifier and the token are secrets: none of them is ever put in an error message, and the
 * `-v` trace redacts them by field name (http/trace.ts).
 */

/** What registering the app gives back, needed again for the token exchange and for revocation. */
export interface AppCredentials {
  clientId: string;
  clientSecret: string;
}

/** Instead of redirecting, the server shows the code to the user, who pastes it (MASTODON.md §1). */
export const OOB = "urn:ietf:wg:oauth:2.0:oob";
/** Covers posting, deleting, reading timelines and verify_credentials (MASTODON.md §1). */
export const SCOPES = "read write";

/**
 * A PKCE pair (RFC 7636 §4.1): 64 characters of base64url from 48 random bytes (within the 43–128
 * characters of `[A-Za-z0-9-._~]`, and unbiased: every character is 6 random bits).
 */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString("base64url");
  return { verifier, challenge: pkceChallenge(verifier) };
}

/** `BASE64URL(SHA-256(ASCII(verifier)))` without padding: the S256 method. */
export function pkceChallenge(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** The page the user opens to log in and authorize the app; it then shows the code. */
export function authorizeUrl(origin: string, clientId: string, challenge: string): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: OOB,
    scope: SCOPES,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  // ":" may stand as it is in a query (RFC 3986 §3.4): the URL the user sees reads as the servers'
  // documentation writes it, `redirect_uri=urn:ietf:wg:oauth:2.0:oob`.
  return `${new URL("/oauth/authorize", origin).href}?${query.toString().replace(/%3A/gi, ":")}`;
}

/** `POST /api/v1/apps`: needs no token; the answer's client id and secret are kept by the caller. */
export async function registerApp(
  session: HttpSession,
  origin: string,
  opts: { clientName: string; website?: string | undefined },
): Promise<AppCredentials> {
  const form = new URLSearchParams({ client_name: opts.clientName, redirect_uris: OOB, scopes: SCOPES });
  if (opts.website !== undefined) form.set("website", opts.website);
  const what = "register the app";
  const res = await post(session, origin, "/api/v1/apps", form);
  // With every parameter sent, a 404 or 405 is the route missing (a StatusNet server, a plain web
  // site): snac's 404 HTML for a bad registration cannot happen here, and Mastodon says 422.
  if (res.status === 404 || res.status === 405) {
    throw new HttpError(
      ExitCode.Unavailable,
      `${host(origin)} does not speak the Mastodon API (POST /api/v1/apps answered ${res.status})`,
      { status: res.status, sent: true },
      { hint: "check --server, or give --api statusnet" },
    );
  }
  if (!ok(res)) throw statusFailure(res, host(origin), what);
  const doc = jsonObject(res, host(origin), what);
  const clientId = doc.client_id;
  const clientSecret = doc.client_secret;
  if (!isWord(clientId) || !isWord(clientSecret))
    throw malformed(res, host(origin), what, "the reply has no client_id and client_secret");
  return { clientId, clientSecret };
}

/** `POST /oauth/token` with the pasted code and the PKCE verifier; the access token it answers. */
export async function exchangeCode(
  session: HttpSession,
  origin: string,
  app: AppCredentials,
  code: string,
  verifier: string,
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    client_id: app.clientId,
    client_secret: app.clientSecret,
    redirect_uri: OOB,
    code_verifier: verifier,
    scope: SCOPES,
  });
  const what = "exchange the authorization code for a token";
  const res = await post(session, origin, "/oauth/token", form);
  if (!ok(res)) {
    const { error } = serverText(res);
    // Doorkeeper: 400 invalid_grant for a wrong, used or expired code (or a PKCE mismatch).
    if (error === "invalid_grant")
      throw new OAuthError(
        "code-refused",
        "the authorization code was refused (expired, used, or mistyped)",
        res,
        {
          hint: "run identica login again for a new code",
        },
      );
    // Doorkeeper: 401 invalid_client; snac: 401 with an empty body (snac/16).
    if (res.status === 401 || error === "invalid_client")
      throw new OAuthError("app-unknown", "the server no longer knows this app", res, {
        hint: "run identica login again: it registers the app anew",
      });
    throw statusFailure(res, host(origin), what);
  }
  const doc = jsonObject(res, host(origin), what);
  // Only a Bearer token can be sent as one; servers spell the type in any case (RFC 6749 §5.1).
  if (doc.token_type !== undefined && String(doc.token_type).toLowerCase() !== "bearer")
    throw malformed(res, host(origin), what, "the token is not a Bearer token");
  if (!isWord(doc.access_token))
    throw malformed(res, host(origin), what, "the reply has no usable access_token");
  return doc.access_token;
}

/**
 * `POST /oauth/revoke`: idempotent, 200 `{}`. A refusal (403 for a token of another app, such as one
 * made in the web UI; 401 for an app the server no longer knows) is an OAuthError of kind
 * `revoke-refused`: the caller reports it and still removes the token locally.
 */
export async function revokeToken(
  session: HttpSession,
  origin: string,
  app: AppCredentials,
  token: string,
): Promise<void> {
  const form = new URLSearchParams({ client_id: app.clientId, client_secret: app.clientSecret, token });
  const res = await post(session, origin, "/oauth/revoke", form);
  if (ok(res)) return;
  if (res.status === 401 || res.status === 403) {
    const said = serverText(res).message ?? `it answered ${res.status}`;
    throw new OAuthError("revoke-refused", `the server would not revoke the token: ${said}`, res, {
      hint: "revoke it in the server's settings, under authorized apps",
    });
  }
  throw statusFailure(res, host(origin), "revoke the token");
}

/**
 * The code the user pastes: the bare code, or the whole address bar or query it came in (a server
 * that redirects to `…?code=…`). Refused (64) when empty or when it holds whitespace or an invisible
 * character, which no code has; the messages never repeat it.
 */
export function cleanCode(input: string): string {
  let code = input.trim();
  if (code === "") throw noCode();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(code) || /(^|[?&])code=/.test(code)) {
    let param: string | null;
    try {
      const query = /^[a-z][a-z0-9+.-]*:\/\//i.test(code)
        ? new URL(code).search
        : code.replace(/^[^?]*\?/, "");
      param = new URLSearchParams(query).get("code");
    } catch {
      param = null;
    }
    if (param === null || param === "")
      throw new UsageError("the pasted address has no code in it", { hint: HINT_PASTE });
    code = param;
  }
  if (/[\s\p{Cc}\p{Cf}]/u.test(code))
    throw new UsageError("the authorization code has spaces or invisible characters in it", {
      hint: HINT_PASTE,
    });
  return code;
}

const HINT_PASTE = "paste the code the server shows after you authorize identica";

/** Nothing was pasted (an empty line, or Ctrl-D at the prompt): 64, as for an empty stdin. */
export function noCode(): UsageError {
  return new UsageError("no authorization code was given", { hint: HINT_PASTE });
}

async function post(session: HttpSession, origin: string, path: string, form: URLSearchParams) {
  return session.send({
    method: "POST",
    url: new URL(path, origin),
    form: form.toString(),
    accept: "application/json",
  });
}

function host(origin: string): string {
  return new URL(origin).host;
}

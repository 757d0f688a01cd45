import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ExitCode, HttpError, type IdenticaError } from "../../src/errors.js";
import { HttpSession } from "../../src/http/client.js";
import type { HttpConfig } from "../../src/http/config.js";
import { redactForm, redactJsonSecrets } from "../../src/http/trace.js";
import {
  type AppCredentials,
  authorizeUrl,
  cleanCode,
  exchangeCode,
  OAuthError,
  OOB,
  pkceChallenge,
  pkcePair,
  registerApp,
  revokeToken,
  SCOPES,
} from "../../src/services/mastodon/oauth.js";
import { fixtureReply, SNAC_FIXTURES } from "../helpers/fixtures.js";

/** One request as the loopback server saw it. */
interface Seen {
  method: string;
  path: string;
  contentType: string;
  form: Record<string, string>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let origin: string;
let handler: Handler;
let seen: Seen[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({
        method: req.method ?? "",
        path: req.url ?? "",
        contentType: String(req.headers["content-type"] ?? ""),
        form: Object.fromEntries(new URLSearchParams(body)),
      });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  handler = () => {
    throw new Error("no handler set");
  };
});

function session(trace?: (line: string) => void): HttpSession {
  const config: HttpConfig = {
    timeoutMs: 10_000,
    userAgent: "identica/test",
    maxResponseBytes: 1 << 20,
    trace,
  };
  return new HttpSession(origin, config);
}

/** Answers every request with this snac transcript's reply (its length recomputed: bodies are pretty-printed). */
function snac(name: string): Handler {
  const reply = fixtureReply(name, SNAC_FIXTURES);
  return (_req, res) => {
    const headers = reply.headers.filter(([k]) => k !== "content-length");
    res.writeHead(reply.status, Object.fromEntries(headers));
    res.end(reply.body);
  };
}

function json(status: number, doc: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(typeof doc === "string" ? doc : JSON.stringify(doc));
  };
}

/** snac/16: a status line and headers, no body and no Content-Length, the connection closed to end it. */
function closeDelimited(status: number, reason: string): Handler {
  return (_req, res) => {
    res.socket?.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/html; charset=utf-8\r\n\r\n`);
  };
}

async function failure(p: Promise<unknown>): Promise<IdenticaError> {
  try {
    await p;
  } catch (err) {
    return err as IdenticaError;
  }
  throw new Error("expected a failure");
}

const APP: AppCredentials = {
  clientId: "d4465f824acd94df95537a9017247521",
  clientSecret: "ad3c61fdb7f2802cce15ae3fb14b10db",
};
const CODE = "bf0fd818572ca14c903b14bf6bdcab21";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const TOKEN = "b0464d1aed9f9a119a839f5331c676b1";

/** No secret of the flow in an error the user sees. */
function expectNoSecret(err: IdenticaError): void {
  for (const secret of [APP.clientSecret, CODE, VERIFIER, TOKEN]) {
    expect(err.message).not.toContain(secret);
    expect(err.hint ?? "").not.toContain(secret);
  }
}

describe("PKCE (RFC 7636)", () => {
  it("S256 of the RFC's Appendix B verifier is its challenge", () => {
    expect(pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes a fresh 64-character verifier of unreserved characters, and its challenge without padding", () => {
    const a = pkcePair();
    const b = pkcePair();
    expect(a.verifier).toMatch(/^[A-Za-z0-9\-._~]{64}$/);
    expect(a.challenge).toBe(pkceChallenge(a.verifier));
    expect(a.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.verifier).not.toBe(a.verifier);
  });
});

describe("authorizeUrl", () => {
  it("asks for a code shown out of band, with scopes read write and the S256 challenge", () => {
    const url = authorizeUrl(
      "https://social.example",
      "abc123",
      "E9Melhoa2OwvFWAN6SsHpYjZIKv8yijUhKdGJoOXs-x4",
    );
    expect(url).toBe(
      "https://social.example/oauth/authorize?response_type=code&client_id=abc123" +
        "&redirect_uri=urn:ietf:wg:oauth:2.0:oob&scope=read+write" +
        "&code_challenge=E9Melhoa2OwvFWAN6SsHpYjZIKv8yijUhKdGJoOXs-x4&code_challenge_method=S256",
    );
    const q = new URL(url).searchParams;
    expect(q.get("redirect_uri")).toBe(OOB);
    expect(q.get("scope")).toBe(SCOPES);
  });

  it("encodes a client id the server chose, so it cannot add parameters", () => {
    const q = new URL(authorizeUrl("https://social.example:8443", "a&scope=admin b", "c")).searchParams;
    expect(q.get("client_id")).toBe("a&scope=admin b");
    expect(q.getAll("scope")).toEqual(["read write"]);
  });
});

describe("registerApp", () => {
  it("registers with the oob redirect and read write, and keeps snac's client id and secret (snac/05)", async () => {
    handler = snac("05-apps-form.txt");
    const app = await registerApp(session(), origin, {
      clientName: "identica",
      website: "https://example.invalid/identica",
    });
    expect(app).toEqual(APP);
    expect(seen).toEqual([
      {
        method: "POST",
        path: "/api/v1/apps",
        contentType: "application/x-www-form-urlencoded; charset=utf-8",
        form: {
          client_name: "identica",
          redirect_uris: "urn:ietf:wg:oauth:2.0:oob",
          scopes: "read write",
          website: "https://example.invalid/identica",
        },
      },
    ]);
  });

  it("sends no website when none is given", async () => {
    handler = snac("05-apps-form.txt");
    await registerApp(session(), origin, { clientName: "identica" });
    expect(Object.keys(seen[0]?.form ?? {})).toEqual(["client_name", "redirect_uris", "scopes"]);
  });

  it("a 404 HTML page means the server does not speak the Mastodon API: 69", async () => {
    handler = snac("06b-apps-missing-redirect.txt");
    const err = await failure(registerApp(session(), origin, { clientName: "identica" }));
    expect(err).toBeInstanceOf(HttpError);
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe(
      `127.0.0.1:${new URL(origin).port} does not speak the Mastodon API (POST /api/v1/apps answered 404)`,
    );
  });

  it("Mastodon's 422 validation error is refused content (65) with the server's text", async () => {
    handler = json(422, { error: "Validation failed: Redirect URI must be an absolute URI." });
    const err = await failure(registerApp(session(), origin, { clientName: "identica" }));
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toContain("refused to register the app (422): Validation failed: Redirect URI");
  });

  it.each([
    ["an HTML page", "text/html", "<html><body>Welcome</body></html>", "the reply is an HTML page"],
    ["an empty body", "application/json", "", "the reply is empty"],
    ["a JSON array", "application/json", "[]", "the reply is not a JSON object"],
    [
      "no client_secret",
      "application/json",
      '{"client_id":"x"}',
      "the reply has no client_id and client_secret",
    ],
    ["a secret with a space", "application/json", '{"client_id":"x","client_secret":"a b"}', "no client_id"],
  ])("a 200 with %s is 76", async (_what, type, body, why) => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": type });
      res.end(body);
    };
    const err = await failure(registerApp(session(), origin, { clientName: "identica" }));
    expect(err.exitCode).toBe(ExitCode.Protocol);
    expect(err.message).toContain(why);
    expect(err.message).toContain("could not register the app");
  });

  it("503 with Retry-After is 75, with the delay in the error", async () => {
    handler = json(503, { error: "maintenance" }, { "retry-after": "30" });
    const err = (await failure(registerApp(session(), origin, { clientName: "identica" }))) as HttpError;
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.details.retryAfter).toBe(30);
    expect(err.message).toContain("retry after 30 s");
  });

  it("a redirect is not followed (69); a 500 is 69", async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: "https://user:pw@elsewhere.example/x" });
      res.end();
    };
    const redirected = await failure(registerApp(session(), origin, { clientName: "identica" }));
    expect(redirected.exitCode).toBe(ExitCode.Unavailable);
    expect(redirected.message).toContain("redirected (302) to https://elsewhere.example/x");
    handler = (_req, res) => {
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<html><head><title>Oops &amp; sorry</title></head><body>\u001b[2J</body></html>");
    };
    const broken = await failure(registerApp(session(), origin, { clientName: "identica" }));
    expect(broken.exitCode).toBe(ExitCode.Unavailable);
    expect(broken.message).toMatch(
      /^server error 500 from 127\.0\.0\.1:\d+: Oops & sorry; could not register/,
    );
  });
});

describe("exchangeCode", () => {
  it("exchanges the code with the verifier and every parameter snac and Mastodon need (snac/10)", async () => {
    handler = snac("10-token-authorization_code.txt");
    expect(await exchangeCode(session(), origin, APP, CODE, VERIFIER)).toBe(TOKEN);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.path).toBe("/oauth/token");
    expect(seen[0]?.form).toEqual({
      grant_type: "authorization_code",
      code: CODE,
      client_id: APP.clientId,
      client_secret: APP.clientSecret,
      redirect_uri: "urn:ietf:wg:oauth:2.0:oob",
      code_verifier: VERIFIER,
      scope: "read write",
    });
  });

  it("Mastodon's 400 invalid_grant: 77, the code was refused", async () => {
    handler = json(400, {
      error: "invalid_grant",
      error_description:
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
    });
    const err = await failure(exchangeCode(session(), origin, APP, CODE, VERIFIER));
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).kind).toBe("code-refused");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toBe("the authorization code was refused (expired, used, or mistyped)");
    expectNoSecret(err);
  });

  it("Mastodon's 401 invalid_client and snac's empty 401 (snac/16): 77, the server no longer knows this app", async () => {
    for (const h of [
      json(401, { error: "invalid_client", error_description: "Client authentication failed." }),
      closeDelimited(401, "Unauthorized"),
    ]) {
      handler = h;
      const err = await failure(exchangeCode(session(), origin, APP, CODE, VERIFIER));
      expect(err).toBeInstanceOf(OAuthError);
      expect((err as OAuthError).kind).toBe("app-unknown");
      expect(err.exitCode).toBe(ExitCode.NoPerm);
      expect(err.message).toBe("the server no longer knows this app");
    }
  });

  it("snac's 400 HTML (snac/16c) goes through the common mapping: 65 with its heading", async () => {
    handler = snac("16c-token-missing-params.txt");
    const err = await failure(exchangeCode(session(), origin, APP, CODE, VERIFIER));
    expect(err).not.toBeInstanceOf(OAuthError);
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toMatch(
      /^127\.0\.0\.1:\d+ refused to exchange the authorization code for a token \(400\): 400 Bad Request \(snac\/2\.94\)$/,
    );
  });

  it("429 is 75 and names when to retry", async () => {
    handler = json(429, { error: "Too many requests" }, { "retry-after": "12" });
    const err = (await failure(exchangeCode(session(), origin, APP, CODE, VERIFIER))) as HttpError;
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.details.retryAfter).toBe(12);
  });

  it.each([
    ["no access_token", { token_type: "Bearer" }],
    ["an empty access_token", { access_token: "" }],
    ["an access_token with a space", { access_token: "abc def" }],
    ["an access_token with a control character", { access_token: "abc\u001b[2J" }],
    ["a number for access_token", { access_token: 12345 }],
    ["a token that is not a Bearer token", { access_token: "abc", token_type: "mac" }],
    ["an HTML page", "<html><body>Authorize</body></html>"],
  ])("a 200 with %s is 76, and names no secret", async (_what, body) => {
    handler = json(200, body);
    const err = await failure(exchangeCode(session(), origin, APP, CODE, VERIFIER));
    expect(err.exitCode).toBe(ExitCode.Protocol);
    expect(err.message).toContain("could not exchange the authorization code for a token");
    expect(err.message).not.toContain("abc");
    expectNoSecret(err);
  });

  it("accepts the token type in any case", async () => {
    handler = json(200, { access_token: TOKEN, token_type: "bearer", scope: "read write" });
    expect(await exchangeCode(session(), origin, APP, CODE, VERIFIER)).toBe(TOKEN);
  });
});

describe("revokeToken", () => {
  it("posts client id, secret and token; snac's {} is done (snac/46)", async () => {
    handler = snac("46-oauth-revoke.txt");
    await revokeToken(session(), origin, APP, TOKEN);
    expect(seen.map((s) => [s.method, s.path, s.form])).toEqual([
      ["POST", "/oauth/revoke", { client_id: APP.clientId, client_secret: APP.clientSecret, token: TOKEN }],
    ]);
  });

  it("Mastodon's 403 for a token of another app is a revoke-refused error the caller can report", async () => {
    handler = json(403, {
      error: "unauthorized_client",
      error_description: "You are not authorized to revoke this token",
    });
    const err = await failure(revokeToken(session(), origin, APP, TOKEN));
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).kind).toBe("revoke-refused");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toBe(
      "the server would not revoke the token: unauthorized_client: You are not authorized to revoke this token",
    );
    expectNoSecret(err);
  });

  it("other failures are not a refusal: a 500 is 69", async () => {
    handler = json(500, "");
    const err = await failure(revokeToken(session(), origin, APP, TOKEN));
    expect(err).not.toBeInstanceOf(OAuthError);
    expect(err.exitCode).toBe(ExitCode.Unavailable);
  });

  it("a network failure propagates as the HTTP layer classifies it (nothing sent: 75)", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const there = `http://127.0.0.1:${port}`;
    const s = new HttpSession(there, {
      timeoutMs: 10_000,
      userAgent: "identica/test",
      maxResponseBytes: 1 << 20,
    });
    const err = (await failure(revokeToken(s, there, APP, TOKEN))) as HttpError;
    expect(err).toBeInstanceOf(HttpError);
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.details.sent).toBe(false);
  });
});

describe("cleanCode", () => {
  it.each([
    ["the bare code", CODE],
    ["the code with the newline of a paste", `  ${CODE}\n`],
    ["a whole address bar", `https://social.example/oauth/authorize/native?code=${CODE}`],
    ["a redirect with state", `http://127.0.0.1:9/callback?code=${CODE}&state=xyz`],
    ["a query", `code=${CODE}&state=xyz`],
    ["a query with its ?", `?state=xyz&code=${CODE}`],
  ])("takes %s", (_what, input) => {
    expect(cleanCode(input)).toBe(CODE);
  });

  it.each([
    ["nothing", "   \n"],
    ["two words", "abc def"],
    ["a control character", "abc\u0007def"],
    ["an invisible format character", "abc\u200bdef"],
    ["an address without a code", "https://social.example/oauth/authorize?state=xyz"],
    ["an empty code parameter", "code=&state=xyz"],
  ])("refuses %s with 64, without repeating it", (_what, input) => {
    let err: IdenticaError | undefined;
    try {
      cleanCode(input);
    } catch (e) {
      err = e as IdenticaError;
    }
    expect(err?.exitCode).toBe(ExitCode.Usage);
    expect(err?.message).not.toContain("abc");
  });
});

describe("-v trace of the OAuth exchange", () => {
  it("redacts the code, the verifier, the client secret and the token in forms", () => {
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code: CODE,
      client_id: APP.clientId,
      client_secret: APP.clientSecret,
      code_verifier: VERIFIER,
      token: TOKEN,
      scope: "read write",
    }).toString();
    expect(redactForm(form)).toBe(
      `grant_type=authorization_code&code=<redacted>&client_id=${APP.clientId}&client_secret=<redacted>` +
        "&code_verifier=<redacted>&token=<redacted>&scope=read+write",
    );
  });

  it("redacts secret members of a JSON reply and keeps every other byte", () => {
    const body = fixtureReply("10-token-authorization_code.txt", SNAC_FIXTURES).body;
    expect(redactJsonSecrets(body)).toBe(body.replace(`"${TOKEN}"`, '"<redacted>"'));
    const app = fixtureReply("05-apps-form.txt", SNAC_FIXTURES).body;
    expect(redactJsonSecrets(app)).toBe(app.replace(`"${APP.clientSecret}"`, '"<redacted>"'));
  });

  it("finds an escaped member name and any shape of value, and leaves a name inside a string alone", () => {
    expect(redactJsonSecrets('{"access\\u005ftoken" : "s1","id":12345678901234567890}')).toBe(
      '{"access\\u005ftoken" : "<redacted>","id":12345678901234567890}',
    );
    expect(redactJsonSecrets('{"Refresh_Token":{"v":"s2"},"client_secret":12,"x":[1]}')).toBe(
      '{"Refresh_Token":"<redacted>","client_secret":"<redacted>","x":[1]}',
    );
    const text = '{"content":"my \\"access_token\\": \\"not a secret\\"","token_type":"Bearer"}';
    expect(redactJsonSecrets(text)).toBe(text);
    expect(redactJsonSecrets('{"a":"\\\\","access_token":"s3"}')).toBe(
      '{"a":"\\\\","access_token":"<redacted>"}',
    );
  });

  it("a traced login shows none of the secrets, request or reply", async () => {
    const lines: string[] = [];
    const s = session((line) => lines.push(line));
    handler = snac("05-apps-form.txt");
    await registerApp(s, origin, { clientName: "identica" });
    handler = snac("10-token-authorization_code.txt");
    await exchangeCode(s, origin, APP, CODE, VERIFIER);
    handler = snac("46-oauth-revoke.txt");
    await revokeToken(s, origin, APP, TOKEN);
    const trace = lines.join("\n");
    for (const secret of [APP.clientSecret, CODE, VERIFIER, TOKEN]) expect(trace).not.toContain(secret);
    expect(trace).toContain('"access_token": "<redacted>"');
    expect(trace).toContain('"token_type": "Bearer"');
    expect(trace).toContain(`client_id=${APP.clientId}`);
  });
});

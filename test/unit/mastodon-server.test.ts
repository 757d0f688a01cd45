import { createHash, randomBytes } from "node:crypto";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FixtureReply, fixtureReply, SNAC_FIXTURES } from "../helpers/fixtures.js";
import { type MastodonServer, OOB, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * The Mastodon look-alike must answer as the real servers do: the snac2 2.94 transcripts
 * (test/fixtures/snac) replayed against it in snac mode, and Mastodon's rules (MASTODON.md) in
 * mastodon mode. The e2e tests of the Mastodon client are only as good as this server.
 */

interface Res {
  status: number;
  headers: Headers;
  body: string;
  type: string;
}

interface Init {
  method?: string;
  form?: Record<string, string> | string;
  json?: unknown;
  token?: string;
  authorization?: string;
  headers?: Record<string, string>;
}

async function call(server: MastodonServer, path: string, init: Init = {}): Promise<Res> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.form !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = typeof init.form === "string" ? init.form : new URLSearchParams(init.form).toString();
  } else if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  const r = await fetch(`${server.origin}${path}`, {
    method: init.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    redirect: "manual",
    ...(body === undefined ? {} : { body }),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text, type: r.headers.get("content-type") ?? "" };
}

const snac = (name: string): FixtureReply => fixtureReply(`${name}.txt`, SNAC_FIXTURES);

/** The keys (in order) and value types of a JSON document, arrays by their first element. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return v === null ? "null" : typeof v;
}
const shapeOf = (body: string) => JSON.stringify(shape(JSON.parse(body)));

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** Two requests on one TCP connection: what comes back, byte for byte. */
function rawExchange(server: MastodonServer, request: string): Promise<string> {
  const { port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), "127.0.0.1", () => sock.write(request + request));
    const chunks: Buffer[] = [];
    sock.on("data", (c) => chunks.push(c));
    sock.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    sock.on("error", reject);
    setTimeout(() => {
      sock.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, 2000);
  });
}

describe("snac mode replays the snac2 2.94 transcripts", () => {
  let server: MastodonServer;
  /** The fixtures' origin and domain, swapped for the server's. */
  const sub = (s: string) =>
    s.replaceAll("http://127.0.0.1:8001", server.origin).replaceAll("127.0.0.1:8001", server.domain);
  const expectEmpty = (r: Res, status: number) => {
    expect(r.status).toBe(status);
    expect(r.body).toBe("");
    expect(r.headers.get("content-length")).toBeNull();
    expect(r.headers.get("www-authenticate")).toBeNull();
    expect(r.type).toBe("text/html; charset=utf-8");
  };
  const expectLike = (r: Res, name: string) => {
    const real = snac(name);
    expect(r.status).toBe(real.status);
    expect(r.type).toBe(real.contentType);
  };
  let app: { client_id: string; client_secret: string };
  let token: string;
  let first: { id: string; account: { id: string } };

  beforeAll(async () => {
    server = await startMastodon({ mode: "snac", site: { title: "snac probe" } });
  });
  afterAll(async () => {
    await server.close();
  });

  it("01-instance-v1: the same document", async () => {
    const r = await call(server, "/api/v1/instance");
    expectLike(r, "01-instance-v1");
    expect(JSON.parse(r.body)).toEqual(JSON.parse(sub(snac("01-instance-v1").body)));
  });
  it("02-instance-v2: 404 HTML", async () => {
    const r = await call(server, "/api/v2/instance");
    expectLike(r, "02-instance-v2");
    expect(r.body).toBe(snac("02-instance-v2").body);
  });
  it("03, 04: nodeinfo names snac", async () => {
    const r = await call(server, "/.well-known/nodeinfo");
    expectLike(r, "03-nodeinfo-well-known");
    expect(JSON.parse(r.body)).toEqual(JSON.parse(sub(snac("03-nodeinfo-well-known").body)));
    const doc = await call(server, "/nodeinfo_2_0");
    expectLike(doc, "04-nodeinfo-document");
    expect(shapeOf(doc.body)).toBe(shapeOf(snac("04-nodeinfo-document").body));
    expect(JSON.parse(doc.body).software).toEqual({ name: "snac", version: "2.94" });
  });
  it("05-apps-form: the same keys, ids and Content-Length (snac's JSON layout)", async () => {
    const r = await call(server, "/api/v1/apps", {
      form: {
        client_name: "identica",
        redirect_uris: OOB,
        scopes: "read write",
        website: "https://example.invalid/identica",
      },
    });
    expectLike(r, "05-apps-form");
    expect(shapeOf(r.body)).toBe(shapeOf(snac("05-apps-form").body));
    app = JSON.parse(r.body);
    expect(app.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(app.client_secret).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(r.body).id).toMatch(/^\d{16}$/);
    expect(r.headers.get("content-length")).toBe(
      snac("05-apps-form").headers.find(([k]) => k === "content-length")?.[1],
    );
  });
  it("06-apps-json: JSON works too; 06b: no redirect_uris is a 404 page", async () => {
    const r = await call(server, "/api/v1/apps", {
      json: { client_name: "identica-json", redirect_uris: OOB, scopes: "read write" },
    });
    expectLike(r, "06-apps-json");
    expect(shapeOf(r.body)).toBe(shapeOf(snac("06-apps-json").body));
    const missing = await call(server, "/api/v1/apps", { form: { client_name: "identica" } });
    expectLike(missing, "06b-apps-missing-redirect");
    expect(missing.body).toBe(snac("06b-apps-missing-redirect").body);
  });
  it("07-oauth-authorize-page: the login form; 07b: an unknown client is 400", async () => {
    const q = `client_id=${app.client_id}&redirect_uri=${OOB}&response_type=code&scope=read+write`;
    const r = await call(server, `/oauth/authorize?${q}`);
    expectLike(r, "07-oauth-authorize-page");
    expect(r.body.trimEnd()).toBe(
      sub(snac("07-oauth-authorize-page").body).replace("d4465f824acd94df95537a9017247521", app.client_id),
    );
    const bad = await call(server, `/oauth/authorize?client_id=nope&redirect_uri=${OOB}&response_type=code`);
    expectLike(bad, "07b-oauth-authorize-bad-client");
    expect(bad.body).toBe(snac("07b-oauth-authorize-bad-client").body);
  });
  it("08: a wrong password gives the form again; 09: the right one answers the bare code", async () => {
    const form = { login: "alice", passwd: "wrong", redir: OOB, cid: app.client_id, state: "" };
    const wrong = await call(server, "/oauth/x-snac-login", { form });
    expectLike(wrong, "08-oauth-login-wrong-password");
    expect(wrong.body.trimEnd()).toBe(
      sub(snac("08-oauth-login-wrong-password").body).replace(
        "d4465f824acd94df95537a9017247521",
        app.client_id,
      ),
    );
    const ok = await call(server, "/oauth/x-snac-login", { form: { ...form, passwd: "correct horse" } });
    expectLike(ok, "09-oauth-login-oob");
    expect(ok.body).toMatch(/^[0-9a-f]{32}$/);
    expect(snac("09-oauth-login-oob").body).toMatch(/^[0-9a-f]{32}$/);
  });
  it("10-token-authorization_code: the token, with snac's keys and Content-Length", async () => {
    const r = await call(server, "/oauth/token", {
      form: {
        grant_type: "authorization_code",
        code: "whatever",
        client_id: app.client_id,
        client_secret: app.client_secret,
        redirect_uri: OOB,
        scope: "read write",
      },
    });
    expectLike(r, "10-token-authorization_code");
    expect(shapeOf(r.body)).toBe(shapeOf(snac("10-token-authorization_code").body));
    expect(JSON.parse(r.body)).toMatchObject({ token_type: "Bearer", scope: "read write" });
    expect(r.headers.get("content-length")).toBe("143");
    token = JSON.parse(r.body).access_token;
  });
  it("11, 11b: with a real redirect URI the login is a 303 with code and state", async () => {
    const a = JSON.parse(
      (
        await call(server, "/api/v1/apps", {
          form: {
            client_name: "identica-redirect",
            redirect_uris: "http://127.0.0.1:9/callback",
            scopes: "read write",
          },
        })
      ).body,
    );
    const r = await call(server, "/oauth/x-snac-login", {
      form: {
        login: "alice",
        passwd: "correct horse",
        redir: "http://127.0.0.1:9/callback",
        cid: a.client_id,
        state: "xyz",
      },
    });
    expectLike(r, "11b-oauth-login-redirect");
    expect(r.headers.get("location")).toMatch(
      /^http:\/\/127\.0\.0\.1:9\/callback\?code=[0-9a-f]{32}&state=xyz$/,
    );
    expect(r.body).toBe(r.headers.get("location"));
  });
  it("12–14b: password and client_credentials on a fresh app give tokens bound to nobody (verify: 422 empty)", async () => {
    const fresh = JSON.parse(
      (
        await call(server, "/api/v1/apps", {
          form: { client_name: "identica-pw", redirect_uris: OOB, scopes: "read write" },
        })
      ).body,
    );
    const base = { client_id: fresh.client_id, client_secret: fresh.client_secret, redirect_uri: OOB };
    const pw = await call(server, "/oauth/token", {
      form: {
        grant_type: "password",
        username: "alice",
        password: "correct horse",
        ...base,
        scope: "read write",
      },
    });
    expectLike(pw, "13-token-password-fresh-app");
    expectEmpty(
      await call(server, "/api/v1/accounts/verify_credentials", { token: JSON.parse(pw.body).access_token }),
      422,
    );
    const noRedirect = await call(server, "/oauth/token", {
      form: { grant_type: "password", client_id: fresh.client_id, client_secret: fresh.client_secret },
    });
    expectLike(noRedirect, "13c-token-password-no-redirect_uri");
    expect(noRedirect.body).toBe(snac("13c-token-password-no-redirect_uri").body);
    const cc = await call(server, "/oauth/token", {
      form: { grant_type: "client_credentials", ...base, scope: "read" },
    });
    expectLike(cc, "14-token-client_credentials-fresh-app");
    expect(JSON.parse(cc.body).scope).toBe("read");
    expectEmpty(
      await call(server, "/api/v1/accounts/verify_credentials", { token: JSON.parse(cc.body).access_token }),
      422,
    );
  });
  it("15, 15b: on an app someone logged in to, a wrong password or a bogus code still gives a working token", async () => {
    const base = { client_id: app.client_id, client_secret: app.client_secret, redirect_uri: OOB };
    for (const form of [
      { grant_type: "password", username: "alice", password: "WRONG", ...base },
      { grant_type: "authorization_code", code: "bogus", ...base },
    ]) {
      const r = await call(server, "/oauth/token", { form });
      expectLike(r, "15b-token-bogus-code-logged-in-app");
      expect(JSON.parse(r.body).scope).toBe("");
      const v = await call(server, "/api/v1/accounts/verify_credentials", {
        token: JSON.parse(r.body).access_token,
      });
      expect(v.status).toBe(200);
    }
  });
  it("16: a wrong secret is 401 with no body; 16b: a JSON body works; 16c: missing parameters, 400 HTML", async () => {
    const wrong = await call(server, "/oauth/token", {
      form: {
        grant_type: "authorization_code",
        code: "x",
        client_id: app.client_id,
        client_secret: "wrong",
        redirect_uri: OOB,
      },
    });
    expectEmpty(wrong, snac("16-token-wrong-secret").status);
    const asJson = await call(server, "/oauth/token", {
      json: {
        grant_type: "authorization_code",
        code: "x",
        client_id: app.client_id,
        client_secret: app.client_secret,
        redirect_uri: OOB,
      },
    });
    expectLike(asJson, "16b-token-json-body");
    const missing = await call(server, "/oauth/token", {
      form: { grant_type: "authorization_code", client_id: app.client_id },
    });
    expectLike(missing, "16c-token-missing-params");
    expect(missing.body).toBe(snac("16c-token-missing-params").body);
    // Basic client authentication stands for client_secret (AndStatus does it so).
    const basic = await call(server, "/oauth/token", {
      form: { grant_type: "authorization_code", code: "x", client_id: app.client_id, redirect_uri: OOB },
      authorization: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString("base64")}`,
    });
    expect(basic.status).toBe(200);
  });
  it("17, 17a: x-snac-get-token answers a token as text/plain", async () => {
    const page = await call(server, "/oauth/x-snac-get-token");
    expectLike(page, "17a-snac-get-token-page");
    expect(page.body.trimEnd()).toBe(sub(snac("17a-snac-get-token-page").body));
    const r = await call(server, "/oauth/x-snac-get-token", {
      form: { login: "alice", passwd: "correct horse" },
    });
    expectLike(r, "17-snac-get-token-shortcut");
    expect(r.body).toMatch(/^[0-9a-f]{32}$/);
    expect((await call(server, "/api/v1/accounts/verify_credentials", { token: r.body })).status).toBe(200);
  });
  it("20-verify-credentials: the Account with its source, keys in snac's order", async () => {
    const r = await call(server, "/api/v1/accounts/verify_credentials", { token });
    expectLike(r, "20-verify-credentials");
    expect(shapeOf(r.body)).toBe(shapeOf(snac("20-verify-credentials").body));
    const me = JSON.parse(r.body);
    expect(me).toMatchObject({ username: "alice", acct: "alice", url: `${server.origin}/alice` });
    expect(me.id).toMatch(/^[0-9a-f]{32}$/);
    expect(me.id).toBe(server.accountId("alice"));
  });
  it("21–23: a wrong, missing, lower-case, query-string or Basic token: 422, empty, no length", async () => {
    for (const init of [
      { token: "0123456789abcdef0123456789abcdef" },
      {},
      { authorization: `bearer ${token}` },
      { authorization: `Basic ${Buffer.from("alice:correct horse").toString("base64")}` },
    ])
      expectEmpty(await call(server, "/api/v1/accounts/verify_credentials", init), 422);
    expectEmpty(await call(server, `/api/v1/accounts/verify_credentials?access_token=${token}`), 422);
    const basicPost = await call(server, "/api/v1/statuses", {
      form: { status: "basic-auth-attempt" },
      authorization: `Basic ${Buffer.from("alice:correct horse").toString("base64")}`,
    });
    expectEmpty(basicPost, snac("23b-statuses-post-basic-auth").status);
  });
  it("30-statuses-post-form: the same content (unescaped), text, tags and keys", async () => {
    const status = "hello from curl <b>&</b> #probe @nobody https://example.invalid/x ünïcödé";
    const r = await call(server, "/api/v1/statuses", { token, form: { status } });
    expectLike(r, "30-statuses-post-form");
    expect(shapeOf(r.body)).toBe(shapeOf(snac("30-statuses-post-form").body));
    const got = JSON.parse(r.body);
    const real = JSON.parse(sub(snac("30-statuses-post-form").body));
    for (const k of ["content", "text", "tags", "visibility", "spoiler_text", "language", "in_reply_to_id"])
      expect(got[k], k).toEqual(real[k]);
    expect(got.id).toMatch(/^\d{10}[0-9a-f]{32}$/);
    expect(got.account.acct).toBe(`alice@${server.domain}`);
    expect(got.url).toMatch(new RegExp(`^${server.origin}/alice/p/\\d{10}\\.\\d{6}$`));
    expect(server.statuses.at(-1)?.params).toEqual({ status });
    first = got;
  });
  it("31-statuses-post-json and 31b-statuses-post-markup: snac's markup, raw HTML passed through", async () => {
    const j = await call(server, "/api/v1/statuses", {
      token,
      json: { status: "hello as JSON", visibility: "public", language: "en" },
    });
    expectLike(j, "31-statuses-post-json");
    expect(JSON.parse(j.body).content).toBe("hello as JSON<br>");
    const status = `plain? *star* **bold** \`code\` _under_ <i>tag</i> <script>x</script> 5<6 & 7>3 "q" 'a'\nsecond line\n\nnew para`;
    const m = await call(server, "/api/v1/statuses", { token, form: { status } });
    const real = JSON.parse(snac("31b-statuses-post-markup").body);
    expect(JSON.parse(m.body).content).toBe(real.content);
    expect(JSON.parse(m.body).text).toBe(real.text);
  });
  it("32: a reply names its parent; 32b: an unknown parent is dropped", async () => {
    const r = JSON.parse(
      (
        await call(server, "/api/v1/statuses", {
          token,
          form: { status: "a reply", in_reply_to_id: first.id },
        })
      ).body,
    );
    expect(r.in_reply_to_id).toBe(first.id);
    expect(r.in_reply_to_account_id).toBe(first.account.id);
    const orphan = await call(server, "/api/v1/statuses", {
      token,
      form: { status: "reply to nothing", in_reply_to_id: "99999999990000000000000000000000000000" },
    });
    expectLike(orphan, "32b-statuses-post-reply-unknown-id");
    expect(JSON.parse(orphan.body).in_reply_to_id).toBeNull();
  });
  it("33*: visibilities are kept, an unknown one becomes direct", async () => {
    for (const [asked, stored] of [
      ["unlisted", "unlisted"],
      ["private", "private"],
      ["direct", "direct"],
      ["bogus", "direct"],
    ]) {
      const r = await call(server, "/api/v1/statuses", {
        token,
        form: { status: `visibility ${asked}`, visibility: asked as string },
      });
      expect(JSON.parse(r.body).visibility).toBe(stored);
    }
    expect(JSON.parse(snac("33d-statuses-post-visibility-bogus").body).visibility).toBe("direct");
  });
  it("34, 35: Idempotency-Key is ignored: two statuses", async () => {
    const post = () =>
      call(server, "/api/v1/statuses", {
        token,
        form: { status: "idempotent post" },
        headers: { "idempotency-key": "identica-test-key-1" },
      });
    const a = JSON.parse((await post()).body);
    const b = JSON.parse((await post()).body);
    expect(a.id).not.toBe(b.id);
  });
  it("36: over the advertised limit is accepted; 37, 37b: an empty or missing status too", async () => {
    const long = await call(server, "/api/v1/statuses", { token, form: { status: "a".repeat(100001) } });
    expectLike(long, "36-statuses-post-over-limit");
    const empty = await call(server, "/api/v1/statuses", { token, form: "status=" });
    expectLike(empty, "37-statuses-post-empty");
    expect(JSON.parse(empty.body)).toMatchObject({ content: "<br>", text: "" });
    const none = await call(server, "/api/v1/statuses", { token, form: "visibility=public" });
    expectLike(none, "37b-statuses-post-no-status-param");
    expect(JSON.parse(none.body)).toMatchObject({ content: "", text: "" });
  });
  it("37c, 37d: posting without a token or with a wrong one: 401, empty", async () => {
    expectEmpty(await call(server, "/api/v1/statuses", { form: { status: "no token" } }), 401);
    expectEmpty(
      await call(server, "/api/v1/statuses", {
        form: { status: "wrong token" },
        token: "0123456789abcdef0123456789abcdef",
      }),
      401,
    );
  });
  it("40: GET a status counts its replies; 40b: not without a token", async () => {
    const r = await call(server, `/api/v1/statuses/${first.id}`, { token });
    expectLike(r, "40-statuses-get");
    expect(JSON.parse(r.body).replies_count).toBe(1);
    expectEmpty(await call(server, `/api/v1/statuses/${first.id}`), 401);
  });
  it("41–41c: DELETE answers the status with its text, then it is a 404 page", async () => {
    const s = JSON.parse(
      (await call(server, "/api/v1/statuses", { token, form: { status: "hello as JSON" } })).body,
    );
    const d = await call(server, `/api/v1/statuses/${s.id}`, { token, method: "DELETE" });
    expectLike(d, "41-statuses-delete");
    expect(JSON.parse(d.body)).toMatchObject({ id: s.id, text: "hello as JSON" });
    const again = await call(server, `/api/v1/statuses/${s.id}`, { token });
    expectLike(again, "41b-statuses-get-after-delete");
    expect(again.body).toBe(snac("41b-statuses-get-after-delete").body);
    const twice = await call(server, `/api/v1/statuses/${s.id}`, { token, method: "DELETE" });
    expectLike(twice, "41c-statuses-delete-again");
  });
  it("42: home pages newest first with snac's Link; 42b: not without a token", async () => {
    const r = await call(server, "/api/v1/timelines/home?limit=3", { token });
    expectLike(r, "42-timelines-home");
    const list = JSON.parse(r.body) as { id: string }[];
    expect(list).toHaveLength(3);
    expect(shapeOf(JSON.stringify(list[0]))).toBe(
      shapeOf(JSON.stringify(JSON.parse(snac("42-timelines-home").body)[0])),
    );
    const [a, , c] = list as [{ id: string }, { id: string }, { id: string }];
    expect(r.headers.get("link")).toBe(
      `<${server.origin}/api/v1/timelines/home?max_id=${c.id}>; rel="next", <${server.origin}/api/v1/timelines/home?since_id=${a.id}>; rel="prev"`,
    );
    // The next page starts after the last one; since_id stops at it.
    const next = JSON.parse(
      (await call(server, `/api/v1/timelines/home?limit=3&max_id=${c.id}`, { token })).body,
    );
    expect(next[0].id).not.toBe(c.id);
    const newer = JSON.parse((await call(server, `/api/v1/timelines/home?since_id=${c.id}`, { token })).body);
    expect(newer.map((s: { id: string }) => s.id)).toEqual([a.id, (list[1] as { id: string }).id]);
    expectEmpty(await call(server, "/api/v1/timelines/home"), 401);
  });
  it("43, 43b: the public timeline is open, public statuses only, no Link", async () => {
    const r = await call(server, "/api/v1/timelines/public?limit=3");
    expectLike(r, "43-timelines-public");
    expect(r.headers.get("link")).toBeNull();
    const list = JSON.parse(r.body) as { visibility: string }[];
    expect(list.every((s) => s.visibility === "public")).toBe(true);
    expect((await call(server, "/api/v1/timelines/public?local=true&limit=3", { token })).status).toBe(200);
  });
  it("44–44c: an unknown status or route: the same 404 page; an unknown POST: 422 empty", async () => {
    for (const path of ["/api/v1/statuses/99999999990000000000000000000000000000", "/api/v1/nonexistent"]) {
      const r = await call(server, path, { token });
      expectLike(r, "44b-unknown-endpoint-404");
      expect(r.body).toBe(snac("44-statuses-get-404").body);
    }
    expectEmpty(await call(server, "/api/v1/nonexistent", { token, form: { x: "1" } }), 422);
  });
  it("45: an account's statuses: its public ones, newest first", async () => {
    const r = await call(server, `/api/v1/accounts/${first.account.id}/statuses?limit=2`, { token });
    expectLike(r, "45-accounts-statuses");
    const list = JSON.parse(r.body) as { visibility: string; id: string }[];
    expect(list).toHaveLength(2);
    expect(list.every((s) => s.visibility === "public")).toBe(true);
    expect(list[0]?.id).toBe(
      server.statuses.filter((s) => s.visibility === "public" && !s.deleted).at(-1)?.id,
    );
  });
  it("46-oauth-revoke: {} and the app is gone", async () => {
    const r = await call(server, "/oauth/revoke", {
      form: { client_id: app.client_id, client_secret: app.client_secret, token },
    });
    expectLike(r, "46-oauth-revoke");
    expect(r.body).toBe("{}");
    expect((await call(server, "/api/v1/accounts/verify_credentials", { token })).status).toBe(422);
    const again = await call(server, "/oauth/token", {
      form: {
        grant_type: "authorization_code",
        code: "x",
        client_id: app.client_id,
        client_secret: app.client_secret,
        redirect_uri: OOB,
      },
    });
    expect(again.status).toBe(401);
  });
  it("answers one request per connection, with no Date and no Connection header (httpd.c)", async () => {
    const before = server.connections();
    const raw = await rawExchange(server, "GET /api/v1/instance HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(raw.match(/^HTTP\/1\.1 /gm)).toHaveLength(1);
    expect(raw).toMatch(
      /^HTTP\/1\.1 200 OK\r\ncontent-type: application\/json\r\nx-creator: snac\/2\.94\r\n/,
    );
    expect(raw).not.toMatch(/^(date|connection):/im);
    expect(server.connections()).toBe(before + 1);
    const empty = await rawExchange(
      server,
      "GET /api/v1/accounts/verify_credentials HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    expect(empty).toMatch(/^HTTP\/1\.1 422 Unprocessable Content\r\n/);
    expect(empty).not.toMatch(/content-length/i);
    expect(empty.endsWith("\r\n\r\n")).toBe(true);
  });
  it("notifications: a mention by @user@host; without `limit` only one (mastoapi.c)", async () => {
    const bob = server.issueToken("bob");
    for (const n of [1, 2]) {
      await call(server, "/api/v1/statuses", {
        token: bob,
        form: { status: `hi @alice@${server.domain} ${n}` },
      });
    }
    const alice = server.issueToken("alice");
    const one = JSON.parse(
      (await call(server, "/api/v1/notifications?types[]=mention", { token: alice })).body,
    );
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ type: "mention", status: { text: `hi @alice@${server.domain} 2` } });
    const two = JSON.parse(
      (await call(server, "/api/v1/notifications?types[]=mention&limit=5", { token: alice })).body,
    );
    expect(two).toHaveLength(2);
    expectEmpty(await call(server, "/api/v1/notifications"), 401);
  });
});

describe("mastodon mode", () => {
  let server: MastodonServer;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    server = await startMastodon();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.mode = "mastodon";
    server.site.rateLimit = null;
    server.clock.offsetMs = 0;
    server.faults.length = 0;
    alice = server.issueToken("alice");
    bob = server.issueToken("bob");
  });
  const post = (fields: Record<string, string>, token = alice, headers: Record<string, string> = {}) =>
    call(server, "/api/v1/statuses", { token, form: fields, headers });
  const posted = async (fields: Record<string, string>, token = alice) => {
    const r = await post(fields, token);
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as Record<string, unknown> & { id: string; content: string };
  };

  describe("discovery", () => {
    it("instance v1 has the domain as uri, 4.3.0, the limit and the URL reservation; v2 the domain", async () => {
      const v1 = JSON.parse((await call(server, "/api/v1/instance")).body);
      expect(v1).toMatchObject({
        uri: server.domain,
        version: "4.3.0",
        configuration: { statuses: { max_characters: 500, characters_reserved_per_url: 23 } },
      });
      server.site.maxCharacters = 1000;
      server.site.urlLength = 30;
      const v2 = await call(server, "/api/v2/instance");
      expect(v2.type).toBe("application/json; charset=utf-8");
      expect(JSON.parse(v2.body)).toMatchObject({
        domain: server.domain,
        configuration: { statuses: { max_characters: 1000, characters_reserved_per_url: 30 } },
      });
    });
    it("nodeinfo names the software of each mode; changing the mode resets the limits", async () => {
      const links = JSON.parse((await call(server, "/.well-known/nodeinfo")).body).links as {
        href: string;
      }[];
      const href = links[0]?.href ?? "";
      expect(href).toBe(`${server.origin}/nodeinfo/2.0`);
      expect(JSON.parse((await call(server, new URL(href).pathname)).body).software.name).toBe("mastodon");
      server.mode = "gotosocial";
      expect(JSON.parse((await call(server, "/nodeinfo/2.0")).body).software.name).toBe("gotosocial");
      expect(
        JSON.parse((await call(server, "/api/v1/instance")).body).configuration.statuses.max_characters,
      ).toBe(5000);
      server.mode = "snac";
      expect(server.site).toMatchObject({ maxCharacters: 100000, urlLength: 32, enforceLimit: false });
      server.mode = "mastodon";
      expect(server.site).toMatchObject({ maxCharacters: 500, urlLength: 23, enforceLimit: true });
    });
    it("an unknown route is Mastodon's 404 page; on GoToSocial a JSON 404 under /api", async () => {
      for (const method of ["GET", "POST"]) {
        const r = await call(server, "/api/v1/nonexistent", { method });
        expect(r.status).toBe(404);
        expect(r.type).toBe("text/html; charset=utf-8");
        expect(r.body).toContain("<h1>The page you are looking for isn't here.</h1>");
      }
      server.mode = "gotosocial";
      const g = await call(server, "/api/v1/nonexistent");
      expect([g.status, JSON.parse(g.body)]).toEqual([404, { error: "Not Found" }]);
    });
  });

  describe("OAuth", () => {
    async function registered(scopes = "read write") {
      const r = await call(server, "/api/v1/apps", {
        form: { client_name: "identica", redirect_uris: OOB, scopes, website: "https://example.invalid" },
      });
      expect(r.status).toBe(200);
      return JSON.parse(r.body) as { client_id: string; client_secret: string; id: string };
    }
    const authUrl = (clientId: string, challenge: string, extra = "") =>
      `${server.origin}/oauth/authorize?response_type=code&client_id=${clientId}&redirect_uri=${OOB}&scope=read+write&code_challenge=${challenge}&code_challenge_method=S256${extra}`;
    const exchange = (
      app: { client_id: string; client_secret: string },
      code: string,
      verifier?: string,
      extra = {},
    ) =>
      call(server, "/oauth/token", {
        form: {
          grant_type: "authorization_code",
          code,
          client_id: app.client_id,
          client_secret: app.client_secret,
          redirect_uri: OOB,
          scope: "read write",
          ...(verifier === undefined ? {} : { code_verifier: verifier }),
          ...extra,
        },
      });
    const invalidGrant = (r: Res) => {
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({
        error: "invalid_grant",
        error_description:
          "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
      });
    };

    it("apps: Mastodon's Application; no redirect_uris is a 422", async () => {
      const r = await call(server, "/api/v1/apps", {
        json: { client_name: "identica", redirect_uris: [OOB], scopes: "read write" },
      });
      expect(Object.keys(JSON.parse(r.body))).toEqual([
        "id",
        "name",
        "website",
        "scopes",
        "redirect_uris",
        "vapid_key",
        "redirect_uri",
        "client_id",
        "client_secret",
        "client_secret_expires_at",
      ]);
      expect(JSON.parse(r.body)).toMatchObject({
        scopes: ["read", "write"],
        redirect_uris: [OOB],
        website: null,
      });
      const missing = await call(server, "/api/v1/apps", { form: { client_name: "identica" } });
      expect([missing.status, JSON.parse(missing.body)]).toEqual([
        422,
        { error: "Validation failed: Redirect URI can't be blank" },
      ]);
    });
    it("the code flow with PKCE: one code, one token; the code cannot be used twice", async () => {
      const app = await registered();
      const { verifier, challenge } = pkce();
      const code = server.authorize(authUrl(app.client_id, challenge));
      expect(server.grants.at(-1)).toMatchObject({
        code,
        codeChallenge: challenge,
        codeChallengeMethod: "S256",
      });
      const r = await exchange(app, code, verifier);
      expect(r.status, r.body).toBe(200);
      const t = JSON.parse(r.body);
      expect(Object.keys(t)).toEqual(["access_token", "token_type", "scope", "created_at"]);
      expect(t).toMatchObject({ token_type: "Bearer", scope: "read write" });
      const me = await call(server, "/api/v1/accounts/verify_credentials", { token: t.access_token });
      expect(JSON.parse(me.body)).toMatchObject({
        username: "alice",
        acct: "alice",
        source: { privacy: "public" },
      });
      invalidGrant(await exchange(app, code, verifier));
    });
    it("refuses a wrong verifier, another redirect URI and an expired code (10 minutes by the server's clock)", async () => {
      const app = await registered();
      const { verifier, challenge } = pkce();
      invalidGrant(await exchange(app, server.authorize(authUrl(app.client_id, challenge)), pkce().verifier));
      invalidGrant(
        await exchange(app, server.authorize(authUrl(app.client_id, challenge)), verifier, {
          redirect_uri: "https://elsewhere.example/cb",
        }),
      );
      const missing = await exchange(app, server.authorize(authUrl(app.client_id, challenge)));
      expect([missing.status, JSON.parse(missing.body).error]).toEqual([400, "invalid_request"]);
      const late = server.authorize(authUrl(app.client_id, challenge));
      server.clock.advance(600_000);
      invalidGrant(await exchange(app, late, verifier));
    });
    it("a wrong secret is 401 invalid_client; Basic client authentication and a JSON body work", async () => {
      const app = await registered();
      const { verifier, challenge } = pkce();
      const wrong = await exchange(
        { ...app, client_secret: "nope" },
        server.authorize(authUrl(app.client_id, challenge)),
        verifier,
      );
      expect([wrong.status, JSON.parse(wrong.body).error]).toEqual([401, "invalid_client"]);
      expect(wrong.headers.get("www-authenticate")).toMatch(
        /^Bearer realm="Doorkeeper", error="invalid_client"/,
      );
      const basic = await call(server, "/oauth/token", {
        json: {
          grant_type: "authorization_code",
          code: server.authorize(authUrl(app.client_id, challenge)),
          redirect_uri: OOB,
          code_verifier: verifier,
        },
        authorization: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString("base64")}`,
      });
      expect(basic.status, basic.body).toBe(200);
    });
    it("no password grant (4.3.0); client_credentials gives an app token verify_credentials refuses with 422", async () => {
      const app = await registered();
      const pw = await call(server, "/oauth/token", {
        form: {
          grant_type: "password",
          username: "alice",
          password: "correct horse",
          client_id: app.client_id,
          client_secret: app.client_secret,
        },
      });
      expect([pw.status, JSON.parse(pw.body).error]).toEqual([400, "unsupported_grant_type"]);
      const cc = await call(server, "/oauth/token", {
        form: {
          grant_type: "client_credentials",
          client_id: app.client_id,
          client_secret: app.client_secret,
          scope: "read",
        },
      });
      const v = await call(server, "/api/v1/accounts/verify_credentials", {
        token: JSON.parse(cc.body).access_token,
      });
      expect([v.status, JSON.parse(v.body)]).toEqual([
        422,
        { error: "This method requires an authenticated user" },
      ]);
      server.mode = "gotosocial";
      const g = await call(server, "/api/v1/accounts/verify_credentials", {
        token: JSON.parse(cc.body).access_token,
      });
      expect([g.status, JSON.parse(g.body)]).toEqual([
        401,
        { error: "Unauthorized: user not supplied or not authorized" },
      ]);
    });
    it("GET /oauth/authorize: a page; with test_approve, Doorkeeper's page with the code; errors as pages", async () => {
      const app = await registered();
      const { verifier, challenge } = pkce();
      const page = await call(
        server,
        new URL(authUrl(app.client_id, challenge)).pathname +
          new URL(authUrl(app.client_id, challenge)).search,
      );
      expect([page.status, page.type]).toEqual([200, "text/html; charset=utf-8"]);
      const approved = await call(
        server,
        `/oauth/authorize${new URL(authUrl(app.client_id, challenge, "&test_approve=alice")).search}`,
      );
      const code = /<code id="authorization_code">([^<]+)<\/code>/.exec(approved.body)?.[1] ?? "";
      expect((await exchange(app, code, verifier)).status).toBe(200);
      const unknown = await call(
        server,
        `/oauth/authorize?response_type=code&client_id=nope&redirect_uri=${OOB}`,
      );
      expect(unknown.status).toBe(401);
      const plain = await call(
        server,
        `/oauth/authorize${new URL(authUrl(app.client_id, challenge)).search.replace("S256", "plain")}`,
      );
      expect(plain.status).toBe(400);
      expect(() =>
        server.authorize(authUrl(app.client_id, challenge).replace("read+write", "read+write+admin:read")),
      ).toThrow(/^invalid_scope: /);
      // GoToSocial shows the code on /oauth/oob.
      server.mode = "gotosocial";
      const g = await call(
        server,
        `/oauth/authorize${new URL(authUrl(app.client_id, challenge, "&test_approve=alice")).search}`,
      );
      expect(g.status).toBe(302);
      const oob = await call(
        server,
        new URL(g.headers.get("location") ?? "").pathname + new URL(g.headers.get("location") ?? "").search,
      );
      expect(oob.body).toMatch(/<code>[^<]+<\/code>/);
    });
    it("revoke: {} for one's own token (then it is refused as revoked), 403 for another app's", async () => {
      const mine = await registered();
      const other = await registered();
      const t = server.issueToken("alice", { clientId: mine.client_id });
      const refused = await call(server, "/oauth/revoke", {
        form: { client_id: other.client_id, client_secret: other.client_secret, token: t },
      });
      expect([refused.status, JSON.parse(refused.body).error]).toEqual([403, "unauthorized_client"]);
      const ok = await call(server, "/oauth/revoke", {
        form: { client_id: mine.client_id, client_secret: mine.client_secret, token: t },
      });
      expect([ok.status, ok.body]).toEqual([200, "{}"]);
      const after = await call(server, "/api/v1/accounts/verify_credentials", { token: t });
      expect([after.status, JSON.parse(after.body).error]).toEqual([401, "The access token was revoked"]);
      expect(server.tokens.find((x) => x.token === t)?.revoked).toBe(true);
    });
  });

  describe("tokens", () => {
    it("a bad or missing token: 401 with Doorkeeper's challenge; Basic is no token", async () => {
      for (const init of [
        { token: "nope" },
        {},
        { authorization: `Basic ${Buffer.from("alice:correct horse").toString("base64")}` },
      ]) {
        const r = await call(server, "/api/v1/accounts/verify_credentials", init);
        expect([r.status, JSON.parse(r.body)]).toEqual([401, { error: "The access token is invalid" }]);
        expect(r.headers.get("www-authenticate")).toBe(
          'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"',
        );
      }
      server.mode = "gotosocial";
      const g = await call(server, "/api/v1/accounts/verify_credentials", { token: "nope" });
      expect([g.status, JSON.parse(g.body)]).toEqual([401, { error: "Unauthorized: token not supplied" }]);
    });
    it("a token without the scope: 403", async () => {
      const readOnly = server.issueToken("alice", { scopes: "read" });
      const r = await post({ status: "no write scope" }, readOnly);
      expect([r.status, JSON.parse(r.body)]).toEqual([
        403,
        { error: "This action is outside the authorized scopes" },
      ]);
      expect((await call(server, "/api/v1/timelines/home", { token: readOnly })).status).toBe(200);
    });
  });

  describe("posting", () => {
    it("ids are 18-digit snowflakes above 2^53, as strings; Rails escapes < > & in the JSON", async () => {
      const r = await post({ status: "snowflake <&>" });
      const s = JSON.parse(r.body);
      expect(s.id).toMatch(/^\d{18}$/);
      expect(BigInt(s.id) > 2n ** 53n).toBe(true);
      expect(r.body).toContain(`"id":"${s.id}"`);
      expect(r.body).toContain("\\u003cp\\u003esnowflake \\u0026lt;\\u0026amp;\\u0026gt;\\u003c/p\\u003e");
      expect(s.account.id).toMatch(/^\d{18}$/);
      expect(s.url).toBe(`${server.origin}/@alice/${s.id}`);
      expect(s.application).toEqual({ name: "Web", website: null });
    });
    it("content: escaped, paragraphs and <br />, links in invisible spans, mentions and tags linked", async () => {
      const s = await posted({
        status: `  it's <b>x</b> & y\nnext line\n\n\nnew @bob para https://example.com/a #Tag https://www.example.org/${"p".repeat(40)}  `,
      });
      expect(s.content).toBe(
        `<p>it&#39;s &lt;b&gt;x&lt;/b&gt; &amp; y<br />next line</p><p>new <span class="h-card" translate="no"><a href="${server.origin}/@bob" class="u-url mention">@<span>bob</span></a></span> para ` +
          '<a href="https://example.com/a" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://</span><span class="">example.com/a</span><span class="invisible"></span></a> ' +
          `<a href="${server.origin}/tags/tag" class="mention hashtag" rel="tag">#<span>Tag</span></a> ` +
          `<a href="https://www.example.org/${"p".repeat(40)}" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://www.</span><span class="ellipsis">example.org/${"p".repeat(18)}</span><span class="invisible">${"p".repeat(22)}</span></a></p>`,
      );
      expect(server.status(s.id)?.text).toMatch(/^it's <b>x<\/b>.*p{40}$/s);
      expect(s.mentions).toEqual([
        { id: server.accountId("bob"), username: "bob", url: `${server.origin}/@bob`, acct: "bob" },
      ]);
    });
    it("stores the fields received, form or JSON", async () => {
      const s = await posted({
        status: "with fields",
        visibility: "unlisted",
        spoiler_text: "cw",
        language: "de",
      });
      expect(s).toMatchObject({
        visibility: "unlisted",
        spoiler_text: "cw",
        sensitive: true,
        language: "de",
      });
      expect(server.status(s.id)?.params).toEqual({
        status: "with fields",
        visibility: "unlisted",
        spoiler_text: "cw",
        language: "de",
      });
      const j = await call(server, "/api/v1/statuses", {
        token: alice,
        json: { status: "json", sensitive: true },
      });
      expect(server.status(JSON.parse(j.body).id)?.params).toEqual({ status: "json", sensitive: true });
    });
    it("Idempotency-Key: the same status back for an hour, per account; ignored by snac and GoToSocial", async () => {
      const key = { "idempotency-key": "key-1" };
      const a = JSON.parse((await post({ status: "once" }, alice, key)).body);
      const count = server.statuses.length;
      const b = await post({ status: "once" }, alice, key);
      expect([b.status, JSON.parse(b.body).id]).toEqual([200, a.id]);
      expect(server.statuses).toHaveLength(count);
      expect(JSON.parse((await post({ status: "once" }, bob, key)).body).id).not.toBe(a.id);
      server.clock.advance(3_600_000);
      expect(JSON.parse((await post({ status: "once" }, alice, key)).body).id).not.toBe(a.id);
      // The status the key names was deleted: Status.find raises, 404.
      const k2 = { "idempotency-key": "key-2" };
      const c = JSON.parse((await post({ status: "deleted later" }, alice, k2)).body);
      await call(server, `/api/v1/statuses/${c.id}`, { token: alice, method: "DELETE" });
      expect((await post({ status: "deleted later" }, alice, k2)).status).toBe(404);
      for (const mode of ["snac", "gotosocial"] as const) {
        server.mode = mode;
        const t = server.issueToken("alice");
        const k3 = { "idempotency-key": `key-${mode}` };
        const x = JSON.parse((await post({ status: "twice" }, t, k3)).body);
        expect(JSON.parse((await post({ status: "twice" }, t, k3)).body).id).not.toBe(x.id);
      }
    });
    it("the limit, counted Mastodon's way: graphemes, URLs as urlLength, @user@domain as @user, the CW", async () => {
      expect((await post({ status: "x".repeat(500) })).status).toBe(200);
      const over = await post({ status: "x".repeat(501) });
      expect([over.status, JSON.parse(over.body)]).toEqual([
        422,
        { error: "Validation failed: Text character limit of 500 exceeded" },
      ]);
      expect((await post({ status: "👨‍👩‍👧‍👦".repeat(500) })).status).toBe(200);
      const url = `https://example.com/${"u".repeat(200)}`;
      expect((await post({ status: `${"x".repeat(476)} ${url}` })).status).toBe(200);
      expect((await post({ status: `${"x".repeat(477)} ${url}` })).status).toBe(422);
      expect((await post({ status: `${"x".repeat(495)} @bob@example.social` })).status).toBe(200);
      expect((await post({ status: `${"x".repeat(496)} @bob@example.social` })).status).toBe(422);
      expect((await post({ status: "x".repeat(499), spoiler_text: "cw" })).status).toBe(422);
      server.site.maxCharacters = 10;
      expect(JSON.parse((await post({ status: "x".repeat(11) })).body).error).toBe(
        "Validation failed: Text character limit of 10 exceeded",
      );
      server.site.enforceLimit = false;
      expect((await post({ status: "x".repeat(11) })).status).toBe(200);
      server.mode = "gotosocial";
      expect((await post({ status: "x".repeat(5001) }, server.issueToken("alice"))).status).toBe(200);
    });
    it("refuses empty text, an unknown visibility and an unknown parent; snac takes them all", async () => {
      const empty = await post({ status: "  " });
      expect([empty.status, JSON.parse(empty.body)]).toEqual([
        422,
        { error: "Validation failed: Text can't be blank" },
      ]);
      expect((await post({ status: "x", visibility: "bogus" })).status).toBe(422);
      const orphan = await post({ status: "x", in_reply_to_id: "109999999999999999" });
      expect([orphan.status, JSON.parse(orphan.body)]).toEqual([
        404,
        { error: "The post you are trying to reply to does not appear to exist." },
      ]);
      const parent = await posted({ status: "parent" });
      const child = await posted({ status: "child", in_reply_to_id: parent.id }, bob);
      expect(child).toMatchObject({
        in_reply_to_id: parent.id,
        in_reply_to_account_id: server.accountId("alice"),
      });
    });
    it("site.rateLimit: 429 Too many requests with X-RateLimit-* (Reset in ISO 8601), no Retry-After", async () => {
      server.clock.set(new Date("2030-01-01T00:01:00Z"));
      server.site.rateLimit = { limit: 2, periodMs: 300_000 };
      const ok = await post({ status: "one" });
      expect(ok.headers.get("x-ratelimit-remaining")).toBe("1");
      await post({ status: "two" });
      const r = await post({ status: "three" });
      expect([r.status, JSON.parse(r.body)]).toEqual([429, { error: "Too many requests" }]);
      expect(r.headers.get("x-ratelimit-limit")).toBe("2");
      expect(r.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(r.headers.get("x-ratelimit-reset")).toBe("2030-01-01T00:05:00.000000Z");
      expect(r.headers.get("retry-after")).toBeNull();
      expect(server.statuses.some((s) => s.text === "three")).toBe(false);
      server.clock.advance(240_000);
      expect((await post({ status: "three" })).status).toBe(200);
    });
  });

  describe("reading", () => {
    it("GET a status: public without a token, 401 with a bad one, private only for its people, 404 Record not found", async () => {
      const pub = await posted({ status: "public one" });
      expect((await call(server, `/api/v1/statuses/${pub.id}`)).status).toBe(200);
      expect((await call(server, `/api/v1/statuses/${pub.id}`, { token: "bad" })).status).toBe(401);
      const priv = await posted({ status: "private one", visibility: "private" });
      expect((await call(server, `/api/v1/statuses/${priv.id}`)).status).toBe(404);
      expect((await call(server, `/api/v1/statuses/${priv.id}`, { token: bob })).status).toBe(404);
      expect((await call(server, `/api/v1/statuses/${priv.id}`, { token: alice })).status).toBe(200);
      const none = await call(server, "/api/v1/statuses/1");
      expect([none.status, JSON.parse(none.body)]).toEqual([404, { error: "Record not found" }]);
    });
    it("DELETE: one's own answers it with its source text; someone else's is 404", async () => {
      const s = await posted({ status: "to delete" });
      expect((await call(server, `/api/v1/statuses/${s.id}`, { token: bob, method: "DELETE" })).status).toBe(
        404,
      );
      const d = await call(server, `/api/v1/statuses/${s.id}`, { token: alice, method: "DELETE" });
      expect(JSON.parse(d.body)).toMatchObject({ id: s.id, text: "to delete", content: "<p>to delete</p>" });
      expect((await call(server, `/api/v1/statuses/${s.id}`)).status).toBe(404);
      expect(server.status(s.id)?.deleted).toBe(true);
    });
    it("timelines page by id with max_id, since_id, min_id and a Link header", async () => {
      server.clock.set(new Date("2031-01-01T00:00:00Z"));
      const carol = server.user("carol") ?? server.addUser({ username: "carol", displayName: "Carol" });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        server.clock.advance(1000);
        ids.push(server.addStatus({ username: carol.username, text: `carol ${i}` }).id);
      }
      const token = server.issueToken("carol");
      const r = await call(server, "/api/v1/timelines/home?limit=2", { token });
      expect(JSON.parse(r.body).map((s: { id: string }) => s.id)).toEqual([ids[4], ids[3]]);
      expect(r.headers.get("link")).toBe(
        `<${server.origin}/api/v1/timelines/home?limit=2&max_id=${ids[3]}>; rel="next", <${server.origin}/api/v1/timelines/home?limit=2&min_id=${ids[4]}>; rel="prev"`,
      );
      const next = JSON.parse(
        (await call(server, `/api/v1/timelines/home?limit=2&max_id=${ids[3]}`, { token })).body,
      );
      expect(next.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
      const since = JSON.parse(
        (await call(server, `/api/v1/timelines/home?since_id=${ids[1]}&limit=2`, { token })).body,
      );
      expect(since.map((s: { id: string }) => s.id)).toEqual([ids[4], ids[3]]);
      const min = JSON.parse(
        (await call(server, `/api/v1/timelines/home?min_id=${ids[1]}&limit=2`, { token })).body,
      );
      expect(min.map((s: { id: string }) => s.id)).toEqual([ids[3], ids[2]]);
      const last = await call(server, `/api/v1/timelines/home?max_id=${ids[0]}`, { token });
      expect([last.body, last.headers.get("link")]).toEqual(["[]", null]);
      const pub = JSON.parse((await call(server, `/api/v1/timelines/public?limit=40`)).body);
      expect(pub.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining(ids));
    });
    it("lookup and an account's statuses; notifications of mentions with their status", async () => {
      const acct = JSON.parse((await call(server, "/api/v1/accounts/lookup?acct=alice")).body);
      expect(acct).toMatchObject({ id: server.accountId("alice"), username: "alice", acct: "alice" });
      expect(
        JSON.parse((await call(server, `/api/v1/accounts/lookup?acct=alice@${server.domain}`)).body).id,
      ).toBe(acct.id);
      const none = await call(server, "/api/v1/accounts/lookup?acct=nobody");
      expect([none.status, JSON.parse(none.body)]).toEqual([404, { error: "Record not found" }]);
      server.clock.set(new Date("2035-01-01T00:00:00Z")); // after every status earlier tests posted
      const mine = await posted({ status: "mine, latest" });
      const own = JSON.parse(
        (await call(server, `/api/v1/accounts/${acct.id}/statuses?limit=1`, { token: alice })).body,
      );
      expect(own.map((s: { id: string }) => s.id)).toEqual([mine.id]);
      const hi = await posted({ status: "hello @alice" }, bob);
      const n = await call(server, "/api/v1/notifications?types[]=mention&limit=1", { token: alice });
      const [first] = JSON.parse(n.body);
      expect(first).toMatchObject({ type: "mention", account: { username: "bob" }, status: { id: hi.id } });
      expect(n.headers.get("link")).toContain("types%5B%5D=mention");
      expect((await call(server, "/api/v1/notifications", { token: "bad" })).status).toBe(401);
    });
  });

  describe("faults", () => {
    it("lose-reply: the status is stored, the client gets no answer", async () => {
      server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses$/, times: 1 });
      await expect(post({ status: "lost reply" })).rejects.toThrow();
      expect(server.statuses.at(-1)?.text).toBe("lost reply");
      expect((await post({ status: "answered" })).status).toBe(200);
    });
    it("truncate, redirect and no-keep-alive", async () => {
      server.faults.push({ fault: { kind: "truncate" }, path: /instance/, times: 1 });
      await expect(call(server, "/api/v1/instance")).rejects.toThrow();
      server.faults.push({
        fault: { kind: "redirect", status: 301, location: "https://elsewhere.example/" },
        times: 1,
      });
      const moved = await call(server, "/api/v1/instance");
      expect([moved.status, moved.headers.get("location")]).toEqual([301, "https://elsewhere.example/"]);
      server.faults.push({ fault: { kind: "no-keep-alive" }, times: 1 });
      const closed = await call(server, "/api/v1/instance");
      expect([closed.status, closed.headers.get("connection")]).toEqual([200, "close"]);
      expect(Date.parse(closed.headers.get("date") ?? "")).toBeGreaterThan(0);
    });
    it("reply, when and delay", async () => {
      server.faults.push({
        fault: { kind: "reply", status: 503, body: "busy" },
        when: "anonymous",
        times: 1,
      });
      expect((await call(server, "/api/v1/instance")).status).toBe(503);
      server.faults.push({ fault: { kind: "delay", ms: 50 }, when: "authenticated", times: 1 });
      expect((await call(server, "/api/v1/instance")).status).toBe(200);
      expect((await call(server, "/api/v1/timelines/home", { token: alice })).status).toBe(200);
      expect(server.faults.every((f) => f.times === 0)).toBe(true);
      expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${alice}`);
    });
  });
});

describe("over HTTPS", () => {
  it("answers in every mode; snac behind its proxy (snac/50, 51) keeps the connection alive", async () => {
    const tls = testCertificate();
    const server = await startMastodon({ tls, mode: "snac" });
    const agent = new HttpsAgent({ keepAlive: true, ca: tls.cert });
    const get = (path: string, token?: string) =>
      new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = httpsRequest(
          `${server.origin}${path}`,
          { agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
          (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
          },
        );
        req.on("error", reject);
        req.end();
      });
    try {
      expect(server.origin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const instance = await get("/api/v1/instance");
      expect(JSON.parse(instance.body).uri).toBe(server.domain);
      expect(instance.headers).toMatchObject({ server: "nginx/1.22.1", "x-creator": "snac/2.94" });
      const empty = await get("/api/v1/accounts/verify_credentials");
      expect([empty.status, empty.body]).toEqual([422, ""]);
      expect(server.connections()).toBe(1);
      server.mode = "mastodon";
      const me = await get("/api/v1/accounts/verify_credentials", server.issueToken("alice"));
      expect(JSON.parse(me.body).url).toBe(`${server.origin}/@alice`);
    } finally {
      agent.destroy();
      await server.close();
    }
  });
});

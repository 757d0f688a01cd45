import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { fileURLToPath } from "node:url";
import { brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureReply } from "../helpers/fixtures.js";
import { type Pds, startPds } from "../helpers/pds.js";
import { type AtprotoServer, HTML_502, startAtproto } from "../server/atproto.js";
import { testCertificate } from "../server/tls.js";

/**
 * The PDS look-alike must answer as the real @atproto/pds 0.5.35 does: the transcripts of
 * test/fixtures/atproto replayed against it (status, headers in order, bodies), and, at the end, the
 * same requests sent to it and to a real PDS (test/helpers/pds.ts) side by side, so it cannot drift.
 * Not replayed: 01, 03, 31, 32 and 36 (account management, which it does not imitate).
 */
const ATPROTO = fileURLToPath(new URL("../fixtures/atproto/", import.meta.url));
const fixture = (name: string) => fixtureReply(`${name}.txt`, ATPROTO);
const ALICE = "did:plc:uquscmmaa5wx4d7cim33jixc";
const BOB = "did:plc:funah4zf7ddwphfutcdbc62z";

interface Res {
  status: number;
  /** Header names in the order they were sent, lower-cased. */
  names: string[];
  headers: IncomingMessage["headers"];
  body: string;
  raw: Buffer;
}

interface Init {
  method?: string;
  token?: string;
  authorization?: string;
  json?: unknown;
  /** A body sent as it is, with `type` (default application/json). */
  raw?: string;
  type?: string;
  headers?: Record<string, string>;
}

/** One request over node:http(s), which keeps the headers' order and leaves the body undecoded. */
function call(origin: string, path: string, init: Init = {}): Promise<Res> {
  const body = init.raw ?? (init.json === undefined ? undefined : JSON.stringify(init.json));
  const headers: Record<string, string> = { ...init.headers };
  if (body !== undefined && init.type !== "") headers["content-type"] = init.type ?? "application/json";
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  const url = new URL(path, origin);
  const method = init.method ?? (body === undefined ? "GET" : "POST");
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, ca: testCertificate().cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        resolve({ status: res.statusCode ?? 0, names, headers: res.headers, body: raw.toString(), raw });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The keys (in order) and value types of a JSON document, arrays by their first element. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return v === null ? "null" : typeof v;
}
const shapeOf = (body: string) => JSON.stringify(shape(JSON.parse(body)));

/** Headers whose values must match the transcript's exactly. */
const FIXED = [
  "x-powered-by",
  "access-control-allow-origin",
  "cache-control",
  "vary",
  "content-type",
  "ratelimit-limit",
  "ratelimit-policy",
  "access-control-expose-headers",
  "connection",
  "keep-alive",
];

/**
 * As the transcript: status, the header names in their order, the fixed headers' values, a weak ETag
 * that fits the body; an error's body word for word (`message` when it names other things), else its shape.
 */
function expectLike(r: Res, name: string, message?: string): void {
  const real = fixture(name);
  expect(r.status).toBe(real.status);
  expect(r.names).toEqual(real.headers.map(([k]) => k));
  // Node joins a repeated header's values with ", " (the 429's two Access-Control-Expose-Headers).
  for (const k of FIXED) {
    const values = real.headers.filter(([name]) => name === k).map(([, v]) => v);
    if (values.length > 0) expect(String(r.headers[k]), k).toBe(values.join(", "));
  }
  expect(r.headers["content-length"]).toBe(String(r.raw.length));
  expect(r.headers.etag).toMatch(new RegExp(`^W/"${r.raw.length.toString(16)}-[A-Za-z0-9+/]{27}"$`));
  const realBody = JSON.parse(real.body);
  if (realBody.error === undefined) expect(shapeOf(r.body)).toBe(shapeOf(real.body));
  else expect(JSON.parse(r.body)).toEqual(message === undefined ? realBody : { ...realBody, message });
}

/** A JWT's header and payload (no verification). */
function jwtParts(jwt: string): [Record<string, unknown>, Record<string, unknown>] {
  const [h = "", p = ""] = jwt.split(".");
  return [
    JSON.parse(Buffer.from(h, "base64url").toString()),
    JSON.parse(Buffer.from(p, "base64url").toString()),
  ];
}

const post = (text: string, extra: object = {}) => ({
  repo: ALICE,
  collection: "app.bsky.feed.post",
  record: { $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString(), ...extra },
});

describe("the PDS look-alike replays the @atproto/pds 0.5.35 transcripts", () => {
  let server: AtprotoServer;
  let limited: AtprotoServer;
  let app: { accessJwt: string; refreshJwt: string };
  const xrpc = (method: string, init?: Init, s = server) => call(s.origin, `/xrpc/${method}`, init);

  beforeAll(async () => {
    server = await startAtproto();
    limited = await startAtproto({ rateLimits: true });
  });
  afterAll(async () => {
    await server.close();
    await limited.close();
  });

  it("00-describeServer: the same document", async () => {
    const r = await xrpc("com.atproto.server.describeServer");
    expectLike(r, "00-describeServer");
    expect(r.body).toBe(fixture("00-describeServer").body);
  });

  it("02, 04: a main password gives an access session, an app password an appPass one; 09: a wrong one", async () => {
    const main = await xrpc("com.atproto.server.createSession", {
      json: { identifier: "alice.test", password: "alice-main-pw" },
    });
    expectLike(main, "02-createSession");
    const byDid = await xrpc("com.atproto.server.createSession", {
      json: { identifier: ALICE, password: "ykq2-k5ti-lkyt-ym6x" },
    });
    expectLike(byDid, "04-createSession-appPassword");
    app = JSON.parse(byDid.body);
    for (const [r, scope] of [
      [main, "com.atproto.access"],
      [byDid, "com.atproto.appPass"],
    ] as const) {
      const body = JSON.parse(r.body);
      expect(body).toMatchObject({
        did: ALICE,
        handle: "alice.test",
        email: "alice@example.com",
        active: true,
      });
      const [header, payload] = jwtParts(body.accessJwt);
      expect(header).toEqual({ typ: "at+jwt", alg: "HS256" });
      expect(Object.keys(payload)).toEqual(["scope", "aud", "sub", "iat", "exp"]);
      expect(payload).toMatchObject({ scope, aud: "did:web:localhost", sub: ALICE });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(7200);
      const [rh, refresh] = jwtParts(body.refreshJwt);
      expect(rh).toEqual({ typ: "refresh+jwt", alg: "HS256" });
      expect(Object.keys(refresh)).toEqual(["scope", "aud", "sub", "jti", "iat", "exp"]);
      expect(refresh.scope).toBe("com.atproto.refresh");
    }
    // The fixtures' own token header, byte for byte.
    expect(app.accessJwt.split(".")[0]).toBe("eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiJ9");
    const wrong = await xrpc("com.atproto.server.createSession", {
      json: { identifier: "alice.test", password: "nope" },
    });
    expectLike(wrong, "09-err-badPassword");
  });

  it("05–08: create, read, delete, and the record is gone", async () => {
    const body = {
      repo: ALICE,
      collection: "app.bsky.feed.post",
      rkey: "3n3hqbvuvpk2p",
      record: {
        $type: "app.bsky.feed.post",
        text: "hello from a CLI poster test",
        createdAt: "2026-11-29T17:24:11.000Z",
      },
    };
    const created = await xrpc("com.atproto.repo.createRecord", { token: app.accessJwt, json: body });
    expectLike(created, "05-createRecord");
    const uri = `at://${ALICE}/app.bsky.feed.post/3n3hqbvuvpk2p`;
    expect(JSON.parse(created.body)).toMatchObject({ uri, validationStatus: "valid" });
    expect(JSON.parse(created.body).cid).toMatch(/^bafyrei[a-z2-7]{52}$/);
    const query = `repo=${ALICE}&collection=app.bsky.feed.post&rkey=3n3hqbvuvpk2p`;
    const got = await xrpc(`com.atproto.repo.getRecord?${query}`);
    expectLike(got, "06-getRecord");
    // The record as stored: keys in DAG-CBOR order, as the fixture shows them.
    expect(JSON.parse(got.body).value).toEqual(JSON.parse(fixture("06-getRecord").body).value);
    expect(JSON.stringify(JSON.parse(got.body).value)).toBe(
      JSON.stringify(JSON.parse(fixture("06-getRecord").body).value),
    );
    const deleted = await xrpc("com.atproto.repo.deleteRecord", {
      token: app.accessJwt,
      json: { repo: ALICE, collection: "app.bsky.feed.post", rkey: "3n3hqbvuvpk2p" },
    });
    expectLike(deleted, "07-deleteRecord");
    expectLike(await xrpc(`com.atproto.repo.getRecord?${query}`), "08-getRecord-after-delete");
  });

  it("10, 11: no token, a garbage token", async () => {
    expectLike(await xrpc("com.atproto.repo.createRecord", { json: post("x") }), "10-err-noAuth");
    const garbage = await xrpc("com.atproto.repo.createRecord", {
      token: "garbage.token.x",
      json: post("x"),
    });
    expectLike(garbage, "11-err-badToken");
  });

  it("12–14, 18–22: the post lexicon: graphemes, bytes, createdAt, facets", async () => {
    const create = (body: unknown) =>
      xrpc("com.atproto.repo.createRecord", { token: app.accessJwt, json: body });
    expectLike(await create(post("a".repeat(301))), "12-err-301graphemes");
    const ok = await create(post("a".repeat(300)));
    expectLike(ok, "13-ok-300graphemes");
    expect(JSON.parse(ok.body).uri).toMatch(/\/app\.bsky\.feed\.post\/[234567a-j][234567a-z]{12}$/);
    const { createdAt: _, ...noDate } = post("x").record;
    expectLike(await create({ ...post("x"), record: noDate }), "14-err-missingCreatedAt");
    const link = "https://example.com/a";
    const facets = [
      {
        index: { byteStart: 6, byteEnd: 27 },
        features: [{ $type: "app.bsky.richtext.facet#link", uri: link }],
      },
    ];
    expectLike(await create(post(`link: ${link}`, { facets })), "18-createRecord-facets");
    expectLike(await create(post("👨‍👩‍👧".repeat(300))), "19-err-300familyEmoji-bytes");
    expectLike(await create(post("👍".repeat(300))), "20-ok-300thumbs");
    const bad = [
      {
        index: { byteStart: 0, byteEnd: 1 },
        features: [{ $type: "app.bsky.richtext.facet#link", uri: "not a uri" }],
      },
    ];
    expectLike(await create(post("x", { facets: bad })), "21-err-badFacetUri");
    expectLike(await create(post("x", { createdAt: "yesterday" })), "22-err-badCreatedAt");
  });

  it("15, 16: refresh, and the same refresh token again within the grace period; 17: not an access token", async () => {
    const first = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: app.refreshJwt });
    expectLike(first, "15-refreshSession");
    const again = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: app.refreshJwt });
    expectLike(again, "16-refreshReuse-ok-within-grace");
    // The fixtures' ETags are equal: within the second, the very same tokens.
    expect(JSON.parse(again.body).refreshJwt.split(".")[1]).toBe(
      JSON.parse(first.body).refreshJwt.split(".")[1],
    );
    expect(jwtParts(JSON.parse(first.body).accessJwt)[1].scope).toBe("com.atproto.appPass");
    const access = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: app.accessJwt });
    expectLike(access, "17-err-refreshWithAccess");
  });

  it("23: resolveHandle; 24: no AppView", async () => {
    expectLike(await xrpc("com.atproto.identity.resolveHandle?handle=alice.test"), "23-resolveHandle");
    expectLike(await xrpc("app.bsky.feed.getTimeline", { token: app.accessJwt }), "24-err-appview-timeline");
  });

  it("25: an expired access token; a refresh still works and its token does too", async () => {
    const s = server.createSession("alice.test");
    server.expireAccessTokens();
    expectLike(
      await xrpc("com.atproto.repo.createRecord", { token: s.accessJwt, json: post("x") }),
      "25-err-expiredAccessToken",
    );
    const fresh = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: s.refreshJwt });
    expect(fresh.status).toBe(200);
    const token = JSON.parse(fresh.body).accessJwt;
    expect((await xrpc("com.atproto.server.getSession", { token })).status).toBe(200);
    // The clock does it too: past two hours, past the 2-hour grace of a used refresh token.
    const other = server.createSession("alice.test");
    server.clock.advance(2 * 3_600_000 + 1000);
    try {
      const late = await xrpc("com.atproto.server.getSession", { token: other.accessJwt });
      expect(JSON.parse(late.body)).toEqual({ error: "ExpiredToken", message: "Token has expired" });
      const used = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: s.refreshJwt });
      expect(JSON.parse(used.body)).toEqual({ error: "ExpiredToken", message: "Token has been revoked" });
      expect(
        (await xrpc("com.atproto.server.refreshSession", { method: "POST", token: other.refreshJwt })).status,
      ).toBe(200);
    } finally {
      server.clock.advance(-(2 * 3_600_000 + 1000));
    }
  });

  it("26, 27: createSession's 30 per 5 minutes, with RateLimit headers, then 429 with Retry-After", async () => {
    const attempt = () =>
      xrpc(
        "com.atproto.server.createSession",
        { json: { identifier: "carol.test", password: "x" } },
        limited,
      );
    expectLike(await attempt(), "27-createSession-ratelimit-headers");
    for (let i = 2; i <= 30; i++) expect((await attempt()).status).toBe(401);
    const refused = await attempt();
    expectLike(refused, "26-err-rateLimited-createSession");
    expect(refused.headers["ratelimit-remaining"]).toBe("0");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(290);
    expect(Number(refused.headers["ratelimit-reset"])).toBeGreaterThan(Date.now() / 1000 + 290);
  });

  it("28, 29, 34, 35: RateLimit headers on writes, a wrong repo, getSession and an unknown method", async () => {
    const bob = limited.createSession("bob.test");
    const body = { ...post("with limits"), repo: BOB };
    const created = await xrpc(
      "com.atproto.repo.createRecord",
      { token: bob.accessJwt, json: body },
      limited,
    );
    expectLike(created, "28-createRecord-ratelimit-headers");
    const wrong = { ...body, repo: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" };
    expectLike(
      await xrpc("com.atproto.repo.createRecord", { token: bob.accessJwt, json: wrong }, limited),
      "29-err-wrongRepo",
    );
    const session = await xrpc("com.atproto.server.getSession", { token: bob.accessJwt }, limited);
    expectLike(session, "34-getSession");
    expect(JSON.parse(session.body)).toEqual(JSON.parse(fixture("34-getSession").body));
    expectLike(await xrpc("com.atproto.repo.nonexistentMethod", {}, limited), "35-err-unknownMethod");
  });

  it("30: a body that is not JSON; 33: deleteSession with an access token", async () => {
    const s = limited.createSession("alice.test");
    const notJson = await xrpc(
      "com.atproto.repo.createRecord",
      { token: s.accessJwt, raw: "not json" },
      limited,
    );
    expectLike(notJson, "30-err-badJson");
    const del = await xrpc(
      "com.atproto.server.deleteSession",
      { method: "POST", token: s.accessJwt },
      limited,
    );
    expectLike(del, "33-err-deleteSession-withAccess");
  });
});

describe("the PDS look-alike's own behaviour", () => {
  let server: AtprotoServer;
  let token: string;
  const xrpc = (method: string, init?: Init) => call(server.origin, `/xrpc/${method}`, init);
  const create = (body: unknown) => xrpc("com.atproto.repo.createRecord", { token, json: body });

  beforeAll(async () => {
    server = await startAtproto();
    token = server.createSession("alice.test").accessJwt;
  });
  afterAll(async () => {
    await server.close();
  });

  it("answers outside /xrpc/ as Express does: the banner, and a 404 page for what identica probes", async () => {
    const page = (path: string) =>
      `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET ${path}</pre>\n</body>\n</html>\n`;
    for (const path of ["/api/v1/instance", "/api/statusnet/config.xml"]) {
      const r = await call(server.origin, `${path}?x=1`);
      expect(r.status).toBe(404);
      expect(r.body).toBe(page(path));
      expect(r.headers["content-security-policy"]).toBe("default-src 'none'");
      expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(r.headers.etag).toBeUndefined();
    }
    const root = await call(server.origin, "/");
    expect(root.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(root.raw.length).toBe(626);
    expect(root.body).toContain("This is an AT Protocol Personal Data Server (aka, an atproto PDS)");
  });

  it("refuses a reused rkey with a bare 500, and keeps the first record", async () => {
    const body = { ...post("first"), rkey: "3kzzzzzzzzz22" };
    const first = await create(body);
    expect(first.status).toBe(200);
    const again = await create({ ...body, record: { ...body.record, text: "second" } });
    expect(again.status).toBe(500);
    expect(JSON.parse(again.body)).toEqual({
      error: "InternalServerError",
      message: "Internal Server Error",
    });
    const got = await xrpc(
      `com.atproto.repo.getRecord?repo=alice.test&collection=app.bsky.feed.post&rkey=3kzzzzzzzzz22`,
    );
    expect(JSON.parse(got.body)).toMatchObject({ cid: JSON.parse(first.body).cid, value: { text: "first" } });
    const self = await create({ ...body, rkey: "self" });
    expect(JSON.parse(self.body).message).toBe(
      'Invalid record key for app.bsky.feed.post: Invalid TID string (got "self") at $',
    );
  });

  it("lists records newest first by rkey, a page at a time, or oldest first with reverse", async () => {
    const bob = server.createSession("bob.test").accessJwt;
    const rkeys: string[] = [];
    for (const text of ["one", "two", "three"]) {
      const r = await xrpc("com.atproto.repo.createRecord", {
        token: bob,
        json: { ...post(text), repo: "bob.test" },
      });
      rkeys.push(JSON.parse(r.body).uri.split("/").pop());
    }
    const list = (q: string) =>
      xrpc(`com.atproto.repo.listRecords?repo=bob.test&collection=app.bsky.feed.post&${q}`);
    const page1 = JSON.parse((await list("limit=2")).body);
    expect(page1.records.map((r: { value: { text: string } }) => r.value.text)).toEqual(["three", "two"]);
    expect(page1.cursor).toBe(rkeys[1]);
    const page2 = JSON.parse((await list(`limit=2&cursor=${page1.cursor}`)).body);
    expect(page2.records.map((r: { value: { text: string } }) => r.value.text)).toEqual(["one"]);
    const reverse = JSON.parse((await list("reverse=true")).body);
    expect(reverse.records.map((r: { uri: string }) => r.uri.split("/").pop())).toEqual(rkeys);
    expect(JSON.parse((await list("limit=0")).body).message).toBe(
      "Invalid com.atproto.repo.listRecords params: integer too small (minimum 1, got 0)",
    );
  });

  it("an unknown handle: HandleNotFound, as the real PDS words it", async () => {
    const r = await xrpc("com.atproto.identity.resolveHandle?handle=nobody.test");
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ error: "HandleNotFound", message: "Unable to resolve handle" });
  });

  it("revokeSessions: a refresh then answers ExpiredToken, as for a deleted session; deleteSession ends one", async () => {
    const s = server.createSession("alice.test");
    const del = await xrpc("com.atproto.server.deleteSession", { method: "POST", token: s.refreshJwt });
    expect([del.status, del.body, del.headers["transfer-encoding"], del.headers.vary]).toEqual([
      200,
      "",
      "chunked",
      "Authorization",
    ]);
    const after = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: s.refreshJwt });
    expect(JSON.parse(after.body)).toEqual({ error: "ExpiredToken", message: "Token has been revoked" });
    const t = server.createSession("alice.test");
    server.revokeSessions();
    const revoked = await xrpc("com.atproto.server.refreshSession", { method: "POST", token: t.refreshJwt });
    expect([revoked.status, JSON.parse(revoked.body).error]).toEqual([400, "ExpiredToken"]);
  });

  it("with appView, serves timelines and notifications from the stored posts", async () => {
    server.appView = true;
    try {
      const bob = server.account("bob.test");
      const mention = [
        {
          index: { byteStart: 0, byteEnd: 11 },
          features: [{ $type: "app.bsky.richtext.facet#mention", did: ALICE }],
        },
      ];
      server.addPost({ handle: "bob.test", text: "@alice.test hi", extra: { facets: mention } });
      const timeline = JSON.parse((await xrpc("app.bsky.feed.getTimeline?limit=2", { token })).body);
      expect(timeline.feed).toHaveLength(2);
      expect(timeline.feed[0].post).toMatchObject({
        author: { did: bob?.did, handle: "bob.test" },
        record: { text: "@alice.test hi" },
      });
      expect(timeline.cursor).toMatch(/^[234567a-j][234567a-z]{12}$/);
      const own = JSON.parse((await xrpc("app.bsky.feed.getAuthorFeed?actor=alice.test")).body);
      expect(own.feed.every((f: { post: { author: { did: string } } }) => f.post.author.did === ALICE)).toBe(
        true,
      );
      const notes = JSON.parse((await xrpc("app.bsky.notification.listNotifications", { token })).body);
      expect(notes.notifications[0]).toMatchObject({
        reason: "mention",
        record: { text: "@alice.test hi" },
        isRead: false,
      });
      expect((await xrpc("app.bsky.notification.listNotifications")).status).toBe(401);
    } finally {
      server.appView = false;
    }
  });

  it("compresses a long answer as compression() does (br first)", async () => {
    for (let i = 0; i < 10; i++) server.addPost({ text: `padding ${i} ${"x".repeat(100)}` });
    const r = await call(
      server.origin,
      `/xrpc/com.atproto.repo.listRecords?repo=${ALICE}&collection=app.bsky.feed.post`,
      {
        headers: { "accept-encoding": "gzip, deflate, br" },
      },
    );
    expect(r.headers["content-encoding"]).toBe("br");
    expect(r.headers["content-length"]).toBeUndefined();
    expect(JSON.parse(brotliDecompressSync(r.raw).toString()).records.length).toBeGreaterThan(10);
  });

  it("faults: per method, used up after `times`, with the PDS's 429 and 503 bodies", async () => {
    server.faults.push({
      fault: { kind: "status", status: 429 },
      method: "com.atproto.server.createSession",
      times: 1,
    });
    const login = () =>
      xrpc("com.atproto.server.createSession", {
        json: { identifier: "alice.test", password: "alice-main-pw" },
      });
    expect((await xrpc("com.atproto.server.describeServer")).status).toBe(200);
    const refused = await login();
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toEqual({ error: "RateLimitExceeded", message: "Rate Limit Exceeded" });
    expect([
      refused.headers["ratelimit-limit"],
      refused.headers["ratelimit-remaining"],
      refused.headers["retry-after"],
    ]).toEqual(["30", "0", "300"]);
    expect((await login()).status).toBe(200);
    server.faults.push({ fault: { kind: "status", status: 503 }, times: 1 });
    const busy = await xrpc("com.atproto.server.describeServer");
    expect([busy.status, JSON.parse(busy.body)]).toEqual([
      503,
      { error: "NotEnoughResources", message: "Not Enough Resources" },
    ]);
    expect(server.faults.every((f) => f.times === 0)).toBe(true);
    server.faults.length = 0;
  });

  it("faults: reset-after-store stores, reset-before does not, reply-after-work stores and answers a gateway's page", async () => {
    const count = () => server.records.filter((r) => r.value.text === "fault probe").length;
    server.faults.push({
      fault: { kind: "reset-before" },
      method: "com.atproto.repo.createRecord",
      times: 1,
    });
    await expect(create(post("fault probe"))).rejects.toThrow();
    expect(count()).toBe(0);
    server.faults.push({ fault: { kind: "reset-after-store" }, method: /createRecord$/, times: 1 });
    await expect(create(post("fault probe"))).rejects.toThrow();
    expect(count()).toBe(1);
    server.faults.push({ fault: { kind: "html-502" }, times: 1 });
    const gateway = await create(post("fault probe"));
    expect([gateway.status, gateway.body, gateway.headers["content-type"]]).toEqual([
      502,
      HTML_502,
      "text/html",
    ]);
    expect(count()).toBe(1);
    server.faults.push({ fault: { kind: "reply-after-work", status: 504, body: "late" }, times: 1 });
    expect((await create(post("fault probe"))).status).toBe(504);
    expect(count()).toBe(2);
    expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${token}`);
    expect(server.requests.at(-1)?.nsid).toBe("com.atproto.repo.createRecord");
  });

  it("faults: hang never answers", async () => {
    server.faults.push({ fault: { kind: "hang" }, times: 1 });
    const r = fetch(`${server.origin}/xrpc/com.atproto.server.describeServer`, {
      signal: AbortSignal.timeout(300),
    });
    await expect(r).rejects.toThrow();
  });

  it("listens over HTTPS with the test certificate, and lowers its limits on request", async () => {
    const tls = await startAtproto({ tls: testCertificate(), rateLimits: { createSession: 2 } });
    try {
      expect(tls.origin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const login = () =>
        call(tls.origin, "/xrpc/com.atproto.server.createSession", {
          json: { identifier: "bob.test", password: "x" },
        });
      expect((await login()).headers["ratelimit-policy"]).toBe("2;w=300");
      expect((await login()).status).toBe(401);
      expect((await login()).status).toBe(429);
    } finally {
      await tls.close();
    }
  });
});

// The first run installs the real PDS (about 2.5 minutes, mostly compiling better-sqlite3).
const FIRST_INSTALL = 240_000;

describe("the look-alike and a real PDS answer the same requests alike", () => {
  let pds: Pds;
  let fake: AtprotoServer;
  beforeAll(async () => {
    pds = await startPds({ env: { PDS_RATE_LIMITS_ENABLED: "true" } });
    fake = await startAtproto({
      rateLimits: true,
      accounts: pds.accounts.map((a) => ({
        ...a,
        appPasswords: [a.appPassword],
        email: `${a.handle.split(".")[0]}@example.test`,
      })),
    });
  }, FIRST_INSTALL);
  afterAll(async () => {
    await fake?.close();
    await pds?.close();
  });

  it("sessions, a reused rkey, records not found, unknown handles and methods, bad input, other paths", async () => {
    const [alice] = pds.accounts;
    if (!alice) throw new Error("no account");
    const tokens: Record<string, string> = {};
    for (const origin of [pds.origin, fake.origin]) {
      const login = await call(origin, "/xrpc/com.atproto.server.createSession", {
        json: { identifier: alice.handle, password: alice.appPassword },
      });
      tokens[origin] = JSON.parse(login.body).accessJwt;
    }
    const rkey = "3kabcdefghi22";
    const body = (text: string) => ({ ...post(text), repo: alice.did, rkey });
    const cases: [string, (origin: string, token: string) => Promise<Res>][] = [
      [
        "createSession",
        (o) =>
          call(o, "/xrpc/com.atproto.server.createSession", {
            json: { identifier: alice.did, password: alice.appPassword },
          }),
      ],
      [
        "wrong password",
        (o) =>
          call(o, "/xrpc/com.atproto.server.createSession", {
            json: { identifier: alice.handle, password: "x" },
          }),
      ],
      [
        "createRecord",
        (o, t) => call(o, "/xrpc/com.atproto.repo.createRecord", { token: t, json: body("first") }),
      ],
      [
        "reused rkey",
        (o, t) => call(o, "/xrpc/com.atproto.repo.createRecord", { token: t, json: body("again") }),
      ],
      [
        "getRecord",
        (o) =>
          call(
            o,
            `/xrpc/com.atproto.repo.getRecord?repo=${alice.handle}&collection=app.bsky.feed.post&rkey=${rkey}`,
          ),
      ],
      [
        "getRecord not found",
        (o) =>
          call(
            o,
            `/xrpc/com.atproto.repo.getRecord?repo=${alice.did}&collection=app.bsky.feed.post&rkey=3kaaaaaaaaa22`,
          ),
      ],
      [
        "resolveHandle unknown",
        (o) => call(o, "/xrpc/com.atproto.identity.resolveHandle?handle=nobody.test"),
      ],
      [
        "301 graphemes",
        (o, t) =>
          call(o, "/xrpc/com.atproto.repo.createRecord", {
            token: t,
            json: { ...post("a".repeat(301)), repo: alice.did },
          }),
      ],
      [
        "another's repo",
        (o, t) =>
          call(o, "/xrpc/com.atproto.repo.createRecord", {
            token: t,
            json: { ...post("x"), repo: pds.accounts[1]?.did },
          }),
      ],
      ["Basic", (o) => call(o, "/xrpc/com.atproto.server.getSession", { authorization: "Basic YTpi" })],
      [
        "text/plain",
        (o, t) => call(o, "/xrpc/com.atproto.repo.createRecord", { token: t, raw: "{}", type: "text/plain" }),
      ],
      ["wrong method", (o) => call(o, "/xrpc/com.atproto.server.createSession")],
      ["unknown method", (o) => call(o, "/xrpc/com.atproto.repo.nonexistentMethod")],
      ["timeline", (o, t) => call(o, "/xrpc/app.bsky.feed.getTimeline", { token: t })],
      [
        "listRecords",
        (o) => call(o, `/xrpc/com.atproto.repo.listRecords?repo=${alice.did}&collection=app.bsky.feed.post`),
      ],
      ["Mastodon's probe", (o) => call(o, "/api/v1/instance")],
      ["StatusNet's probe", (o) => call(o, "/api/statusnet/config.xml")],
      ["the banner", (o) => call(o, "/")],
    ];
    for (const [name, run] of cases) {
      const real = await run(pds.origin, tokens[pds.origin] ?? "");
      const look = await run(fake.origin, tokens[fake.origin] ?? "");
      expect([name, look.status]).toEqual([name, real.status]);
      expect([name, look.names]).toEqual([name, real.names]);
      for (const k of FIXED.filter((k) => k !== "keep-alive"))
        expect([name, k, look.headers[k]]).toEqual([name, k, real.headers[k]]);
      const json = String(real.headers["content-type"]).startsWith("application/json");
      if (!json) expect([name, look.body]).toEqual([name, real.body]);
      else if (real.status >= 400)
        expect([name, JSON.parse(look.body)]).toEqual([name, JSON.parse(real.body)]);
      else expect([name, shapeOf(look.body)]).toEqual([name, shapeOf(real.body)]);
    }
  });
});

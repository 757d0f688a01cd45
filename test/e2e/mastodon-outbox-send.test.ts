import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectFailure, type RunResult } from "../helpers/cli.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";
import { Scenario } from "../helpers/scenario.js";
import { PASSWORD, uniqueText } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

// `outbox send` for Mastodon entries, end to end: an entry is sent only to its own origin, with a token
// bound to it (never a password, never the run's token for another server); StatusNet and Mastodon
// entries each go to their own API in one run; what only Mastodon can do is never posted publicly on a
// StatusNet server; refusals, throttling and corrupt files are kept apart and never block the others.
// Unknown outcomes, signals, pipes, cron and --if-absent: mastodon-outbox.test.ts.

const tls = testCertificate();

const statusPosts = (s: MastodonServer) =>
  s.requests.filter((r) => r.method === "POST" && r.url.split("?")[0] === "/api/v1/statuses");
const copies = (s: MastodonServer, text: string) =>
  s.statuses.filter((x) => x.text === text && !x.deleted && x.username === "alice");
const entryOf = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const lines = (r: RunResult) => r.stderr.split("\n").filter((l) => l !== "");
/** Every Authorization value a server was sent. */
const authorizations = (reqs: { headers: Record<string, unknown> }[]) =>
  reqs.map((r) => r.headers.authorization).filter((a) => a !== undefined);

describe.each(["mastodon", "snac"] as const)("%s mode", (mode: Mode) => {
  let server: MastodonServer;
  let token: string;
  beforeAll(async () => {
    server = await startMastodon({ mode, tls });
    token = server.issueToken("alice");
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    server.faults.length = 0;
  });
  const args = () => ["--server", server.domain, "--cacert", tls.certPath];
  /** A home whose runs have the token, the server already detected (its limit cached). */
  async function home(): Promise<Scenario> {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const r = await s.run(["whoami", ...args(), "-o", "none"]);
    expect(r.code, r.stderr).toBe(0);
    server.requests.length = 0;
    return s;
  }

  it("an entry whose visibility is not one of the four (edited by hand) is refused, never sent", async () => {
    const s = await home();
    const text = uniqueText("friends only");
    server.faults.push({
      fault: { kind: "reply", status: 503, body: "" },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });
    const path = expectFailure(
      await s.run(["post", ...args(), "--visibility", "private", text]),
      75,
      /503/,
    ) as string;
    writeFileSync(path, JSON.stringify({ ...entryOf(path), visibility: "friends" }), { mode: 0o600 });
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...args()]);
    expect(send.code).toBe(65);
    expect(lines(send)[0]).toMatch(
      /--visibility takes public, unlisted, private, direct, not "friends"; nothing was sent/,
    );
    expect(statusPosts(server)).toEqual([]);
    expect(copies(server, text)).toEqual([]);
    expect(s.outbox()[0]?.entry).toMatchObject({ refused: true, exitCode: 65 });
  });

  describe("refusals and throttling", () => {
    it("a 503 or a 429 keeps the status unsent (75, nothing posted); the next send posts it once", async () => {
      const s = await home();
      const faults = [
        {
          kind: "reply",
          status: 503,
          body: "<html><body>down for maintenance</body></html>",
          contentType: "text/html",
        },
        {
          kind: "reply",
          status: 429,
          body: '{"error":"Too many requests"}',
          headers: { "retry-after": "120" },
        },
      ] as const;
      for (const fault of faults) {
        const text = uniqueText(`throttled ${fault.status}`);
        server.faults.push({ fault, path: /^\/api\/v1\/statuses/, times: 1 });
        const r = await s.run(["post", ...args(), text]);
        const path = expectFailure(r, 75, fault.status === 429 ? /429.*(retry|try again)/i : /503/) as string;
        expect(entryOf(path)).toMatchObject({ text, sent: false, refused: false, exitCode: 75 });
        const list = await s.run(["outbox", "list"]);
        expect(list.stdout).toContain("(exit 75, not posted)");
        const send = await s.run(["outbox", "send", ...args(), "-o", "none"]);
        expect(send.code, send.stderr).toBe(0);
        expect(copies(server, text)).toHaveLength(1);
        expect(s.outbox()).toEqual([]);
      }
    });

    it("a send that is throttled again keeps it (75) and changes nothing else", async () => {
      const s = await home();
      const text = uniqueText("throttled twice");
      server.faults.push({ fault: { kind: "reply", status: 503, body: "" }, path: /^\/api\/v1\/statuses/ });
      expectFailure(await s.run(["post", ...args(), text]), 75, /503/);
      const before = s.outbox()[0]?.entry;
      const send = await s.run(["outbox", "send", ...args()]);
      expect(send.code).toBe(75);
      expect(send.stdout).toBe("");
      const after = s.outbox()[0]?.entry;
      expect(after).toMatchObject({
        idempotencyKey: before?.idempotencyKey,
        sent: false,
        uncertainSince: null,
        refused: false,
        exitCode: 75,
      });
      expect(copies(server, text)).toHaveLength(0);
    });
  });
});

describe("mastodon mode: a 422 is kept refused until --retry-refused", () => {
  let server: MastodonServer;
  let token: string;
  beforeAll(async () => {
    server = await startMastodon({ mode: "mastodon", tls });
    token = server.issueToken("alice");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("refused (65, kept refused), skipped by later sends without a request, sent by --retry-refused once fixed", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.domain, "--cacert", tls.certPath];
    const text = uniqueText("refused");
    server.faults.push({
      fault: {
        kind: "reply",
        status: 422,
        body: '{"error":"Validation failed: Text contains a forbidden word"}',
      },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });
    const r = await s.run(["post", ...args, text]);
    const path = expectFailure(r, 65, /Validation failed: Text contains a forbidden word/) as string;
    expect(lines(r)[1]).toMatch(/marked refused/);
    const entry = entryOf(path);
    expect(entry).toMatchObject({ text, refused: true, sent: false, exitCode: 65 });

    // Another entry behind it is not blocked.
    const other = uniqueText("behind the refused one");
    server.faults.push({
      fault: { kind: "reply", status: 503, body: "" },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });
    expectFailure(await s.run(["post", ...args, other]), 75, /503/);

    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...args, "-o", "id"]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stderr).toMatch(new RegExp(`${entry.id} was refused .*--retry-refused ${entry.id}`));
    expect(statusPosts(server)).toHaveLength(1);
    expect(copies(server, other)).toHaveLength(1);
    expect(copies(server, text)).toHaveLength(0);
    expect(s.outbox().map((e) => e.id)).toEqual([entry.id]);

    server.requests.length = 0;
    const retry = await s.run(["outbox", "send", ...args, "--retry-refused", entry.id, "-o", "id"]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(statusPosts(server).map((q) => q.headers["idempotency-key"])).toEqual([entry.idempotencyKey]);
    expect(copies(server, text)).toHaveLength(1);
    expect(s.outbox()).toEqual([]);
  });

  it("a text over the server's limit, refused by it (422), stays refused and is not sent again by a plain send", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.domain, "--cacert", tls.certPath];
    const text = `${uniqueText("long")} ${"x".repeat(520)}`;
    const r = await s.run(["post", ...args, "--max-length", "0", text]);
    expectFailure(r, 65, /character limit of 500/);
    expect(s.outbox()[0]?.entry).toMatchObject({ refused: true, exitCode: 65 });
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...args]);
    expect(send.code).toBe(0);
    expect(statusPosts(server)).toEqual([]);
    // --retry-refused tries again: too long for the limit read after the 422, nothing is sent, and it
    // stays refused (65), so that later sends (a cron job) do not try it again and again.
    const id = s.outbox()[0]?.id as string;
    const retry = await s.run(["outbox", "send", ...args, "--retry-refused", id]);
    expect(retry.code).toBe(65);
    expect(lines(retry)[0]).toMatch(
      new RegExp(
        `^identica: ${id}: the status is 5\\d\\d characters long, over .* limit of 500; nothing was sent \\(shorten its "text" .*--retry-refused ${id}\\)$`,
      ),
    );
    expect(statusPosts(server)).toEqual([]);
    expect(s.outbox()[0]?.entry).toMatchObject({ refused: true, exitCode: 65 });
    const again = await s.run(["outbox", "send", ...args]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/was refused .*skipped/);
    expect(statusPosts(server)).toEqual([]);
  });
});

describe("credentials: a Mastodon entry is sent with a token bound to its own origin", () => {
  let a: MastodonServer;
  let b: MastodonServer;
  let tokenA: string;
  let tokenB: string;
  beforeAll(async () => {
    [a, b] = await Promise.all([
      startMastodon({ mode: "mastodon", tls }),
      startMastodon({ mode: "snac", tls }),
    ]);
    tokenA = a.issueToken("alice");
    tokenB = b.issueToken("alice");
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });
  beforeEach(() => {
    a.requests.length = 0;
    b.requests.length = 0;
    a.faults.length = 0;
    b.faults.length = 0;
  });
  const on = (s: MastodonServer) => ["--server", s.domain, "--cacert", tls.certPath];

  /** A 503 keeps a status for `server` in the home's outbox (the token given for that run only). */
  async function keep(s: Scenario, server: MastodonServer, tok: string, text: string) {
    server.faults.push({
      fault: { kind: "reply", status: 503, body: "" },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });
    const r = await s.run(["post", ...on(server), text], { env: { IDENTICA_TOKEN: tok } });
    expectFailure(r, 75, /503/);
  }

  it("IDENTICA_PASSWORD does not send a Mastodon entry: 78 naming --token-file, IDENTICA_TOKEN and login; nothing sent", async () => {
    const s = new Scenario();
    const text = uniqueText("password only");
    await keep(s, a, tokenA, text);
    a.requests.length = 0;
    const send = await s.run(["outbox", "send", ...on(a)], { env: { IDENTICA_PASSWORD: PASSWORD } });
    expect(send.code).toBe(78);
    expect(send.stdout).toBe("");
    const [line] = lines(send);
    expect(line).toMatch(/^identica: \S+: /);
    expect(line).toMatch(/--token-file/);
    expect(line).toMatch(/IDENTICA_TOKEN/);
    expect(line).toMatch(/identica login/);
    expect(send.stderr).not.toContain(PASSWORD);
    expect(authorizations(a.requests)).toEqual([]);
    expect(statusPosts(a)).toEqual([]);
    expect(s.outbox()[0]?.entry).toMatchObject({ text, exitCode: 78, refused: false });

    // And a plain post the same.
    const r = await s.run(["post", ...on(a), uniqueText("post with a password")], {
      env: { IDENTICA_PASSWORD: PASSWORD },
    });
    expect(r.code).toBe(78);
    expect(lines(r)[0]).toMatch(/IDENTICA_PASSWORD holds a password, which the Mastodon API does not take/);
    expect(lines(r)[0]).toMatch(/--token-file.*IDENTICA_TOKEN.*identica login/);
    expect(authorizations(a.requests)).toEqual([]);
  });

  it("the run's IDENTICA_TOKEN (and --token-file) go to the run's server only, never to another entry's", async () => {
    const s = new Scenario();
    const forA = uniqueText("for a");
    const forB = uniqueText("for b");
    await keep(s, a, tokenA, forA);
    await keep(s, b, tokenB, forB);
    a.requests.length = 0;
    b.requests.length = 0;
    const file = join(s.home, "token-a");
    writeFileSync(file, `${tokenA}\n`);
    chmodSync(file, 0o600);
    for (const how of [{ env: { IDENTICA_TOKEN: tokenA } }, { flags: ["--token-file", file] }]) {
      const send = await s.run(["outbox", "send", ...on(a), ...(how.flags ?? []), "-o", "none"], {
        env: how.env ?? {},
      });
      // a's entry is sent (by the first of the two runs); b's is not.
      expect(send.code, send.stderr).toBe(78);
      expect(copies(a, forA)).toHaveLength(1);
      // b's entry: not sent, with a hint that says whose the token is and how to send it.
      expect(send.stderr).toMatch(
        new RegExp(`--token-file and IDENTICA_TOKEN apply only to ${a.domain.replace(/\./g, "\\.")}`),
      );
      expect(authorizations(b.requests)).toEqual([]);
      expect(copies(b, forB)).toHaveLength(0);
    }
    expect(s.outbox().map((e) => e.entry.text)).toEqual([forB]);
    // Sent with its own token at last.
    const send = await s.run(["outbox", "send", ...on(b), "-o", "none"], { env: { IDENTICA_TOKEN: tokenB } });
    expect(send.code, send.stderr).toBe(0);
    expect(authorizations(b.requests)).toEqual(authorizations(b.requests).map(() => `Bearer ${tokenB}`));
    expect(copies(b, forB)).toHaveLength(1);
    expect(s.outbox()).toEqual([]);
    expect(authorizations(a.requests).every((x) => x === `Bearer ${tokenA}`)).toBe(true);
  });

  it("with no server named, IDENTICA_TOKEN belongs to none of the entries", async () => {
    const s = new Scenario();
    const text = uniqueText("no server named");
    await keep(s, a, tokenA, text);
    a.requests.length = 0;
    const send = await s.run(["outbox", "send", "--cacert", tls.certPath], {
      env: { IDENTICA_TOKEN: tokenA },
    });
    expect(send.code).toBe(78);
    expect(authorizations(a.requests)).toEqual([]);
    expect(copies(a, text)).toHaveLength(0);
  });
});

describe("one outbox, two APIs: each entry goes to its own server with its own credential", () => {
  let gs: TestServer;
  let m: MastodonServer;
  let keyring: PrivateKeyring;
  let mtoken: string;
  beforeAll(async () => {
    [gs, m, keyring] = await Promise.all([
      startServer({ tls }),
      startMastodon({ mode: "mastodon", tls }),
      startKeyring(),
    ]);
    mtoken = m.issueToken("alice");
  });
  afterAll(async () => {
    keyring?.close();
    await Promise.all([gs?.close(), m?.close()]);
  });

  it("a StatusNet entry and a Mastodon entry, both kept, are sent by one outbox send from the keychain", async () => {
    const s = new Scenario(keyring.env);
    // Each stored by login (the API found out and remembered there).
    const gsArgs = [
      "--server",
      gs.origin.replace(/^https:\/\//, ""),
      "--user",
      "alice",
      "--cacert",
      tls.certPath,
    ];
    const mArgs = ["--server", m.domain, "--cacert", tls.certPath];
    let r = await s.run(["login", ...gsArgs, "--password-stdin"], { input: `${PASSWORD}\n` });
    expect(r.code, r.stderr).toBe(0);
    r = await s.run(["login", ...mArgs, "--token-stdin"], { input: `${mtoken}\n` });
    expect(r.code, r.stderr).toBe(0);

    const gsText = uniqueText("to gnu social");
    const mText = uniqueText("to mastodon");
    gs.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    m.faults.push({ fault: { kind: "reply", status: 503, body: "" }, path: /^\/api\/v1\/statuses/ });
    expectFailure(await s.run(["post", ...gsArgs, gsText]), 75, /503/);
    expectFailure(await s.run(["post", ...mArgs, mText]), 75, /503/);
    expect(s.outbox().map((e) => [e.entry.text, e.entry.api])).toEqual([
      [gsText, "statusnet"],
      [mText, "mastodon"],
    ]);
    gs.faults.length = 0;
    m.faults.length = 0;
    gs.requests.length = 0;
    m.requests.length = 0;

    const send = await s.run(["outbox", "send", "--cacert", tls.certPath, "-o", "url"]);
    expect(send.code, send.stderr).toBe(0);
    expect(s.outbox()).toEqual([]);
    expect(gs.store.notices.filter((n) => n.text === gsText)).toHaveLength(1);
    expect(copies(m, mText)).toHaveLength(1);
    // Each API its own way, each credential to its own origin only.
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`;
    expect(gs.requests.filter((q) => q.url.startsWith("/api/statuses/update."))).not.toEqual([]);
    expect(gs.requests.some((q) => q.url.startsWith("/api/v1/"))).toBe(false);
    expect(authorizations(gs.requests).every((x) => x === basic)).toBe(true);
    expect(statusPosts(m)).toHaveLength(1);
    expect(authorizations(m.requests).every((x) => x === `Bearer ${mtoken}`)).toBe(true);
    expect(m.requests.some((q) => q.url.startsWith("/api/statuses/"))).toBe(false);
    expect(send.stdout.split("\n").filter((l) => l !== "")).toHaveLength(2);
  });
});

describe("what only Mastodon can do is never posted publicly on a StatusNet server", () => {
  let gs: TestServer;
  let m: MastodonServer;
  let token: string;
  beforeAll(async () => {
    [gs, m] = await Promise.all([startServer({ tls }), startMastodon({ mode: "mastodon", tls })]);
    token = m.issueToken("alice");
  });
  afterAll(async () => {
    await Promise.all([gs?.close(), m?.close()]);
  });

  /** A post to a bare host not detected yet, whose probe fails: kept with the server as named. */
  async function keptUndetected(s: Scenario, host: string, extra: string[], text: string) {
    const r = await s.run([
      "post",
      "--server",
      host,
      "--user",
      "alice",
      "--cacert",
      tls.certPath,
      ...extra,
      text,
    ]);
    const path = expectFailure(r, 75, /503/) as string;
    const entry = entryOf(path);
    expect(entry).toMatchObject({ text, serverSpec: host, sent: false, exitCode: 75 });
    expect(entry.api).toBeUndefined();
    return entry;
  }

  it("--visibility private, --cw: a StatusNet server found at send time refuses them (65, kept refused), nothing posted", async () => {
    const s = new Scenario({ IDENTICA_PASSWORD: PASSWORD });
    const host = gs.origin.replace(/^https:\/\//, "");
    const priv = uniqueText("meant private");
    const cw = uniqueText("behind a warning");
    gs.faults.push({
      fault: { kind: "reply", status: 503, body: "busy", contentType: "text/plain" },
      times: 2,
    });
    await keptUndetected(s, host, ["--visibility", "private"], priv);
    await keptUndetected(s, host, ["--cw", "spoilers"], cw);
    gs.requests.length = 0;

    const send = await s.run([
      "outbox",
      "send",
      "--server",
      host,
      "--user",
      "alice",
      "--cacert",
      tls.certPath,
    ]);
    expect(send.code).toBe(65);
    expect(send.stderr).toMatch(/visibility private.*StatusNet.*nothing was sent/);
    expect(send.stderr).toMatch(/a content warning.*StatusNet.*nothing was sent/);
    expect(gs.requests.filter((q) => q.url.startsWith("/api/statuses/update."))).toEqual([]);
    expect(gs.store.notices.filter((n) => n.text === priv || n.text === cw)).toEqual([]);
    const kept = s.outbox().map((e) => e.entry);
    expect(kept).toHaveLength(2);
    for (const e of kept) expect(e).toMatchObject({ refused: true, exitCode: 65 });

    // Later sends skip them, --retry-refused refuses them again: never public.
    gs.requests.length = 0;
    const later = await s.run([
      "outbox",
      "send",
      "--server",
      host,
      "--user",
      "alice",
      "--cacert",
      tls.certPath,
    ]);
    expect(later.code).toBe(0);
    const retry = await s.run([
      "outbox",
      "send",
      "--server",
      host,
      "--user",
      "alice",
      "--cacert",
      tls.certPath,
      "--retry-refused",
      s.outbox()[0]?.id as string,
    ]);
    expect(retry.code).toBe(65);
    expect(gs.requests.filter((q) => q.url.startsWith("/api/statuses/update."))).toEqual([]);
    expect(gs.store.notices.filter((n) => n.text === priv)).toEqual([]);
  });

  it("--visibility private to a host found to be Mastodon at send time: posted private, with its key", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const text = uniqueText("private after all");
    m.faults.push({
      fault: { kind: "reply", status: 503, body: "" },
      path: /^\/api\/v1\/instance/,
      times: 1,
    });
    const entry = await keptUndetected(s, m.domain, ["--visibility", "private", "--cw", "a warning"], text);
    const send = await s.run([
      "outbox",
      "send",
      "--server",
      m.domain,
      "--cacert",
      tls.certPath,
      "-o",
      "json",
    ]);
    expect(send.code, send.stderr).toBe(0);
    const posts = statusPosts(m);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.headers["idempotency-key"]).toBe(entry.idempotencyKey);
    const form = new URLSearchParams(posts[0]?.body.toString());
    expect(form.get("visibility")).toBe("private");
    expect(form.get("spoiler_text")).toBe("a warning");
    expect(copies(m, text)[0]).toMatchObject({ visibility: "private", spoilerText: "a warning" });
    expect(JSON.parse(send.stdout)).toMatchObject({ visibility: "private", spoilerText: "a warning" });
  });
});

describe("corrupt Mastodon entries are listed CORRUPT and skipped", () => {
  let server: MastodonServer;
  let token: string;
  beforeAll(async () => {
    server = await startMastodon({ mode: "mastodon", tls });
    token = server.issueToken("alice");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("a bad api value, a control character in idempotencyKey: listed with their files, skipped, the good one sent", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.domain, "--cacert", tls.certPath];
    const dir = s.ensureOutboxDir();
    const base = {
      server: server.origin,
      api: "mastodon",
      user: "alice",
      replyTo: null,
      source: "identica",
      idempotencyKey: "0b7e7f8e-5a43-4a44-9d43-2f3c2a4b5c6d",
      attemptedAt: "2026-01-01T00:00:00.000Z",
      uncertainSince: null,
      sent: false,
      refused: false,
      exitCode: 75,
      error: "the server is unavailable (503)",
    };
    const bad = {
      "20260101-000000000-aaaaaa": { ...base, text: uniqueText("bad api"), api: "activitypub" },
      "20260101-000000001-bbbbbb": {
        ...base,
        text: uniqueText("bad key"),
        idempotencyKey: "abc\r\nX-Injected: yes",
      },
    };
    const good = {
      ...base,
      text: uniqueText("good one"),
      idempotencyKey: "6f1c1f0e-7d0b-4e55-9a7e-1d2c3b4a5f60",
    };
    for (const [id, e] of Object.entries({ ...bad, "20260101-000000002-cccccc": good }))
      writeFileSync(join(dir, `${id}.json`), JSON.stringify(e), { mode: 0o600 });

    const list = await s.run(["outbox", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /20260101-000000000-aaaaaa {2}CORRUPT: "api" is a string, not "statusnet", "mastodon" or "atproto"/,
    );
    expect(list.stdout).toMatch(
      /20260101-000000001-bbbbbb {2}CORRUPT: "idempotencyKey" holds a control character/,
    );
    expect(list.stdout).toContain(join(dir, "20260101-000000000-aaaaaa.json"));
    expect(list.stdout).toContain(bad["20260101-000000001-bbbbbb"].text);
    expect(list.stdout).not.toContain("X-Injected");
    const json = JSON.parse((await s.run(["outbox", "list", "-o", "json"])).stdout);
    expect(json.map((e: { corrupt: string | null }) => e.corrupt !== null)).toEqual([true, true, false]);

    const send = await s.run(["outbox", "send", ...args, "-o", "id"]);
    expect(send.code).toBe(65);
    expect(send.stderr).toMatch(/20260101-000000000-aaaaaa: the outbox entry .* is corrupt/);
    expect(send.stderr).toMatch(/20260101-000000001-bbbbbb: the outbox entry .* is corrupt/);
    expect(statusPosts(server).map((q) => q.headers["idempotency-key"])).toEqual([good.idempotencyKey]);
    expect(server.requests.some((q) => JSON.stringify(q.headers).includes("X-Injected"))).toBe(false);
    expect(copies(server, good.text)).toHaveLength(1);
    expect(s.outbox().map((e) => e.id)).toEqual(Object.keys(bad));
  });
});

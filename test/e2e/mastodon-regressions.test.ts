import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BIN, expectFailure, type RunResult } from "../helpers/cli.js";
import { configOf, inTerminal, sh, useKeyring } from "../helpers/mastodon-login.js";
import { Scenario } from "../helpers/scenario.js";
import { uniqueText } from "../helpers/setup.js";
import { startServer } from "../server/gnusocial.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

// The hostile tester's findings on the Mastodon client API (issue 13), one test each, end to end
// against the look-alike: each failed on the code before its fix (IDENTICA_BIN=<an older build's
// bin/identica.js> runs them against it). The numbers are the findings'.

const tls = testCertificate();
const cacert = ["--cacert", tls.certPath];

/** The POSTs of statuses a server received. */
const statusPosts = (s: MastodonServer) =>
  s.requests.filter((r) => r.method === "POST" && r.url.split("?")[0] === "/api/v1/statuses");
/** Live statuses holding exactly this text (as it was sent), by anyone. */
const stored = (s: MastodonServer, text: string) => s.statuses.filter((x) => x.text === text && !x.deleted);
const entryOf = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const lines = (r: RunResult) => r.stderr.split("\n").filter((l) => l !== "");
/** Every Authorization value a server was sent. */
const authorizations = (reqs: { headers: Record<string, unknown> }[]) =>
  reqs.map((r) => r.headers.authorization).filter((a) => a !== undefined);
/** The server stores the status, then drops the connection (a fresh rule: `times` is used up). */
const lostReply = () => ({ fault: { kind: "lose-reply" as const }, path: /^\/api\/v1\/statuses$/, times: 1 });

/** A look-alike for one describe block: faults and the request log cleared before each test. */
function useMastodon(mode: Mode) {
  const h = {} as { server: MastodonServer; alice: string; bob: string; args: () => string[] };
  beforeAll(async () => {
    h.server = await startMastodon({ mode, tls });
    h.alice = h.server.issueToken("alice");
    h.bob = h.server.issueToken("bob");
  });
  afterAll(async () => {
    await h.server?.close();
  });
  beforeEach(() => {
    h.server.requests.length = 0;
    h.server.faults.length = 0;
  });
  h.args = () => ["--server", h.server.domain, ...cacert];
  return h;
}

/** A home whose runs have this token, the server already detected (its limit cached). */
async function home(server: MastodonServer, token: string): Promise<Scenario> {
  const s = new Scenario({ IDENTICA_TOKEN: token });
  const r = await s.run(["whoami", "--server", server.domain, ...cacert, "-o", "none"]);
  expect(r.code, r.stderr).toBe(0);
  server.requests.length = 0;
  return s;
}

describe("on Mastodon", () => {
  const h = useMastodon("mastodon");

  it("1. an entry kept without an account name is not sent with another account's token (78, nothing sent), and is sent with its own", async () => {
    const { server } = h;
    const s = new Scenario();
    const text = uniqueText("whose is it");
    server.faults.push(lostReply());
    const lost = await s.run(["post", ...h.args(), text], { env: { IDENTICA_TOKEN: h.alice } });
    const path = expectFailure(lost, 76, /may have been posted/) as string;
    expect(entryOf(path)).toMatchObject({ text, user: null, sent: true });
    expect(stored(server, text).map((x) => x.username)).toEqual(["alice"]);

    server.requests.length = 0;
    const asBob = await s.run(["outbox", "send", ...h.args()], { env: { IDENTICA_TOKEN: h.bob } });
    expect(asBob.code, asBob.stderr).toBe(78);
    expect(lines(asBob)[0]).toMatch(/another token/);
    expect(server.requests.filter((q) => q.url.startsWith("/api/v1/statuses"))).toEqual([]);
    expect(authorizations(server.requests)).not.toContain(`Bearer ${h.bob}`);
    expect(stored(server, text).map((x) => x.username)).toEqual(["alice"]);
    expect(s.outbox()[0]?.entry).toMatchObject({
      text,
      sent: true,
      uncertainSince: entryOf(path).uncertainSince,
    });

    const asAlice = await s.run(["outbox", "send", ...h.args()], { env: { IDENTICA_TOKEN: h.alice } });
    expect(asAlice.code, asAlice.stderr).toBe(0);
    expect(stored(server, text).map((x) => x.username)).toEqual(["alice"]);
    expect(s.outbox()).toEqual([]);
  });

  it("3. an uncertain entry whose text was edited gets an Idempotency-Key of its own (the new text is posted); an unedited one resends its key", async () => {
    const { server } = h;
    const s = await home(server, h.alice);
    // Edited: the lost attempt made a status with the old text; the same key would bring it back.
    const typo = uniqueText("teh typo");
    server.faults.push(lostReply());
    const path = expectFailure(
      await s.run(["post", ...h.args(), typo]),
      76,
      /may have been posted/,
    ) as string;
    const entry = entryOf(path);
    const fixed = typo.replace("teh", "the");
    writeFileSync(path, JSON.stringify({ ...entry, text: fixed }), { mode: 0o600 });
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args(), "-o", "id"]);
    expect(send.code, send.stderr).toBe(0);
    expect(stored(server, fixed)).toHaveLength(1);
    expect(send.stdout).toBe(`${stored(server, fixed)[0]?.id}\n`);
    const [post] = statusPosts(server);
    expect(post?.headers["idempotency-key"]).toEqual(expect.any(String));
    expect(post?.headers["idempotency-key"]).not.toBe(entry.idempotencyKey);
    expect(s.outbox()).toEqual([]);

    // Unedited: the attempt stored nothing; the retry carries the first attempt's key.
    const same = uniqueText("unedited");
    server.faults.push({ fault: { kind: "reset-after-read" }, path: /^\/api\/v1\/statuses$/, times: 1 });
    const kept = entryOf(
      expectFailure(await s.run(["post", ...h.args(), same]), 76, /may have been posted/) as string,
    );
    server.requests.length = 0;
    const again = await s.run(["outbox", "send", ...h.args()]);
    expect(again.code, again.stderr).toBe(0);
    expect(statusPosts(server).map((q) => q.headers["idempotency-key"])).toEqual([kept.idempotencyKey]);
    expect(stored(server, same)).toHaveLength(1);
  });

  it("5. --cw is counted as typed (its URL in full): a long one is 64 before anything is sent; a URL in the text keeps its allowance", async () => {
    const { server } = h;
    const s = await home(server, h.alice);
    const cw = `https://example.com/${"x".repeat(600)}`;
    const over = await s.run(["post", ...h.args(), "--cw", cw, uniqueText("short")]);
    expectFailure(over, 64, /over .*limit of 500; nothing was sent/);
    expect(statusPosts(server)).toEqual([]);

    // 470 characters with a URL of 200 in them: 293 as Mastodon counts, and the warning's 8 with it.
    const url = `https://example.com/${"p".repeat(180)}`;
    const head = uniqueText("fits");
    const text = `${head} ${url} ${"w".repeat(470 - head.length - url.length - 2)}`;
    expect([...text]).toHaveLength(470);
    const fits = await s.run(["post", ...h.args(), "--cw", "spoilers", text, "-o", "none"]);
    expect(fits.code, fits.stderr).toBe(0);
    expect(stored(server, text)).toHaveLength(1);
  });

  it("6. a reply without --visibility to a direct or private status takes its visibility; to a public one, none is sent", async () => {
    const { server } = h;
    const s = await home(server, h.alice);
    const parents = {
      direct: server.addStatus({ username: "bob", text: "@alice just between us", visibility: "direct" }),
      private: server.addStatus({ username: "alice", text: "followers only", visibility: "private" }),
      public: server.addStatus({ username: "bob", text: "hello world", visibility: "public" }),
    };
    for (const [visibility, parent] of Object.entries(parents)) {
      const text = uniqueText(`reply to ${visibility}`);
      const r = await s.run(["post", ...h.args(), "--reply-to", parent.id, text, "-o", "none"]);
      expect(r.code, r.stderr).toBe(0);
      const [made] = stored(server, text);
      expect(made).toMatchObject({ inReplyToId: parent.id, visibility });
      if (visibility === "public") expect(made?.params).not.toHaveProperty("visibility");
      else expect(made?.params).toMatchObject({ visibility });
    }
  });

  it("8. a gateway's 502 or 504 to a post (the server behind it did post): 69, kept as uncertain; outbox send finds it and posts nothing", async () => {
    const { server } = h;
    for (const status of [502, 504]) {
      const s = await home(server, h.alice);
      const text = uniqueText(`gateway ${status}`);
      server.faults.push({
        fault: { kind: "reply-after-work", status, body: `<html><h1>${status}</h1></html>` },
        path: /^\/api\/v1\/statuses$/,
        times: 1,
      });
      const r = await s.run(["post", ...h.args(), text]);
      const entry = entryOf(expectFailure(r, 69, new RegExp(String(status))) as string);
      expect(entry).toMatchObject({ text, sent: true, exitCode: 69 });
      expect(entry.uncertainSince).toEqual(expect.any(String));
      expect(stored(server, text)).toHaveLength(1);

      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...h.args()]);
      expect(send.code, send.stderr).toBe(0);
      expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
      expect(statusPosts(server)).toEqual([]);
      expect(stored(server, text)).toHaveLength(1);
      expect(s.outbox()).toEqual([]);
    }
  });

  it("9. a bare 422 (empty body) to a post is 65, kept refused; to a timeline read it is 77", async () => {
    const { server } = h;
    const s = await home(server, h.alice);
    const bare = { kind: "reply" as const, status: 422, body: "", contentType: "text/html; charset=utf-8" };
    server.faults.push({ fault: bare, path: /^\/api\/v1\/statuses$/, times: 1 });
    const text = uniqueText("bare 422");
    const r = await s.run(["post", ...h.args(), text]);
    const entry = entryOf(expectFailure(r, 65, /422/) as string);
    expect(entry).toMatchObject({ text, refused: true, exitCode: 65 });

    server.faults.push({ fault: bare, path: /^\/api\/v1\/timelines\/home/, times: 1 });
    expectFailure(await s.run(["timeline", "home", ...h.args()]), 77, /422/);
  });

  it("11. config set api mastodon --server HOST writes servers.HOST.api, and the next post makes no probe; config get api; a bogus API is 64", async () => {
    const { server } = h;
    const s = new Scenario({ IDENTICA_TOKEN: h.alice });
    const set = await s.run(["config", "set", "api", "mastodon", "--server", server.domain]);
    expect(set.code, set.stderr).toBe(0);
    expect(configOf(s).servers?.[server.domain]).toEqual({ api: "mastodon" });

    const get = await s.run(["config", "get", "api", "--server", server.domain]);
    expect({ code: get.code, stdout: get.stdout }).toEqual({ code: 0, stdout: "mastodon\n" });

    const text = uniqueText("configured api");
    const r = await s.run(["post", ...h.args(), text, "-o", "none"]);
    expect(r.code, r.stderr).toBe(0);
    expect(stored(server, text)).toHaveLength(1);
    // The limit is read (v2), but the API is not probed for (v1).
    const asked = server.requests.map((q) => `${q.method} ${q.url.split("?")[0]}`);
    expect(asked).toContain("POST /api/v1/statuses");
    expect(asked).not.toContain("GET /api/v1/instance");
    expect(existsSync(join(s.env.XDG_CACHE_HOME as string, "identica/apis.json"))).toBe(false);

    const bogus = await s.run(["config", "set", "api", "bogus", "--server", server.domain]);
    expectFailure(bogus, 64, /bogus/);
    expect(configOf(s).servers?.[server.domain]).toEqual({ api: "mastodon" });
  });
});

describe("7. an unknown option never echoes its value", () => {
  it("post --token=SECRET and --password=hunter2: 64, and stderr holds neither value", async () => {
    for (const [option, secret] of [
      ["--token", "SECRETtoken-d41d8cd98f00b204"],
      ["--password", "hunter2-e9800998ecf8427e"],
    ] as const) {
      const r = await new Scenario().run(["post", `${option}=${secret}`, "hi"]);
      expectFailure(r, 64, new RegExp(option));
      expect(r.stderr).not.toContain(secret);
    }
  });
});

describe("2. a probe answered with a redirect", () => {
  const h = useMastodon("mastodon");

  it("the status kept then keeps the server as named and no API; nothing is remembered; once the probe works, outbox send posts it to the Mastodon API", async () => {
    const { server } = h;
    const s = new Scenario({ IDENTICA_TOKEN: h.alice });
    server.faults.push({
      fault: { kind: "redirect", status: 302, location: `${server.origin}/auth/sign_in` },
      path: /^\/api\/v1\/instance/,
    });
    const text = uniqueText("after a redirect");
    // Taken for StatusNet this once: the look-alike has no StatusNet API (69), and the text is kept.
    expectFailure(await s.run(["post", ...h.args(), text]), 69, /no such API endpoint/);
    const [kept] = s.outbox();
    expect(kept?.entry).toMatchObject({ text, serverSpec: server.domain });
    expect(kept?.entry).not.toHaveProperty("api");
    expect(stored(server, text)).toEqual([]);
    const apis = join(s.env.XDG_CACHE_HOME as string, "identica/apis.json");
    if (existsSync(apis)) expect(readFileSync(apis, "utf8")).not.toContain(server.domain);

    server.faults.length = 0;
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args()]);
    expect(send.code, send.stderr).toBe(0);
    expect(statusPosts(server)).toHaveLength(1);
    expect(stored(server, text)).toHaveLength(1);
    expect(server.requests.some((q) => q.url.startsWith("/api/statuses/"))).toBe(false);
    expect(s.outbox()).toEqual([]);
  });
});

describe.each(["gotosocial", "snac"] as const)("4. on %s (no Idempotency-Key)", (mode) => {
  const h = useMastodon(mode);

  it("a copy under 300 newer statuses (more than the 256 snac lists of an account's own) is found: nothing posted", async () => {
    const { server } = h;
    const s = await home(server, h.alice);
    const text = uniqueText("under 300");
    server.faults.push(lostReply());
    expectFailure(await s.run(["post", ...h.args(), text]), 76, /may have been posted/);
    for (let i = 0; i < 300; i++) server.addStatus({ text: `newer ${i}` });
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args()]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(statusPosts(server)).toEqual([]);
    expect(stored(server, text)).toHaveLength(1);
    expect(s.outbox()).toEqual([]);
  });

  it("a search for an earlier copy that hits its 2000-status cap before the first attempt's time: 76, nothing posted, still uncertain", async () => {
    const { server } = h;
    const s = await home(server, h.alice);
    const text = uniqueText("buried deep");
    server.faults.push(lostReply());
    const entry = entryOf(
      expectFailure(await s.run(["post", ...h.args(), text]), 76, /may have been posted/) as string,
    );
    for (let i = 0; i < 2100; i++) server.addStatus({ text: `busy ${i}` });
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args()]);
    expect(send.code).toBe(76);
    expect(lines(send)[0]).toMatch(/still unknown/);
    expect(statusPosts(server)).toEqual([]);
    expect(stored(server, text)).toHaveLength(1);
    expect(s.outbox()[0]?.entry).toMatchObject({
      text,
      sent: true,
      uncertainSince: entry.uncertainSince,
    });
  });
});

describe("10. timelines longer than a page", () => {
  describe("on Mastodon", () => {
    const h = useMastodon("mastodon");
    it("timeline public --count 90 against 100 statuses: 90, in 3 requests along max_id", async () => {
      const { server } = h;
      for (let i = 0; i < 100; i++)
        server.addStatus({ text: `public ${i}`, username: i % 2 ? "bob" : "alice" });
      const s = await home(server, h.alice);
      const r = await s.run(["timeline", "public", "--count", "90", ...h.args(), "-o", "json"]);
      expect(r.code, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as { text: string }[];
      expect(got).toHaveLength(90);
      expect(new Set(got.map((x) => x.text)).size).toBe(90);
      expect(got[0]?.text).toBe("public 99");
      expect(got.at(-1)?.text).toBe("public 10");
      const reads = server.requests.filter((q) => q.url.startsWith("/api/v1/timelines/public"));
      expect(reads).toHaveLength(3);
      expect(reads.map((q) => new URL(q.url, server.origin).searchParams.has("max_id"))).toEqual([
        false,
        true,
        true,
      ]);
    });
  });

  describe("on snac", () => {
    const h = useMastodon("snac");
    it("timeline mentions without --count asks for limit=20 (snac gives one otherwise)", async () => {
      const { server } = h;
      for (let i = 0; i < 3; i++)
        server.addStatus({ username: "bob", text: `@alice@${server.domain} ping ${i}` });
      const s = await home(server, h.alice);
      const r = await s.run(["timeline", "mentions", ...h.args(), "-o", "json"]);
      expect(r.code, r.stderr).toBe(0);
      const [read] = server.requests.filter((q) => q.url.startsWith("/api/v1/notifications"));
      expect(new URL(read?.url ?? "/", server.origin).searchParams.get("limit")).toBe("20");
      expect((JSON.parse(r.stdout) as unknown[]).length).toBe(3);
    });
  });
});

describe("keychain and terminal", () => {
  const { scenario } = useKeyring();

  it("12. a keychain password stored by a StatusNet login is never sent as a Bearer token when the host turns out to speak Mastodon: 78 with the note", async () => {
    const s = scenario();
    // bob logs in to the StatusNet API at 127.0.0.1:PORT: his password goes into the keychain.
    const gs = await startServer({ tls });
    const port = Number(new URL(gs.origin).port);
    // A password with no space in it: one with a space could never pass for a token anyway.
    const password = "Tr0ub4dor&3";
    (gs.store.userByNick("bob") as { password: string }).password = password;
    const login = await s.run(
      ["login", "--server", gs.apiRoot, "--user", "bob", ...cacert, "--password-stdin"],
      {
        input: `${password}\n`,
      },
    );
    expect(login.code, login.stderr).toBe(0);
    expect(configOf(s).servers?.[gs.apiRoot]).toMatchObject({ user: "bob", api: "statusnet" });
    await gs.close();
    // Later the same host and port speak the Mastodon API.
    const m = await startMastodon({ mode: "mastodon", tls, port });
    try {
      // The config still says StatusNet for https://127.0.0.1:PORT/api: --api says otherwise.
      for (const user of [["--user", "bob"], []]) {
        m.requests.length = 0;
        const where = ["--server", `127.0.0.1:${port}`, "--api", "mastodon", ...user, ...cacert];
        const r = await s.run(["post", ...where, uniqueText("as bob")]);
        expect(r.code, r.stderr).toBe(78);
        expect(r.stderr).toMatch(/is a StatusNet password/);
        expect(r.stderr).not.toContain(password);
        expect(authorizations(m.requests)).toEqual([]);
        expect(statusPosts(m)).toEqual([]);
        expect(s.outbox().at(-1)?.entry).toMatchObject({ exitCode: 78, refused: false });
      }
    } finally {
      await m.close();
    }
  });

  it("13. login --no-input on a terminal registers no app", async () => {
    const m = await startMastodon({ mode: "mastodon", tls });
    try {
      const s = scenario();
      const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", TZ: "UTC", LANG: "C.UTF-8", ...s.env };
      const command = [process.execPath, BIN, "login", "--no-input", "--server", m.domain, ...cacert]
        .map(sh)
        .join(" ");
      const r = await inTerminal(command, env, () => undefined);
      expect(r.code, r.out).toBe(64);
      expect(r.out).toMatch(/--no-input/);
      expect(m.apps).toEqual([]);
      expect(m.requests.filter((q) => q.url.startsWith("/api/v1/apps"))).toEqual([]);
    } finally {
      await m.close();
    }
  });
});

describe("14. SIGINT right after start while the text is piped in", () => {
  const h = useMastodon("mastodon");

  it("the text is always kept (or printed), whenever the signal comes", async () => {
    const { server } = h;
    server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/statuses$/ });
    const s = await home(server, h.alice);
    // How long a run takes to get to its POST here: the signals below are spread up to that moment.
    const t0 = Date.now();
    const calibrate = await s.run(["post", ...h.args()], {
      input: uniqueText("calibration"),
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (statusPosts(server).length > 0) {
            clearInterval(timer);
            child.kill("SIGINT");
          }
        }, 2);
        child.on("close", () => clearInterval(timer));
      },
    });
    const toPost = Date.now() - t0;
    expect(calibrate.code, calibrate.stderr).toBe(130);

    // From a quarter of that to all of it: before the fix, a signal after the text was read and
    // before the post began (the API looked up, modules loaded) said "interrupted" and kept nothing.
    let handled = 0;
    for (let i = 0; i < 10; i++) {
      const text = uniqueText(`interrupted ${i}`);
      const before = new Set(s.outbox().map((e) => e.file));
      const r = await s.run(["post", ...h.args()], {
        input: `${text}\n`,
        onSpawn: (child) => setTimeout(() => child.kill("SIGINT"), Math.round((toPost * (3 + i)) / 12)),
      });
      expect(r.stdout).toBe("");
      // Killed before identica's handler was in place (Node still starting): it had read nothing.
      if (r.signal === "SIGINT" && r.stderr === "") continue;
      handled++;
      expect(lines(r)[0], r.stderr).toMatch(/^identica: interrupted \(SIGINT\)/);
      const added = s.outbox().filter((e) => !before.has(e.file));
      if (added.length === 0) expect(r.stderr, `run ${i}: the text was lost`).toContain(text);
      else expect(added.map((e) => e.entry.text)).toEqual([text]);
    }
    expect(handled).toBeGreaterThanOrEqual(5);
  });
});

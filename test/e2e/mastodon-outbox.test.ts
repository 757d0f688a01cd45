import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectFailure, type RunResult } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";
import { uniqueText } from "../helpers/setup.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

// The outbox's promises (docs/cli.md) on the Mastodon client API, end to end against the look-alike
// in its Mastodon and snac modes: a post whose outcome is unknown is resolved later without a second
// copy — by the Idempotency-Key where the server honours it (Mastodon), by finding the status among
// the account's own where it does not (snac) — also when the server rewrote the text or its clock
// moved between the runs; signals at the worst moments, closed pipes, a bare cron environment and a
// token revoked between runs lose nothing; `post --if-absent` sees what the server stored. Credentials,
// two APIs in one outbox, refusals and corrupt entries: mastodon-outbox-send.test.ts.

const tls = testCertificate();
const HOUR = 3_600_000;

/** The POSTs of statuses a server received. */
const statusPosts = (s: MastodonServer) =>
  s.requests.filter((r) => r.method === "POST" && r.url.split("?")[0] === "/api/v1/statuses");
/** alice's live statuses holding exactly this text (as it was sent). */
const copies = (s: MastodonServer, text: string) =>
  s.statuses.filter((x) => x.text === text && !x.deleted && x.username === "alice");
const entryOf = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const lines = (r: RunResult) => r.stderr.split("\n").filter((l) => l !== "");

/** For `onSpawn`: sends `signal` once `ready()` holds (polled), e.g. once the server has the POST. */
function killWhen(ready: () => boolean, signal: NodeJS.Signals) {
  return (child: ChildProcess) => {
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 10);
    child.on("close", () => clearInterval(timer));
  };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
    server.clock.offsetMs = 0;
  });

  /**
   * A home whose runs have the token, with the server already detected and its limit cached (as after
   * any earlier run): a post is then its one POST, and nothing but that POST shows the server's clock.
   */
  async function home(): Promise<{ s: Scenario; args: string[] }> {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.domain, "--cacert", tls.certPath];
    const r = await s.run(["whoami", ...args, "-o", "none"]);
    expect(r.code, r.stderr).toBe(0);
    server.requests.length = 0;
    return { s, args };
  }

  /** `post` whose reply is lost after the server stored the status: 76, and the entry it kept. */
  async function postLost(s: Scenario, args: string[], text: string, extra: string[] = []) {
    server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
    const r = await s.run(["post", ...args, ...extra, text]);
    const path = expectFailure(r, 76, /may have been posted/) as string;
    expect(copies(server, text)).toHaveLength(1);
    return entryOf(path);
  }

  /** `outbox send` that finds the status already there: 0, nothing POSTed, the entry gone. */
  async function expectResolvedWithoutPosting(s: Scenario, args: string[], text: string) {
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...args]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stderr).toBe("");
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(statusPosts(server)).toEqual([]);
    expect(copies(server, text)).toHaveLength(1);
    expect(s.outbox()).toEqual([]);
    return send;
  }

  describe("a post whose reply is lost (the server stored it, then dropped the connection)", () => {
    it("76, kept uncertain with its Idempotency-Key; outbox send finds it among alice's statuses and posts nothing", async () => {
      const { s, args } = await home();
      const text = uniqueText("lost reply");
      const entry = await postLost(s, args, text);
      expect(entry).toMatchObject({
        text,
        api: "mastodon",
        server: server.origin,
        sent: true,
        exitCode: 76,
        refused: false,
        idempotencyKey: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        ),
      });
      expect(entry.uncertainSince).toBe(entry.attemptedAt);
      const [first] = statusPosts(server);
      expect(first?.headers["idempotency-key"]).toBe(entry.idempotencyKey);
      expect(first?.headers.authorization).toBe(`Bearer ${token}`);

      const listed = await s.run(["outbox", "list"]);
      expect(listed.stdout).toMatch(/\(exit 76, outcome unknown since /);

      const send = await expectResolvedWithoutPosting(s, args, text);
      expect(send.stdout).toContain(text);
      const id = server.accountId("alice");
      expect(server.requests.some((q) => q.url.startsWith(`/api/v1/accounts/${id}/statuses?`))).toBe(true);
    });

    it("also when the server rewrote what it stored (markup, entities, links, line breaks, a mention)", async () => {
      const { s, args } = await home();
      // snac: *x* → <i>, raw HTML kept, \n → <br>; Mastodon: & and < escaped, the URL a link of spans,
      // paragraphs and <br />, @bob@host a mention link reading "@bob".
      const text = `${uniqueText("fish *and* chips")} & <b>peas</b> 5<6 <script>x()</script>\nhttps://example.com/a/rather/long/path/to/somewhere?x=1&y=2\n\nsee @bob@127.0.0.1 #Tagged`;
      await postLost(s, args, text);
      const stored = copies(server, text)[0];
      expect(stored?.content).not.toContain(text.split("\n")[0]);
      // Past the hour Mastodon keeps a key: only finding the status keeps a second copy away.
      server.clock.offsetMs = 2 * HOUR;
      await expectResolvedWithoutPosting(s, args, text);
    });

    it("also when the server's clock moved between the runs (behind, then ahead)", async () => {
      for (const offset of [-5 * HOUR, 5 * HOUR]) {
        const { s, args } = await home();
        const text = uniqueText(`clock ${offset}`);
        await postLost(s, args, text);
        server.clock.offsetMs = offset;
        await expectResolvedWithoutPosting(s, args, text);
        server.clock.offsetMs = 0;
      }
    });

    it("also when the server's clock was hours behind all along (the lost post showed no Date)", async () => {
      server.clock.offsetMs = -3 * HOUR;
      const { s, args } = await home();
      const text = uniqueText("slow clock");
      const entry = await postLost(s, args, text);
      // No reply came back to this run: the server's clock was not seen during the attempt.
      expect(entry.uncertainSinceServer).toBeNull();
      expect(Date.parse(copies(server, text)[0]?.createdAt.toISOString() ?? "")).toBeLessThan(
        Date.parse(entry.uncertainSince) - HOUR,
      );
      await expectResolvedWithoutPosting(s, args, text);
    });

    it("also behind a page of newer statuses (a busy account: the look goes page after page)", async () => {
      const { s, args } = await home();
      const text = uniqueText("buried");
      const entry = await postLost(s, args, text, ["--visibility", "unlisted"]);
      for (let i = 0; i < 45; i++) server.addStatus({ text: `${text} — later ${i}` });
      for (let i = 0; i < 45; i++)
        server.addStatus({ text: `${text} — later private ${i}`, visibility: "private" });
      await expectResolvedWithoutPosting(s, args, text);
      const looks = server.requests.filter((q) => q.url.includes("/statuses?") || q.url.includes("/home?"));
      expect(looks.length).toBeGreaterThan(1);
      expect(looks.some((q) => q.url.includes("max_id="))).toBe(true);
      expect(entry.visibility).toBe("unlisted");
    });

    it("a private status is found too (snac lists only public ones among the account's statuses)", async () => {
      const { s, args } = await home();
      const text = uniqueText("private and lost");
      const entry = await postLost(s, args, text, ["--visibility", "private", "--cw", "lunch"]);
      expect(entry).toMatchObject({ visibility: "private", spoilerText: "lunch" });
      expect(copies(server, text)[0]).toMatchObject({ visibility: "private", spoilerText: "lunch" });
      await expectResolvedWithoutPosting(s, args, text);
    });
  });

  describe("an attempt that reached the server but stored nothing (reset after the request was read)", () => {
    it("outbox send looks first, then posts exactly once, with the SAME Idempotency-Key and fields", async () => {
      const { s, args } = await home();
      const text = uniqueText("reset");
      server.faults.push({ fault: { kind: "reset-after-read" }, path: /^\/api\/v1\/statuses/, times: 1 });
      const r = await s.run(["post", ...args, "--visibility", "unlisted", "--language", "de", text]);
      const entry = entryOf(expectFailure(r, 76, /may have been posted/) as string);
      expect(copies(server, text)).toHaveLength(0);
      const key = statusPosts(server)[0]?.headers["idempotency-key"];
      expect(key).toBe(entry.idempotencyKey);

      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...args, "-o", "id"]);
      expect(send.code, send.stderr).toBe(0);
      const [again] = statusPosts(server);
      expect(again?.headers["idempotency-key"]).toBe(key);
      const form = new URLSearchParams(again?.body.toString("utf8"));
      expect(Object.fromEntries(form)).toMatchObject({
        status: text,
        visibility: "unlisted",
        language: "de",
      });
      // It looked before posting.
      const lookup = server.requests.findIndex((q) => q.url.includes("/statuses?"));
      expect(lookup).toBeGreaterThanOrEqual(0);
      expect(lookup).toBeLessThan(server.requests.indexOf(again as never));
      const made = copies(server, text);
      expect(made).toHaveLength(1);
      expect(made[0]?.visibility).toBe("unlisted");
      expect(send.stdout).toBe(`${made[0]?.id}\n`);
      expect(s.outbox()).toEqual([]);
    });

    it("a retry whose reply is lost again keeps the FIRST uncertain time and the key; the next send finds it", async () => {
      const { s, args } = await home();
      const text = uniqueText("twice uncertain");
      server.faults.push({ fault: { kind: "reset-after-read" }, path: /^\/api\/v1\/statuses/, times: 1 });
      const first = entryOf(
        expectFailure(await s.run(["post", ...args, text]), 76, /may have been/) as string,
      );
      server.clock.offsetMs = 0;
      server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses$/, times: 1 });
      const send = await s.run(["outbox", "send", ...args]);
      expect(send.code).toBe(76);
      expect(send.stderr).toMatch(/may have been posted/);
      const [kept] = s.outbox();
      expect(kept?.entry).toMatchObject({
        uncertainSince: first.uncertainSince,
        idempotencyKey: first.idempotencyKey,
        sent: true,
        exitCode: 76,
      });
      expect(statusPosts(server).map((q) => q.headers["idempotency-key"])).toEqual([
        first.idempotencyKey,
        first.idempotencyKey,
      ]);
      expect(copies(server, text)).toHaveLength(1);
      await expectResolvedWithoutPosting(s, args, text);
    });
  });

  describe("signals while the status is on its way", () => {
    it("SIGINT while the POST hangs: 130, 'may have been posted', kept with its key; outbox send looks, then posts once with that key", async () => {
      const { s, args } = await home();
      const text = uniqueText("sigint");
      server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/statuses/, times: 1 });
      const r = await s.run(["post", ...args, text], {
        onSpawn: killWhen(() => statusPosts(server).length > 0, "SIGINT"),
      });
      expect(r.code).toBe(130);
      expect(r.stdout).toBe("");
      expect(lines(r)[0]).toBe(
        "identica: interrupted (SIGINT); after the status was sent; it may have been posted (check before posting again)",
      );
      const path = /saved in the outbox: (\S+\.json)/.exec(lines(r)[1] ?? "")?.[1] as string;
      const entry = entryOf(path);
      const key = statusPosts(server)[0]?.headers["idempotency-key"];
      expect(entry).toMatchObject({ text, api: "mastodon", sent: true, exitCode: 130, idempotencyKey: key });
      expect(copies(server, text)).toHaveLength(0);

      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...args, "-o", "id"]);
      expect(send.code, send.stderr).toBe(0);
      expect(server.requests.some((q) => q.url.includes("/statuses?"))).toBe(true);
      expect(statusPosts(server).map((q) => q.headers["idempotency-key"])).toEqual([key]);
      expect(copies(server, text)).toHaveLength(1);
      expect(s.outbox()).toEqual([]);
    });

    it("SIGTERM during a slow POST the server then completes: 143, kept; outbox send finds it and posts nothing", async () => {
      const { s, args } = await home();
      const text = uniqueText("sigterm");
      server.faults.push({ fault: { kind: "delay", ms: 1500 }, path: /^\/api\/v1\/statuses/, times: 1 });
      const r = await s.run(["post", ...args, text], {
        onSpawn: killWhen(() => statusPosts(server).length > 0, "SIGTERM"),
      });
      expect(r.code).toBe(143);
      expect(lines(r)[0]).toBe(
        "identica: interrupted (SIGTERM); after the status was sent; it may have been posted (check before posting again)",
      );
      expect(s.outbox()[0]?.entry).toMatchObject({ text, sent: true, exitCode: 143 });
      // The server finishes what it was doing after identica is gone.
      await until(() => copies(server, text).length === 1);

      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...args]);
      expect(send.code, send.stderr).toBe(0);
      expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
      expect(statusPosts(server)).toEqual([]);
      expect(copies(server, text)).toHaveLength(1);
      expect(s.outbox()).toEqual([]);
    });

    it("SIGTERM while outbox send is still looking (the read hangs): 143, nothing posted, the first uncertain time and the key kept", async () => {
      const { s, args } = await home();
      const text = uniqueText("sigterm while looking");
      const entry = await postLost(s, args, text);
      server.requests.length = 0;
      server.faults.push({ fault: { kind: "hang" }, path: /\/statuses\?/, times: 1 });
      const r = await s.run(["outbox", "send", ...args], {
        onSpawn: killWhen(() => server.requests.some((q) => q.url.includes("/statuses?")), "SIGTERM"),
      });
      expect(r.code).toBe(143);
      expect(r.stdout).toBe("");
      expect(lines(r)[0]).toBe("identica: interrupted (SIGTERM); nothing was posted");
      expect(statusPosts(server)).toEqual([]);
      expect(s.outbox()[0]?.entry).toMatchObject({
        uncertainSince: entry.uncertainSince,
        idempotencyKey: entry.idempotencyKey,
        sent: true,
      });
      await expectResolvedWithoutPosting(s, args, text);
    });

    it("throttled while looking (Mastodon's 429, snac's proxy 503): 75, nothing posted, still uncertain; resolved later", async () => {
      const { s, args } = await home();
      const text = uniqueText("throttled while looking");
      const entry = await postLost(s, args, text);
      server.requests.length = 0;
      if (mode === "mastodon") server.site.rateLimit = { limit: 0, path: /\/statuses\?/ };
      else
        server.faults.push({
          fault: {
            kind: "reply",
            status: 503,
            body: "<html>503 Service Temporarily Unavailable</html>",
            contentType: "text/html",
          },
          path: /\/statuses\?/,
          times: 1,
        });
      const send = await s.run(["outbox", "send", ...args]);
      server.site.rateLimit = null;
      expect(send.code).toBe(75);
      expect(send.stdout).toBe("");
      expect(lines(send)[0]).toMatch(mode === "mastodon" ? /429.*(retry|try again) (after|at|in)/i : /503/);
      expect(send.stderr).not.toMatch(/may have been posted/);
      expect(statusPosts(server)).toEqual([]);
      expect(s.outbox()[0]?.entry).toMatchObject({
        uncertainSince: entry.uncertainSince,
        idempotencyKey: entry.idempotencyKey,
        sent: true,
        exitCode: 75,
      });
      await expectResolvedWithoutPosting(s, args, text);
    });

    it("SIGHUP while the first-use probe hangs: 129, nothing was posted, kept for the server as named; outbox send detects it, then posts", async () => {
      const s = new Scenario({ IDENTICA_TOKEN: token });
      const args = ["--server", server.domain, "--cacert", tls.certPath];
      const text = uniqueText("sighup");
      server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/instance/, times: 1 });
      const r = await s.run(["post", ...args, "--visibility", "unlisted", text], {
        onSpawn: killWhen(() => server.requests.length > 0, "SIGHUP"),
      });
      expect(r.code).toBe(129);
      expect(lines(r)[0]).toBe("identica: interrupted (SIGHUP); nothing was posted");
      const [kept] = s.outbox();
      expect(kept?.entry).toMatchObject({
        text,
        serverSpec: server.domain,
        sent: false,
        exitCode: 129,
        visibility: "unlisted",
      });
      expect(kept?.entry.api).toBeUndefined();
      const key = (kept?.entry as { idempotencyKey?: string } | undefined)?.idempotencyKey;
      expect(key).toMatch(/^[0-9a-f-]{36}$/);

      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...args, "-o", "id"]);
      expect(send.code, send.stderr).toBe(0);
      expect(server.requests[0]?.url).toBe("/api/v1/instance");
      expect(server.requests[0]?.headers.authorization).toBeUndefined();
      const posts = statusPosts(server);
      expect(posts.map((q) => q.headers["idempotency-key"])).toEqual([key]);
      expect(new URLSearchParams(posts[0]?.body.toString()).get("visibility")).toBe("unlisted");
      expect(copies(server, text)[0]?.visibility).toBe("unlisted");
      expect(s.outbox()).toEqual([]);
    });
  });

  describe("the ways runs get cut off or changed under them", () => {
    it("closed pipes: a lost reply with stderr closed still keeps the entry (76); a send with stdout closed still posts once (0)", async () => {
      const { s, args } = await home();
      const text = uniqueText("closed pipes");
      server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
      const r = await s.run(["post", ...args, text], { closeStderr: true });
      expect(r.code).toBe(76);
      expect(s.outbox()[0]?.entry).toMatchObject({ text, sent: true, exitCode: 76 });

      const other = uniqueText("closed stdout");
      server.faults.push({
        fault: { kind: "reply", status: 503, body: "" },
        path: /^\/api\/v1\/statuses/,
        times: 1,
      });
      expect((await s.run(["post", ...args, other], { closeStdout: true })).code).toBe(75);
      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...args], { closeStdout: true });
      expect(send.code, send.stderr).toBe(0);
      expect(statusPosts(server)).toHaveLength(1);
      expect(copies(server, text)).toHaveLength(1);
      expect(copies(server, other)).toHaveLength(1);
      expect(s.outbox()).toEqual([]);
    });

    it("a bare cron environment (no XDG, no D-Bus, no LANG, a token file): kept by one run, resolved by the next", async () => {
      const s = new Scenario();
      const file = join(s.home, "token");
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      const cron = {
        HOME: s.home,
        LOGNAME: "alice",
        SHELL: "/bin/sh",
        PATH: "/usr/bin:/bin",
        XDG_CONFIG_HOME: undefined,
        XDG_CACHE_HOME: undefined,
        XDG_STATE_HOME: undefined,
        LANG: undefined,
        TZ: undefined,
      };
      const args = ["--server", server.domain, "--cacert", tls.certPath, "--token-file", file];
      const text = uniqueText("from cron");
      server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
      const started = Date.now();
      const r = await s.run(["post", ...args, text], { env: cron });
      expect(r.code, r.stderr).toBe(76);
      // Scenario's XDG_STATE_HOME is the default one under HOME: the entry is where the next run looks.
      expect(s.outbox()[0]?.entry).toMatchObject({ text, sent: true });
      const send = await s.run(["outbox", "send", ...args, "-q"], { env: cron });
      expect(send.code, send.stderr).toBe(0);
      expect(send.stdout + send.stderr).toBe("");
      expect(copies(server, text)).toHaveLength(1);
      expect(s.outbox()).toEqual([]);
      // Without any token, it says so at once (no keychain to wait for) and keeps the entry.
      server.faults.push({
        fault: { kind: "reply", status: 503, body: "" },
        path: /^\/api\/v1\/statuses/,
        times: 1,
      });
      expect((await s.run(["post", ...args, uniqueText("cron again")], { env: cron })).code).toBe(75);
      const bare = await s.run(["outbox", "send", "--server", server.domain, "--cacert", tls.certPath], {
        env: cron,
      });
      expect(bare.code).toBe(78);
      expect(s.outbox()).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it("the token revoked between the runs: 77 'run identica login', kept (not refused); a new token sends it", async () => {
      const s = new Scenario();
      const args = ["--server", server.domain, "--cacert", tls.certPath];
      const old = server.issueToken("alice");
      const text = uniqueText("revoked");
      server.faults.push({
        fault: { kind: "reply", status: 503, body: "" },
        path: /^\/api\/v1\/statuses/,
        times: 1,
      });
      expectFailure(await s.run(["post", ...args, text], { env: { IDENTICA_TOKEN: old } }), 75, /503/);
      server.revokeToken(old);
      const send = await s.run(["outbox", "send", ...args], { env: { IDENTICA_TOKEN: old } });
      expect(send.code).toBe(77);
      expect(lines(send)[0]).toMatch(/identica login/);
      expect(s.outbox()[0]?.entry).toMatchObject({ text, refused: false, exitCode: 77, sent: false });
      // Another token: refused (it could be another account's) until the run names the account.
      const other = await s.run(["outbox", "send", ...args, "-o", "none"], {
        env: { IDENTICA_TOKEN: token },
      });
      expect(other.code).toBe(78);
      expect(other.stderr).toMatch(/tried with another token.*--user NAME/);
      const fresh = await s.run(["outbox", "send", ...args, "--user", "alice", "-o", "none"], {
        env: { IDENTICA_TOKEN: token },
      });
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(copies(server, text)).toHaveLength(1);
    });
  });

  describe("post --if-absent", () => {
    it("skips (0, nothing POSTed) when alice has the text, as typed or as the server rewrote it", async () => {
      const { s, args } = await home();
      const plain = uniqueText("absent plain");
      const marked = `${uniqueText("absent *marked*")} & <i>x</i>\nhttps://example.com/some/long/path/beyond/thirty/characters\n\ncc @bob@127.0.0.1`;
      for (const text of [plain, marked]) {
        server.addStatus({ text });
        server.requests.length = 0;
        const r = await s.run(["post", ...args, "--if-absent", "-o", "json", text]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toBe("");
        expect(statusPosts(server)).toEqual([]);
        expect(JSON.parse(r.stdout)).toMatchObject({ id: copies(server, text)[0]?.id });
        expect(copies(server, text)).toHaveLength(1);
      }
      expect(s.outbox()).toEqual([]);
    });

    it("a check the server failed (503) keeps the status with --if-absent: outbox send checks too, and posts no second copy", async () => {
      const { s, args } = await home();
      const text = uniqueText("absent, check failed");
      server.addStatus({ text });
      server.faults.push({ fault: { kind: "reply", status: 503, body: "" }, path: /\/statuses\?/, times: 1 });
      const r = await s.run(["post", ...args, "--if-absent", text]);
      const entry = entryOf(expectFailure(r, 75, /503/) as string);
      expect(entry).toMatchObject({ text, ifAbsent: true, sent: false });
      expect(statusPosts(server)).toEqual([]);
      await expectResolvedWithoutPosting(s, args, text);

      // Absent after all: the send posts it, once.
      const fresh = uniqueText("absent, check failed, posted");
      server.faults.push({ fault: { kind: "reply", status: 503, body: "" }, path: /\/statuses\?/, times: 1 });
      expectFailure(await s.run(["post", ...args, "--if-absent", fresh]), 75, /503/);
      server.requests.length = 0;
      const send = await s.run(["outbox", "send", ...args, "-o", "none"]);
      expect(send.code, send.stderr).toBe(0);
      expect(statusPosts(server)).toHaveLength(1);
      expect(copies(server, fresh)).toHaveLength(1);
    });

    it("posts when only someone else has the text, or when alice's copy was deleted", async () => {
      const { s, args } = await home();
      const text = uniqueText("absent elsewhere");
      server.addStatus({ text, username: "bob" });
      const gone = server.addStatus({ text: `${text} (deleted)` });
      gone.deleted = true;
      for (const t of [text, `${text} (deleted)`]) {
        server.requests.length = 0;
        const r = await s.run(["post", ...args, "--if-absent", "-o", "id", t]);
        expect(r.code, r.stderr).toBe(0);
        expect(statusPosts(server)).toHaveLength(1);
        expect(copies(server, t)).toHaveLength(1);
        expect(r.stdout).toBe(`${copies(server, t)[0]?.id}\n`);
      }
    });

    it("sees alice's private statuses too, and not those of people she follows", async () => {
      const { s, args } = await home();
      const text = uniqueText("absent private");
      server.addStatus({ text, visibility: "private" });
      const r = await s.run(["post", ...args, "--if-absent", "--visibility", "private", "-o", "id", text]);
      expect(r.code, r.stderr).toBe(0);
      expect(statusPosts(server)).toEqual([]);
      expect(copies(server, text)).toHaveLength(1);

      // bob's private status is on alice's home timeline: it is not hers.
      server.follow("alice", "bob");
      const theirs = uniqueText("bob's private");
      server.addStatus({ text: theirs, username: "bob", visibility: "private" });
      server.requests.length = 0;
      const p = await s.run(["post", ...args, "--if-absent", "--visibility", "private", "-o", "id", theirs]);
      expect(p.code, p.stderr).toBe(0);
      expect(statusPosts(server)).toHaveLength(1);
      expect(copies(server, theirs)).toHaveLength(1);
    });
  });
});

describe("mastodon mode: the Idempotency-Key does what a look cannot", () => {
  let server: MastodonServer;
  let token: string;
  beforeAll(async () => {
    server = await startMastodon({ mode: "mastodon", tls });
    token = server.issueToken("alice");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("a status stored in a form identica cannot recognise: the retry carries the same key and gets it back", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.domain, "--cacert", tls.certPath];
    expect((await s.run(["whoami", ...args, "-o", "none"])).code).toBe(0);
    const text = uniqueText("unrecognisable");
    server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
    const entry = entryOf(expectFailure(await s.run(["post", ...args, text]), 76, /may have/) as string);
    const [stored] = copies(server, text);
    // A filter, a custom emoji, an edit: what the account's statuses show no longer reads as the text.
    (stored as { content: string }).content = "<p>something else entirely</p>";
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...args, "-o", "id"]);
    expect(send.code, send.stderr).toBe(0);
    const retries = statusPosts(server);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.headers["idempotency-key"]).toBe(entry.idempotencyKey);
    expect(copies(server, text)).toHaveLength(1);
    expect(send.stdout).toBe(`${stored?.id}\n`);
    expect(s.outbox()).toEqual([]);
  });

  it("the status deleted on the server before the retry: the key gets a 404, kept refused, nothing posted again", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.domain, "--cacert", tls.certPath];
    const text = uniqueText("deleted in between");
    server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
    expectFailure(await s.run(["post", ...args, text]), 76, /may have/);
    const [stored] = copies(server, text);
    (stored as { deleted: boolean }).deleted = true;
    const send = await s.run(["outbox", "send", ...args]);
    expect(send.code).toBe(65);
    expect(lines(send)[0]).toMatch(/refused the status \(404\): Record not found/);
    expect(s.outbox()[0]?.entry).toMatchObject({ refused: true, sent: true });
    expect(server.statuses.filter((x) => x.text === text && !x.deleted)).toEqual([]);
  });
});

describe.each(["mastodon", "snac"] as const)("%s mode over plain http on loopback", (mode: Mode) => {
  // snac answers without a Date and closes the connection after every reply (its own httpd).
  let server: MastodonServer;
  let token: string;
  beforeAll(async () => {
    server = await startMastodon({ mode });
    token = server.issueToken("alice");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("a lost reply is resolved by the next send, nothing posted twice; a SIGINT'd one is posted once with its key", async () => {
    const s = new Scenario({ IDENTICA_TOKEN: token });
    const args = ["--server", server.origin];
    const text = uniqueText("plain http");
    server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
    const entry = entryOf(expectFailure(await s.run(["post", ...args, text]), 76, /may have/) as string);
    expect(entry).toMatchObject({ server: server.origin, api: "mastodon" });
    server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...args]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(statusPosts(server)).toEqual([]);
    expect(copies(server, text)).toHaveLength(1);

    const again = uniqueText("plain http sigint");
    server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/statuses/, times: 1 });
    server.requests.length = 0;
    const r = await s.run(["post", ...args, again], {
      onSpawn: killWhen(() => statusPosts(server).length > 0, "SIGINT"),
    });
    expect(r.code).toBe(130);
    const key = statusPosts(server)[0]?.headers["idempotency-key"];
    server.requests.length = 0;
    const resend = await s.run(["outbox", "send", ...args, "-o", "none"]);
    expect(resend.code, resend.stderr).toBe(0);
    expect(statusPosts(server).map((q) => q.headers["idempotency-key"])).toEqual([key]);
    expect(copies(server, again)).toHaveLength(1);
    expect(s.outbox()).toEqual([]);
  });
});

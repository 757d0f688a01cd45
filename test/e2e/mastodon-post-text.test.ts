import { describe, expect, it } from "vitest";
import { expectFailure, type RunResult } from "../helpers/cli.js";
import {
  expectNoToken,
  form,
  fresh,
  onlyEntry,
  secretFile,
  statusPosts,
  UUID,
  useMastodon,
} from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";
import { PASSWORD } from "../helpers/setup.js";
import { startServer } from "../server/gnusocial.js";
import { mastodonLength, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * Issue 13, part post: what `identica post` sends to a Mastodon-API server and when it sends
 * nothing at all — text sources, --lines, --reply-to, --visibility, --cw, --language, --dry-run, the
 * limit counted the Mastodon way, the Idempotency-Key — and what happens when the server changes
 * between runs, rewrites what it stores, or the run is cut short. The look-alike in its Mastodon and
 * snac modes, over HTTPS.
 */

const MODES = ["mastodon", "snac"] as const;

describe.each(MODES)("post (%s)", (mode) => {
  const h = useMastodon(mode);
  /** A home with alice's token, and the post command against the bare host (detected on first use). */
  const home = () => new Scenario({ IDENTICA_TOKEN: h.token });
  const post = (sc: Scenario, args: string[], opts: Parameters<Scenario["run"]>[1] = {}) =>
    sc.run(["post", "--server", h.host, "--cacert", h.certPath, ...args], opts);
  const sent = () => statusPosts(h.server).map((r) => Object.fromEntries(form(r)));

  it("takes the words joined with single spaces, a pipe on stdin, and - ; each status its own Idempotency-Key", async () => {
    const sc = home();
    const runs = [
      await post(sc, ["-o", "none", "hello", "  fediverse"]),
      await post(sc, ["-o", "none"], { input: "line one\nline two\n" }),
      await post(sc, ["-o", "none", "-"], { input: "from a dash\n\n" }),
    ];
    expect(runs.map((r) => [r.code, r.stderr])).toEqual([
      [0, ""],
      [0, ""],
      [0, ""],
    ]);
    expect(sent()).toEqual([
      { status: "hello   fediverse" },
      { status: "line one\nline two" },
      { status: "from a dash\n" },
    ]);
    const keys = statusPosts(h.server).map((r) => r.headers["idempotency-key"]);
    for (const k of keys) expect(k).toMatch(UUID);
    expect(new Set(keys).size).toBe(3);
  });

  it("refuses empty or blank text (64) before any request, the probe included", async () => {
    for (const [args, input] of [
      [[""], undefined],
      [["   "], undefined],
      [["-"], "\n"],
      [[], " \n\t\n"],
    ] as const) {
      const r = await post(home(), [...args], input === undefined ? {} : { input });
      expectFailure(r, 64, /empty/);
    }
    expect(h.server.requests).toEqual([]);
  });

  it("--lines: each line is a status with its own Idempotency-Key, as it arrives", async () => {
    const sc = home();
    const r = await post(sc, ["--lines", "-o", "id"], { input: "first line\nsecond line\n\nthird line\n" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sent()).toEqual([{ status: "first line" }, { status: "second line" }, { status: "third line" }]);
    const posts = statusPosts(h.server);
    expect(r.stdout).toBe(
      h.server.statuses
        .slice(-3)
        .map((s) => `${s.id}\n`)
        .join(""),
    );
    const keys = posts.map((p) => p.headers["idempotency-key"]);
    for (const k of keys) expect(k).toMatch(UUID);
    expect(new Set(keys).size).toBe(3);
    if (mode === "mastodon") {
      expect(h.server.statuses.slice(-3).map((s) => s.idempotencyKey)).toEqual(keys);
      // Mastodon keeps the connection alive: every line goes on the same one.
      expect(new Set(posts.map((p) => p.connection)).size).toBe(1);
    }
  });

  it("--lines over plain http loopback (snac closes the connection after every reply): every line is posted", async () => {
    const plain = await startMastodon({ mode });
    try {
      const token = plain.issueToken("alice");
      const sc = new Scenario({ IDENTICA_TOKEN: token });
      const lines = [fresh("plain 1"), fresh("plain 2"), fresh("plain 3")];
      const r = await sc.run(["post", "--server", plain.origin, "--lines", "-o", "id"], {
        input: `${lines.join("\n")}\n`,
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const posts = statusPosts(plain);
      expect(posts.map((p) => form(p).get("status"))).toEqual(lines);
      expect(posts.map((p) => p.headers.authorization)).toEqual(lines.map(() => `Bearer ${token}`));
      // snac's one request per connection; Mastodon's keep-alive (the probe had a connection of its own).
      const conns = new Set(posts.map((p) => p.connection)).size;
      expect(conns).toBe(mode === "snac" ? 3 : 1);
    } finally {
      await plain.close();
    }
  });

  it("--lines and a 503 with Retry-After: the line is tried again after the wait, with the same Idempotency-Key", async () => {
    const sc = home();
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 503,
        body: "",
        contentType: "text/plain",
        headers: { "retry-after": "1" },
      },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });
    const r = await post(sc, ["--lines", "-o", "none"], { input: "waited for\nnext one\n" });
    expect(r.code, r.stderr).toBe(0);
    const keys = statusPosts(h.server).map((p) => p.headers["idempotency-key"]);
    expect(sent().map((f) => f.status)).toEqual(["waited for", "waited for", "next one"]);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(sc.outbox()).toEqual([]);
  });

  it("--lines on first use while the probe fails: each line is kept for later (the stream goes on), then sent to the right API", async () => {
    const sc = home();
    // The probe fails twice (before the first line and before the second), then the server is back.
    h.server.faults.push({
      fault: { kind: "reply", status: 503, body: "", contentType: "text/plain" },
      path: /^\/api\/v1\/instance/,
      times: 2,
    });
    const r = await post(sc, ["--lines", "--cw", "cw", "-o", "id"], {
      input: "kept one\nkept two\nposted three\n",
    });
    expect(r.code).toBe(75);
    const posted = h.server.statuses.at(-1);
    expect(r.stdout).toBe(`${posted?.id}\n`);
    expect(r.stderr.split("\n").filter((l) => l !== "")).toEqual([
      expect.stringMatching(
        /^identica: line 1: 127\.0\.0\.1:\d+ answered 503 when asked which API it speaks; nothing was posted/,
      ),
      expect.stringMatching(/^identica: line 1 is saved in the outbox: /),
      expect.stringMatching(
        /^identica: line 2: 127\.0\.0\.1:\d+ answered 503 when asked which API it speaks/,
      ),
      expect.stringMatching(/^identica: line 2 is saved in the outbox: /),
    ]);
    expect(sent()).toEqual([{ status: "posted three", spoiler_text: "cw" }]);
    const kept = sc.outbox().map((e) => e.entry);
    expect(kept).toMatchObject([
      { text: "kept one", serverSpec: h.host, spoilerText: "cw", exitCode: 75, refused: false },
      { text: "kept two", serverSpec: h.host, spoilerText: "cw", exitCode: 75, refused: false },
    ]);
    expect(new Set(kept.map((e) => e.idempotencyKey)).size).toBe(2);

    const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"]);
    expect(send.code, send.stderr).toBe(0);
    expect(sent().slice(1)).toEqual([
      { status: "kept one", spoiler_text: "cw" },
      { status: "kept two", spoiler_text: "cw" },
    ]);
    expect(
      statusPosts(h.server)
        .slice(1)
        .map((p) => p.headers["idempotency-key"]),
    ).toEqual(kept.map((e) => e.idempotencyKey));
    expect(sc.outbox()).toEqual([]);
  });

  it("--lines on first use with an empty input while the probe fails: 75, nothing to keep", async () => {
    h.server.faults.push({
      fault: { kind: "reply", status: 503, body: "", contentType: "text/plain" },
      path: /^\/api\/v1\/instance/,
    });
    const sc = home();
    const r = await post(sc, ["--lines"], { input: "\n \n" });
    expectFailure(r, 75, /answered 503 when asked which API it speaks; nothing was posted/);
    expect(sc.outbox()).toEqual([]);
  });

  it("--lines on first use, SIGTERM while the probe hangs: 143, nothing posted, and stderr says where to resume", async () => {
    h.server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/instance/, times: 1 });
    const sc = home();
    const r = await post(sc, ["--lines"], {
      input: "never read\n",
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (h.server.requests.length > 0) {
            clearInterval(timer);
            child.kill("SIGTERM");
          }
        }, 10);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/^identica: interrupted \(SIGTERM\); nothing was posted\n/);
    expect(r.stderr).toMatch(/resume from line 1/);
    expect(statusPosts(h.server)).toEqual([]);
  });

  it("--reply-to sends in_reply_to_id; the reply shows its parent", async () => {
    const parent = h.server.addStatus({ text: "the parent", username: "bob" });
    const r = await post(home(), ["--reply-to", parent.id, "-o", "json", fresh("a reply")]);
    expect(r.code, r.stderr).toBe(0);
    expect(sent()[0]?.in_reply_to_id).toBe(parent.id);
    expect(JSON.parse(r.stdout)).toMatchObject({ inReplyToId: parent.id });
  });

  it("--reply-to an unknown status: Mastodon refuses it (65 with its text, kept refused); snac posts it unthreaded", async () => {
    const unknown = mode === "mastodon" ? "109999999999999999" : `1700000000${"ab".repeat(16)}`;
    const sc = home();
    const text = fresh("orphan reply");
    const r = await post(sc, ["--reply-to", unknown, "-o", "json", text]);
    expect(sent()[0]?.in_reply_to_id).toBe(unknown);
    if (mode === "mastodon") {
      expectFailure(
        r,
        65,
        /refused the status \(404\): The post you are trying to reply to does not appear to exist\./,
      );
      expect(onlyEntry(sc).entry).toMatchObject({ text, replyTo: unknown, refused: true, exitCode: 65 });
    } else {
      // snac drops the unknown parent and posts a top-level status (snac/32b): it is there, not lost.
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ text, inReplyToId: null });
    }
  });

  it("--reply-to that is not an id is 64 before anything is sent", async () => {
    const r = await post(home(), ["--reply-to", "../../oauth/revoke", fresh("bad id")]);
    expectFailure(r, 64, /--reply-to takes a status id/);
    expect(h.server.requests.filter((q) => q.method === "POST")).toEqual([]);
  });

  it("--visibility: each value reaches the server and comes back; a bogus one is 64 with no request", async () => {
    const sc = home();
    for (const v of ["public", "unlisted", "private", "direct"]) {
      const r = await post(sc, ["--visibility", v, "-o", "json", fresh(`visible ${v}`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).visibility).toBe(v);
    }
    expect(sent().map((f) => f.visibility)).toEqual(["public", "unlisted", "private", "direct"]);
    expect(h.server.statuses.slice(-4).map((s) => s.visibility)).toEqual([
      "public",
      "unlisted",
      "private",
      "direct",
    ]);

    // snac would store a typo as `direct` without a word: it never gets there.
    h.server.requests.length = 0;
    for (const sc2 of [sc, home()]) {
      const r = await post(sc2, ["--visibility", "followers", fresh("typo")]);
      expectFailure(r, 64, /--visibility takes public, unlisted, private, direct, not "followers"/);
    }
    expect(h.server.requests).toEqual([]);
  });

  it("--cw is sent as spoiler_text and --language as language; pretty shows the warning", async () => {
    const text = fresh("under a warning");
    const r = await post(home(), ["--cw", "food, spoilers", "--language", "pt-BR", text]);
    expect(r.code, r.stderr).toBe(0);
    expect(sent()).toEqual([{ status: text, spoiler_text: "food, spoilers", language: "pt-BR" }]);
    expect(r.stdout).toContain(`\nCW: food, spoilers\n${text}\n`);
    const bad = await post(home(), ["--language", "en; rm -rf", fresh("bad language")]);
    expectFailure(bad, 64, /--language takes an ISO 639 code/);
  });

  it("--dry-run sends nothing at all, prints the request with Bearer <redacted>, and keeps nothing", async () => {
    const sc = home();
    const text = fresh("dry");
    const r = await post(sc, [
      "--api",
      "mastodon",
      "--user",
      "alice",
      "--dry-run",
      "--visibility",
      "private",
      "--cw",
      "cw text",
      text,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(h.server.requests).toEqual([]);
    expect(r.stdout).toContain(`POST ${h.server.origin}/api/v1/statuses\n`);
    expect(r.stdout).toContain("Authorization: Bearer <redacted> (the token of alice)\n");
    expect(r.stdout).toMatch(/\nIdempotency-Key: [0-9a-f-]{36}\n/);
    expect(r.stdout).toContain(
      `\n\n${new URLSearchParams({ status: text, visibility: "private", spoiler_text: "cw text" })}\n`,
    );
    expectNoToken(h.token, [r], sc);
    expect(sc.outbox()).toEqual([]);

    // Not knowing the API, a dry run cannot say what it would send, and will not ask.
    const unknown = await post(home(), ["--dry-run", fresh("dry unknown")]);
    expectFailure(unknown, 64, /--dry-run sends nothing, and the API of 127\.0\.0\.1:\d+ is not known yet/);
    expect(h.server.requests).toEqual([]);
  });

  describe("the limit, counted the Mastodon way", () => {
    const LIMIT = 60;
    /** A text of exactly LIMIT as Mastodon counts it: a long URL, a remote mention, a ZWJ family. */
    const atLimit = (urlLength: number, cw = "") => {
      const url = `https://example.com/${"a".repeat(120)}`;
      const head = `see ${url} @bob@social.example \u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466} `;
      // "see " 4 + URL + " " 1 + "@bob" 4 + " " 1 + family 1 + " " 1
      const used = 12 + urlLength + [...cw].length;
      const text = `${head}${"x".repeat(LIMIT - used)}`;
      expect(mastodonLength(text, cw, urlLength)).toBe(LIMIT);
      return text;
    };

    it("exactly at the limit posts; one over is 64 with no POST, also where the server would accept it", async () => {
      h.server.site.maxCharacters = LIMIT;
      const urlLength = h.server.site.urlLength;
      const sc = home();
      const ok = await post(sc, ["-o", "id", atLimit(urlLength)]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(statusPosts(h.server)).toHaveLength(1);

      const over = await post(sc, [`${atLimit(urlLength)}x`]);
      expectFailure(
        over,
        64,
        new RegExp(
          `is ${LIMIT + 1} characters long, over 127\\.0\\.0\\.1:\\d+'s limit of ${LIMIT}; nothing was sent`,
        ),
      );
      expect(statusPosts(h.server)).toHaveLength(1);
      expect(sc.outbox()).toEqual([]);
    });

    it("whitespace at either end, which Mastodon strips from the text and the warning, does not count", async () => {
      h.server.site.maxCharacters = LIMIT;
      const urlLength = h.server.site.urlLength;
      const sc = home();
      const text = ` \n\t${atLimit(urlLength, "spoiler")}  \n `;
      const ok = await post(sc, ["--cw", "  spoiler \t", "-o", "none", text]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(sent()).toEqual([{ status: text, spoiler_text: "  spoiler \t" }]);
      // Inside the text it counts.
      const over = await post(sc, ["--cw", "spoiler", atLimit(urlLength, "spoiler").replace(" ", "  ")]);
      expectFailure(over, 64, /is 61 characters long/);
    });

    it("the content warning counts with the text", async () => {
      h.server.site.maxCharacters = LIMIT;
      const urlLength = h.server.site.urlLength;
      const sc = home();
      const ok = await post(sc, ["--cw", "spoiler", "-o", "none", atLimit(urlLength, "spoiler")]);
      expect(ok.code, ok.stderr).toBe(0);
      const over = await post(sc, ["--cw", "spoilers", atLimit(urlLength, "spoiler")]);
      expectFailure(over, 64, /is 61 characters long/);
      expect(statusPosts(h.server)).toHaveLength(1);
    });

    it("--max-length is counted the same way", async () => {
      const urlLength = h.server.site.urlLength;
      const sc = home();
      expect((await post(sc, ["-o", "none", "--max-length", String(LIMIT), atLimit(urlLength)])).code).toBe(
        0,
      );
      const over = await post(sc, ["--max-length", String(LIMIT), `${atLimit(urlLength)}!`]);
      expectFailure(over, 64, /over the --max-length limit of 60/);
      expect(statusPosts(h.server)).toHaveLength(1);
    });
  });

  it("a revoked token between runs: 77 naming login, the text kept; a new token sends it with the same key", async () => {
    const sc = new Scenario();
    const old = h.server.issueToken("alice");
    expect(
      (await post(sc, ["-o", "none", fresh("before revoking")], { env: { IDENTICA_TOKEN: old } })).code,
    ).toBe(0);
    h.server.revokeToken(old);
    const text = fresh("after revoking");
    const r = await post(sc, [text], { env: { IDENTICA_TOKEN: old } });
    expectFailure(r, 77, /rejected the token \(401\).*\(run identica login\)/);
    const { entry } = onlyEntry(sc);
    expect(entry).toMatchObject({ text, api: "mastodon", refused: false });
    const firstKey = statusPosts(h.server).at(-1)?.headers["idempotency-key"];
    expect(entry.idempotencyKey).toBe(firstKey);

    // The entry was tried with another token and names no account: a new token is taken for it only
    // when the run names the account (--user), never silently.
    const unnamed = await sc.run(
      ["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"],
      {
        env: { IDENTICA_TOKEN: h.token },
      },
    );
    expect(unnamed.code).toBe(78);
    const send = await sc.run(
      ["outbox", "send", "--server", h.host, "--user", "alice", "--cacert", h.certPath, "-o", "none"],
      { env: { IDENTICA_TOKEN: h.token } },
    );
    expect(send.code, send.stderr).toBe(0);
    expect(statusPosts(h.server).at(-1)?.headers).toMatchObject({
      authorization: `Bearer ${h.token}`,
      "idempotency-key": firstKey,
    });
    expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
    expectNoToken(old, [r, send], sc);
  });

  it.each([
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const)(
    "%s after the POST went out: the entry is uncertain, and outbox send finds the status instead of posting it again",
    async (signal, code) => {
      const sc = home();
      h.server.faults.push({ fault: { kind: "delay", ms: 400 }, path: /^\/api\/v1\/statuses/, times: 1 });
      const text = fresh(`cut short by ${signal}`);
      const r = await post(sc, [text], {
        onSpawn: (child) => {
          const timer = setInterval(() => {
            if (statusPosts(h.server).length > 0) {
              clearInterval(timer);
              child.kill(signal);
            }
          }, 5);
          child.on("close", () => clearInterval(timer));
        },
      });
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(/may have been posted|had been sent|already sent/);
      const { entry } = onlyEntry(sc);
      expect(entry).toMatchObject({ text, sent: true, api: "mastodon" });
      expect(entry.uncertainSince).toEqual(expect.any(String));
      expect(entry.idempotencyKey).toBe(statusPosts(h.server)[0]?.headers["idempotency-key"]);
      // The server finishes the post after all.
      await until(() => h.server.statuses.some((s) => s.text === text));

      const send = await sc.run([
        "outbox",
        "send",
        "--server",
        h.host,
        "--cacert",
        h.certPath,
        "-o",
        "id",
        "-v",
      ]);
      expect(send.code, send.stderr).toBe(0);
      expect(send.stdout).toBe(`${h.server.statuses.find((s) => s.text === text)?.id}\n`);
      expect(send.stderr).toMatch(/was already posted as #/);
      expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
      // Any second attempt carries the first one's key.
      for (const p of statusPosts(h.server)) expect(p.headers["idempotency-key"]).toBe(entry.idempotencyKey);
      expect(sc.outbox()).toEqual([]);
    },
  );

  it.each(["unlisted", "private", "direct"])(
    "a lost reply to a %s status: outbox send finds it (snac lists only public statuses as the account's) and never posts it twice",
    async (visibility) => {
      const sc = home();
      h.server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
      const text = fresh(`lost ${visibility}`);
      expectFailure(await post(sc, ["--visibility", visibility, text]), 76, /may have been posted/);
      expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
      const send = await sc.run([
        "outbox",
        "send",
        "--server",
        h.host,
        "--cacert",
        h.certPath,
        "-o",
        "none",
        "-v",
      ]);
      expect(send.code, send.stderr).toBe(0);
      expect(send.stderr).toMatch(/was already posted as #/);
      expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
      expect(sc.outbox()).toEqual([]);
    },
  );

  it("a server that rewrites what it stores (markup, entities, links, spaces) is still recognised after a lost reply", async () => {
    const sc = home();
    h.server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses/, times: 1 });
    const text = `${fresh("*really*")} 5<6 & 7>3, "quoted" https://example.com/${"long/".repeat(8)}?a=1&b=2 #tag @bob`;
    const r = await post(sc, [text]);
    expectFailure(r, 76, /may have been posted|outcome/);
    expect(onlyEntry(sc).entry).toMatchObject({ text, sent: true });
    expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);

    const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"]);
    expect(send.code, send.stderr).toBe(0);
    expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
    expect(sc.outbox()).toEqual([]);
  });

  it("a closed stdout after a successful post still exits 0, posted once", async () => {
    const text = fresh("epipe");
    const r = await post(home(), [text], { closeStdout: true });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
    const lines = await post(home(), ["--lines", "-o", "id"], {
      closeStdout: true,
      input: "epipe line 1\nepipe line 2\n",
    });
    expect({ code: lines.code, stderr: lines.stderr }).toEqual({ code: 0, stderr: "" });
    expect(sent().slice(-2)).toEqual([{ status: "epipe line 1" }, { status: "epipe line 2" }]);
  });

  it("a closed stderr on a failed post: the exit code still tells, and the text is in the outbox", async () => {
    h.server.faults.push({
      fault: { kind: "reply", status: 503, body: "" },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });
    const sc = home();
    const text = fresh("stderr closed");
    const r = await post(sc, [text], { closeStderr: true });
    expect(r.code).toBe(75);
    expect(onlyEntry(sc).entry).toMatchObject({ text, exitCode: 75 });
  });

  it("--dry-run checks a limit already in the cache, with the server's URL length, and still sends nothing", async () => {
    h.server.site.maxCharacters = 40;
    const sc = home();
    expect((await post(sc, ["-o", "none", fresh("fills the cache")])).code).toBe(0);
    h.server.requests.length = 0;
    const url = `https://example.com/${"p".repeat(100)}`;
    const fits = `${"d".repeat(40 - 1 - h.server.site.urlLength)} ${url}`;
    expect((await post(sc, ["--dry-run", fits])).code).toBe(0);
    const over = await post(sc, ["--dry-run", `d${fits}`]);
    expectFailure(over, 64, /is 41 characters long, over 127\.0\.0\.1:\d+'s limit of 40/);
    expect(h.server.requests).toEqual([]);
  });

  it("a bare cron environment: no keychain, said at once (78), the text kept; the next job with --token-file sends it", async () => {
    const sc = new Scenario();
    const cron = {
      XDG_CONFIG_HOME: undefined,
      XDG_CACHE_HOME: undefined,
      XDG_STATE_HOME: undefined,
      LANG: undefined,
      TZ: undefined,
      SHELL: "/bin/sh",
      LOGNAME: "nobody",
    };
    const job = ["post", "--server", h.host, "--user", "alice", "--cacert", h.certPath, "-q"];
    const uptime = ` 12:00:01 up 3 days,  load average: 0.42, 0.17, 0.05 ${fresh("cron")}`;
    const r = await sc.run(job, { env: cron, input: `${uptime}\n` });
    expectFailure(r, 78, /no token for alice at .*OS keychain \(unavailable: no D-Bus session/);
    expect(onlyEntry(sc).entry).toMatchObject({ text: uptime, api: "mastodon" });

    const file = secretFile(`${h.token}\n`);
    const send = await sc.run(
      ["--token-file", file, "outbox", "send", "-q", "--server", h.host, "--cacert", h.certPath],
      { env: cron },
    );
    expect({ code: send.code, stdout: send.stdout, stderr: send.stderr }).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
    expect(sent().at(-1)).toEqual({ status: uptime });
    expect(sc.outbox()).toEqual([]);
    const next = await sc.run([...job, "--token-file", file], { env: cron, input: `${uptime} again\n` });
    expect({ code: next.code, stdout: next.stdout, stderr: next.stderr }).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
    expectNoToken(h.token, [r, send, next] as RunResult[], sc);
  });
});

describe("post (mastodon): the server's limit changes between runs", () => {
  const h = useMastodon("mastodon");
  it("a 422 over a lowered limit is 65 with the server's text, and the limit is read again for the next run", async () => {
    const sc = new Scenario({ IDENTICA_TOKEN: h.token });
    const post = (text: string) =>
      sc.run(["post", "--server", h.host, "--cacert", h.certPath, "-o", "none", text]);
    expect((await post(fresh("limit 500"))).code).toBe(0);
    h.server.site.maxCharacters = 100;
    const long = `${fresh("long")} ${"y".repeat(150)}`;
    const r = await post(long);
    expectFailure(
      r,
      65,
      /refused the status \(422\): Validation failed: Text character limit of 100 exceeded/,
    );
    expect(onlyEntry(sc).entry).toMatchObject({ text: long, refused: true });
    expect(h.server.requests.some((q) => q.url === "/api/v2/instance")).toBe(true);

    h.server.requests.length = 0;
    const again = await post(`${fresh("long again")} ${"z".repeat(150)}`);
    expectFailure(again, 64, /over 127\.0\.0\.1:\d+'s limit of 100; nothing was sent/);
    expect(h.server.requests).toEqual([]);
  });
});

describe("post to a StatusNet server: Mastodon-only options are 64 before anything is sent", () => {
  it("--visibility other than public, --cw, --language: refused before reading when the API is known, after the probe otherwise", async () => {
    const tls = testCertificate();
    const gs = await startServer({ tls });
    try {
      const known = ["--server", gs.apiRoot, "--user", "alice", "--cacert", tls.certPath];
      for (const [flags, message] of [
        [["--visibility", "private"], /--visibility private needs a Mastodon-API server/],
        [["--visibility", "direct"], /--visibility direct needs a Mastodon-API server/],
        [["--cw", "x"], /--cw needs a Mastodon-API server/],
        [["--language", "en"], /--language needs a Mastodon-API server/],
      ] as const) {
        const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD });
        // stdin is never read: a pipe that would hang the run if it were.
        const r = await sc.run(["post", ...known, ...flags], { keepStdinOpen: true });
        expectFailure(r, 64, message);
        expect(sc.outbox()).toEqual([]);
      }
      expect(gs.requests).toEqual([]);
      // public is what StatusNet does anyway.
      const pub = await new Scenario({ IDENTICA_PASSWORD: PASSWORD }).run([
        "post",
        ...known,
        "--visibility",
        "public",
        "-o",
        "id",
        fresh("public on statusnet"),
      ]);
      expect(pub.code, pub.stderr).toBe(0);

      // Not known yet: the probe says StatusNet, then 64; the text is not kept (nothing was sent).
      gs.requests.length = 0;
      const host = new URL(gs.origin).host;
      const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD });
      const r = await sc.run([
        "post",
        "--server",
        host,
        "--cacert",
        tls.certPath,
        "--visibility",
        "private",
        fresh("private"),
      ]);
      expectFailure(r, 64, /--visibility private needs a Mastodon-API server/);
      expect(gs.requests.map((q) => q.url)).toEqual([
        "/api/v1/instance",
        "/xrpc/com.atproto.server.describeServer",
      ]);
      expect(sc.outbox()).toEqual([]);
    } finally {
      await gs.close();
    }
  });
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectFailure } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";
import { killOnAuthenticatedPost, PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";

/**
 * Issue 10, as users met it: several runs share one HOME (config, cache, outbox, lock) while the server
 * changes its behaviour, and its clock, between runs (docs/threats.md section I). Each scenario failed on
 * the code before the fix.
 */
const h = useHttpsServer();
beforeEach(() => {
  h.server.clock.offsetMs = 0;
  h.server.site.dupelimit = 60;
});
const scenario = () => new Scenario({ IDENTICA_PASSWORD: PASSWORD });

/** How many live notices hold `marker` (the server may have rewritten the rest of the text). */
const copies = (marker: string, server: TestServer = h.server) =>
  server.store.notices.filter((n) => n.text.includes(marker) && !n.deleted).length;
const updates = (server: TestServer = h.server) =>
  server.requests.filter((r) => r.url.startsWith("/api/statuses/update."));

/** As if the entries were written `ms` earlier: every time in them moves back (state from an earlier day). */
function ageOutbox(s: Scenario, ms: number): void {
  for (const { file, entry } of s.outbox()) {
    for (const key of ["attemptedAt", "uncertainSince"]) {
      const v = entry[key];
      if (typeof v === "string") entry[key] = new Date(Date.parse(v) - ms).toISOString();
    }
    writeFileSync(file, JSON.stringify(entry));
  }
}

describe("posted twice", () => {
  it("a text the server rewrites (entities, whitespace) is a post: exit 0, nothing kept, never sent again", async () => {
    const s = scenario();
    const marker = uniqueText("m");
    // Starts with a command word ("last") and comes back as "last night & today …".
    const text = `last night &amp; today ${marker}`;
    const r = await s.run(["post", ...h.args, "-o", "json", text]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).text).toBe(`last night & today ${marker}`);
    expect(s.outbox()).toEqual([]);
    h.server.clock.advance(120_000);
    expect((await s.run(["outbox", "send", ...h.args])).code).toBe(0);
    expect(copies(marker)).toBe(1);
  });

  it("--if-absent matches the text as the server stores it", async () => {
    const s = scenario();
    const marker = uniqueText("fish");
    const text = `fish &amp; chips\tand\n&lt;peas&gt; ${marker}`;
    expect((await s.run(["post", ...h.args, text])).code).toBe(0);
    h.server.clock.advance(120_000);
    const again = await s.run(["post", ...h.args, "--if-absent", text]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(copies(marker)).toBe(1);
  });

  it("an unknown outcome for a rewritten text: outbox send finds it (XML flattens whitespace) and posts nothing", async () => {
    const s = scenario();
    const marker = uniqueText("lost");
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", path: /update/, times: 1 });
    const r = await s.run(["post", ...h.args, `a &amp; b\n\tc ${marker}`]);
    expectFailure(r, 76, /may have been posted/);
    expect(copies(marker)).toBe(1);
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(copies(marker)).toBe(1);
    expect(s.outbox()).toEqual([]);
  });

  it("a command the server swallowed is 65, kept as refused, and later sends skip it", async () => {
    const s = scenario();
    expect((await s.run(["post", ...h.args, uniqueText("latest")])).code).toBe(0);
    const r = await s.run(["post", ...h.args, "whois bob"]);
    const path = expectFailure(r, 65, /treated the text as its "whois" command and posted nothing/);
    expect(r.stderr).not.toMatch(/send it with: identica outbox send/);
    expect(JSON.parse(readFileSync(path as string, "utf8"))).toMatchObject({ refused: true, exitCode: 65 });
    h.server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code).toBe(0);
    expect(send.stderr).toMatch(
      /was refused \(exit 65: the server treated the text as its "whois" command.*\); skipped \(identica outbox send --retry-refused /,
    );
    expect(updates()).toEqual([]);
    expect(s.outbox()).toHaveLength(1);
    // Asked for, it is tried again (and refused again).
    const retry = await s.run(["outbox", "send", ...h.args, "--retry-refused", s.outbox()[0]?.id as string]);
    expect(retry.code).toBe(65);
    expect(updates()).toHaveLength(1);
  });

  it("a command that made a new notice (fav) is 65 and says the command ran", async () => {
    const s = scenario();
    const asBob = ["--server", h.server.apiRoot, "--user", "bob", "--cacert", h.certPath];
    const bob = await s.run(["post", ...asBob, uniqueText("bob's")], {
      env: { IDENTICA_PASSWORD: "battery staple" },
    });
    expect(bob.code, bob.stderr).toBe(0);
    const r = await s.run(["post", ...h.args, "fav bob"]);
    expectFailure(
      r,
      65,
      /ran the text as its "fav" command, which made notice #\d+ .*; your text was not posted/,
    );
  });

  it("a refused duplicate is already posted: never kept, never sent again after the window", async () => {
    const s = scenario();
    const text = uniqueText("dup");
    expect((await s.run(["post", ...h.args, text])).code).toBe(0);
    const again = await s.run(["post", ...h.args, text]);
    expectFailure(again, 65, /Too many duplicate messages/);
    expect(again.stderr).toMatch(/\nidentica: the status is already on the server; nothing was kept\n$/);
    expect(s.outbox()).toEqual([]);
    h.server.clock.advance(10 * 60_000);
    expect((await s.run(["outbox", "send", ...h.args])).code).toBe(0);
    expect(copies(text)).toBe(1);
  });

  it("a duplicate met by outbox send (an earlier copy got through) removes the entry", async () => {
    const s = scenario();
    const text = uniqueText("dup-outbox");
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(await s.run(["post", ...h.args, text]), 75, /unavailable/);
    h.server.faults.length = 0;
    expect((await s.run(["post", ...h.args, text])).code).toBe(0);
    const send = await s.run(["outbox", "send", ...h.args, "-v"]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stderr).toMatch(/the server already has it .*; removed from the outbox/);
    expect(s.outbox()).toEqual([]);
    expect(copies(text)).toBe(1);
  });

  it("unknown, then down, then up: the search starts at the first uncertain attempt, so one copy", async () => {
    const s = scenario();
    const text = uniqueText("udu");
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", path: /update/, times: 1 });
    expectFailure(await s.run(["post", ...h.args, text]), 76, /may have been posted/);
    // That was ten minutes ago, by both clocks.
    ageOutbox(s, 10 * 60_000);
    for (const n of h.server.store.notices)
      if (n.text === text) n.created = new Date(n.created.getTime() - 10 * 60_000);
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(await s.run(["outbox", "send", ...h.args]), 75, /unavailable/);
    h.server.faults.length = 0;
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(copies(text)).toBe(1);
  });

  it("Ctrl-C during outbox send after the POST went out: recorded as uncertain, the next send checks first", async () => {
    const s = scenario();
    const text = uniqueText("int-send");
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(await s.run(["post", ...h.args, text]), 75, /unavailable/);
    expect(s.outbox()[0]?.entry).toMatchObject({ sent: false });
    h.server.faults.length = 0;
    // The server stores the status a moment after the request arrives; the client is gone by then.
    h.server.faults.push({
      fault: { kind: "delay", ms: 400 },
      when: "authenticated",
      path: /update/,
      times: 1,
    });
    const r = await s.run(["outbox", "send", ...h.args], {
      onSpawn: killOnAuthenticatedPost(h.server, "SIGINT"),
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      /^identica: interrupted \(SIGINT\); after the status was sent; it may have been posted/,
    );
    expect(s.outbox()[0]?.entry).toMatchObject({ sent: true, uncertainSince: expect.any(String) });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(copies(text)).toBe(1);
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(copies(text)).toBe(1);
    expect(s.outbox()).toEqual([]);
  });
});

describe("posted twice or lost, found by a hostile tester after the first fixes", () => {
  it("HTML5-only entities and code points HTML 4.01 forbids are not decoded: --if-absent and outbox send find them", async () => {
    const s = scenario();
    const marker = uniqueText("h5");
    const text = `I &check; it &Tab; &#128; ${marker}`;
    expect((await s.run(["post", ...h.args, text])).code).toBe(0);
    expect(h.server.store.notices.find((n) => n.text.includes(marker))?.text).toBe(text);
    h.server.clock.advance(120_000);
    const again = await s.run(["post", ...h.args, "--if-absent", text]);
    expect(again.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    // A command word in front: a post all the same, not "the command ran".
    const cmd = await s.run(["post", ...h.args, `last night &check; was fun ${marker}`]);
    expect(cmd.code, cmd.stderr).toBe(0);
    expect(copies(marker)).toBe(2);
  });

  it("a lone CR (which XML replies drop) is still this status", async () => {
    const s = scenario();
    const marker = uniqueText("cr");
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", path: /update/, times: 1 });
    expectFailure(await s.run(["post", ...h.args], { input: `last night\rwas fun ${marker}` }), 76, /posted/);
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(copies(marker)).toBe(1);
    const plain = await s.run(["post", ...h.args], { input: `last night\rwas great ${marker}` });
    expect(plain.code, plain.stderr).toBe(0);
  });

  it("another link is another status: neither --if-absent nor outbox send takes it for the earlier one", async () => {
    const s = scenario();
    const marker = uniqueText("rel");
    expect(
      (await s.run(["post", ...h.args, `New release ${marker}: https://example.org/releases/v1.0`])).code,
    ).toBe(0);
    const v2 = await s.run([
      "post",
      ...h.args,
      "--if-absent",
      `New release ${marker}: https://example.org/releases/v2.0`,
    ]);
    expect(v2.code, v2.stderr).toBe(0);
    expect(v2.stdout).not.toMatch(/already posted/);
    h.server.faults.push({
      fault: { kind: "reset-after-read" },
      when: "authenticated",
      path: /update/,
      times: 1,
    });
    expectFailure(
      await s.run(["post", ...h.args, `New release ${marker}: https://example.org/releases/v3.0`]),
      76,
      /posted/,
    );
    expect((await s.run(["outbox", "send", ...h.args])).code).toBe(0);
    expect(copies(marker)).toBe(3);
  });

  it("a server clock five minutes behind: the outbox's search uses the server's own time, one copy", async () => {
    const s = scenario();
    const text = uniqueText("skew");
    h.server.clock.advance(-5 * 60_000);
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", path: /update/, times: 1 });
    expectFailure(await s.run(["post", ...h.args, text]), 76, /posted/);
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(copies(text)).toBe(1);
  });

  it("a server clock corrected by an hour between the uncertain attempt and the retry: still one copy", async () => {
    const s = scenario();
    const text = uniqueText("ntp");
    h.server.clock.advance(-3600_000);
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", path: /update/, times: 1 });
    expectFailure(await s.run(["post", ...h.args, text]), 76, /posted/);
    expect(s.outbox()[0]?.entry.uncertainSinceServer).toEqual(expect.any(String));
    h.server.clock.advance(3600_000);
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\n/);
    expect(copies(text)).toBe(1);
  });

  it("a server error that echoes the credential: not in the outbox file, nor in outbox list", async () => {
    const s = scenario();
    const basic = Buffer.from(`alice:${PASSWORD}`).toString("base64");
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 400,
        body: `<?xml version="1.0"?>\n<hash><error>bad login alice:${PASSWORD} / ${basic}</error></hash>`,
      },
      when: "authenticated",
      path: /update/,
    });
    const r = await s.run(["post", ...h.args, uniqueText("echo")]);
    expect(r.code).toBe(65);
    const file = readFileSync(s.outbox()[0]?.file as string, "utf8");
    const list = await s.run(["outbox", "list", "-o", "json"]);
    for (const where of [file, list.stdout, r.stderr]) {
      expect(where).not.toContain(`alice:${PASSWORD}`);
      expect(where).not.toContain(basic.replace(/=+$/, ""));
    }
  });

  it("an entry of another user on the same server does not get the run's --password-file", async () => {
    const s = new Scenario();
    const dir = mkdtempSync(join(tmpdir(), "identica-pw-"));
    const pw = join(dir, "pw");
    writeFileSync(pw, `${PASSWORD}\n`);
    chmodSync(pw, 0o600);
    const bobs = ["--server", h.server.apiRoot, "--user", "bob", "--cacert", h.certPath];
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(
      await s.run(["post", ...bobs, uniqueText("bob's")], { env: { IDENTICA_PASSWORD: "battery staple" } }),
      75,
      /unavailable/,
    );
    h.server.faults.length = 0;
    h.server.requests.length = 0;
    const r = await s.run(["outbox", "send", ...h.args, "--password-file", pw]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(
      /no password for bob at .*--password-file and IDENTICA_PASSWORD apply only to alice/,
    );
    const basics = h.server.requests.map((q) => String(q.headers.authorization ?? ""));
    expect(basics.filter((a) => a !== "")).toEqual([]);
  });

  it("netrc's default entry names no host: it is not used for another server's entry", async () => {
    const b = await startServer();
    try {
      const s = new Scenario();
      const netrc = join(s.home, ".netrc");
      writeFileSync(netrc, `default login alice password "${PASSWORD}"\n`);
      chmodSync(netrc, 0o600);
      const forB = uniqueText("netrc-b");
      b.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
      expectFailure(await s.run(["post", "--server", b.apiRoot, "--user", "alice", forB]), 75, /unavailable/);
      b.faults.length = 0;
      b.requests.length = 0;
      const r = await s.run(["outbox", "send", ...h.args]);
      expect(r.code).toBe(78);
      expect(b.requests.filter((q) => q.headers.authorization !== undefined)).toEqual([]);
      // Its own run may use it.
      expect((await s.run(["outbox", "send", "--server", b.apiRoot, "--user", "alice"])).code).toBe(0);
      expect(copies(forB, b)).toBe(1);
    } finally {
      await b.close();
    }
  });

  it("an entry that would put control characters on the wire or the screen is listed as corrupt, never sent", async () => {
    const s = scenario();
    const dir = s.ensureOutboxDir();
    writeFileSync(
      join(dir, "20260101-000000000-aaaaaa.json"),
      JSON.stringify({
        text: "hello",
        server: h.server.apiRoot,
        user: "alice\u001b[31m",
        replyTo: "12\u001b[2J",
        source: "id\u001b[2J",
        attemptedAt: "2026-01-01T00:00:00Z",
        uncertainSince: null,
        sent: false,
        refused: false,
        exitCode: 75,
        error: "x",
      }),
    );
    const list = await s.run(["outbox", "list"]);
    expect(list.stdout).toMatch(
      /CORRUPT: "user" holds a control character; "replyTo" holds a control character; "source" holds/,
    );
    expect(list.stdout + list.stderr).not.toContain("\u001b");
    h.server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.stderr).toMatch(/is corrupt/);
    expect(send.stderr).not.toContain("\u001b");
    expect(updates()).toEqual([]);
  });

  it("the search for an uncertain entry pages back past a busy run of 55 later posts: one copy", async () => {
    const s = scenario();
    const text = uniqueText("important");
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", path: /update/, times: 1 });
    expectFailure(await s.run(["post", ...h.args, text]), 76, /posted/);
    const busy = Array.from({ length: 55 }, (_, i) => `${uniqueText("busy")} ${i}`).join("\n");
    expect((await s.run(["post", ...h.args, "--lines", "-o", "none"], { input: busy })).code).toBe(0);
    h.server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect(copies(text)).toBe(1);
    expect(updates()).toEqual([]);
  });

  it("a V8 code cache damaged on disk, or a FIFO in its place: ignored and replaced, never a crash or a hang", async () => {
    const s = scenario();
    expect((await s.run(["post", ...h.args, uniqueText("warm")])).code).toBe(0);
    const v8 = join(s.env.XDG_CACHE_HOME as string, "identica", "v8");
    const start = readdirSync(v8).find((f) => f.startsWith("start.cjs-") && f.endsWith(".bin")) as string;
    const file = join(v8, start);
    const bytes = readFileSync(file);
    bytes.fill(0, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 8192);
    writeFileSync(file, bytes);
    const damaged = await s.run(["post", ...h.args], { input: uniqueText("after damage") });
    expect(damaged.code, damaged.stderr).toBe(0);
    expect(damaged.stderr).toBe("");
    // Replaced by a good one, which the next run uses.
    expect((await s.run(["post", ...h.args, uniqueText("after repair")])).code).toBe(0);
    rmSync(file);
    execFileSync("mkfifo", [file]);
    const fifo = await s.run(["post", ...h.args, uniqueText("fifo cache")], {
      onSpawn: (child) => {
        setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
      },
    });
    expect(fifo.signal).toBeNull();
    expect(fifo.code, fifo.stderr).toBe(0);
    expect(readdirSync(v8).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("an outbox lock that is a folder: 78 saying so, not 75 forever", async () => {
    const s = scenario();
    mkdirSync(join(s.stateDir, "outbox.lock"), { recursive: true });
    const r = await s.run(["outbox", "send", ...h.args]);
    expectFailure(r, 78, /the outbox lock .* is a directory, not a file/);
  });

  it("an entry whose replyTo is no status id of its server (a hand-edited file): refused, nothing sent", async () => {
    const s = scenario();
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(
      await s.run(["post", ...h.args, "--reply-to", "30", uniqueText("edited")]),
      75,
      /unavailable/,
    );
    h.server.faults.length = 0;
    const { file, entry } = s.outbox()[0] as { file: string; entry: Record<string, unknown> };
    writeFileSync(file, JSON.stringify({ ...entry, replyTo: "../../x" }));
    h.server.requests.length = 0;
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code).toBe(65);
    expect(send.stderr).toMatch(/"replyTo" takes a numeric status id, not "\.\.\/\.\.\/x"; nothing was sent/);
    expect(updates()).toEqual([]);
    expect(s.outbox()[0]?.entry).toMatchObject({ refused: true, exitCode: 65 });
  });

  it("stdout or stderr on a full disk (ENOSPC) never changes the code", async () => {
    const s = scenario();
    const full = await s.run(["post", ...h.args, "-o", "json", uniqueText("full")], {
      stdoutTo: "/dev/full",
    });
    expect(full.code).toBe(0);
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    const err = await s.run(["post", ...h.args, uniqueText("full2")], { stderrTo: "/dev/full" });
    expect(err.code).toBe(75);
  });
});

describe("lost (items 6, 7)", () => {
  it("SIGHUP mid-post (terminal closed): 129, the message, and the piped text in the outbox", async () => {
    const s = scenario();
    const text = `${uniqueText("hup")}\nsecond line`;
    h.server.faults.push({ fault: { kind: "hang" }, when: "authenticated", path: /update/ });
    const r = await s.run(["post", ...h.args], {
      input: text,
      onSpawn: killOnAuthenticatedPost(h.server, "SIGHUP"),
    });
    expect(r.code).toBe(129);
    expect(r.stderr).toMatch(
      /^identica: interrupted \(SIGHUP\); after the status was sent; it may have been posted/,
    );
    expect(s.outbox()[0]?.entry).toMatchObject({ text, sent: true, exitCode: 129 });
  });

  it("an outbox that cannot be written: says so and prints the whole text on stderr", async () => {
    const s = scenario();
    // A state "folder" that is a file: mkdir fails even for root.
    const notADir = join(s.home, "state-file");
    writeFileSync(notADir, "");
    const text = `${uniqueText("unsaved")}\n  second line, kept as typed`;
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    const r = await s.run(["post", ...h.args], { input: text, env: { XDG_STATE_HOME: notADir } });
    expect(r.code).toBe(75);
    expect(r.stderr).toBe(
      `${r.stderr.split("\n")[0]}\nidentica: the status could not be saved in the outbox (${/\(([^)]*ENOTDIR[^)]*)\)/.exec(r.stderr)?.[1]}); here it is:\n${text}\n`,
    );
    expect(r.stderr).not.toMatch(/saved in the outbox:/);
  });
});

describe("sent to another server (item 8)", () => {
  let b: TestServer;
  beforeAll(async () => {
    b = await startServer();
  });
  afterAll(async () => {
    await b?.close();
  });

  it("--password-file and IDENTICA_PASSWORD go to the configured server only; B's entry is skipped, A's are sent", async () => {
    const s = new Scenario();
    const dir = mkdtempSync(join(tmpdir(), "identica-pw-"));
    const pw = join(dir, "pw");
    writeFileSync(pw, `${PASSWORD}\n`);
    chmodSync(pw, 0o600);
    const forB = uniqueText("for-b");
    const forA = uniqueText("for-a");
    b.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(
      await s.run(["post", "--server", b.apiRoot, "--user", "alice", "--password-file", pw, forB]),
      75,
      /unavailable/,
    );
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    expectFailure(await s.run(["post", ...h.args, "--password-file", pw, forA]), 75, /unavailable/);
    b.faults.length = 0;
    h.server.faults.length = 0;
    b.requests.length = 0;
    for (const env of [{}, { IDENTICA_PASSWORD: PASSWORD }]) {
      const r = await s.run(["outbox", "send", ...h.args, "--password-file", pw], { env });
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(
        /: no password for alice at 127\.0\.0\.1:\d+; tried .*--password-file and IDENTICA_PASSWORD apply only to 127\.0\.0\.1:\d+; send it with: identica --server http:\/\/127\.0\.0\.1:\d+\/api outbox send/,
      );
      expect(r.stderr).not.toContain(PASSWORD);
    }
    expect(b.requests.length).toBeGreaterThan(0);
    expect(b.requests.filter((q) => q.headers.authorization !== undefined)).toEqual([]);
    expect(copies(forA)).toBe(1);
    expect(copies(forB, b)).toBe(0);
    expect(s.outbox().map((e) => e.entry.text)).toEqual([forB]);
    // Sent as its own server's run, it goes.
    const own = await s.run([
      "outbox",
      "send",
      "--server",
      b.apiRoot,
      "--user",
      "alice",
      "--password-file",
      pw,
    ]);
    expect(own.code, own.stderr).toBe(0);
    expect(copies(forB, b)).toBe(1);
  });
});

describe("the wrong exit code (items 10, 14)", () => {
  it("a closed stderr never changes the code (EPIPE): 75 stays 75, 76 stays 76", async () => {
    const s = scenario();
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    const down = await s.run(["post", ...h.args, uniqueText("epipe")], { closeStderr: true });
    expect(down.code).toBe(75);
    h.server.faults.length = 0;
    h.server.faults.push({ fault: { kind: "reset-after-read" }, when: "authenticated", path: /update/ });
    const unknown = await s.run(["post", ...h.args, "-v", uniqueText("epipe")], { closeStderr: true });
    expect(unknown.code).toBe(76);
    expect(s.outbox()).toHaveLength(2);
  });

  it("accounts with no server configured says that it looked nothing up, rather than 'no accounts stored'", async () => {
    const s = new Scenario();
    const r = await s.run(["accounts"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^No server is configured, so no keychain entry was looked up\./);
  });

  it("outbox send on a machine where nothing has failed yet: 0, the README's hourly cron line", async () => {
    const s = new Scenario();
    const r = await s.run(["outbox", "send", "-q"]);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const listed = await s.run(["outbox", "send"]);
    expect(listed).toMatchObject({ code: 0, stdout: "The outbox is empty.\n", stderr: "" });
  });
});

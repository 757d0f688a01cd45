import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { PrivateKeyring } from "../helpers/keyring.js";
import { keytarStore, statusPosts } from "../helpers/mastodon-post.js";
import { fresh, killWhen, MPOST, SPOST, shellCode, unavailable, useTwoServers } from "../helpers/multi.js";
import { PASSWORD, postsTo } from "../helpers/setup.js";
import type { TestServer } from "../server/gnusocial.js";
import type { MastodonServer } from "../server/mastodon.js";

/**
 * Issue 14 end to end: `post --to` a StatusNet account and a Mastodon account at once, each look-alike
 * on loopback, each credential from the private keyring (or netrc for StatusNet). Every request's
 * Authorization is inspected on both servers: a credential never reaches the other one.
 */

const t = useTwoServers();
const { M, B, S, home, landed, expectCredentialsHome, post } = t;
let keyring: PrivateKeyring;
let sn: TestServer;
let md: MastodonServer;
let token: string;
let bobToken: string;
beforeAll(() => {
  ({ keyring, sn, md, token, bobToken } = t);
});
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`;

describe("success to both", () => {
  it("pretty: one line per target, handle then URL; exit 0; each with its own credential", async () => {
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["--to", M(), "--to", S(), text]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(3);
    // Printed as each target finishes: found by handle.
    expect(lineOf(r.stdout, M())).toMatch(
      new RegExp(`^${M().replace(/\./g, "\\.")}\\s+http://127\\.0\\.0\\.1:\\d+/@alice/\\d+$`),
    );
    expect(lineOf(r.stdout, S())).toMatch(
      new RegExp(`^${S().replace(/\./g, "\\.")}\\s+http://127\\.0\\.0\\.1:\\d+/notice/\\d+$`),
    );
    expect(statusPosts(md).map((q) => q.headers.authorization)).toEqual([`Bearer ${token}`]);
    expect(
      postsTo(sn)
        .filter((q) => q.headers.authorization)
        .map((q) => q.headers.authorization),
    ).toEqual([BASIC]);
    expectCredentialsHome();
    expect(sc.outbox()).toEqual([]);
  });
});

describe("output forms", () => {
  it("-o json: an array of {account, ok, exitCode, status}", async () => {
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["-o", "json", "--to", `${S()},${M()}`, text]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(
      rows.map((x: { account: string; ok: boolean; exitCode: number }) => [x.account, x.ok, x.exitCode]),
    ).toEqual([
      [S(), true, 0],
      [M(), true, 0],
    ]);
    expect(rows[0].status.text).toBe(text);
    expect(rows[1].status.text).toBe(text);
    expect(rows[0].error).toBeUndefined();
  });

  it("-o id and -o url: one line per target in the order given", async () => {
    const sc = home();
    const ids = await post(sc, ["-o", "id", "--to", S(), "--to", M(), fresh()]);
    expect(ids.code).toBe(0);
    const mid = md.statuses.at(-1)?.id;
    const sid = sn.store.notices.at(-1)?.id;
    expect(ids.stdout).toBe(`${sid}\n${mid}\n`);
    const urls = await post(sc, ["-o", "url", "--to", M(), "--to", S(), fresh()]);
    expect(urls.code).toBe(0);
    expect(urls.stdout).toBe(
      `${md.origin}/@alice/${md.statuses.at(-1)?.id}\n${sn.origin}/notice/${sn.store.notices.at(-1)?.id}\n`,
    );
    expectCredentialsHome();
  });

  it("one --to prints exactly what a plain post prints", async () => {
    const sc = home();
    for (const form of [[], ["-o", "json"], ["-o", "id"]]) {
      const a = await post(sc, [...form, "--to", S(), `same shape one ${form.join("")}`]);
      const b = await post(sc, [...form, "--server", sn.apiRoot, `same shape two ${form.join("")}`]);
      expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
      const norm = (t: string) => t.replace(/same shape (one|two)/g, "TEXT").replace(/\d+/g, "N");
      expect(norm(a.stdout)).toBe(norm(b.stdout));
      expect(a.stdout).not.toMatch(/^\[/);
    }
  });
});

describe("one target fails, the other succeeds", () => {
  it("503 from Mastodon: 75, kept for that account only; the StatusNet status posted", async () => {
    const sc = home();
    const text = fresh();
    md.faults.push({ fault: unavailable, path: MPOST });
    const r = await post(sc, ["--to", M(), "--to", S(), text]);
    expect(r.code).toBe(75);
    expect(r.stdout).toMatch(/failed \(exit 75\)/);
    expect(lineOf(r.stdout, S())).toMatch(/\/notice\/\d+$/);
    expect(r.stderr).toMatch(new RegExp(`^identica: ${M().replace(/\./g, "\\.")}: .*`));
    const entries = sc.outbox();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.entry).toMatchObject({ text, server: md.origin, user: "alice", api: "mastodon" });
    expect(landed(text)).toEqual({ mastodon: 0, statusnet: 1 });
    expectCredentialsHome();
  });

  it("503 from StatusNet: 75, kept for that account only; the Mastodon status posted", async () => {
    const sc = home();
    const text = fresh();
    sn.faults.push({
      fault: { ...unavailable, body: "<error>busy</error>" },
      path: SPOST,
      when: "authenticated",
    });
    const r = await post(sc, ["-o", "json", "--to", M(), "--to", S(), text]);
    expect(r.code).toBe(75);
    const rows = JSON.parse(r.stdout);
    expect(rows[0]).toMatchObject({ account: M(), ok: true, exitCode: 0 });
    expect(rows[1]).toMatchObject({ account: S(), ok: false, exitCode: 75 });
    expect(typeof rows[1].error).toBe("string");
    const entries = sc.outbox();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.entry).toMatchObject({ text, server: sn.apiRoot, user: "alice", api: "statusnet" });
    expect(landed(text)).toEqual({ mastodon: 1, statusnet: 0 });
    expectCredentialsHome();
  });

  it("the reply lost after the status was saved: 76, kept as uncertain; the other posted", async () => {
    for (const side of ["mastodon", "statusnet"] as const) {
      const sc = home();
      const text = fresh();
      if (side === "mastodon") md.faults.push({ fault: { kind: "lose-reply" }, path: MPOST, times: 1 });
      else sn.faults.push({ fault: { kind: "lose-reply" }, path: SPOST, when: "authenticated", times: 1 });
      const r = await post(sc, ["-o", "id", "--to", M(), "--to", S(), text]);
      expect(r.code, r.stderr).toBe(76);
      expect(landed(text)).toEqual({ mastodon: 1, statusnet: 1 });
      const lines = r.stdout.split("\n");
      expect(lines[side === "mastodon" ? 0 : 1]).toBe("");
      expect(lines[side === "mastodon" ? 1 : 0]).toMatch(/^\d+$/);
      const entries = sc.outbox();
      expect(entries).toHaveLength(1);
      expect(entries[0]?.entry.server).toBe(side === "mastodon" ? md.origin : sn.apiRoot);
      // Then outbox send finds it posted, and posts no second copy.
      const s = await sc.run(["outbox", "send"]);
      expect(s.code, s.stderr).toBe(0);
      expect(landed(text)).toEqual({ mastodon: 1, statusnet: 1 });
      expect(sc.outbox()).toEqual([]);
    }
    expectCredentialsHome();
  });

  it("a wrong credential: 77 for that account (the Mastodon token, or the StatusNet password from netrc)", async () => {
    await keytarStore(keyring.env, `identica:${md.domain}`, "bob", "not-a-token-of-bob");
    try {
      const sc = home();
      const text = fresh();
      const r = await post(sc, ["--to", B(), "--to", S(), text]);
      expect(r.code, r.stderr).toBe(77);
      expect(landed(text)).toEqual({ mastodon: 0, statusnet: 1 });
      expect(r.stderr).not.toContain("not-a-token-of-bob");
    } finally {
      await keytarStore(keyring.env, `identica:${md.domain}`, "bob", bobToken);
    }
    const netrc = join(home().home, "netrc");
    writeFileSync(netrc, "machine 127.0.0.1 login bob password wrong-password\n", { mode: 0o600 });
    const sc = home({}, { NETRC: netrc });
    const text = fresh();
    const r = await post(sc, ["--to", M(), "--to", `bob@${new URL(sn.origin).host}`, text]);
    expect(r.code, r.stderr).toBe(77);
    expect(landed(text)).toEqual({ mastodon: 1, statusnet: 0 });
    expect(r.stderr).not.toContain("wrong-password");
    // The netrc password went to the StatusNet server only.
    for (const q of md.requests) expect(String(q.headers.authorization ?? "")).not.toMatch(/^Basic/);
    expectCredentialsHome();
  });

  it("the exit code is the most serious failure: 76 over 75, 77 over 75", async () => {
    let sc = home();
    md.faults.push({ fault: { kind: "lose-reply" }, path: MPOST, times: 1 });
    sn.faults.push({
      fault: { ...unavailable, body: "<error>busy</error>" },
      path: SPOST,
      when: "authenticated",
    });
    let r = await post(sc, ["--to", M(), "--to", S(), fresh()]);
    expect(r.code, r.stderr).toBe(76);
    expect(sc.outbox()).toHaveLength(2);
    md.faults.length = 0;
    md.faults.push({ fault: unavailable, path: MPOST });
    sc = home();
    const netrc = join(sc.home, "netrc");
    writeFileSync(netrc, "machine 127.0.0.1 login bob password wrong-password\n", { mode: 0o600 });
    sn.faults.length = 0;
    r = await post(sc, ["--to", M(), "--to", `bob@${new URL(sn.origin).host}`, fresh()], {
      env: { NETRC: netrc },
    });
    expect(r.code, r.stderr).toBe(77);
  });

  it("too long for one target only: 64 and nothing posted anywhere (either count over)", async () => {
    // Mastodon counts a URL as 23 characters; StatusNet counts it as written.
    const url = `https://example.com/${"p".repeat(200)}`;
    const cases: { text: string; setup: () => void }[] = [
      { text: `mastodon over ${"x".repeat(500)}`, setup: () => {} },
      {
        text: `statusnet over ${url}`,
        setup: () => {
          sn.site.textlimit = 140;
        },
      },
    ];
    for (const c of cases) {
      c.setup();
      const sc = home();
      const r = await post(sc, ["--to", M(), "--to", S(), c.text]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/nothing was sent to any account/);
      expect(statusPosts(md)).toEqual([]);
      expect(postsTo(sn)).toEqual([]);
      expect(sc.outbox()).toEqual([]);
      sn.site.textlimit = 1000;
    }
    expectCredentialsHome();
  });

  it("a dead server (no answer) does not hold the other's result past its own --timeout", async () => {
    const sc = home();
    const text = fresh();
    md.faults.push({ fault: { kind: "hang" }, path: MPOST });
    const started = Date.now();
    const r = await post(sc, ["--timeout", "2", "--to", M(), "--to", S(), text]);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Its request had gone out: the status may have been posted there (76), and is kept.
    expect(r.code, r.stderr).toBe(76);
    expect(lineOf(r.stdout, S())).toMatch(/\/notice\/\d+$/);
    expect(landed(text).statusnet).toBe(1);
    expect(sc.outbox()).toHaveLength(1);
  });
});

describe("what only one API or one target can take", () => {
  it("--reply-to with two targets: 64, nothing sent", async () => {
    const sc = home();
    const r = await post(sc, ["--to", M(), "--to", S(), "--reply-to", "1", fresh()]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--reply-to/);
    expect([...md.requests, ...sn.requests]).toEqual([]);
  });

  it("--visibility private / --cw with a StatusNet target: 64, nothing sent anywhere", async () => {
    for (const opt of [
      ["--visibility", "private"],
      ["--cw", "spoiler"],
      ["--visibility", "direct"],
    ]) {
      const sc = home();
      const r = await post(sc, [...opt, "--to", M(), "--to", S(), fresh()]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr.split("\n")).toHaveLength(2);
      // Refused before anything is sent: the APIs are in the config, so not even a limit lookup.
      expect([...md.requests, ...sn.requests].map((q) => q.url)).toEqual([]);
      expect(sc.outbox()).toEqual([]);
    }
  });

  it("--visibility private and --cw work with Mastodon-only targets, each with its own token", async () => {
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["--visibility", "private", "--cw", "cw", "--to", M(), "--to", B(), text]);
    expect(r.code, r.stderr).toBe(0);
    const sent = statusPosts(md);
    expect(sent.map((q) => q.headers.authorization)).toEqual(
      expect.arrayContaining([`Bearer ${token}`, `Bearer ${bobToken}`]),
    );
    const made = md.statuses.filter((s) => s.text === text);
    expect(made.map((s) => s.visibility)).toEqual(["private", "private"]);
    expect(made.map((s) => s.spoilerText)).toEqual(["cw", "cw"]);
    const one = await post(sc, ["--visibility", "private", "--to", M(), fresh()]);
    expect(one.code, one.stderr).toBe(0);
  });
});

describe("naming the targets", () => {
  it("--to all: every keychain account of the servers in the config", async () => {
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["-o", "json", "--to", "all", text]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { account: string; ok: boolean }[];
    expect(rows.map((x) => x.account).sort()).toEqual([M(), B(), S()].sort());
    expect(rows.every((x) => x.ok)).toBe(true);
    expect(landed(text)).toEqual({ mastodon: 2, statusnet: 1 });
    expectCredentialsHome();
  });

  it("config set targets is the default for post without --to; --server overrides it", async () => {
    const sc = home();
    const set = await sc.run(["config", "set", "targets", `${M()},${S()}`]);
    expect(set.code, set.stderr).toBe(0);
    const text = fresh();
    const r = await post(sc, ["-o", "id", text]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toHaveLength(3);
    expect(landed(text)).toEqual({ mastodon: 1, statusnet: 1 });
    const only = fresh();
    const o = await post(sc, ["-o", "id", "--server", sn.apiRoot, only]);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stdout).toMatch(/^\d+\n$/);
    expect(landed(only)).toEqual({ mastodon: 0, statusnet: 1 });
    const env = fresh();
    const e = await post(sc, ["-o", "id", env], { env: { IDENTICA_SERVER: md.origin } });
    expect(e.code, e.stderr).toBe(0);
    expect(landed(env)).toEqual({ mastodon: 1, statusnet: 0 });
    expectCredentialsHome();
  });

  it("a --to that is not a handle: 64, nothing sent", async () => {
    const sc = home();
    for (const bad of ["alice", "alice@", "@127.0.0.1", `alice@${md.domain}/x`]) {
      const r = await post(sc, ["--to", M(), "--to", bad, fresh()]);
      expect(r.code, bad).toBe(64);
      expect(r.stderr.split("\n"), r.stderr).toHaveLength(2);
    }
    expect([...md.requests, ...sn.requests]).toEqual([]);
  });
});

describe("per target: --if-absent, --dry-run, --lines", () => {
  it("--if-absent skips the account that has it and posts where it is absent", async () => {
    const sc = home();
    const text = fresh();
    expect((await post(sc, ["--to", S(), text])).code).toBe(0);
    const r = await post(sc, ["--if-absent", "--to", M(), "--to", S(), text]);
    expect(r.code, r.stderr).toBe(0);
    expect(landed(text)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(lineOf(r.stdout, S())).toMatch(/\(already posted\)$/);
    expect(lineOf(r.stdout, M())).not.toMatch(/already/);
    expectCredentialsHome();
  });

  it("--dry-run describes each account's request and sends nothing", async () => {
    const sc = home();
    const r = await post(sc, ["--dry-run", "--to", M(), "--to", S(), fresh("dry")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`# ${M()}`);
    expect(r.stdout).toContain(`# ${S()}`);
    expect(r.stdout.indexOf(`# ${M()}`)).toBeLessThan(r.stdout.indexOf(`# ${S()}`));
    expect(r.stdout).not.toContain(token);
    expect(r.stdout).not.toContain(PASSWORD);
    expect([...statusPosts(md), ...postsTo(sn)]).toEqual([]);
    expect(sc.outbox()).toEqual([]);
  });

  it("post --lines: every line to both accounts", async () => {
    const sc = home();
    const [a, b] = [fresh("line"), fresh("line")];
    const r = await post(sc, ["--lines", "--to", M(), "--to", S()], { input: `${a}\n${b}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(landed(a)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(landed(b)).toEqual({ mastodon: 1, statusnet: 1 });
    expectCredentialsHome();
  });

  it("post --lines: a line over one account's limit is 64 for every account, and the stream goes on", async () => {
    const sc = home();
    md.site.maxCharacters = 40;
    const [a, long, b] = [fresh("line"), `${fresh("long")} ${"y".repeat(60)}`, fresh("line")];
    const r = await post(sc, ["--lines", "--to", M(), "--to", S()], { input: `${a}\n${long}\n${b}\n` });
    expect(r.code, r.stderr).toBe(64);
    expect(landed(a)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(landed(long)).toEqual({ mastodon: 0, statusnet: 0 });
    expect(landed(b)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(r.stderr).toMatch(/^identica: line 2: /m);
    // The refused line is quoted in full, so that it is not lost.
    expect(r.stderr).toContain(long);
  });
});

describe("signals and the outbox", () => {
  it("SIGTERM while Mastodon's POST hangs and StatusNet has answered: only the hung one is kept; outbox send sends it", async () => {
    const sc = home();
    const text = fresh();
    md.faults.push({ fault: { kind: "hang" }, path: MPOST, times: 1 });
    let answeredAt = 0;
    const r = await post(sc, ["--to", M(), "--to", S(), text], {
      onSpawn: killWhen(() => {
        if (statusPosts(md).length === 0 || landed(text).statusnet === 0) return false;
        answeredAt ||= Date.now();
        return Date.now() - answeredAt > 300;
      }, "SIGTERM"),
    });
    expect(shellCode(r), r.stderr).toBe(143);
    expect(r.stderr).toContain(`identica: ${M()}: its request had gone out`);
    expect(r.stderr).not.toContain(`${S()}: `);
    const entries = sc.outbox();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.entry).toMatchObject({ text, server: md.origin, user: "alice" });
    const s = await sc.run(["outbox", "send"]);
    expect(s.code, s.stderr).toBe(0);
    expect(landed(text)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(sc.outbox()).toEqual([]);
    expectCredentialsHome();
  });

  it("SIGINT with both POSTs hanging: both kept; outbox send sends each to its own server, the run's own credential nowhere else", async () => {
    const sc = home();
    const text = fresh();
    md.faults.push({ fault: { kind: "hang" }, path: MPOST, times: 1 });
    sn.faults.push({ fault: { kind: "hang" }, path: SPOST, when: "authenticated", times: 1 });
    const r = await post(sc, ["--to", M(), "--to", S(), text], {
      onSpawn: killWhen(
        () => statusPosts(md).length > 0 && postsTo(sn).some((q) => q.headers.authorization),
        "SIGINT",
      ),
    });
    expect(shellCode(r), r.stderr).toBe(130);
    expect(r.stderr).toContain(`identica: ${M()}: its request had gone out`);
    expect(r.stderr).toContain(`identica: ${S()}: its request had gone out`);
    const entries = sc.outbox();
    expect(entries.map((e) => e.entry.server).sort()).toEqual([md.origin, sn.apiRoot].sort());
    // The run's own server is the StatusNet one: its IDENTICA_PASSWORD and (unused there) IDENTICA_TOKEN
    // must not reach the Mastodon server, which uses alice's token from the keychain.
    const envToken = md.issueToken("alice");
    md.requests.length = 0;
    sn.requests.length = 0;
    const s = await sc.run(["outbox", "send"], {
      env: { IDENTICA_SERVER: sn.apiRoot, IDENTICA_PASSWORD: PASSWORD, IDENTICA_TOKEN: envToken },
    });
    expect(s.code, s.stderr).toBe(0);
    expect(landed(text)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(statusPosts(md).map((q) => q.headers.authorization)).toEqual([`Bearer ${token}`]);
    for (const q of [...md.requests, ...sn.requests])
      expect(JSON.stringify(q.headers) + q.body.toString()).not.toContain(envToken);
    expectCredentialsHome();
    expect(sc.outbox()).toEqual([]);
  });

  it("the Idempotency-Keys of two targets differ; each entry keeps its own and outbox send uses it", async () => {
    const sc = home();
    const text = fresh();
    md.faults.push({ fault: unavailable, path: MPOST, times: 2 });
    const r = await post(sc, ["--to", M(), "--to", B(), text]);
    expect(r.code, r.stderr).toBe(75);
    const sent = statusPosts(md).map((q) => [q.headers.authorization, q.headers["idempotency-key"]]);
    expect(sent).toHaveLength(2);
    const entries = sc.outbox().map((e) => e.entry as unknown as { user: string; idempotencyKey: string });
    expect(entries).toHaveLength(2);
    const keyOf = (user: string) => entries.find((e) => e.user === user)?.idempotencyKey;
    expect(keyOf("alice")).toBeDefined();
    expect(keyOf("alice")).not.toBe(keyOf("bob"));
    expect(sent).toEqual(
      expect.arrayContaining([
        [`Bearer ${token}`, keyOf("alice")],
        [`Bearer ${bobToken}`, keyOf("bob")],
      ]),
    );
    md.requests.length = 0;
    const s = await sc.run(["outbox", "send"]);
    expect(s.code, s.stderr).toBe(0);
    expect(statusPosts(md).map((q) => [q.headers.authorization, q.headers["idempotency-key"]])).toEqual(
      expect.arrayContaining([
        [`Bearer ${token}`, keyOf("alice")],
        [`Bearer ${bobToken}`, keyOf("bob")],
      ]),
    );
    expect(
      md.statuses
        .filter((x) => x.text === text)
        .map((x) => x.username)
        .sort(),
    ).toEqual(["alice", "bob"]);
  });
});

/** A target's pretty line: they are printed as each target finishes, so found by handle. */
function lineOf(stdout: string, handle: string): string {
  return stdout.split("\n").find((l) => l.startsWith(handle)) ?? "";
}

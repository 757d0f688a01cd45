import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunOptions, RunResult } from "../helpers/cli.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";
import { keytarStore, statusPosts } from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";
import { PASSWORD, postsTo } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { type MastodonServer, startMastodon } from "../server/mastodon.js";

/**
 * Issue 14 end to end: `post --to` a StatusNet account and a Mastodon account at once, each look-alike
 * on loopback, each credential from the private keyring (or netrc for StatusNet). Every request's
 * Authorization is inspected on both servers: a credential never reaches the other one.
 */

let keyring: PrivateKeyring;
let sn: TestServer;
let md: MastodonServer;
let token: string;
let bobToken: string;
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`;

beforeAll(async () => {
  keyring = await startKeyring();
  sn = await startServer();
  md = await startMastodon({ mode: "mastodon" });
  token = md.issueToken("alice");
  bobToken = md.issueToken("bob");
  await keytarStore(keyring.env, `identica:${md.domain}`, "alice", token);
  await keytarStore(keyring.env, `identica:${md.domain}`, "bob", bobToken);
  await keytarStore(keyring.env, `identica:${new URL(sn.origin).host}`, "alice", PASSWORD);
});
afterAll(async () => {
  keyring?.close();
  await sn?.close();
  await md?.close();
});
beforeEach(() => {
  for (const s of [sn, md]) {
    s.requests.length = 0;
    s.faults.length = 0;
  }
  sn.site.textlimit = 1000;
  md.site.maxCharacters = 500;
});

/** alice on the Mastodon look-alike, then alice on the StatusNet one. */
const M = () => `alice@${md.domain}`;
/** bob on the Mastodon look-alike (a second Mastodon account, with a token of his own). */
const B = () => `bob@${md.domain}`;
const S = () => `alice@${new URL(sn.origin).host}`;

let n = 0;
const fresh = (p = "multi") => `${p} ${process.pid}-${++n}`;

/** A home whose config knows both servers (as two logins would have written it). */
function home(extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Scenario {
  const sc = new Scenario({
    DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS as string,
    ...env,
  });
  const dir = join(sc.env.XDG_CONFIG_HOME as string, "identica");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      servers: {
        [md.origin]: { user: "alice", api: "mastodon" },
        [sn.apiRoot]: { user: "alice", api: "statusnet" },
      },
      ...extra,
    }),
    { mode: 0o600 },
  );
  return sc;
}

/** No request to either server carried the other's credential (or any credential of a foreign kind). */
function expectCredentialsHome(): void {
  for (const r of md.requests) {
    const a = r.headers.authorization;
    if (a !== undefined) expect(a).toMatch(/^Bearer /);
    expect(String(a ?? "")).not.toContain(Buffer.from(PASSWORD).toString("base64").slice(0, 8));
    expect(JSON.stringify(r.headers) + r.body.toString()).not.toContain(PASSWORD);
  }
  for (const r of sn.requests) {
    const a = r.headers.authorization;
    if (a !== undefined) expect(a).toMatch(/^Basic /);
    for (const t of [token, bobToken]) expect(JSON.stringify(r.headers) + r.body.toString()).not.toContain(t);
  }
}

const post = (sc: Scenario, args: string[], opts: RunOptions = {}): Promise<RunResult> =>
  sc.run(["post", ...args], opts);

describe("success to both", () => {
  it("pretty: one line per target, handle then URL; exit 0; each with its own credential", async () => {
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["--to", M(), "--to", S(), text]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      new RegExp(`^${M().replace(/\./g, "\\.")}\\s+http://127\\.0\\.0\\.1:\\d+/@alice/\\d+$`),
    );
    expect(lines[1]).toMatch(
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

const MPOST = /^\/api\/v1\/statuses$/;
const SPOST = /^\/api\/statuses\/update/;
const unavailable = { kind: "reply" as const, status: 503, body: "busy" };

/** Whether one status with this text reached each server. */
function landed(text: string): { mastodon: number; statusnet: number } {
  return {
    mastodon: md.statuses.filter((s) => s.text === text && !s.deleted).length,
    statusnet: sn.store.notices.filter((x) => x.text === text).length,
  };
}

describe("one target fails, the other succeeds", () => {
  it("503 from Mastodon: 75, kept for that account only; the StatusNet status posted", async () => {
    const sc = home();
    const text = fresh();
    md.faults.push({ fault: unavailable, path: MPOST });
    const r = await post(sc, ["--to", M(), "--to", S(), text]);
    expect(r.code).toBe(75);
    expect(r.stdout).toMatch(/failed \(exit 75\)/);
    expect(r.stdout.split("\n")[1]).toMatch(/\/notice\/\d+$/);
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
    expect(r.stdout.split("\n")[1]).toMatch(/\/notice\/\d+$/);
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

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectFailure } from "../helpers/cli.js";
import { statusPosts } from "../helpers/mastodon-post.js";
import { fresh, killWhen, MPOST, SPOST, shellCode, unavailable, useTwoServers } from "../helpers/multi.js";
import { PASSWORD, postsTo } from "../helpers/setup.js";

/**
 * Issue 14: where each target's credential comes from when the run also has a server of its own
 * (IDENTICA_SERVER and its IDENTICA_PASSWORD/IDENTICA_TOKEN, netrc's `default`), one target's failure
 * shown as a plain post's, what a 76 keeps, and signals during `post --lines --to`.
 */
const t = useTwoServers();
const { M, B, S, home, landed, expectCredentialsHome, post } = t;
const Sbob = () => `bob@${new URL(t.sn.origin).host}`;

describe("the run's own credential stays with the run's own server and account", () => {
  it("IDENTICA_SERVER is the Mastodon server: its IDENTICA_TOKEN goes to alice there only, never to bob or to StatusNet", async () => {
    const envToken = t.md.issueToken("alice");
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["--to", M(), "--to", B(), "--to", S(), text], {
      env: { IDENTICA_SERVER: t.md.origin, IDENTICA_TOKEN: envToken, IDENTICA_PASSWORD: "env password" },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(landed(text)).toEqual({ mastodon: 2, statusnet: 1 });
    const byToken = Object.fromEntries(
      statusPosts(t.md).map((q) => [
        String(q.headers.authorization),
        new URLSearchParams(q.body.toString()).get("status"),
      ]),
    );
    expect(Object.keys(byToken).sort()).toEqual([`Bearer ${envToken}`, `Bearer ${t.bobToken}`].sort());
    for (const q of [...t.md.requests, ...t.sn.requests]) {
      const all = JSON.stringify(q.headers) + q.body.toString();
      expect(all).not.toContain(Buffer.from("alice:env password").toString("base64"));
      expect(all).not.toContain("env password");
    }
    for (const q of t.sn.requests) expect(JSON.stringify(q.headers)).not.toContain(envToken);
    expectCredentialsHome();
  });

  it("IDENTICA_SERVER is the StatusNet server: IDENTICA_PASSWORD goes there for alice only, never to bob there", async () => {
    const sc = home();
    const netrc = join(sc.home, "netrc");
    writeFileSync(netrc, 'machine 127.0.0.1 login bob password "battery staple"\n', { mode: 0o600 });
    const text = fresh();
    const r = await post(sc, ["--to", S(), "--to", Sbob(), "--to", M(), text], {
      env: { IDENTICA_SERVER: t.sn.apiRoot, IDENTICA_PASSWORD: PASSWORD, NETRC: netrc },
    });
    expect(r.code, r.stderr).toBe(0);
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
    const used = new Set(
      postsTo(t.sn)
        .map((q) => q.headers.authorization)
        .filter(Boolean),
    );
    expect([...used].sort()).toEqual([basic("alice", PASSWORD), basic("bob", "battery staple")].sort());
    expectCredentialsHome();
  });

  it("netrc's default entry names no server: it is not used for another account", async () => {
    const sc = home();
    const netrc = join(sc.home, "netrc");
    writeFileSync(netrc, 'default login bob password "battery staple"\n', { mode: 0o600 });
    const text = fresh();
    const r = await post(sc, ["-o", "json", "--to", M(), "--to", Sbob(), text], { env: { NETRC: netrc } });
    expect(r.code, r.stderr).not.toBe(0);
    const rows = JSON.parse(r.stdout) as { account: string; ok: boolean }[];
    expect(rows.map((x) => [x.account, x.ok])).toEqual([
      [M(), true],
      [Sbob(), false],
    ]);
    for (const q of [...t.md.requests, ...t.sn.requests])
      expect(JSON.stringify(q.headers)).not.toContain(Buffer.from("bob:battery staple").toString("base64"));
  });
});

describe("one target's failure", () => {
  it("with one --to, a failure reads exactly as a plain post's: one line, then where the status went", async () => {
    const sc = home();
    t.md.faults.push({ fault: unavailable, path: MPOST });
    const r = await post(sc, ["--to", M(), fresh()]);
    const file = expectFailure(r, 75, /503|unavailable|busy/i);
    expect(file).toBeDefined();
    expect(r.stderr).not.toContain(M());
    const plain = await post(sc, ["--server", t.md.origin, fresh()]);
    expectFailure(plain, 75, /503|unavailable|busy/i);
    const shape = (s: string) => s.replace(/outbox\/\S+\.json/g, "outbox/ID.json").replace(/\d+/g, "N");
    expect(shape(r.stderr)).toBe(shape(plain.stderr));
  });

  it("a lost reply keeps the entry as sent, with the time its outcome became unknown", async () => {
    const sc = home();
    const text = fresh();
    t.sn.faults.push({ fault: { kind: "lose-reply" }, path: SPOST, when: "authenticated", times: 1 });
    const r = await post(sc, ["-o", "json", "--to", M(), "--to", S(), text]);
    expect(r.code, r.stderr).toBe(76);
    const rows = JSON.parse(r.stdout);
    expect(rows[1]).toMatchObject({ account: S(), ok: false, exitCode: 76, outbox: { refused: false } });
    const [entry] = sc.outbox();
    expect(entry?.entry).toMatchObject({ server: t.sn.apiRoot, sent: true, exitCode: 76, refused: false });
    expect(entry?.entry.uncertainSince).toEqual(expect.any(String));
    expect(rows[1].outbox.id).toBe(entry?.id);
  });
});

describe("post --lines --to", () => {
  it("a line that fails for one account is kept for that account only; the stream goes on", async () => {
    const sc = home();
    const [a, b] = [fresh("line"), fresh("line")];
    t.md.faults.push({ fault: unavailable, path: MPOST, times: 1 });
    const r = await post(sc, ["--lines", "--to", M(), "--to", S()], { input: `${a}\n${b}\n` });
    expect(r.code, r.stderr).toBe(75);
    expect(landed(a)).toEqual({ mastodon: 0, statusnet: 1 });
    expect(landed(b)).toEqual({ mastodon: 1, statusnet: 1 });
    const entries = sc.outbox();
    expect(entries.map((e) => [e.entry.text, e.entry.server])).toEqual([[a, t.md.origin]]);
  });

  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    it(`${signal} while a line hangs on one server: that line kept where it was not confirmed, the unread lines for every account`, async () => {
      const sc = home();
      const [a, b, c] = [fresh("line"), fresh("line"), fresh("line")];
      t.md.faults.push({ fault: { kind: "hang" }, path: MPOST, times: 1 });
      let answeredAt = 0;
      const r = await post(sc, ["--lines", "--to", M(), "--to", S()], {
        keepStdinOpen: true,
        onSpawn: (child) => {
          child.stdin?.write(`${a}\n`);
          killWhen(() => {
            if (statusPosts(t.md).length === 0 || landed(a).statusnet === 0) return false;
            if (answeredAt === 0) {
              answeredAt = Date.now();
              child.stdin?.write(`${b}\n${c}\n`);
            }
            return Date.now() - answeredAt > 400;
          }, signal)(child);
        },
      });
      expect(shellCode(r), r.stderr).toBe(code);
      expect(r.stderr).toContain(`${M()}: its request had gone out`);
      const kept = sc.outbox().map((e) => [e.entry.text, e.entry.server]);
      // a: only Mastodon's (StatusNet answered); b and c, never sent: one entry per account each.
      expect(kept.sort()).toEqual(
        [
          [a, t.md.origin],
          [b, t.md.origin],
          [b, t.sn.apiRoot],
          [c, t.md.origin],
          [c, t.sn.apiRoot],
        ].sort(),
      );
    });
  }
});

describe("the text, read once, is every account's", () => {
  it("a text identica refuses (not UTF-8) is kept for every account, marked refused; nothing sent", async () => {
    const sc = home();
    const bytes = Buffer.concat([Buffer.from("caf"), Buffer.from([0xe9]), Buffer.from(" au lait")]);
    const r = await post(sc, ["--to", M(), "--to", S()], { input: bytes });
    expect(r.code, r.stderr).toBe(65);
    // One line for the refusal, then where it was kept for each account.
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`the status for ${M()} is kept in the outbox, marked refused`);
    expect(lines[2]).toContain(`the status for ${S()} is kept in the outbox, marked refused`);
    const kept = sc.outbox().map((e) => [e.entry.server, e.entry.refused]);
    expect(kept.sort()).toEqual(
      [
        [t.md.origin, true],
        [t.sn.apiRoot, true],
      ].sort(),
    );
    expect([...statusPosts(t.md), ...postsTo(t.sn)]).toEqual([]);
  });

  it("a signal while stdin is still being read keeps what was read for every account", async () => {
    const sc = home();
    const r = await post(sc, ["--to", M(), "--to", S()], {
      keepStdinOpen: true,
      onSpawn: (child) => {
        child.stdin?.write("half a thought");
        setTimeout(() => child.kill("SIGTERM"), 700);
      },
    });
    expect(shellCode(r), r.stderr).toBe(143);
    expect(r.stderr).toContain(`identica: ${M()}: nothing was posted there`);
    expect(r.stderr).toContain(`identica: ${S()}: nothing was posted there`);
    const kept = sc.outbox().map((e) => [e.entry.server, e.entry.text]);
    expect(kept.sort()).toEqual(
      [
        [t.md.origin, "half a thought"],
        [t.sn.apiRoot, "half a thought"],
      ].sort(),
    );
    expect([...statusPosts(t.md), ...postsTo(t.sn)]).toEqual([]);
  });
});

describe("limits and the barrier", () => {
  it("--max-length is counted by each account's rule: over for StatusNet only, nothing sent anywhere", async () => {
    const sc = home();
    const text = `see https://example.com/${"q".repeat(120)}`;
    const r = await post(sc, ["--max-length", "100", "--to", M(), "--to", S(), text]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stderr).toContain(S());
    expect(r.stderr).not.toContain(`${M()}:`);
    expect([...statusPosts(t.md), ...postsTo(t.sn)]).toEqual([]);
    const ok = await post(sc, ["--max-length", "100", "--to", M(), text]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("--dry-run checks each account's cached limit: over one, 64", async () => {
    const sc = home();
    expect((await post(sc, ["--to", M(), "--to", S(), fresh()])).code).toBe(0);
    // Both limits are cached now: the text is over Mastodon's 500 only.
    const r = await post(sc, ["--dry-run", "--to", M(), "--to", S(), "x".repeat(600)]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stdout).toBe("");
  });

  it("a signal while one account's limit lookup hangs: both kept, nothing was posted anywhere", async () => {
    const sc = home();
    const text = fresh();
    t.md.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v(1|2)\/instance/ });
    const r = await post(sc, ["--to", M(), "--to", S(), text], {
      onSpawn: killWhen(() => t.md.requests.length > 0 && t.sn.requests.length > 0, "SIGTERM"),
    });
    expect(shellCode(r), r.stderr).toBe(143);
    expect(r.stderr).toContain(`${M()}: nothing was posted there`);
    expect(r.stderr).toContain(`${S()}: nothing was posted there`);
    expect(
      sc
        .outbox()
        .map((e) => [e.entry.server, e.entry.sent])
        .sort(),
    ).toEqual(
      [
        [t.md.origin, false],
        [t.sn.apiRoot, false],
      ].sort(),
    );
    expect(landed(text)).toEqual({ mastodon: 0, statusnet: 0 });
  });
});

describe("post --lines --to: a refused line", () => {
  it("is kept for every account, and stderr says where for each", async () => {
    const sc = home();
    const [a, b] = [fresh("line"), fresh("line")];
    const input = Buffer.concat([
      Buffer.from(`${a}\ncaf`),
      Buffer.from([0xe9]),
      Buffer.from(` au lait\n${b}\n`),
    ]);
    const r = await post(sc, ["--lines", "--to", M(), "--to", S()], { input });
    expect(r.code, r.stderr).toBe(65);
    expect(landed(a)).toEqual({ mastodon: 1, statusnet: 1 });
    expect(landed(b)).toEqual({ mastodon: 1, statusnet: 1 });
    const kept = sc.outbox();
    expect(kept.map((e) => [e.entry.server, e.entry.refused]).sort()).toEqual(
      [
        [t.md.origin, true],
        [t.sn.apiRoot, true],
      ].sort(),
    );
    for (const e of kept) expect(r.stderr).toContain(e.file);
    expect(r.stderr).toContain(`line 2 for ${M()} is kept in the outbox`);
    expect(r.stderr).toContain(`line 2 for ${S()} is kept in the outbox`);
  });
});

describe("limit lookups that fail", () => {
  it("one account's limit lookup hangs: the other is posted once that lookup times out; the first kept, not sent", async () => {
    const sc = home();
    const text = fresh();
    t.md.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v(1|2)\/instance/ });
    const started = Date.now();
    const r = await post(sc, ["--timeout", "2", "--to", M(), "--to", S(), text]);
    expect(Date.now() - started).toBeLessThan(15_000);
    // The wait for Mastodon's limit did not use up StatusNet's --timeout: it was posted.
    expect(landed(text)).toEqual({ mastodon: 0, statusnet: 1 });
    expect(r.code, r.stderr).toBe(75);
    expect(lineOf(r.stdout, S())).toMatch(/\/notice\/\d+$/);
    expect(sc.outbox().map((e) => [e.entry.server, e.entry.sent])).toEqual([[t.md.origin, false]]);
  });

  it("over one account's limit while the other's lookup fails: 64, nothing sent, and nothing left in the outbox", async () => {
    const sc = home();
    t.sn.faults.push({ fault: { ...unavailable, body: "<error>busy</error>" }, path: /config/ });
    const r = await post(sc, ["--to", M(), "--to", S(), `over ${"z".repeat(520)}`]);
    expect(r.code, r.stderr).toBe(64);
    expect([...statusPosts(t.md), ...postsTo(t.sn)]).toEqual([]);
    expect(sc.outbox()).toEqual([]);
  });
});

/** A target's pretty line: they are printed as each target finishes, so found by handle. */
function lineOf(stdout: string, handle: string): string {
  return stdout.split("\n").find((l) => l.startsWith(handle)) ?? "";
}

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fresh, killWhen, MPOST, shellCode, useTwoServers } from "../helpers/multi.js";

/**
 * Issue 14, the hostile round on `post --to`: each test here failed before its fix (an empty --to
 * posting to the default account, unknown or malformed handles probed and kept, duplicate targets in
 * the config, -o raw with several accounts, a text lost to a 78 before any target was resolved, and a
 * finished target's result held back by a slow one).
 */
const t = useTwoServers();
const { M, S, home, landed, post } = t;

describe("post --to: what the hostile round broke", () => {
  it('--to "" (an unset variable) is 64 and posts nowhere, not to the default account', async () => {
    const sc = home();
    for (const to of ["", " ", ","]) {
      const text = fresh();
      const r = await post(sc, ["--to", to, text]);
      expect(r.code, `--to ${JSON.stringify(to)}`).toBe(64);
      expect(r.stderr).toMatch(/--to names no account/);
      expect(landed(text)).toEqual({ mastodon: 0, statusnet: 0 });
    }
  });

  it("an unknown or malformed handle is 64 before any request, and nothing is kept", async () => {
    const sc = home();
    const port = new URL(t.md.origin).port;
    for (const h of [
      `alice@@127.0.0.1:${port}`,
      `a$lice@127.0.0.1:${port}`,
      "alice@127.0.0.1:0",
      "alice@localhost:9",
    ]) {
      t.md.requests.length = 0;
      t.sn.requests.length = 0;
      const r = await post(sc, ["--to", h, "--to", S(), fresh()]);
      expect(r.code, h).toBe(64);
      expect([...t.md.requests, ...t.sn.requests]).toEqual([]);
      expect(sc.outbox()).toEqual([]);
    }
  });

  it("config set targets refuses an account named twice", async () => {
    const sc = home();
    const r = await sc.run(["config", "set", "targets", `${S()}, ${S().toUpperCase()}`]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/named twice/);
  });

  it("-o raw (or xml) with several accounts is 64: there is no one reply to print", async () => {
    const sc = home();
    const text = fresh();
    const r = await post(sc, ["-o", "raw", "--to", M(), "--to", S(), text]);
    expect(r.code).toBe(64);
    expect(landed(text)).toEqual({ mastodon: 0, statusnet: 0 });
  });

  it("a config that cannot be read (78) before any target is resolved: the piped text is printed, not lost", async () => {
    const sc = home();
    const cfg = join(sc.env.XDG_CONFIG_HOME as string, "identica", "config.json");
    writeFileSync(cfg, "{ not json");
    const text = fresh("kept on stderr");
    const r = await sc.run(["post", "--to", M()], { input: `${text}\n` });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(text);
    expect(readFileSync(cfg, "utf8")).toBe("{ not json");
  });

  it("a finished target's line is printed at once: a SIGINT while the other hangs leaves it on stdout", async () => {
    const sc = home();
    const text = fresh();
    t.md.faults.push({ fault: { kind: "hang" }, path: MPOST });
    const r = await post(sc, ["--to", M(), "--to", S(), text], {
      onSpawn: killWhen(
        () => landed(text).statusnet === 1 && t.md.requests.some((q) => MPOST.test(q.url)),
        "SIGINT",
      ),
    });
    t.md.faults.length = 0;
    expect(shellCode(r)).toBe(130);
    expect(r.stdout).toMatch(new RegExp(`^${S().replace(/\./g, "\\.")}\\s+http://\\S+/notice/\\d+`, "m"));
    expect(r.stderr).toMatch(new RegExp(`${M().replace(/\./g, "\\.")}: its request had gone out`));
    expect(sc.outbox().map((e) => e.entry.server)).toEqual([t.md.origin]);
  });

  // Found by the second hostile round (issue 15): -o json and -o id printed nothing for the targets
  // that had finished, because they wait for the run to end (json) or for the targets before them (id).
  for (const output of ["json", "id"] as const) {
    it(`-o ${output}: a SIGINT while one target hangs still writes what the finished ones posted`, async () => {
      const sc = home();
      const text = fresh();
      t.md.faults.push({ fault: { kind: "hang" }, path: MPOST });
      // The hanging Mastodon target first: the StatusNet one's id waits behind it in the given order.
      const r = await post(sc, ["-o", output, "--to", M(), "--to", S(), text], {
        onSpawn: killWhen(
          () => landed(text).statusnet === 1 && t.md.requests.some((q) => MPOST.test(q.url)),
          "SIGINT",
        ),
      });
      t.md.faults.length = 0;
      expect(shellCode(r)).toBe(130);
      if (output === "json") {
        const rows = JSON.parse(r.stdout) as { account: string; ok: boolean; exitCode: number }[];
        expect(rows.map((x) => [x.account, x.ok, x.exitCode])).toEqual([
          [M(), false, 130],
          [S(), true, 0],
        ]);
      } else {
        expect(r.stdout).toMatch(/^\n\d+\n$/);
      }
    });
  }
});

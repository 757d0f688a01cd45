import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { expectFailure } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

/**
 * Issue 11, "Bad state and config never become 70, never block" (docs/threats.md I12): state that real
 * machines accumulate — a lock left by a reboot or a `kill -9`, a damaged outbox file, a damaged cache —
 * planted in one HOME shared by several runs. Each test failed on the code before the fix.
 */
const h = useHttpsServer();
const scenario = () => new Scenario({ IDENTICA_PASSWORD: PASSWORD });
const copies = (text: string) => h.server.store.notices.filter((n) => n.text === text && !n.deleted).length;
const LONG_AGO = new Date("2020-01-01T00:00:00Z");
const linux = process.platform === "linux";

/** Posts `text` while the server answers 503, so it waits in the outbox. */
async function leaveInOutbox(s: Scenario, text: string): Promise<void> {
  h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
  expect((await s.run(["post", ...h.args, text])).code).toBe(75);
  h.server.faults.length = 0;
}

function plantLock(s: Scenario, content: string, mtime?: Date): string {
  mkdirSync(s.stateDir, { recursive: true });
  const file = join(s.stateDir, "outbox.lock");
  writeFileSync(file, content);
  if (mtime) utimesSync(file, mtime, mtime);
  return file;
}

/** Linux: /proc/<pid>/stat field 22, the process's start time in clock ticks since boot. */
function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] as string;
}
const bootId = () => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});
/** A live process that is not an identica sending the outbox. */
function unrelatedProcess(): number {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  children.push(child);
  return child.pid as number;
}

describe("a stale outbox lock never blocks outbox send", () => {
  it("an older version's lock naming a live, unrelated pid: respected while fresh, broken once old (2020)", async () => {
    const s = scenario();
    const text = uniqueText("after a reboot");
    await leaveInOutbox(s, text);
    const pid = unrelatedProcess();
    const lock = plantLock(s, `${pid}\n`);
    // Its holder cannot be confirmed (no start time): a fresh lock might be a live older identica.
    expectFailure(
      await s.run(["outbox", "send", ...h.args]),
      75,
      new RegExp(`another identica is sending the outbox \\(pid ${pid}\\)`),
    );
    utimesSync(lock, LONG_AGO, LONG_AGO);
    const r = await s.run(["outbox", "send", ...h.args, "-o", "none"]);
    expect(r.code, r.stderr).toBe(0);
    expect(copies(text)).toBe(1);
    expect(s.outbox()).toEqual([]);
    expect(existsSync(lock)).toBe(false);
  });

  it.runIf(linux)(
    "a lock whose pid now names another process (start time) or from before a reboot (boot id) is broken at once",
    async () => {
      const s = scenario();
      const pid = unrelatedProcess();
      const real = startTicks(pid);
      const wrongStart = `${pid}\nhost ${hostname()}\nboot ${bootId()}\nstart ${Number(real) + 1}\n`;
      const otherBoot = `${pid}\nhost ${hostname()}\nboot 00000000-0000-4000-8000-000000000000\nstart ${real}\n`;
      for (const content of [wrongStart, otherBoot]) {
        const text = uniqueText("pid reused");
        await leaveInOutbox(s, text);
        const lock = plantLock(s, content); // fresh: only the holder's identity tells
        const r = await s.run(["outbox", "send", ...h.args, "-o", "none"]);
        expect(r.code, r.stderr).toBe(0);
        expect(copies(text)).toBe(1);
        expect(existsSync(lock)).toBe(false);
      }
    },
  );

  it.runIf(linux)(
    "a holder confirmed alive (pid, start time, boot) is respected, however old its lock",
    async () => {
      const s = scenario();
      const text = uniqueText("held");
      await leaveInOutbox(s, text);
      const pid = unrelatedProcess();
      plantLock(s, `${pid}\nhost ${hostname()}\nboot ${bootId()}\nstart ${startTicks(pid)}\n`, LONG_AGO);
      expectFailure(
        await s.run(["outbox", "send", ...h.args]),
        75,
        new RegExp(`another identica is sending the outbox \\(pid ${pid}\\)`),
      );
      expect(copies(text)).toBe(0);
      expect(s.outbox()).toHaveLength(1);
    },
  );

  it("two runs breaking the same stale lock at once never send an entry twice", async () => {
    const s = scenario();
    const texts = Array.from({ length: 4 }, (_, i) => uniqueText(`race ${i}`));
    for (const t of texts) await leaveInOutbox(s, t);
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid as number;
    plantLock(s, `${unrelatedProcess()}\n`, LONG_AGO);
    h.server.faults.push({ fault: { kind: "delay", ms: 150 }, path: /update/ });
    const [a, b] = await Promise.all([
      s.run(["outbox", "send", ...h.args, "-o", "none"]),
      s.run(["outbox", "send", ...h.args, "-o", "none"]),
    ]);
    expect(texts.map(copies)).toEqual([1, 1, 1, 1]);
    expect([a.code, b.code].sort()).toEqual([0, 75]);
    // And once more with a lock whose holder is gone.
    h.server.faults.length = 0;
    const last = uniqueText("dead holder");
    await leaveInOutbox(s, last);
    plantLock(s, `${dead}\n`);
    expect((await s.run(["outbox", "send", ...h.args, "-o", "none"])).code).toBe(0);
    expect(copies(last)).toBe(1);
  });
});

describe("a corrupt outbox entry is listed, skipped by send, and can be dropped", () => {
  const BROKEN = "20200101-000000000-aaaaaa";
  const YESTERDAY = "20200101-000000001-bbbbbb";

  it("invalid JSON and a wrong field are listed with their file and what is wrong; never 70, never hidden", async () => {
    const s = scenario();
    const dir = s.ensureOutboxDir();
    writeFileSync(join(dir, `${BROKEN}.json`), '{"text": "my unsent words", "server": ');
    let r = await s.run(["outbox", "list"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/empty/);
    expect(r.stdout).toContain(`${BROKEN}  CORRUPT: not valid JSON`);
    expect(r.stdout).toContain(join(dir, `${BROKEN}.json`));

    // A real entry, then a copy of it whose time is not a time, and one in the format before
    // uncertainSince and refused existed (it still loads and is sent).
    const good = uniqueText("good");
    await leaveInOutbox(s, good);
    const name = readdirSync(dir).find((n) => n.endsWith(".json") && !n.startsWith(BROKEN)) as string;
    const saved = { id: name.slice(0, -5), entry: JSON.parse(readFileSync(join(dir, name), "utf8")) };
    const yesterday = uniqueText("yesterday's words");
    writeFileSync(
      join(dir, `${YESTERDAY}.json`),
      JSON.stringify({ ...saved.entry, text: yesterday, attemptedAt: "yesterday" }),
    );
    const legacy = uniqueText("legacy");
    const { uncertainSince: _u, refused: _r, ...old } = saved.entry as Record<string, unknown>;
    writeFileSync(join(dir, "20200101-000000002-cccccc.json"), JSON.stringify({ ...old, text: legacy }));

    r = await s.run(["outbox", "list"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^${YESTERDAY}  CORRUPT: "attemptedAt" is not an ISO 8601 time\\n`, "m"),
    );
    expect(r.stdout).toContain(yesterday);
    expect(r.stdout).toContain(legacy);
    expect(r.stdout).toContain(good);

    r = await s.run(["outbox", "list", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as {
      id: string;
      file: string;
      corrupt: string | null;
      text: string | null;
    }[];
    expect(rows.map((e) => [e.id, e.corrupt !== null])).toEqual([
      [BROKEN, true],
      [YESTERDAY, true],
      ["20200101-000000002-cccccc", false],
      [saved.id, false],
    ]);
    expect(rows[0]).toMatchObject({
      file: join(dir, `${BROKEN}.json`),
      corrupt: "not valid JSON",
      text: null,
    });
    expect(rows[1]).toMatchObject({ file: join(dir, `${YESTERDAY}.json`), text: yesterday });
    expect((await s.run(["outbox", "list", "-o", "id"])).stdout.split("\n")).toHaveLength(5);

    // send: one line per corrupt file, the others sent; 65 says something is stuck.
    r = await s.run(["outbox", "send", ...h.args, "-o", "none"]);
    expect(r.code, r.stderr).toBe(65);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      `identica: ${BROKEN}: the outbox entry ${join(dir, `${BROKEN}.json`)} is corrupt (not valid JSON); skipped (fix it, or: identica outbox drop ${BROKEN})`,
    );
    expect(lines[1]).toMatch(
      new RegExp(`^identica: ${YESTERDAY}: the outbox entry .*${YESTERDAY}\\.json is corrupt`),
    );
    expect([good, legacy, yesterday].map(copies)).toEqual([1, 1, 0]);
    // The corrupt files are still there, untouched.
    expect(readFileSync(join(dir, `${BROKEN}.json`), "utf8")).toBe('{"text": "my unsent words", "server": ');
    expect(existsSync(join(dir, `${YESTERDAY}.json`))).toBe(true);

    // drop works on corrupt entries too.
    for (const id of [BROKEN, YESTERDAY]) {
      expect(await s.run(["outbox", "drop", id])).toMatchObject({ code: 0, stdout: `Dropped ${id}.\n` });
    }
    expect(s.outbox()).toEqual([]);
    expect((await s.run(["outbox", "list"])).stdout).toBe("The outbox is empty.\n");
  });
});

describe("damaged caches are ignored and rewritten", () => {
  const cacheFile = (s: Scenario, name: string) => join(s.env.XDG_CACHE_HOME as string, "identica", name);

  it('{"spaces":[null]} and other wrong records: the post goes on, valid records are kept, the file is repaired', async () => {
    const s = scenario();
    const file = cacheFile(s, "spaces.json");
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, '{"spaces":[null]}');
    let r = await s.run(["post", ...h.args, "-o", "none", uniqueText("null space")]);
    expect(r.code, r.stderr).toBe(0);
    const remembered = JSON.parse(readFileSync(file, "utf8")).spaces;
    expect(remembered).toHaveLength(1);

    // Wrong records beside a good one: the good one still saves the 401 round trip.
    writeFileSync(
      file,
      JSON.stringify({ spaces: [null, 7, { origin: 1 }, { ...remembered[0], path: null }, remembered[0]] }),
    );
    h.server.requests.length = 0;
    const text = uniqueText("mixed spaces");
    r = await s.run(["post", ...h.args, "-o", "none", text]);
    expect(r.code, r.stderr).toBe(0);
    const updates = h.server.requests.filter((q) => q.url.startsWith("/api/statuses/update."));
    expect(updates).toHaveLength(1);
    expect(updates[0]?.headers.authorization).toMatch(/^Basic /);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ spaces: remembered });

    // Not JSON at all.
    writeFileSync(file, "\u0000\u0000garbage");
    r = await s.run(["post", ...h.args, "-o", "none", uniqueText("garbage spaces")]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).spaces).toHaveLength(1);
  });

  it('"textlimit": "5" or "none" in the limit cache is ignored: the server\'s limit is read again and applies', async () => {
    const s = scenario();
    const file = cacheFile(s, "servers.json");
    mkdirSync(join(file, ".."), { recursive: true });
    h.server.site.textlimit = 40;
    const fresh = new Date().toISOString();
    const plant = (textlimit: unknown) =>
      writeFileSync(
        file,
        JSON.stringify({ limits: { [h.server.apiRoot]: { textlimit, fetchedAt: fresh } } }),
      );

    // "5" was trusted: a 20-character status was refused before any request.
    plant("5");
    const short = uniqueText("s").slice(0, 20);
    const r = await s.run(["post", ...h.args, "-o", "none", short]);
    expect(r.code, r.stderr).toBe(0);
    expect(copies(short)).toBe(1);
    expect(JSON.parse(readFileSync(file, "utf8")).limits[h.server.apiRoot]).toMatchObject({ textlimit: 40 });

    // "none" disabled the check: a status over the server's limit was sent.
    plant("none");
    h.server.requests.length = 0;
    const long = `${uniqueText("long")} ${"x".repeat(40)}`;
    expectFailure(
      await s.run(["post", ...h.args, long]),
      64,
      /is \d+ characters long, over .* limit of 40; nothing was sent/,
    );
    expect(h.server.requests.filter((q) => q.url.startsWith("/api/statuses/update."))).toEqual([]);
  });
});

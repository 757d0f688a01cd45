import { mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireLock } from "../../src/core/lock.js";
import { ExitCode, IdenticaError } from "../../src/errors.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockPath = () => join(mkdtempSync(join(tmpdir(), "identica-lock-")), "outbox.lock");

describe("the outbox lock", () => {
  it("names its holder (pid first, as older versions read it) and is refused to a second taker", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    expect(readFileSync(path, "utf8").split("\n")[0]).toBe(String(process.pid));
    const err = await acquireLock(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdenticaError);
    expect((err as IdenticaError).exitCode).toBe(ExitCode.TempFail);
    expect((err as IdenticaError).message).toMatch(
      `another identica is sending the outbox (pid ${process.pid})`,
    );
    lock.release();
    expect(() => statSync(path)).toThrow();
  });

  it("keeps a heartbeat: the holder refreshes the lock's mtime while it holds it", async () => {
    const path = lockPath();
    const lock = await acquireLock(path, Date.now, 20);
    const old = new Date("2020-01-01T00:00:00Z");
    utimesSync(path, old, old);
    await sleep(200);
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(60_000);
    lock.release();
  });

  it("knows when a later run has taken it over, and then leaves the other run's file alone", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    expect(lock.held()).toBe(true);
    writeFileSync(path, "1\nhost elsewhere\n");
    expect(lock.held()).toBe(false);
    lock.release();
    expect(readFileSync(path, "utf8")).toBe("1\nhost elsewhere\n");
  });

  it("a lock from another host is judged by its heartbeat only: fresh is respected, silent is broken", async () => {
    const path = lockPath();
    writeFileSync(path, `${process.pid}\nhost some-other-machine\n`);
    await expect(acquireLock(path)).rejects.toThrow(/another identica is sending the outbox/);
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path, old, old);
    const lock = await acquireLock(path);
    expect(lock.held()).toBe(true);
    lock.release();
  });
});

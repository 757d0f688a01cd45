import { describe, expect, it } from "vitest";
import { Deadline, DeadlineExpired, PauseClock } from "../../src/http/deadline.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Deadline: one --timeout for a run", () => {
  it("covers every request of the run: the second gets only what the first left", async () => {
    const d = new Deadline(300);
    await d.run(() => sleep(200));
    const started = Date.now();
    await expect(d.run(() => sleep(1000))).rejects.toBeInstanceOf(DeadlineExpired);
    expect(Date.now() - started).toBeLessThan(250);
  });

  it("rejects even when the work never settles, and aborts the work's signal", async () => {
    const d = new Deadline(100);
    let signal: AbortSignal | undefined;
    const err = await d
      .run((s) => {
        signal = s;
        return new Promise(() => {});
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExpired);
    expect((err as DeadlineExpired).limitMs).toBe(100);
    expect(signal?.aborted).toBe(true);
  });

  it("a shorter cap applies to one request only, and is the limit reported", async () => {
    const d = new Deadline(5000);
    const err = await d.run(() => new Promise(() => {}), 50).catch((e: unknown) => e);
    expect((err as DeadlineExpired).limitMs).toBe(50);
    expect(d.remainingMs()).toBeGreaterThan(4000);
  });

  it("time at the prompt does not count", async () => {
    const pauses = new PauseClock();
    const d = new Deadline(200, pauses);
    await d.run(() => sleep(10));
    await pauses.whilePaused(() => sleep(400));
    expect(d.remainingMs()).toBeGreaterThan(100);
    await expect(d.run(() => sleep(20))).resolves.toBeUndefined();
  });

  it("nothing is sent once the time is up", async () => {
    const d = new Deadline(50);
    await d.run(() => sleep(60)).catch(() => {});
    let ran = false;
    await expect(
      d.run(async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(DeadlineExpired);
    expect(ran).toBe(false);
  });
});

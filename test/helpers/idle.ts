import { readdirSync, readFileSync } from "node:fs";

/** Bytes the process has read so far (all threads), or undefined once it has gone. */
function bytesRead(pid: number): number | undefined {
  try {
    const m = /^rchar:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether every thread of the process is asleep (state S), waiting for something. */
function allAsleep(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      // The state follows the command name, which is in parentheses and may hold spaces.
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "S";
    });
  } catch {
    return false;
  }
}

/**
 * Resolves once the process has sat idle for `quietMs` — every thread asleep and not one byte read
 * meanwhile — so it has started, read everything it was given so far, and waits for more (Linux
 * /proc). A way to signal a process "while it is reading stdin" without guessing a delay: a loaded
 * machine only makes this take longer. Rejects if the process ends or `timeoutMs` passes.
 */
export function whenIdle(pid: number | undefined, quietMs = 400, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  let last: number | undefined;
  let quietSince = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const read = pid === undefined ? undefined : bytesRead(pid);
      if (read === undefined) {
        clearInterval(timer);
        reject(new Error("the process ended before it was idle"));
        return;
      }
      if (read !== last || !allAsleep(pid as number)) {
        last = read;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) {
        clearInterval(timer);
        resolve();
        return;
      }
      if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`the process was not idle within ${timeoutMs} ms`));
      }
    }, 25);
  });
}

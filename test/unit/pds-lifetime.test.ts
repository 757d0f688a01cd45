// A test PDS never outlives the run that started it: serve.mjs exits when its stdin closes, when its
// parent dies (even if something else holds its stdin open), and when vitest's main process, which
// it is told to watch, goes away (an interrupted vitest can leave a worker running for a while).
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { PDS_HOOK_TIMEOUT, pdsCommand, startPds } from "../helpers/pds.js";

/** Gone, or a zombie no one has reaped yet (an orphan's parent is init, which may be slow to). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (gone(pid)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return gone(pid);
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});
function track(child: ChildProcess): ChildProcess {
  cleanup.push(() => child.kill("SIGKILL"));
  return child;
}
function killLater(pid: number) {
  cleanup.push(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  });
}

describe("the test PDS's lifetime", () => {
  it(
    "ends when the process it is told to watch (vitest's main one) goes away",
    async () => {
      const watched = track(spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]));
      const pds = await startPds({
        handles: ["carol.test"],
        env: { IDENTICA_PDS_WATCH: String(watched.pid) },
      });
      killLater(pds.pid);
      expect(gone(pds.pid)).toBe(false);
      watched.kill("SIGKILL");
      expect(await waitGone(pds.pid, 15_000)).toBe(true);
    },
    PDS_HOOK_TIMEOUT,
  );

  it(
    "ends when its parent dies, even while another process holds its stdin open",
    async () => {
      const cmd = pdsCommand({ handles: ["dave.test"], env: { IDENTICA_PDS_WATCH: "" } });
      // The PDS's stdin is the parent's, a pipe whose other end a third process holds: killing the
      // parent does not close it (a pipe this test held would be closed by node when the parent exits).
      const holder = track(
        spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
          stdio: ["ignore", "pipe", "ignore"],
        }),
      );
      const script = `
        const { spawn } = require("node:child_process");
        const [node, ...args] = JSON.parse(process.argv[1]);
        const c = spawn(node, args, { stdio: ["inherit", "pipe", "ignore"] });
        c.stdout.once("data", () => process.stdout.write(c.pid + "\\n"));`;
      const parent = track(
        spawn(process.execPath, ["-e", script, JSON.stringify([cmd.node, ...cmd.args])], {
          env: cmd.env,
          stdio: [holder.stdout, "pipe", "ignore"],
        }),
      );
      const pid = await new Promise<number>((resolve, reject) => {
        parent.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
        parent.once("exit", (code) => reject(new Error(`the parent exited with ${code}`)));
      });
      killLater(pid);
      expect(gone(pid)).toBe(false);
      parent.kill("SIGKILL");
      expect(await waitGone(pid, 15_000)).toBe(true);
    },
    PDS_HOOK_TIMEOUT,
  );
});

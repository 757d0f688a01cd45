import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFailure, type RunOptions, type RunResult, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

/**
 * A keychain that never answers (docs/threats.md I8): a session bus that accepts connections and never
 * replies, as a wedged D-Bus or a pending unlock prompt does. keytar then blocks a thread that cannot be
 * cancelled; the run must still end with 78 once the keychain's 5 s are up, and signals must work.
 */
const h = useHttpsServer();
let dir: string;
let bus: Server;
const sockets = new Set<Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "identica-wedged-bus-"));
  bus = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => bus.listen(join(dir, "bus"), resolve));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => bus?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Far above the keychain's 5 s plus a second, far below "never": a run still going then is hung. */
const BOUND_MS = 15_000;

/**
 * Runs the CLI in its own HOME with the wedged bus; SIGKILLs it if it has not ended within BOUND_MS
 * (then `signal` is SIGKILL). Afterwards, no process of this run (the keychain helper included) may be
 * left behind: under cron they would pile up.
 */
async function runWedged(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const home = mkdtempSync(join(tmpdir(), "identica-home-"));
  let timer: NodeJS.Timeout | undefined;
  const r = await runCli(args, {
    ...opts,
    env: {
      HOME: home,
      XDG_CONFIG_HOME: join(home, ".config"),
      XDG_CACHE_HOME: join(home, ".cache"),
      XDG_STATE_HOME: join(home, ".local/state"),
      XDG_RUNTIME_DIR: home,
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, "bus")}`,
      ...opts.env,
    },
    onSpawn: (child: ChildProcess) => {
      timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
      opts.onSpawn?.(child);
    },
  });
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(processesWithHome(home)).toEqual([]);
  return r;
}

/** The processes (pid and command line) whose environment has HOME=home. */
function processesWithHome(home: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      if (environ.includes(`HOME=${home}`)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ")}`);
      }
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found;
}

const NO_ANSWER = /the OS keychain is unavailable: no answer within 5 s/;

describe.skipIf(process.platform !== "linux")("a session bus that never answers (docs/threats.md I8)", () => {
  it("post, challenged, with the keychain as the only source: 78 once the keychain's time is up, status kept", async () => {
    const text = uniqueText("wedged");
    const r = await runWedged(["post", ...h.args, text]);
    expect(r.signal).toBeNull();
    const saved = expectFailure(
      r,
      78,
      /no password for alice at 127\.0\.0\.1:\d+; tried IDENTICA_PASSWORD, OS keychain \(unavailable: no answer within 5 s\)/,
    );
    expect(JSON.parse(readFileSync(saved as string, "utf8"))).toMatchObject({ text, sent: false });
    // The challenge was answered by nobody: one post, without credentials.
    expect(h.posts().map((q) => q.headers.authorization)).toEqual([undefined]);
  });

  it("accounts: 78, the keychain does not answer", async () => {
    const r = await runWedged(["accounts", "--server", h.server.apiRoot]);
    expect(r.signal).toBeNull();
    expectFailure(r, 78, NO_ANSWER);
  });

  it("Ctrl-C while accounts waits for the lock probe: 130, and no dbus-send is left behind", async () => {
    const r = await runWedged(["accounts", "--server", h.server.apiRoot], {
      onSpawn: (child) => {
        setTimeout(() => child.kill("SIGINT"), 1500);
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toBe("identica: interrupted (SIGINT); nothing was posted\n");
  });

  it("login --password-stdin: 78 before anything is sent", async () => {
    const r = await runWedged(
      ["login", "--server", h.server.apiRoot, "--user", "alice", "--cacert", h.certPath, "--password-stdin"],
      { input: `${PASSWORD}\n` },
    );
    expect(r.signal).toBeNull();
    expectFailure(r, 78, NO_ANSWER);
    expect(h.server.requests).toHaveLength(0);
  });

  it("SIGKILL while the keychain hangs: the keychain helper does not outlive the CLI", async () => {
    const r = await runWedged(["post", ...h.args, uniqueText("wedged sigkill")], {
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (h.server.requests.length < 1) return;
          clearInterval(poll);
          setTimeout(() => child.kill("SIGKILL"), 1000);
        }, 20);
        child.on("close", () => clearInterval(poll));
      },
    });
    expect(r.signal).toBe("SIGKILL");
  });

  it("SIGTERM while the keychain hangs: 143 at once, the status in the outbox", async () => {
    const text = uniqueText("wedged sigterm");
    const r = await runWedged(["post", ...h.args, text], {
      onSpawn: (child) => {
        // Once the server has challenged, the keychain is being asked; give the call a moment to block.
        const poll = setInterval(() => {
          if (h.server.requests.length < 1) return;
          clearInterval(poll);
          setTimeout(() => child.kill("SIGTERM"), 1000);
        }, 20);
        child.on("close", () => clearInterval(poll));
      },
    });
    expect(r.code).toBe(143);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toBe("identica: interrupted (SIGTERM); nothing was posted");
    const path =
      /^identica: the status is saved in the outbox: (\S+) \(send it with: identica outbox send\)$/m.exec(
        r.stderr,
      )?.[1];
    expect(path, r.stderr).toBeDefined();
    expect(JSON.parse(readFileSync(path as string, "utf8"))).toMatchObject({
      text,
      sent: false,
      exitCode: 143,
    });
  });
});

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { expectFailure, type RunOptions, type RunResult, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

/**
 * The process always ends (docs/threats.md I8; docs/threats.md I8): a path the user names that is a
 * FIFO without a writer, a directory or a device is refused at once, never waited on; and when a call
 * that never returns does hold one of libuv's threads, a signal still ends the process with its code.
 */
const h = useHttpsServer();

/** Far above what any of these runs needs, far below "never": a run still going then is hung. */
const BOUND_MS = 15_000;

const BLOCKER = fileURLToPath(new URL("../helpers/block-threadpool.mjs", import.meta.url));

/** A FIFO that nobody ever opens for writing. */
function fifo(): string {
  const path = join(mkdtempSync(join(tmpdir(), "identica-fifo-")), "pw");
  execFileSync("mkfifo", ["-m", "600", path]);
  return path;
}

/** runCli, but SIGKILLed if it has not ended within BOUND_MS (then `signal` is SIGKILL). */
async function bounded(args: string[], opts: RunOptions = {}): Promise<RunResult & { ms: number }> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const r = await runCli(args, {
    ...opts,
    onSpawn: (child) => {
      timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
      opts.onSpawn?.(child);
    },
  });
  clearTimeout(timer);
  return { ...r, ms: Date.now() - start };
}

/** The exit status as a shell, cron or systemd reports it: 128 + n for a process ended by signal n. */
const shellStatus = (r: RunResult) =>
  r.code ?? 128 + (constants.signals[r.signal as NodeJS.Signals] as number);

const outboxEntry = (path: string | undefined) => {
  expect(path).toBeDefined();
  return JSON.parse(readFileSync(path as string, "utf8"));
};

/** A path as a regular expression that matches it literally. */
const re = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The env of a run without IDENTICA_PASSWORD, so that the password must come from somewhere else. */
const NO_PASSWORD = { IDENTICA_PASSWORD: undefined };

describe("paths the user names are never waited on", () => {
  it("--password-file naming a FIFO without a writer: 78 at once, one line saying so, the status in the outbox", async () => {
    const pw = fifo();
    const text = uniqueText("fifo password");
    const r = await bounded(["post", ...h.args, "--timeout", "2", "--password-file", pw, text], {
      env: NO_PASSWORD,
    });
    expect(r.signal).toBeNull();
    const kept = expectFailure(
      r,
      78,
      new RegExp(`^identica: the password file ${re(pw)} is a FIFO, not a regular file`),
    );
    expect(outboxEntry(kept)).toMatchObject({ text, sent: false });
    // The server challenged the request without credentials; nothing else was sent.
    expect(h.posts()).toHaveLength(1);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it.each([
    ["a directory", () => mkdtempSync(join(tmpdir(), "identica-pwdir-"))],
    ["a character device", () => "/dev/null"],
  ])("--password-file naming %s: 78 naming what it is", async (what, make) => {
    const path = make();
    const r = await bounded(["post", ...h.args, "--password-file", path, uniqueText("not a file")], {
      env: NO_PASSWORD,
    });
    expectFailure(
      r,
      78,
      new RegExp(`^identica: the password file ${re(path)} is ${what}, not a regular file`),
    );
  });

  it("--cacert naming a FIFO: refused at once, nothing sent", async () => {
    const ca = fifo();
    const r = await bounded(
      ["post", "--server", h.server.apiRoot, "--user", "alice", "--cacert", ca, uniqueText("fifo ca")],
      { env: { IDENTICA_PASSWORD: PASSWORD } },
    );
    expectFailure(
      r,
      64,
      new RegExp(`^identica: cannot use --cacert ${re(ca)}: it is a FIFO, not a regular file`),
    );
    expect(h.server.requests).toHaveLength(0);
  });

  it("NETRC naming a FIFO: the netrc source is unavailable, not waited on; 78 naming what was tried", async () => {
    const netrc = fifo();
    const r = await bounded(["post", ...h.args, "--timeout", "2", uniqueText("fifo netrc")], {
      env: { ...NO_PASSWORD, NETRC: netrc },
    });
    expectFailure(
      r,
      78,
      new RegExp(
        `no password for alice at .*netrc \\(${re(netrc)}\\) \\(unavailable: ${re(netrc)} is a FIFO, not a regular file\\)`,
      ),
    );
  });

  it("IDENTICA_CONFIG naming a FIFO: 78 at once (it was read on the main thread: not even SIGTERM ended it)", async () => {
    const config = fifo();
    const r = await bounded(["post", ...h.args, uniqueText("fifo config")], {
      env: { IDENTICA_CONFIG: config },
      // Before the fix only SIGKILL ended such a run; now it has ended long before.
      onSpawn: (child) => setTimeout(() => child.kill("SIGTERM"), 5_000).unref(),
    });
    expectFailure(
      r,
      78,
      new RegExp(`^identica: cannot read the config file ${re(config)}: it is a FIFO, not a regular file`),
    );
  });
});

describe("a thread that never returns does not keep the process alive", () => {
  /** A run with one of libuv's threads blocked for good (test/helpers/block-threadpool.mjs). */
  const blocked = (args: string[], opts: RunOptions = {}) =>
    bounded(args, {
      ...opts,
      env: { ...h.env, NODE_OPTIONS: `--import ${BLOCKER}`, IDENTICA_TEST_BLOCK_FIFO: fifo(), ...opts.env },
    });

  it("SIGTERM mid-post: the process ends with 143, the status in the outbox", async () => {
    h.server.faults.push({ fault: { kind: "hang" } });
    const text = uniqueText("sigterm blocked");
    const r = await blocked(["post", ...h.args, "--max-length", "0", text], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (h.server.requests.length >= 1) {
            clearInterval(timer);
            child.kill("SIGTERM");
          }
        }, 20);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.signal).not.toBe("SIGKILL");
    expect(shellStatus(r)).toBe(143);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe("identica: interrupted (SIGTERM); nothing was posted");
    const path = /^identica: the status is saved in the outbox: (\S+) /.exec(lines[1] ?? "")?.[1];
    expect(outboxEntry(path)).toMatchObject({ text, sent: false, exitCode: 143 });
  });

  it("SIGINT mid-post: the process ends with 130", async () => {
    h.server.faults.push({ fault: { kind: "hang" } });
    const r = await blocked(["post", ...h.args, "--max-length", "0", uniqueText("sigint blocked")], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (h.server.requests.length >= 1) {
            clearInterval(timer);
            child.kill("SIGINT");
          }
        }, 20);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.signal).not.toBe("SIGKILL");
    expect(shellStatus(r)).toBe(130);
    expect(r.stderr.split("\n")[0]).toBe("identica: interrupted (SIGINT); nothing was posted");
  });

  it("after the command has finished: its own code where Node can end without that thread, and a signal always ends it", async () => {
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "busy" } });
    const text = uniqueText("finished blocked");
    const r = await blocked(["post", ...h.args, "--max-length", "0", text], {
      onSpawn: (child) => {
        // Once the outcome has been printed, give the process 3 s to end by itself, then ask it to.
        let stderr = "";
        child.stderr?.on("data", (d: Buffer) => {
          stderr += d.toString("utf8");
          if (/outbox/.test(stderr)) setTimeout(() => child.kill("SIGTERM"), 3_000).unref();
        });
      },
    });
    expect(r.signal).not.toBe("SIGKILL");
    // process.execve (Node >= 22.15) lets the process end with its own code without joining the
    // blocked thread; an older Node cannot, but SIGTERM then ends it (before the fix nothing did).
    if (typeof (process as { execve?: unknown }).execve === "function") expect(r.code).toBe(75);
    else expect(shellStatus(r)).toBe(143);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toMatch(/^identica: .*503/);
    const path = /^identica: the status is saved in the outbox: (\S+) /.exec(lines[1] ?? "")?.[1];
    expect(outboxEntry(path)).toMatchObject({ text, sent: false });
  });
});

describe("state files are never waited on either", () => {
  it("a FIFO as the protection-space cache, the limit cache, an outbox entry or the lock: the run ends", async () => {
    const home = mkdtempSync(join(tmpdir(), "identica-fifo-state-"));
    const env = {
      ...h.env,
      HOME: home,
      XDG_CACHE_HOME: join(home, "cache"),
      XDG_STATE_HOME: join(home, "state"),
    };
    execFileSync("mkdir", ["-p", join(home, "cache/identica"), join(home, "state/identica/outbox")]);
    for (const f of [
      "cache/identica/spaces.json",
      "cache/identica/servers.json",
      "state/identica/outbox/20260101-000000000-aaaaaa.json",
      "state/identica/outbox.lock",
    ]) {
      execFileSync("mkfifo", ["-m", "600", join(home, f)]);
    }
    const post = await bounded(["post", ...h.args, uniqueText("fifo caches")], { env });
    expect(post.signal).toBeNull();
    expect(post.code, post.stderr).toBe(0);
    const list = await bounded(["outbox", "list"], { env });
    expect(list.signal).toBeNull();
    expect(list.stdout).toMatch(/CORRUPT: not a regular file/);
    const send = await bounded(["outbox", "send", ...h.args], { env });
    expect(send.signal).toBeNull();
    expect(send.code).not.toBe(70);
  });
});

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectFailure, type RunOptions, type RunResult, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

/**
 * The process always ends (issue 10, "Never ends"; SECURITY.md I8): a path the user names that is a
 * FIFO without a writer, a directory or a device is refused at once, never waited on.
 */
const h = useHttpsServer();

/** Far above what any of these runs needs, far below "never": a run still going then is hung. */
const BOUND_MS = 15_000;

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

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

/** The built binary; IDENTICA_BIN runs the tests against another build (an older commit's, say). */
export const BIN =
  process.env.IDENTICA_BIN ?? fileURLToPath(new URL("../../bin/identica.js", import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Bytes for stdin; without it stdin is /dev/null, as under cron. */
  input?: string | Buffer;
  /** Close our end of the child's stdout at once (`| head -c0`). */
  closeStdout?: boolean;
  /** Close our end of the child's stderr at once (`2>&1 | head -c0`): its writes then fail with EPIPE. */
  closeStderr?: boolean;
  /** Send the child's stdout or stderr to this file instead (`>/dev/full`). */
  stdoutTo?: string;
  stderrTo?: string;
  /** Called with the child process once it is running (to signal it, or to feed stdin slowly). */
  onSpawn?: (child: ChildProcess) => void;
  /** A pipe on stdin that `onSpawn` writes to and ends. */
  keepStdinOpen?: boolean;
}

/**
 * Spawns the built binary with a clean environment: a fresh HOME and XDG directories, no IDENTICA_*
 * variables, no colour forcing, UTC, so no test touches the real user's files or keychain.
 */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const home = mkdtempSync(join(tmpdir(), "identica-home-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local/state"),
    TZ: "UTC",
    LANG: "C.UTF-8",
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const to = (path: string | undefined) => (path === undefined ? "pipe" : openSync(path, "w"));
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      stdio: [
        opts.input === undefined && !opts.keepStdinOpen ? "ignore" : "pipe",
        to(opts.stdoutTo),
        to(opts.stderrTo),
      ],
    });
    let stdout = "";
    let stderr = "";
    const out = child.stdout as (NodeJS.ReadableStream & { destroy(): void }) | null;
    if (opts.closeStdout) out?.destroy();
    else out?.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    const err = child.stderr as (NodeJS.ReadableStream & { destroy(): void }) | null;
    if (opts.closeStderr) err?.destroy();
    else err?.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    opts.onSpawn?.(child);
  });
}

/** Asserts that neither the password nor any Basic form of it shows up anywhere in a run's output. */
export function expectNoSecret(r: RunResult, password: string, user = "alice"): void {
  const forms = [
    password,
    Buffer.from(`${user}:${password}`).toString("base64"),
    Buffer.from(`${user}:${password}`).toString("base64").replace(/=+$/, ""),
    `${user}:${password}`,
  ];
  for (const f of forms) {
    expect(r.stdout).not.toContain(f);
    expect(r.stderr).not.toContain(f);
  }
}

// The second line of a failed post: where the status went (core/keep.ts keptLines).
const OUTBOX_LINE =
  /^identica: the status is (?:saved in the outbox: (\S+\.json) \(send it with: identica outbox send\)|kept in the outbox, marked refused: (\S+\.json) \(outbox send skips it; .*\)|already on the server; nothing was kept)$/;

/**
 * A failure: the exit code, one line `identica: …` on stderr matching `message`, nothing on stdout;
 * for a post that failed after its text was read, a second line saying where the status went: the
 * outbox file's path is returned (undefined when it was not kept).
 */
export function expectFailure(r: RunResult, code: number, message: RegExp): string | undefined {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: "" });
  const lines = r.stderr.split("\n");
  expect(lines.at(-1)).toBe("");
  expect(lines.length === 2 || (lines.length === 3 && OUTBOX_LINE.test(lines[1] as string)), r.stderr).toBe(
    true,
  );
  expect(lines[0]).toMatch(/^identica: /);
  expect(lines[0]).toMatch(message);
  if (lines.length !== 3) return undefined;
  const m = OUTBOX_LINE.exec(lines[1] as string);
  return m?.[1] ?? m?.[2];
}

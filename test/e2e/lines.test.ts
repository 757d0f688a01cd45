import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { uniqueText, useHttpsServer } from "../helpers/setup.js";

// docs/threats.md I13: `post --lines` caps each line at 1 MiB without buffering the rest of it.
const h = useHttpsServer();

function stateEnv() {
  const base = mkdtempSync(join(tmpdir(), "identica-state-"));
  const env = { ...h.env, XDG_STATE_HOME: join(base, "state"), XDG_CACHE_HOME: join(base, "cache") };
  const entries = () => {
    try {
      return readdirSync(join(base, "state", "identica", "outbox")).filter((f) => f.endsWith(".json"));
    } catch {
      return [];
    }
  };
  return { env, entries };
}
const copies = (text: string) => h.server.store.notices.filter((n) => n.text === text && !n.deleted).length;

/** Peak resident memory of a running process in MiB (Linux), or undefined once it has gone. */
function peakRssMiB(pid: number | undefined): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

describe("post --lines: a line over 1 MiB (docs/threats.md I13)", () => {
  it("a 5 MB line between two short ones: both posted, one short line on stderr, exit 64, not kept", async () => {
    const d = stateEnv();
    const before = uniqueText("before");
    const after = uniqueText("after");
    const long = `LONGSTART${"x".repeat(5_000_000)}`;
    const r = await runCli(["post", ...h.args, "--lines", "-o", "id"], {
      env: d.env,
      input: `${before}\n${long}\n${after}\n`,
    });
    expect(r.code).toBe(64);
    expect([copies(before), copies(after)]).toEqual([1, 1]);
    expect(r.stdout).toMatch(/^\d+\n\d+\n$/);
    expect(r.stderr).toMatch(
      /^identica: line 2: the line is 5000009 bytes long, over the limit of 1 MiB for a line; nothing was sent: LONGSTARTx{71}…\n$/,
    );
    expect(h.server.store.notices.some((n) => n.text.startsWith("LONGSTART"))).toBe(false);
    // 64 is never kept (docs/cli.md "The outbox's promises").
    expect(d.entries()).toHaveLength(0);
  });

  it("a 50 MB line streamed through: no crash, not echoed, memory bounded, the next line still posted", async () => {
    const first = uniqueText("first");
    const next = uniqueText("next");
    let peak: number | undefined;
    let posted = false;
    const r = await runCli(["post", ...h.args, "--lines", "-o", "none"], {
      env: h.env,
      keepStdinOpen: true,
      onSpawn: (child) => {
        const stdin = child.stdin;
        if (!stdin) return;
        stdin.write(`${first}\n`);
        const block = Buffer.alloc(1024 * 1024, "z");
        for (let i = 0; i < 50; i++) stdin.write(block);
        stdin.write(`\n${next}\n`);
        // Measured while the process still runs, after it has read the whole long line.
        const timer = setInterval(() => {
          if (copies(next) !== 1) return;
          clearInterval(timer);
          posted = true;
          peak = peakRssMiB(child.pid);
          stdin.end();
        }, 20);
        child.on("exit", () => clearInterval(timer));
      },
    });
    expect(r.signal).toBeNull();
    expect(posted).toBe(true);
    // readline held the line several times over (peak 279 MiB here; a 200 MB line took 921 MB); the
    // splitter keeps at most 1 MiB of a line (peak ~95 MiB on Node 20, ~110 MiB on Node 24, mostly
    // Node itself).
    if (peak !== undefined) expect(peak).toBeLessThan(190);
    expect(r.code).toBe(64);
    expect(copies(first)).toBe(1);
    expect(r.stderr).toMatch(
      /^identica: line 2: the line is 52428800 bytes long, over the limit of 1 MiB for a line; nothing was sent: z{80}…\n$/,
    );
  });
});

describe("post --lines: strict UTF-8 per line", () => {
  it("invalid UTF-8 on one line is 65 for that line; the others are posted, a real U+FFFD too", async () => {
    const a = uniqueText("utf8 a");
    const b = uniqueText("utf8 b \uFFFD replacement character");
    const input = Buffer.concat([
      Buffer.from(`${a}\n`),
      Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x0a]),
      Buffer.from(`${b}\r\n`),
    ]);
    const r = await runCli(["post", ...h.args, "--lines", "-o", "id"], { env: h.env, input });
    expect(r.code).toBe(65);
    const [first, second, end] = r.stderr.split("\n");
    expect([first, end]).toEqual(["identica: line 2: the line is not valid UTF-8; nothing was sent", ""]);
    // Kept, marked refused, with its exact bytes (lost-input.test.ts).
    expect(second).toMatch(/^identica: line 2 is kept in the outbox, marked refused: /);
    expect([copies(a), copies(b)]).toEqual([1, 1]);
    expect(r.stdout).toMatch(/^\d+\n\d+\n$/);
  });
});

describe("post --lines: a line over the server's limit", () => {
  it("is quoted whole when it could be a status, and only by its start when far longer", async () => {
    const d = stateEnv();
    const near = `${uniqueText("near")} ${"n".repeat(1100)}`;
    const far = `FAR${"f".repeat(200_000)}`;
    const ok = uniqueText("ok");
    const r = await runCli(["post", ...h.args, "--lines", "-o", "id"], {
      env: d.env,
      input: `${near}\n${far}\n${ok}`,
    });
    expect(r.code).toBe(64);
    expect(copies(ok)).toBe(1);
    const lines = r.stderr.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      `identica: line 1: the status is ${near.length} characters long, over ${h.server.apiRoot.replace(/^https:\/\//, "").replace(/\/api$/, "")}'s limit of 1000; nothing was sent: ${near}`,
    );
    expect(lines[1]).toMatch(
      /^identica: line 2: the status is 200003 characters long, over .* limit of 1000; nothing was sent: FARf{77}…$/,
    );
    expect(d.entries()).toHaveLength(0);
  });
});

import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunOptions, type RunResult, runCli } from "./cli.js";

/** An outbox file as the CLI wrote it, with its path. */
export interface SavedEntry {
  file: string;
  id: string;
  entry: Record<string, unknown> & { text: string; server: string };
}

/**
 * Several runs of the CLI sharing ONE home: config, cache (limits, protection spaces), state (outbox,
 * lock) carry from one run to the next, as on a real machine, while the test changes the server between
 * runs. Most escaped defects lived in exactly this state (docs/threats.md section I).
 */
export class Scenario {
  readonly home: string;
  readonly env: Record<string, string>;

  constructor(env: Record<string, string> = {}) {
    this.home = mkdtempSync(join(tmpdir(), "identica-scenario-"));
    this.env = {
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, ".config"),
      XDG_CACHE_HOME: join(this.home, ".cache"),
      XDG_STATE_HOME: join(this.home, ".local/state"),
      ...env,
    };
  }

  get stateDir(): string {
    return join(this.env.XDG_STATE_HOME as string, "identica");
  }

  get outboxDir(): string {
    return join(this.stateDir, "outbox");
  }

  /** Runs the built binary in this home; `opts.env` adds to (or, with undefined, removes from) its env. */
  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return runCli(args, { ...opts, env: { ...this.env, ...opts.env } });
  }

  /** The outbox entries, oldest first, parsed. */
  outbox(): SavedEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.outboxDir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith(".json") && !n.startsWith("."))
      .sort()
      .map((n) => {
        const file = join(this.outboxDir, n);
        return { file, id: n.slice(0, -5), entry: JSON.parse(readFileSync(file, "utf8")) };
      });
  }

  /** Makes the state folder exist (for tests that plant files in it). */
  ensureOutboxDir(): string {
    mkdirSync(this.outboxDir, { recursive: true, mode: 0o700 });
    return this.outboxDir;
  }
}

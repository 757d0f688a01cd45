import { randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/**
 * Statuses that could not be posted, one JSON file each in `$XDG_STATE_HOME/identica/outbox/`
 * (mode 0600, written atomically), kept until sent or dropped. Synchronous on purpose: a signal
 * handler must be able to save the text before the process ends.
 */
export interface OutboxEntry {
  /** The file's name without `.json`; sorts oldest first. */
  id: string;
  text: string;
  /** The API root. */
  server: string;
  user: string | null;
  replyTo: string | null;
  source: string;
  /** When the last attempt began (ISO 8601). */
  attemptedAt: string;
  /**
   * When the first attempt whose outcome was unknown began (ISO 8601), or null if every attempt
   * certainly posted nothing. Set once and never moved: the "already posted?" search looks at the
   * account's statuses since this time, whatever failed after it.
   */
  uncertainSince: string | null;
  /** Whether any attempt's outcome was unknown (the request went out): `uncertainSince !== null`. */
  sent: boolean;
  /** The server refused it for good (65): later sends skip it until `outbox send --retry-refused ID`. */
  refused: boolean;
  exitCode: number;
  error: string;
}

/** The start of the "already posted?" search, also for entries written before `uncertainSince` existed. */
export function uncertainSince(e: OutboxEntry): string | null {
  if (typeof e.uncertainSince === "string") return e.uncertainSince;
  return e.sent || e.exitCode === 76 ? e.attemptedAt : null;
}

/** The outcome of one more attempt at an entry, folded into it (the first uncertain time stays). */
export function afterAttempt(
  e: OutboxEntry,
  attempt: { startedAt: Date; uncertain: boolean; exitCode: number; error: string },
): OutboxEntry {
  const since = uncertainSince(e) ?? (attempt.uncertain ? attempt.startedAt.toISOString() : null);
  return {
    ...e,
    attemptedAt: attempt.startedAt.toISOString(),
    uncertainSince: since,
    sent: since !== null,
    refused: attempt.exitCode === 65,
    exitCode: attempt.exitCode,
    error: attempt.error,
  };
}

export type NewEntry = Omit<OutboxEntry, "id">;

export class Outbox {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "outbox");
  }

  /** The state folder and its outbox, private to the user. */
  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** Saves an entry and returns it with its id; the file appears complete or not at all. */
  save(entry: NewEntry): OutboxEntry {
    this.ensureDir();
    const stamp = entry.attemptedAt.replace(/[-:.]/g, "").replace("T", "-").replace("Z", "");
    const id = `${stamp}-${randomBytes(3).toString("hex")}`;
    const full = { id, ...entry };
    this.#write(id, full);
    return full;
  }

  /** Rewrites an entry after a new attempt. */
  update(entry: OutboxEntry): void {
    this.#write(entry.id, entry);
  }

  list(): OutboxEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const entries: OutboxEntry[] = [];
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      try {
        const e = JSON.parse(readFileSync(join(this.dir, name), "utf8")) as OutboxEntry;
        if (typeof e.text === "string" && typeof e.server === "string")
          entries.push({ ...e, id: name.slice(0, -5) });
      } catch {
        // A file that is not an entry (or is being written) is left alone.
      }
    }
    return entries;
  }

  get(id: string): OutboxEntry | undefined {
    return this.list().find((e) => e.id === id);
  }

  /** Removes an entry; false when there was none. */
  remove(id: string): boolean {
    if (!/^[\w-]+$/.test(id)) return false;
    try {
      unlinkSync(this.pathOf(id));
      return true;
    } catch {
      return false;
    }
  }

  #write(id: string, data: OutboxEntry): void {
    const tmp = join(this.dir, `.${id}.${process.pid}.tmp`);
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.pathOf(id));
  }
}

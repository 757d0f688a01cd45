import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { ExitCode, IdenticaError } from "../errors.js";

/**
 * The exclusive lock of `outbox send`, so two runs (two cron jobs) never send the same entry.
 *
 * The lock file says who holds it: the pid on the first line (what older versions wrote and read),
 * then the holder's host, boot id and process start time. A lock is stale — and broken — when its
 * holder is provably not the process that wrote it:
 * - on this host, the pid is gone, or the machine has rebooted since (another boot id), or the pid now
 *   belongs to a process that started at another time (Linux: /proc/<pid>/stat field 22), which is
 *   what a reboot or a `kill -9` leaves behind, whatever the lock's age;
 * - otherwise (a lock from an older version, another host sharing the home, a system without /proc,
 *   an empty file from a run killed while writing it), the holder cannot be confirmed and only its
 *   heartbeat tells: the holder refreshes the lock's mtime every HEARTBEAT_MS, so a lock not touched
 *   for STALE_AFTER_MS is broken.
 * A holder confirmed alive is respected however old its lock: breaking it could send an entry twice.
 *
 * Not proper-lockfile: it knows only the heartbeat (a holder stopped by SIGSTOP or a blocked event
 * loop loses its lock after 10 s and the other run sends the same entries) and cannot name the holder.
 */

/** How often the holder touches the lock. */
export const HEARTBEAT_MS = 10_000;
/** The age after which a lock whose holder cannot be confirmed is stale: many missed heartbeats. */
export const STALE_AFTER_MS = 120_000;
/** A `.break` guard older than this was left by a run that died while breaking a lock (a few µs). */
const GUARD_STALE_MS = 10_000;
/** The most of a lock file that is read: ours are about 100 bytes. */
const MAX_LOCK_BYTES = 4096;

export interface Lock {
  /** Whether the lock file is still ours (a later run did not break it): checked before each entry. */
  held(): boolean;
  /** Removes the lock if it is still ours; also done on exit. */
  release(): void;
}

/** Who wrote a lock file, as far as it says. */
interface Holder {
  pid: number | undefined;
  host: string | undefined;
  boot: string | undefined;
  start: string | undefined;
}

/** What one look at the lock file saw: its inode identifies it when it is broken. */
interface Seen {
  ino: number;
  mtimeMs: number;
  content: string;
}

/**
 * Takes the lock or throws 75 naming the live holder. Stale locks are broken: one run at a time (a
 * `.break` guard), and only the very file that was judged stale (renamed aside, then its inode checked).
 */
export async function acquireLock(
  path: string,
  now: () => number = Date.now,
  heartbeatMs = HEARTBEAT_MS,
): Promise<Lock> {
  const mine = describeSelf();
  for (let attempt = 0; attempt < 20; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // Something that is not a lock file (a folder, a FIFO) would fail this loop forever: say so.
      const kind = notAFile(path);
      if (kind !== undefined) {
        throw new IdenticaError(
          ExitCode.Config,
          `the outbox lock ${path} is ${kind}, not a file; nothing was sent`,
          {
            hint: "remove it; identica makes its own",
          },
        );
      }
      const seen = look(path);
      if (seen === undefined) continue; // Released meanwhile: try again.
      const holder = parseHolder(seen.content);
      if (!isStale(holder, seen, now())) {
        const who = holder.pid === undefined ? "" : ` (pid ${holder.pid})`;
        throw new IdenticaError(
          ExitCode.TempFail,
          `another identica is sending the outbox${who}; nothing was sent`,
          { hint: "try again when it has finished" },
        );
      }
      if (!breakIfSame(path, seen)) await sleep(20 + Math.floor(Math.random() * 30));
      continue;
    }
    try {
      writeSync(fd, mine);
    } finally {
      closeSync(fd);
    }
    return holding(path, mine, heartbeatMs);
  }
  throw new IdenticaError(ExitCode.TempFail, `could not take the outbox lock ${path}; nothing was sent`, {
    hint: "try again later",
  });
}

function holding(path: string, mine: string, heartbeatMs: number): Lock {
  const held = () => look(path)?.content === mine;
  const beat = setInterval(() => {
    try {
      if (held()) utimesSync(path, new Date(), new Date());
    } catch {
      // A missed beat only brings the age limit closer; the next one tries again.
    }
  }, heartbeatMs);
  beat.unref();
  const release = () => {
    clearInterval(beat);
    process.off("exit", release);
    try {
      if (held()) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  process.once("exit", release);
  return { held, release };
}

/** The lock file's inode, mtime and (start of its) content; undefined when there is none. */
function look(path: string): Seen | undefined {
  let fd: number;
  try {
    // Never waits: a FIFO planted in its place would block open(2) for good.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const buf = Buffer.alloc(MAX_LOCK_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { ino: st.ino, mtimeMs: st.mtimeMs, content: buf.subarray(0, n).toString("utf8") };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** `<pid>\nhost <name>\nboot <id>\nstart <ticks>\n`: an older version reads the pid from line 1. */
function describeSelf(): string {
  const lines = [String(process.pid), `host ${hostname()}`];
  const boot = bootId();
  const start = startTime(process.pid);
  if (boot !== undefined) lines.push(`boot ${boot}`);
  if (start !== undefined) lines.push(`start ${start}`);
  return `${lines.join("\n")}\n`;
}

function parseHolder(content: string): Holder {
  const [first = "", ...rest] = content.split("\n");
  const pid = /^\s*\d+\s*$/.test(first) ? Number(first) : Number.NaN;
  const field = (key: string) => {
    const line = rest.find((l) => l.startsWith(`${key} `));
    return line === undefined ? undefined : line.slice(key.length + 1);
  };
  return {
    pid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined,
    host: field("host"),
    boot: field("boot"),
    start: field("start"),
  };
}

/** Whether the holder is provably gone, or unconfirmable and silent for too long. */
function isStale(holder: Holder, seen: Seen, nowMs: number): boolean {
  const silent = nowMs - seen.mtimeMs > STALE_AFTER_MS;
  const { pid } = holder;
  // Another host's pid means nothing here (a home shared over NFS): only the heartbeat tells.
  if (pid === undefined || (holder.host !== undefined && holder.host !== hostname())) return silent;
  const boot = bootId();
  if (holder.boot !== undefined && boot !== undefined && holder.boot !== boot) return true;
  if (!alive(pid)) return true;
  if (holder.start !== undefined) {
    const start = startTime(pid);
    if (start !== undefined) return start !== holder.start;
  }
  // A live pid that cannot be tied to the lock: an older version's lock, or no /proc.
  return silent;
}

/**
 * Breaks the lock file that was seen stale, if it is still that file; false when another run is
 * breaking it right now (the caller waits a moment and looks again).
 */
function breakIfSame(path: string, seen: Seen): boolean {
  const guard = `${path}.break`;
  try {
    closeSync(openSync(guard, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) unlinkSync(guard);
    } catch {
      // Gone already: the next look decides.
    }
    return false;
  }
  try {
    const now = look(path);
    if (now === undefined || now.ino !== seen.ino || now.content !== seen.content) return true;
    // Renamed aside rather than unlinked, so a lock taken between the look and now is put back.
    const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      renameSync(path, aside);
    } catch {
      return true;
    }
    if (statSync(aside).ino !== seen.ino) {
      try {
        linkSync(aside, path);
      } catch {
        // Someone took the lock meanwhile; theirs stands.
      }
    }
    unlinkSync(aside);
    return true;
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // Already gone.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The kernel's boot id (Linux); undefined elsewhere. */
function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * When a process started, in clock ticks since boot (Linux: /proc/<pid>/stat field 22); undefined when
 * it cannot be read. The name in field 2 may hold spaces and parentheses: fields are counted after the
 * last `)`.
 */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = fields[22 - 3];
    return start !== undefined && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What stands at the lock's path when it is not a regular file ("a directory", "a FIFO"), else undefined. */
function notAFile(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    if (st.isFile()) return undefined;
    if (st.isDirectory()) return "a directory";
    if (st.isFIFO()) return "a FIFO";
    if (st.isSymbolicLink()) return "a symbolic link";
    return "a special file";
  } catch {
    return undefined;
  }
}

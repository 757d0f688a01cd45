import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats, statSync } from "node:fs";
import { open, stat } from "node:fs/promises";

/**
 * Files the user names (the config file, --password-file, --cacert, NODE_EXTRA_CA_CERTS, netrc) are
 * read only when they are regular files. A FIFO without a writer, a terminal or a serial line would
 * block open(2) or read(2) for good: on the main thread nothing then runs (not even the SIGTERM
 * handler, whose system call restarts), and in libuv's pool the thread cannot be cancelled and
 * process.exit() waits for it (docs/threats.md I8). So the file is opened with O_NONBLOCK, which
 * never waits, and checked with fstat on that very descriptor before a byte is read.
 */
const OPEN_NO_WAIT = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** What a path that is not a regular file is, for a message: "a FIFO", "a directory", …. */
export class NotRegularFile extends Error {
  readonly kind: string;
  constructor(kind: string) {
    super(`it is ${kind}, not a regular file`);
    this.name = "NotRegularFile";
    this.kind = kind;
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * open(2) refuses some special files outright (a Unix socket: ENXIO): say what the path is rather
 * than quote the errno, when it can be told.
 */
function whatItIs(err: unknown, st: Stats | undefined): unknown {
  if (st !== undefined && !st.isFile()) return new NotRegularFile(kindOf(st));
  return err;
}

/**
 * The text of the regular file at `path`, never waiting on a special file: NotRegularFile says what
 * it is instead; other failures are the fs error (ENOENT, EACCES, …). `check` sees the file's stat
 * before it is read (the password file's mode rule).
 */
export async function readRegularFile(path: string, check?: (st: Stats) => void): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, OPEN_NO_WAIT);
  } catch (err) {
    throw whatItIs(err, await stat(path).catch(() => undefined));
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFile(kindOf(st));
    check?.(st);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** readRegularFile on the main thread, for the config file that is read before anything else. */
export function readRegularFileSync(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, OPEN_NO_WAIT);
  } catch (err) {
    let st: Stats | undefined;
    try {
      st = statSync(path);
    } catch {
      st = undefined;
    }
    throw whatItIs(err, st);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFile(kindOf(st));
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

import { mkdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdir, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Files identica writes (config, outbox entries, caches) are written whole to a temporary file in the
 * same folder (0600) and renamed over the old one: a reader, or a run cut short, sees the old file or
 * the new one, never a part. The temporary file is removed when the write fails.
 */
export interface AtomicWriteOptions {
  /** Make the folder first (0700). */
  mkdir?: boolean;
  /** The temporary file; by default `.<name>.<pid>.tmp` beside the target. */
  tmp?: string;
}

const tmpFor = (path: string, o: AtomicWriteOptions) =>
  o.tmp ?? join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);

export function writeFileAtomicSync(path: string, text: string, o: AtomicWriteOptions = {}): void {
  if (o.mkdir) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tmpFor(path, o);
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never made, or already gone.
    }
    throw err;
  }
}

export async function writeFileAtomic(path: string, text: string, o: AtomicWriteOptions = {}): Promise<void> {
  if (o.mkdir) await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tmpFor(path, o);
  try {
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

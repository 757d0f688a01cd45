import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { ExitCode, IdenticaError } from "../errors.js";

/**
 * An exclusive lock file holding the owner's pid, so two `outbox send` runs (two cron jobs) never
 * send the same entry. A lock whose process is gone is stale and is broken; a live one is respected.
 */
export function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      const release = () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
      process.once("exit", release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number.parseInt(readOwner(path), 10);
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new IdenticaError(
          ExitCode.TempFail,
          `another identica is sending the outbox (pid ${owner}); nothing was sent`,
          {
            hint: "try again when it has finished",
          },
        );
      }
      try {
        unlinkSync(path);
      } catch {
        // Someone else broke it first; the next attempt decides.
      }
    }
  }
  throw new IdenticaError(ExitCode.TempFail, `could not take the outbox lock ${path}`);
}

function readOwner(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
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

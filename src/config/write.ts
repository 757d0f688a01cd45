import { readFileSync } from "node:fs";
import { readlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { writeFileAtomic } from "./atomic-write.js";
import { type ConfigFile, readConfig } from "./file.js";
import { isConfigKey } from "./keys.js";

/**
 * Changes the config file atomically: the new content goes to a temporary file in the same directory,
 * which then replaces the old one, so a crash never leaves half a file. Keys this version does not know
 * are kept as they were. A symlinked config file (a dotfiles manager's) stays a link: the file it
 * points to is the one replaced. A file that cannot be written is a configuration problem (78).
 */
export async function updateConfig(
  path: string,
  change: (cfg: ConfigFile) => ConfigFile,
): Promise<ConfigFile> {
  const next = change(readConfig(path));
  const unknown: Record<string, unknown> = {};
  try {
    const raw = JSON.parse(readFileSync(path, "utf8").replace(/^\uFEFF/, "")) as Record<string, unknown>;
    for (const [k, v] of Object.entries(raw)) if (!isConfigKey(k) && k !== "servers") unknown[k] = v;
  } catch {
    // No file yet (readConfig has already refused an unreadable or invalid one).
  }
  try {
    const target = await linkTarget(path);
    await writeFileAtomic(target, `${JSON.stringify({ ...unknown, ...next }, null, 2)}\n`, { mkdir: true });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot write the config file ${path}: ${(err as Error).message}`, {
      cause: err,
      hint: "check that its folder is a writable directory, or point IDENTICA_CONFIG elsewhere",
    });
  }
  return next;
}

/**
 * The file a path ends at after its symlinks, followed one by one (a link may dangle: its target is
 * then created). The folders on the way need no resolving: writing inside them goes through them.
 */
async function linkTarget(path: string): Promise<string> {
  let current = path;
  // As many hops as Linux's own limit (MAXSYMLINKS) before calling it a loop.
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = await readlink(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EINVAL: not a link; ENOENT: no file yet. Either way this is the file to write.
      if (code === "EINVAL" || code === "ENOENT") return current;
      throw err;
    }
    current = resolve(dirname(current), link);
  }
  throw new ConfigError(`cannot write the config file ${path}: too many levels of symbolic links`, {
    hint: "check where the link points",
  });
}

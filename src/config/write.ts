import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ConfigFile, readConfig } from "./file.js";

/**
 * Changes the config file atomically: the new content goes to a temporary file in the same directory,
 * which then replaces the old one, so a crash never leaves half a file.
 */
export async function updateConfig(
  path: string,
  change: (cfg: ConfigFile) => ConfigFile,
): Promise<ConfigFile> {
  const next = change(readConfig(path));
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.config.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return next;
}

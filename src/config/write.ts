import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ConfigFile, readConfig } from "./file.js";
import { isConfigKey } from "./keys.js";

/**
 * Changes the config file atomically: the new content goes to a temporary file in the same directory,
 * which then replaces the old one, so a crash never leaves half a file. Keys this version does not know
 * are kept as they were.
 */
export async function updateConfig(
  path: string,
  change: (cfg: ConfigFile) => ConfigFile,
): Promise<ConfigFile> {
  const next = change(readConfig(path));
  const unknown: Record<string, unknown> = {};
  try {
    const raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    for (const [k, v] of Object.entries(raw)) if (!isConfigKey(k) && k !== "servers") unknown[k] = v;
  } catch {
    // No file yet (readConfig has already refused an unreadable or invalid one).
  }
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.config.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify({ ...unknown, ...next }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return next;
}

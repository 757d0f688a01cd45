import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Server } from "../config/server.js";
import { UsageError } from "../errors.js";
import { codePointLength } from "./text.js";

/** A server's limit is looked up at most once a day (CLI.md "Status text"). */
export const LIMIT_TTL_MS = 24 * 60 * 60 * 1000;

interface CacheFile {
  limits?: Record<string, { textlimit: number; fetchedAt: string }>;
}

/** The per-server cache of text limits in the cache dir (`servers.json`); never a secret in it. */
export class LimitCache {
  readonly #file: string;
  readonly #now: () => Date;

  constructor(cacheDir: string, now: () => Date) {
    this.#file = join(cacheDir, "servers.json");
    this.#now = now;
  }

  async get(server: Server): Promise<number | undefined> {
    const entry = (await this.#read()).limits?.[server.root];
    if (!entry) return undefined;
    const age = this.#now().getTime() - Date.parse(entry.fetchedAt);
    return age >= 0 && age < LIMIT_TTL_MS ? entry.textlimit : undefined;
  }

  async set(server: Server, textlimit: number | undefined): Promise<void> {
    const data = await this.#read();
    const limits = { ...data.limits };
    if (textlimit === undefined) delete limits[server.root];
    else limits[server.root] = { textlimit, fetchedAt: this.#now().toISOString() };
    await this.#write({ ...data, limits });
  }

  async #read(): Promise<CacheFile> {
    try {
      const data = JSON.parse(await readFile(this.#file, "utf8")) as unknown;
      return typeof data === "object" && data !== null ? (data as CacheFile) : {};
    } catch {
      return {};
    }
  }

  async #write(data: CacheFile): Promise<void> {
    try {
      await mkdir(join(this.#file, ".."), { recursive: true, mode: 0o700 });
      const tmp = `${this.#file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(data)}\n`, { mode: 0o600 });
      await rename(tmp, this.#file);
    } catch {
      // A cache that cannot be written only costs one request next time.
    }
  }
}

/** 64 before any request when the text is longer than the limit (0 or undefined: no limit). */
export function checkLength(text: string, limit: number | undefined, whose: string): void {
  if (limit === undefined || limit <= 0) return;
  const length = codePointLength(text);
  if (length > limit) {
    throw new UsageError(
      `the status is ${length} characters long, over ${whose} limit of ${limit}; nothing was sent`,
    );
  }
}

import { join } from "node:path";
import { writeFileAtomic, writeFileAtomicSync } from "../config/atomic-write.js";
import { readRegularFile, readRegularFileSync } from "../config/regular-file.js";
import type { Server } from "../config/server.js";
import { UsageError } from "../errors.js";

/** A server's limit is looked up at most once a day (docs/cli.md "Status text"). */
export const LIMIT_TTL_MS = 24 * 60 * 60 * 1000;

interface CacheEntry {
  textlimit: number;
  fetchedAt: string;
  /** How many characters a URL counts for (Mastodon's `characters_reserved_per_url`), when the server said. */
  urlLength?: number;
}

interface CacheFile {
  limits?: Record<string, CacheEntry>;
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
    return (await this.entry(server))?.textlimit;
  }

  /** The cached limit and URL length, while fresh. */
  async entry(server: Server): Promise<CacheEntry | undefined> {
    const limits = (await this.#read()).limits ?? {};
    if (!Object.hasOwn(limits, server.root)) return undefined;
    const entry = limits[server.root] as CacheEntry;
    const age = this.#now().getTime() - Date.parse(entry.fetchedAt);
    return age >= 0 && age < LIMIT_TTL_MS ? entry : undefined;
  }

  // Read, changed and written with no await between: the targets of one `post --to` set their limits at
  // once, and an await there let one target's write undo the other's.
  async set(server: Server, textlimit: number | undefined, urlLength?: number): Promise<void> {
    let data: CacheFile;
    try {
      data = parseLimits(readRegularFileSync(this.#file)).data;
    } catch {
      data = {};
    }
    const limits = { ...data.limits };
    if (textlimit === undefined) delete limits[server.root];
    else
      limits[server.root] = {
        textlimit,
        fetchedAt: this.#now().toISOString(),
        ...(urlLength === undefined ? {} : { urlLength }),
      };
    try {
      writeFileAtomicSync(this.#file, `${JSON.stringify({ ...data, limits })}\n`, {
        mkdir: true,
        tmp: `${this.#file}.${process.pid}.tmp`,
      });
    } catch {
      // A cache that cannot be written only costs one request next time.
    }
  }

  /**
   * The cached limits, each entry checked: a wrong one (`"textlimit": "5"`, a date that is not one)
   * would disable or distort the length check, so it is dropped and the file rewritten without it.
   */
  async #read(): Promise<CacheFile> {
    let raw: string;
    try {
      raw = await readRegularFile(this.#file);
    } catch {
      return {};
    }
    const { data, clean } = parseLimits(raw);
    if (!clean) await this.#write(data);
    return data;
  }

  async #write(data: CacheFile): Promise<void> {
    try {
      await writeFileAtomic(this.#file, `${JSON.stringify(data)}\n`, {
        mkdir: true,
        tmp: `${this.#file}.${process.pid}.tmp`,
      });
    } catch {
      // A cache that cannot be written only costs one request next time.
    }
  }
}

/** The valid entries of a `servers.json`, and whether the file held nothing else. */
export function parseLimits(raw: string): { data: CacheFile; clean: boolean } {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { data: {}, clean: false };
  }
  if (!isObject(data)) return { data: {}, clean: false };
  if (data.limits === undefined) return { data: {}, clean: Object.keys(data).length === 0 };
  if (!isObject(data.limits)) return { data: {}, clean: false };
  const limits: NonNullable<CacheFile["limits"]> = {};
  let clean = true;
  for (const [root, entry] of Object.entries(data.limits)) {
    if (
      /^https?:\/\//.test(root) &&
      isObject(entry) &&
      Number.isSafeInteger(entry.textlimit) &&
      (entry.textlimit as number) >= 0 &&
      typeof entry.fetchedAt === "string" &&
      !Number.isNaN(Date.parse(entry.fetchedAt))
    ) {
      const urlLength = entry.urlLength;
      const goodUrl =
        urlLength === undefined || (Number.isSafeInteger(urlLength) && (urlLength as number) > 0);
      if (!goodUrl) clean = false;
      limits[root] = {
        textlimit: entry.textlimit as number,
        fetchedAt: entry.fetchedAt,
        ...(goodUrl && urlLength !== undefined ? { urlLength: urlLength as number } : {}),
      };
    } else {
      clean = false;
    }
  }
  return { data: { limits }, clean };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * 64 before any request when the text is longer than the limit (0 or undefined: no limit), counted
 * the way the service counts (`ServiceRules.textLength`).
 */
/** A text over a limit, found before anything was sent (64; `outbox send` keeps such an entry refused). */
export class TooLongError extends UsageError {}

export function checkLength(
  text: string,
  limit: number | undefined,
  whose: string,
  count: (text: string) => number,
): void {
  if (limit === undefined || limit <= 0) return;
  const length = count(text);
  if (length > limit) {
    throw new TooLongError(
      `the status is ${length} characters long, over ${whose} limit of ${limit}; nothing was sent`,
    );
  }
}

import { join } from "node:path";
import { writeFileAtomicSync } from "../../config/atomic-write.js";
import { readRegularFileSync } from "../../config/regular-file.js";

/**
 * Known protection spaces (RFC 9110 §11.5): after a successful challenge, the origin, realm and API
 * root path are remembered in the cache dir — never the credential — so that later runs can send
 * Basic at once for URLs under that path on that exact origin and save the 401 round trip.
 */
export interface SpaceRecord {
  origin: string;
  /** The API root's path; URLs under it are covered. */
  path: string;
  realm: string | null;
  /** The challenge's `charset`, which decides NFC normalisation of the credential. */
  charset: string | null;
  savedAt: string;
}

/** What the Basic flow (auth.ts) needs of remembered protection spaces; FileSpaces keeps them on disk. */
export interface ProtectionSpaces {
  covers(url: URL): { charset: string | null } | undefined;
  remember(url: URL, realm: string | undefined, charset: string | undefined): void;
  forget(url: URL): void;
}

export class FileSpaces implements ProtectionSpaces {
  readonly #file: string;
  /** The API root this run talks to: its path bounds what a remembered space covers. */
  readonly #root: URL;
  readonly #now: () => Date;

  constructor(cacheDir: string, root: URL, now: () => Date) {
    this.#file = join(cacheDir, "spaces.json");
    this.#root = root;
    this.#now = now;
  }

  covers(url: URL): SpaceRecord | undefined {
    return this.#read().find((r) => r.origin === url.origin && url.pathname.startsWith(`${r.path}/`));
  }

  remember(url: URL, realm: string | undefined, charset: string | undefined): void {
    if (url.origin !== this.#root.origin) return;
    const path = this.#root.pathname.replace(/\/+$/, "");
    const others = this.#read().filter((r) => !(r.origin === url.origin && r.path === path));
    this.#write([
      ...others,
      {
        origin: url.origin,
        path,
        realm: realm ?? null,
        charset: charset ?? null,
        savedAt: this.#now().toISOString(),
      },
    ]);
  }

  forget(url: URL): void {
    const all = this.#read();
    const kept = all.filter((r) => !(r.origin === url.origin && url.pathname.startsWith(`${r.path}/`)));
    if (kept.length !== all.length) this.#write(kept);
  }

  /**
   * The remembered spaces, each record checked: the file is a cache anything may have damaged, so a
   * wrong record is dropped (and the file rewritten without it) rather than trusted or crashed on.
   */
  #read(): SpaceRecord[] {
    let raw: string;
    try {
      raw = readRegularFileSync(this.#file);
    } catch {
      return [];
    }
    const { records, clean } = parseSpaces(raw);
    if (!clean) this.#write(records);
    return records;
  }

  #write(spaces: SpaceRecord[]): void {
    try {
      writeFileAtomicSync(this.#file, `${JSON.stringify({ spaces })}\n`, {
        mkdir: true,
        tmp: `${this.#file}.${process.pid}.tmp`,
      });
    } catch {
      // Not remembering only costs the challenge next time.
    }
  }
}

/** The valid records of a `spaces.json`, and whether the file held nothing else. */
export function parseSpaces(raw: string): { records: SpaceRecord[]; clean: boolean } {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { records: [], clean: false };
  }
  const list = isObject(data) ? data.spaces : undefined;
  if (!Array.isArray(list)) return { records: [], clean: false };
  const records = list.filter(isSpaceRecord).map((r) => ({
    origin: r.origin,
    path: r.path,
    realm: r.realm,
    charset: r.charset,
    savedAt: r.savedAt,
  }));
  return { records, clean: records.length === list.length };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A record as `remember` writes it: an origin that is its own URL's origin (http or https), a path
 * that is empty or absolute without a trailing slash, a realm and a charset that are strings or null.
 */
function isSpaceRecord(r: unknown): r is SpaceRecord {
  if (!isObject(r)) return false;
  const { origin, path, realm, charset, savedAt } = r;
  if (typeof origin !== "string" || typeof path !== "string" || typeof savedAt !== "string") return false;
  if (!(realm === null || typeof realm === "string") || !(charset === null || typeof charset === "string"))
    return false;
  if (path !== "" && !/^\/.*[^/]$/.test(path)) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === origin;
  } catch {
    return false;
  }
}

import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../config/atomic-write.js";
import { parseServer } from "../config/server.js";
import { API_NAMES, type ApiName } from "../services/api.js";

/**
 * Statuses that could not be posted, one JSON file each in `$XDG_STATE_HOME/identica/outbox/`
 * (mode 0600, written atomically), kept until sent or dropped. Synchronous on purpose: a signal
 * handler must be able to save the text before the process ends.
 */
export interface OutboxEntry {
  /** The file's name without `.json`; sorts oldest first. */
  id: string;
  text: string;
  /**
   * Only for a text whose input was not valid UTF-8 (kept refused): the exact bytes, base64, and `text`
   * is them decoded with U+FFFD for each bad sequence; null when the bytes are not known (arguments,
   * which Node decodes before identica sees them). While `text` still holds U+FFFD, the entry is not
   * sent, not even with `--retry-refused`: the user fixes `text` first (commands/outbox.ts).
   */
  bytesBase64?: string | null;
  /** The API root. */
  server: string;
  /** The API the server speaks (absent in entries written before Mastodon: StatusNet). */
  api?: ApiName | undefined;
  /**
   * The server as the user named it, when its API was not known yet (the run failed before finding it
   * out): `outbox send` detects it then, instead of taking `server` for a StatusNet API root.
   */
  serverSpec?: string | undefined;
  user: string | null;
  replyTo: string | null;
  source: string;
  /**
   * Sent as `Idempotency-Key` with every attempt at this status (Mastodon): fixed when it was first
   * tried, so a server that honours it answers a retry with the status it already made.
   */
  idempotencyKey?: string | undefined;
  /** A digest of the token an entry without a user was tried with (see core/keep.ts Draft). */
  tokenId?: string | undefined;
  /** A digest of the text the key was first sent with: an entry edited since gets a key of its own. */
  keyTextHash?: string | undefined;
  /** Mastodon's visibility, content warning and language, as the user asked for them. */
  visibility?: string | undefined;
  spoilerText?: string | undefined;
  language?: string | undefined;
  /**
   * Posted with `--if-absent`: `outbox send` looks among the account's recent statuses first, as the
   * post would have, since the run that kept it may have failed before it could look.
   */
  ifAbsent?: boolean | undefined;
  /** When the last attempt began (ISO 8601). */
  attemptedAt: string;
  /**
   * When the first attempt whose outcome was unknown began (ISO 8601), or null if every attempt
   * certainly posted nothing. Set once and never moved: the "already posted?" search looks at the
   * account's statuses since this time, whatever failed after it.
   */
  uncertainSince: string | null;
  /**
   * The same moment on the server's clock (from its `Date` header then), or null when none was seen:
   * the server stamps a status with its clock of that moment, which may be corrected later.
   */
  uncertainSinceServer?: string | null | undefined;
  /** Whether any attempt's outcome was unknown (the request went out): `uncertainSince !== null`. */
  sent: boolean;
  /** The server refused it for good (65): later sends skip it until `outbox send --retry-refused ID`. */
  refused: boolean;
  exitCode: number;
  error: string;
}

/** An outbox file that is not a valid entry: listed with what is wrong, skipped by `outbox send`. */
export interface CorruptEntry {
  id: string;
  /** The file's path. */
  file: string;
  /** What is wrong with it, e.g. `"attemptedAt" is not an ISO 8601 time`. */
  corrupt: string;
  /** The status text, when the file still holds one: shown so the user can recover it. */
  text?: string;
}

export function isCorrupt(e: OutboxEntry | CorruptEntry): e is CorruptEntry {
  return "corrupt" in e && typeof e.corrupt === "string";
}

/** Far above any entry (1 MiB of text, escaped): a larger file is not ours and is not read whole. */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

/**
 * An entry read back from its file, every field checked, since anything may have written it (an older
 * version, an editor, a full disk): a wrong field makes the whole entry corrupt rather than sending it
 * with a guess. Entries written before `uncertainSince` and `refused` existed still load.
 */
export function parseEntry(id: string, file: string, raw: string): OutboxEntry | CorruptEntry {
  let data: unknown;
  try {
    data = JSON.parse(raw.replace(/^\uFEFF/, ""));
  } catch {
    // Not V8's message: it quotes the file, which holds the user's text.
    return { id, file, corrupt: raw.trim() === "" ? "empty file" : "not valid JSON" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { id, file, corrupt: "not a JSON object" };
  }
  const o = data as Record<string, unknown>;
  const problems: string[] = [];
  const str = (k: string) => typeof o[k] === "string";
  const strOrNull = (k: string) => o[k] === null || str(k);
  const time = (k: string) =>
    str(k) && ISO_TIME.test(o[k] as string) && !Number.isNaN(Date.parse(o[k] as string));
  if (!str("text")) problems.push(`"text" is ${describe(o.text)}, not a string`);
  if (
    o.bytesBase64 !== undefined &&
    o.bytesBase64 !== null &&
    !(str("bytesBase64") && BASE64.test(o.bytesBase64 as string))
  ) {
    problems.push(`"bytesBase64" is not base64 or null`);
  }
  if (!str("server")) problems.push(`"server" is ${describe(o.server)}, not a string`);
  else if (!validServer(o.server as string)) problems.push(`"server" is not an http(s) API root`);
  // What goes on the wire or into a header must be what identica itself would have written: a
  // nickname, a client name and a status id without control characters (whether the id is one of its
  // server's API is for that API to say, when the entry is sent).
  const plain = (k: string) => !str(k) || !/[\u0000-\u001F\u007F-\u009F]/.test(o[k] as string);
  if (!strOrNull("user")) problems.push(`"user" is ${describe(o.user)}, not a string or null`);
  else if (!plain("user")) problems.push(`"user" holds a control character`);
  if (!strOrNull("replyTo")) problems.push(`"replyTo" is ${describe(o.replyTo)}, not a string or null`);
  else if (!plain("replyTo")) problems.push(`"replyTo" holds a control character`);
  if (!str("source")) problems.push(`"source" is ${describe(o.source)}, not a string`);
  else if (!plain("source")) problems.push(`"source" holds a control character`);
  if (o.api !== undefined && !(API_NAMES as readonly unknown[]).includes(o.api))
    problems.push(`"api" is ${describe(o.api)}, not "statusnet", "mastodon" or "atproto"`);
  if (o.serverSpec !== undefined && !(str("serverSpec") && validSpec(o.serverSpec as string)))
    problems.push(`"serverSpec" is not a server`);
  if (o.tokenId !== undefined && !(str("tokenId") && /^[0-9a-f]{16}$/.test(o.tokenId as string)))
    problems.push(`"tokenId" is not 16 hex digits`);
  if (o.keyTextHash !== undefined && !(str("keyTextHash") && /^[0-9a-f]{16}$/.test(o.keyTextHash as string)))
    problems.push(`"keyTextHash" is not 16 hex digits`);
  for (const k of ["idempotencyKey", "visibility", "language"]) {
    if (o[k] === undefined) continue;
    if (!str(k)) problems.push(`"${k}" is ${describe(o[k])}, not a string`);
    else if (!plain(k)) problems.push(`"${k}" holds a control character`);
  }
  if (o.spoilerText !== undefined && !str("spoilerText"))
    problems.push(`"spoilerText" is ${describe(o.spoilerText)}, not a string`);
  if (!time("attemptedAt")) problems.push(`"attemptedAt" is not an ISO 8601 time`);
  if (o.uncertainSince !== undefined && o.uncertainSince !== null && !time("uncertainSince")) {
    problems.push(`"uncertainSince" is not an ISO 8601 time or null`);
  }
  if (
    o.uncertainSinceServer !== undefined &&
    o.uncertainSinceServer !== null &&
    !time("uncertainSinceServer")
  ) {
    problems.push(`"uncertainSinceServer" is not an ISO 8601 time or null`);
  }
  if (typeof o.sent !== "boolean") problems.push(`"sent" is ${describe(o.sent)}, not true or false`);
  if (o.ifAbsent !== undefined && typeof o.ifAbsent !== "boolean")
    problems.push(`"ifAbsent" is ${describe(o.ifAbsent)}, not true or false`);
  if (o.refused !== undefined && typeof o.refused !== "boolean") {
    problems.push(`"refused" is ${describe(o.refused)}, not true or false`);
  }
  if (!Number.isInteger(o.exitCode)) problems.push(`"exitCode" is ${describe(o.exitCode)}, not an integer`);
  if (!str("error")) problems.push(`"error" is ${describe(o.error)}, not a string`);
  if (problems.length > 0) {
    return { id, file, corrupt: problems.join("; "), ...(str("text") ? { text: o.text as string } : {}) };
  }
  // Only the known fields: nothing else in the file (a "corrupt" key, say) travels with the entry.
  return {
    id,
    text: o.text as string,
    ...(o.bytesBase64 !== undefined ? { bytesBase64: o.bytesBase64 as string | null } : {}),
    server: o.server as string,
    ...(o.api !== undefined ? { api: o.api as ApiName } : {}),
    ...(o.serverSpec !== undefined ? { serverSpec: o.serverSpec as string } : {}),
    user: o.user as string | null,
    replyTo: o.replyTo as string | null,
    source: o.source as string,
    ...(o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey as string } : {}),
    ...(o.keyTextHash !== undefined ? { keyTextHash: o.keyTextHash as string } : {}),
    ...(o.tokenId !== undefined ? { tokenId: o.tokenId as string } : {}),
    ...(o.visibility !== undefined ? { visibility: o.visibility as string } : {}),
    ...(o.spoilerText !== undefined ? { spoilerText: o.spoilerText as string } : {}),
    ...(o.language !== undefined ? { language: o.language as string } : {}),
    ...(o.ifAbsent === true ? { ifAbsent: true } : {}),
    attemptedAt: o.attemptedAt as string,
    uncertainSince: (o.uncertainSince as string | null | undefined) ?? null,
    uncertainSinceServer: (o.uncertainSinceServer as string | null | undefined) ?? null,
    sent: o.sent as boolean,
    refused: o.refused === true,
    exitCode: o.exitCode as number,
    error: o.error as string,
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A date and a time, as `toISOString` writes them (an offset other than Z accepted). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

function validSpec(spec: string): boolean {
  try {
    parseServer(spec);
    return true;
  } catch {
    return false;
  }
}

function validServer(root: string): boolean {
  try {
    parseServer(root);
    return /^https?:\/\//i.test(root);
  } catch {
    return false;
  }
}

/** A JSON value's kind, for messages that must not quote the file. */
function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** The start of the "already posted?" search, also for entries written before `uncertainSince` existed. */
export function uncertainSince(e: OutboxEntry): string | null {
  if (typeof e.uncertainSince === "string") return e.uncertainSince;
  return e.sent || e.exitCode === 76 ? e.attemptedAt : null;
}

/** The outcome of one more attempt at an entry, folded into it (the first uncertain time stays). */
export function afterAttempt(
  e: OutboxEntry,
  attempt: {
    startedAt: Date;
    uncertain: boolean;
    exitCode: number;
    error: string;
    /** How far the server's clock was ahead of ours during the attempt, when its `Date` was seen. */
    serverClockSkewMs?: number | undefined;
  },
): OutboxEntry {
  const known = uncertainSince(e);
  const since = known ?? (attempt.uncertain ? attempt.startedAt.toISOString() : null);
  const onServer =
    known !== null
      ? (e.uncertainSinceServer ?? null)
      : since !== null && attempt.serverClockSkewMs !== undefined
        ? new Date(attempt.startedAt.getTime() + attempt.serverClockSkewMs).toISOString()
        : null;
  return {
    ...e,
    attemptedAt: attempt.startedAt.toISOString(),
    uncertainSince: since,
    uncertainSinceServer: onServer,
    sent: since !== null,
    refused: attempt.exitCode === 65,
    exitCode: attempt.exitCode,
    error: attempt.error,
  };
}

export type NewEntry = Omit<OutboxEntry, "id">;

/** The time part of the last id this process made, and how many more it has made with that time. */
let lastStamp = { stamp: "", count: 0 };

export class Outbox {
  readonly dir: string;

  /** Masks credentials in what is written (an error message may quote a server that echoed them). */
  readonly #redact: (text: string) => string;

  constructor(stateDir: string, redact: (text: string) => string = (t) => t) {
    this.dir = join(stateDir, "outbox");
    this.#redact = redact;
  }

  /** The state folder and its outbox, private to the user. */
  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /**
   * Saves an entry and returns it with its id; the file appears complete or not at all. Ids sort in
   * the order the entries were saved, which is the order `outbox send` sends them in: entries that
   * this process saves within one millisecond (`post --lines` keeping the lines it had read) get a
   * counter after the time (`…475-` sorts before `…475000001-`, and that before `…476-`).
   */
  save(entry: NewEntry): OutboxEntry {
    this.ensureDir();
    let stamp = entry.attemptedAt.replace(/[-:.]/g, "").replace("T", "-").replace("Z", "");
    if (stamp === lastStamp.stamp) stamp += String(++lastStamp.count).padStart(6, "0");
    else lastStamp = { stamp, count: 0 };
    const id = `${stamp}-${randomBytes(3).toString("hex")}`;
    const full = { id, ...entry };
    this.#write(id, full);
    return full;
  }

  /** Rewrites an entry after a new attempt. */
  update(entry: OutboxEntry): void {
    this.#write(entry.id, entry);
  }

  /** The entries that can be sent, oldest first (corrupt files left out: see `listAll`). */
  list(): OutboxEntry[] {
    return this.listAll().filter((e): e is OutboxEntry => !isCorrupt(e));
  }

  /**
   * Every `*.json` file of the outbox, oldest first: an entry, or a corrupt one saying what is wrong
   * with it, so a file holding the user's text is never hidden (docs/cli.md "The outbox's promises").
   */
  listAll(): (OutboxEntry | CorruptEntry)[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith(".json") && !n.startsWith("."))
      .sort()
      .map((name) => this.#read(name.slice(0, -5)));
  }

  /** One entry by id, read afresh (undefined when its file is gone). */
  get(id: string): OutboxEntry | CorruptEntry | undefined {
    if (!this.#has(id)) return undefined;
    return this.#read(id);
  }

  #read(id: string): OutboxEntry | CorruptEntry {
    const file = this.pathOf(id);
    let raw: string;
    try {
      // Never waits: a FIFO planted in the outbox would block open(2) for good.
      const fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) return { id, file, corrupt: "not a regular file" };
        const size = st.size;
        if (size > MAX_ENTRY_BYTES) return { id, file, corrupt: `too large (${size} bytes)` };
        raw = readFileSync(fd, "utf8");
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      return { id, file, corrupt: `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})` };
    }
    return parseEntry(id, file, raw);
  }

  #has(id: string): boolean {
    // Only names the folder really holds: an id is never a path.
    try {
      return readdirSync(this.dir).includes(`${id}.json`) && !id.startsWith(".");
    } catch {
      return false;
    }
  }

  /** Removes an entry; false when there was none. */
  remove(id: string): boolean {
    if (!this.#has(id)) return false;
    try {
      unlinkSync(this.pathOf(id));
      return true;
    } catch {
      return false;
    }
  }

  #write(id: string, entry: OutboxEntry): void {
    // The text is the user's, as typed; only the error, which quotes the server, is masked.
    const data = { ...entry, error: this.#redact(entry.error) };
    writeFileAtomicSync(this.pathOf(id), `${JSON.stringify(data, null, 2)}\n`, {
      tmp: join(this.dir, `.${id}.${process.pid}.tmp`),
    });
  }
}

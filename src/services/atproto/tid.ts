import { createHash } from "node:crypto";

/**
 * Timestamp identifiers (atproto.com/specs/tid), the record keys of `app.bsky.feed.post`. identica picks
 * the key itself (CLI.md "A third API"): a retry of one status reuses it, so the PDS refuses a second
 * copy and `getRecord` with that key tells whether an uncertain attempt went through.
 *
 * A TID is a 64-bit integer — top bit 0, 53 bits of microseconds since the Unix epoch, 10 bits of
 * "clock id" — written as 13 characters of base32-sortable, so that string order is time order.
 */

const S32 = "234567abcdefghijklmnopqrstuvwxyz";
/** The spec's syntax: 13 characters, the first one of the lower half of the alphabet (the top bit 0). */
const TID = /^[234567abcdefghij][234567a-z]{12}$/;
/** An edited outbox entry's key: the TID of the text it first had, a dash, and anything after it. */
const EDITED = /^([234567abcdefghij][234567a-z]{12})-/;

export function isTid(s: string): boolean {
  return TID.test(s);
}

function encode(v: bigint): string {
  let out = "";
  for (let i = 0; i < 13; i++) {
    out = S32[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

function decode(tid: string): bigint {
  let v = 0n;
  for (const c of tid) v = (v << 5n) | BigInt(S32.indexOf(c));
  return v;
}

function fromParts(micros: number, clockId: number): string {
  if (!Number.isSafeInteger(micros) || micros < 0) throw new RangeError("a TID's time must be after 1970");
  return encode((BigInt(micros) << 10n) | BigInt(clockId & 0x3ff));
}

/** The last microseconds newTid used: successive keys of one process never repeat or go back. */
let lastMicros = -1;

/**
 * A fresh TID for `now`. The sub-millisecond part and the clock id are random (two processes posting
 * in the same millisecond must not pick the same key), and within this process every key is greater
 * than the one before, even when the clock stands still or steps back.
 */
export function newTid(now: Date = new Date(), random: () => number = Math.random): string {
  const pick = (n: number) => Math.min(n - 1, Math.max(0, Math.floor(random() * n)));
  let micros = now.getTime() * 1000 + pick(1000);
  if (micros <= lastMicros) micros = lastMicros + 1;
  const tid = fromParts(micros, pick(1024));
  lastMicros = micros;
  return tid;
}

/** When a TID was made, to the millisecond. A RangeError for anything that is not a TID. */
export function tidTime(tid: string): Date {
  if (!isTid(tid)) throw new RangeError(`not a TID: ${JSON.stringify(tid.slice(0, 20))}`);
  return new Date(Number((decode(tid) >> 10n) / 1000n));
}

/**
 * The record key of the status whose outbox idempotency key is `key`, the same on every run:
 * - a TID is the key itself (entries made once the API was known);
 * - `<TID>-…` (an entry whose text was edited, which must not land on the first text's record) is a
 *   TID of that TID's millisecond, so the post keeps its place in time, with the microseconds within
 *   it and the clock id taken from sha256(key); never the TID it embeds;
 * - anything else (a UUID kept before the API was known) is the same from `fallback`'s millisecond
 *   (the entry's creation time).
 */
export function rkeyFor(key: string, fallback: Date): string {
  if (isTid(key)) return key;
  const embedded = EDITED.exec(key)?.[1];
  const base = embedded === undefined ? undefined : decode(embedded);
  const ms = base === undefined ? fallback.getTime() : Number((base >> 10n) / 1000n);
  if (!Number.isSafeInteger(ms * 1000) || ms < 0) throw new RangeError("a TID's time must be after 1970");
  const hash = createHash("sha256").update(key, "utf8").digest();
  const sub = hash.readUInt16BE(0) % 1000;
  const clockId = hash.readUInt16BE(2) & 0x3ff;
  let v = (BigInt(ms * 1000 + sub) << 10n) | BigInt(clockId);
  // The edited text must get a record of its own: flip a clock-id bit if the hash hit the first one.
  if (v === base) v ^= 1n;
  return encode(v);
}

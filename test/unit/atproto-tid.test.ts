import { afterEach, describe, expect, it, vi } from "vitest";
import { isTid, newTid, rkeyFor, tidTime } from "../../src/services/atproto/tid.js";
import { ATPROTO_FIXTURES, fixtureReply } from "../helpers/fixtures.js";

/** Record keys (atproto.com/specs/tid): what identica picks so that a retry never posts twice. */

/** tid.js with its "last key" state new, for tests that fix the clock. */
async function fresh(): Promise<typeof import("../../src/services/atproto/tid.js")> {
  vi.resetModules();
  return import("../../src/services/atproto/tid.js");
}

afterEach(() => {
  vi.doUnmock("node:crypto");
  vi.resetModules();
});

/** The record key the real PDS made for fixture 05's post, and when it answered. */
const created = fixtureReply("05-createRecord.txt", ATPROTO_FIXTURES);
const PDS_RKEY = (JSON.parse(created.body) as { uri: string }).uri.split("/").pop() as string;
const PDS_DATE = new Date(created.headers.find(([k]) => k === "date")?.[1] as string);

describe("isTid", () => {
  it.each([PDS_RKEY, "3n3hqc6v2g22p", "2222222222222", "jzzzzzzzzzzzz"])("%s is one", (s) => {
    expect(isTid(s)).toBe(true);
  });
  it.each([
    ["12 characters", "3n3hqbvuvpk2"],
    ["14 characters", "3n3hqbvuvpk2pp"],
    ["the top bit set", "kn3hqbvuvpk2p"],
    ["upper case", "3N3HQBVUVPK2P"],
    ["a character outside the alphabet", "3n3hqbvuvpk1p"],
    ["a UUID", "0b6f7c52-8a7e-4f43-9a55-1f8f2b8c5a10"],
    ["empty", ""],
  ])("%s is not", (_why, s) => {
    expect(isTid(s)).toBe(false);
  });
});

describe("tidTime", () => {
  it("reads the time of a real PDS's key (fixture 05: made when it answered)", () => {
    expect(Math.abs(tidTime(PDS_RKEY).getTime() - PDS_DATE.getTime())).toBeLessThan(2000);
  });
  it("refuses what is not a TID", () => {
    expect(() => tidTime("not-a-tid")).toThrow(RangeError);
  });
});

describe("newTid", () => {
  it("is a TID of the time given, to the millisecond", async () => {
    const { newTid: make, tidTime: time } = await fresh();
    const now = new Date("2026-11-29T17:24:11.123Z");
    const tid = make(now, () => 0.999999);
    expect(isTid(tid)).toBe(true);
    expect(time(tid).toISOString()).toBe(now.toISOString());
  });
  it("gives keys that sort in time order across milliseconds", async () => {
    const { newTid: make } = await fresh();
    const a = make(new Date("2026-11-29T17:24:11.000Z"), () => 0.99);
    const b = make(new Date("2026-11-29T17:24:11.001Z"), () => 0);
    expect(a < b).toBe(true);
  });
  it("never repeats or goes back in one process: same instant, same randomness, a clock stepping back", async () => {
    const { newTid: make } = await fresh();
    const now = new Date("2026-11-29T17:24:11.000Z");
    const first = make(now, () => 0.5);
    const second = make(now, () => 0.5);
    const third = make(new Date("2026-11-29T17:00:00.000Z"), () => 0.5);
    expect(first < second && second < third).toBe(true);
  });
  it("is strictly increasing over many calls on the real clock", () => {
    let last = newTid();
    for (let i = 0; i < 5000; i++) {
      const next = newTid();
      expect(isTid(next)).toBe(true);
      expect(next > last).toBe(true);
      last = next;
    }
  });
  it("keeps an out-of-range random function in range", async () => {
    const { newTid: make, isTid: valid } = await fresh();
    expect(valid(make(new Date(), () => 1))).toBe(true);
    expect(valid(make(new Date(), () => -1))).toBe(true);
  });
});

describe("rkeyFor", () => {
  const fallback = new Date("2026-11-29T17:24:11.456Z");
  it("a key that is a TID is the record key itself", () => {
    expect(rkeyFor(PDS_RKEY, fallback)).toBe(PDS_RKEY);
  });
  it("an edited entry's key: another TID of the same millisecond, the same on every run", () => {
    const key = `${PDS_RKEY}-2`;
    const rkey = rkeyFor(key, fallback);
    expect(isTid(rkey)).toBe(true);
    expect(rkey).not.toBe(PDS_RKEY);
    expect(tidTime(rkey).getTime()).toBe(tidTime(PDS_RKEY).getTime());
    expect(rkeyFor(key, new Date(0))).toBe(rkey);
    expect(rkeyFor(`${PDS_RKEY}-3`, fallback)).not.toBe(rkey);
  });
  it("a key kept before the API was known (a UUID): a TID of the fallback's millisecond, deterministic", () => {
    const key = "0b6f7c52-8a7e-4f43-9a55-1f8f2b8c5a10";
    const rkey = rkeyFor(key, fallback);
    expect(isTid(rkey)).toBe(true);
    expect(tidTime(rkey).toISOString()).toBe(fallback.toISOString());
    expect(rkeyFor(key, fallback)).toBe(rkey);
    expect(rkeyFor("1d3c9e1a-0000-4000-8000-000000000000", fallback)).not.toBe(rkey);
  });
  it("never lands on the TID it embeds, even when the hash gives the very same bits", async () => {
    // A TID whose sub-millisecond part and clock id are those of the (mocked) hash below.
    const sub = 0x0102 % 1000;
    const clockId = 0x0304 & 0x3ff;
    const embeddedValue = ((1795973051000n * 1000n + BigInt(sub)) << 10n) | BigInt(clockId);
    const S32 = "234567abcdefghijklmnopqrstuvwxyz";
    let embedded = "";
    for (let v = embeddedValue, i = 0; i < 13; i++, v >>= 5n) embedded = S32[Number(v & 31n)] + embedded;
    vi.doMock("node:crypto", async (importOriginal) => ({
      ...(await importOriginal<typeof import("node:crypto")>()),
      createHash: () => ({
        update() {
          return this;
        },
        digest: () => Buffer.from([1, 2, 3, 4, ...new Array(28).fill(0)]),
      }),
    }));
    const { rkeyFor: forKey, isTid: valid, tidTime: time } = await fresh();
    const rkey = forKey(`${embedded}-edited`, fallback);
    expect(valid(rkey)).toBe(true);
    expect(rkey).not.toBe(embedded);
    expect(time(rkey).getTime()).toBe(time(embedded).getTime());
  });
});

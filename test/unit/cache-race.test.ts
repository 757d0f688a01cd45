import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseServer } from "../../src/config/server.js";
import { LimitCache } from "../../src/core/limit-cache.js";
import { ApiCache } from "../../src/services/api.js";

/**
 * `post --to A --to B` sets both targets' limits, and detects both APIs, at the same moment: an await
 * between reading a cache file and writing it back let one write undo the other (seen in CI as a
 * --dry-run that found only one account's limit).
 */
describe("caches written by several targets at once", () => {
  it("two limits set at once are both kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-cache-race-"));
    const cache = new LimitCache(dir, () => new Date());
    const a = parseServer("https://a.example/api");
    const b = parseServer("https://b.example");
    await Promise.all([cache.set(a, 500, 23), cache.set(b, 140)]);
    expect(await cache.get(a)).toBe(500);
    expect(await cache.get(b)).toBe(140);
    expect((await cache.entry(a))?.urlLength).toBe(23);
  });

  it("two detections remembered at once are both kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-cache-race-"));
    const apis = new ApiCache(dir);
    await Promise.all([apis.set("a.example", "mastodon"), apis.set("b.example", "statusnet")]);
    expect(await apis.get("a.example")).toBe("mastodon");
    expect(await apis.get("b.example")).toBe("statusnet");
  });
});

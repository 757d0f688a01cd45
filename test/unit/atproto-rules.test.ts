import { describe, expect, it } from "vitest";
import { TooLongError } from "../../src/core/limit-cache.js";
import { ExitCode, UsageError } from "../../src/errors.js";
import { ATPROTO_LIMIT, ATPROTO_MAX_BYTES, atprotoRules } from "../../src/services/atproto/rules.js";
import { ATPROTO_FIXTURES, fixtureReply } from "../helpers/fixtures.js";

/** The AT Protocol's limits, checked before sending (CLI.md "A third API"; atproto fixtures 12, 13, 19, 20). */
const FAMILY = "👨‍👩‍👧‍👦"; // 4 people, 3 joiners: 25 bytes, one grapheme
const FAMILY_OF_THREE = "👨‍👩‍👧"; // 18 bytes: what fixture 19 sent 300 of

/** The PDS's own count in a refusal: "(maximum 300, got 301)". */
function serverCount(name: string): { maximum: number; got: number } {
  const { message } = JSON.parse(fixtureReply(name, ATPROTO_FIXTURES).body) as { message: string };
  const m = /maximum (\d+), got (\d+)/.exec(message);
  return { maximum: Number(m?.[1]), got: Number(m?.[2]) };
}

function tooLong(text: string): TooLongError {
  try {
    atprotoRules.textLength(text);
  } catch (err) {
    expect(err).toBeInstanceOf(TooLongError);
    return err as TooLongError;
  }
  throw new Error("not refused");
}

describe("the limits", () => {
  it("are the PDS's: 300 graphemes (fixture 12) and 3000 bytes (fixture 19)", () => {
    expect(ATPROTO_LIMIT).toBe(serverCount("12-err-301graphemes.txt").maximum);
    expect(ATPROTO_MAX_BYTES).toBe(serverCount("19-err-300familyEmoji-bytes.txt").maximum);
  });
});

describe("textLength", () => {
  it("fixture 12: 301 characters count 301, over the limit; fixture 13: 300 fit", () => {
    expect(atprotoRules.textLength("a".repeat(301))).toBe(serverCount("12-err-301graphemes.txt").got);
    expect(atprotoRules.textLength("a".repeat(301))).toBeGreaterThan(ATPROTO_LIMIT);
    expect(atprotoRules.textLength("a".repeat(300))).toBe(ATPROTO_LIMIT);
  });
  it("fixture 20: 300 thumbs up (1200 bytes) are 300 and fit", () => {
    expect(atprotoRules.textLength("👍".repeat(300))).toBe(300);
  });
  it("fixture 19: 300 families of three are 5400 bytes, refused as the PDS refused them", () => {
    const err = tooLong(FAMILY_OF_THREE.repeat(300));
    expect(err.message).toBe(
      "the status is 5400 bytes long in UTF-8, over the AT Protocol's limit of 3000 bytes; nothing was sent",
    );
    expect(5400).toBe(serverCount("19-err-300familyEmoji-bytes.txt").got);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(ExitCode.Usage);
  });
  it("300 families of four: 300 graphemes, but 7500 bytes", () => {
    expect(atprotoRules.textLength(FAMILY.repeat(120))).toBe(120); // 3000 bytes: still fits
    expect(tooLong(FAMILY.repeat(300)).message).toMatch(/^the status is 7500 bytes long in UTF-8/);
  });
  it("3000 bytes exactly fit, 3001 do not", () => {
    expect(atprotoRules.textLength("é".repeat(1500))).toBe(1500);
    expect(tooLong(`${"é".repeat(1500)}a`).message).toMatch(/^the status is 3001 bytes/);
  });
  it("counts the text as typed: no trimming, a URL as long as it is", () => {
    expect(atprotoRules.textLength("  hi \n")).toBe(6);
    expect(atprotoRules.textLength("https://example.com/a/very/long/path")).toBe(36);
  });
  it("counts grapheme clusters: CR LF, combining marks, CJK, flags", () => {
    expect(atprotoRules.textLength("a\r\nb")).toBe(3);
    expect(atprotoRules.textLength("e\u0301e\u0301")).toBe(2);
    expect(atprotoRules.textLength("你好，世界")).toBe(5);
    expect(atprotoRules.textLength("🇫🇷🇩🇪")).toBe(2);
  });
});

describe("statusId", () => {
  it("takes a post reference, trimmed", () => {
    expect(atprotoRules.statusId(" at://alice.test/app.bsky.feed.post/3n3hqbvuvpk2p\n")).toBe(
      "at://alice.test/app.bsky.feed.post/3n3hqbvuvpk2p",
    );
    expect(atprotoRules.statusId("3n3hqbvuvpk2p", "--reply-to")).toBe("3n3hqbvuvpk2p");
  });
  it("refuses anything else with 64, naming the flag", () => {
    expect(() => atprotoRules.statusId("https://mastodon.example/@a/1", "--reply-to")).toThrow(
      /^--reply-to takes an at:\/\/ URI, a bsky\.app post URL or a record key, not "https:\/\/mastodon\.example\/@a\/1"$/,
    );
    expect(() => atprotoRules.statusId("")).toThrow(UsageError);
  });
});

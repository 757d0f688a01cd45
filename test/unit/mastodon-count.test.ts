import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { mastodonLength } from "../../src/services/mastodon/count.js";
import { checkVisibility, mastodonRules, VISIBILITIES } from "../../src/services/mastodon/rules.js";

/** Mastodon's StatusLengthValidator rule (MASTODON.md §8) and the API's rules that need no connection. */
describe("mastodonLength: grapheme clusters", () => {
  it("a family emoji made of several code points joined by ZWJ is 1", () => {
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}";
    expect([...family].length).toBe(7);
    expect(mastodonLength(family)).toBe(1);
  });
  it("a flag, a skin tone and a keycap are 1 each", () => {
    expect(mastodonLength("\u{1F1EB}\u{1F1F7}\u{1F44D}\u{1F3FD}1\uFE0F\u20E3")).toBe(3);
  });
  it("a letter with combining accents is 1, precomposed or not", () => {
    expect(mastodonLength("e\u0301")).toBe(1);
    expect(mastodonLength("é")).toBe(1);
    expect(mastodonLength("a\u0308\u0304")).toBe(1);
  });
  it("CJK characters are 1 each", () => {
    expect(mastodonLength("漢字かなカナ한국어")).toBe(9);
  });
  it("a long text is counted in pieces exactly as the whole would be", () => {
    const pieces = [
      "a",
      " ",
      "\r\n",
      "\n",
      "e\u0301",
      "\u0301\u0302",
      "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}",
      "\u{1F1EB}",
      "\u{1F1F7}",
      "\u{1F44D}\u{1F3FD}",
      "漢",
      "한",
      "\u1100\u1161\u11A8",
      "\u1100",
      "\uAC00",
      "क्ष",
      "\u0600",
      "\u200D",
      "\uFE0F",
      "x".repeat(300),
      "\u0301".repeat(600),
    ];
    // A fixed pseudo-random sequence: the same text on every run.
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    let text = "";
    while (text.length < 30_000) text += pieces[next() % pieces.length];
    let whole = 0;
    for (const _ of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) whole++;
    expect(mastodonLength(text, "", 23)).toBe(whole);
  });
  it("a megabyte of text is counted in well under a second or so, not minutes", () => {
    const t0 = Date.now();
    // The last space is stripped, as Mastodon strips the text.
    expect(mastodonLength("word ".repeat(200_000))).toBe(999_999);
    // A megabyte of spaces that does not end the text: stripped in one pass, not backtracked over.
    expect(mastodonLength(`${" ".repeat(1_000_000)}x`)).toBe(1);
    expect(mastodonLength(`x${" ".repeat(1_000_000)}x`)).toBe(1_000_002);
    expect(mastodonLength("\u{1F468}\u200D\u{1F469}\u200D\u{1F467}".repeat(50_000))).toBe(50_000);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
  it("the content warning counts too", () => {
    expect(mastodonLength("hello", "cw: spoilers")).toBe(17);
    expect(mastodonLength("", "only the warning")).toBe(16);
  });
  it("white space at either end of the text or the warning does not count (Status#prepare_contents strips both)", () => {
    expect(mastodonLength(" \n\thello \r\n\v\f\0")).toBe(5);
    expect(mastodonLength("hello", "  cw \n")).toBe(7);
    // Ruby's strip is ASCII white space and NUL only: a no-break space is text.
    expect(mastodonLength("\u00a0hello\u3000")).toBe(7);
  });
  it("a text of nothing but whitespace counts nothing (Ruby's blank?), the warning still counts", () => {
    expect(mastodonLength("   \n\t")).toBe(0);
    expect(mastodonLength(" \n", "cw")).toBe(2);
  });
});

describe("mastodonLength: URLs", () => {
  const long = `https://example.com/${"a".repeat(180)}`;
  it("a URL of 200 characters counts as urlLength", () => {
    expect(long.length).toBe(200);
    expect(mastodonLength(long)).toBe(23);
    expect(mastodonLength(`see ${long} now`)).toBe(4 + 23 + 4);
  });
  it("urlLength is the server's characters_reserved_per_url (snac says 32)", () => {
    expect(mastodonLength(long, "", 32)).toBe(32);
    expect(mastodonLength("https://a.example", "", 32)).toBe(32);
  });
  it("a short URL also counts as urlLength", () => {
    expect(mastodonLength("http://a.io")).toBe(23);
  });
  it("trailing punctuation is not part of the URL", () => {
    for (const p of [".", ",", ")", "!", "?", ":", ";", "'", '"', "]"]) {
      expect(mastodonLength(`https://example.com/x${p}`), p).toBe(24);
    }
    expect(mastodonLength("Read https://example.com/a/b.")).toBe(5 + 23 + 1);
    expect(mastodonLength("(https://example.com/x)")).toBe(25);
  });
  it("balanced parentheses stay in the URL", () => {
    expect(mastodonLength("https://en.wikipedia.org/wiki/Foo_(bar)")).toBe(23);
    expect(mastodonLength("(https://en.wikipedia.org/wiki/Foo_(bar))")).toBe(25);
  });
  it("a query and a port are part of it", () => {
    expect(mastodonLength("https://example.com:8443/search?q=a+b&lang=en")).toBe(23);
  });
  it("a URL without a scheme counts as typed", () => {
    expect(mastodonLength("example.com/some/long/path")).toBe(26);
    expect(mastodonLength("www.example.com")).toBe(15);
  });
  it("a scheme Mastodon does not link counts as typed", () => {
    expect(mastodonLength("ftp://example.com/x")).toBe(19);
  });
  it("localhost and IP addresses are hosts", () => {
    expect(mastodonLength("http://localhost:3000/some/long/path/here")).toBe(23);
    expect(mastodonLength("http://127.0.0.1:8001/alice/p/1795968598.192268")).toBe(23);
    expect(mastodonLength("https://[::1]:8080/some/long/path")).toBe(23);
  });
  it("international domain names and paths", () => {
    expect(mastodonLength("https://exämple.com/ünïcödé/päth")).toBe(23);
  });
  it("a scheme glued to a word is not a URL", () => {
    expect(mastodonLength("xhttps://example.com/abc")).toBe(24);
  });
  it("each of several URLs counts as urlLength", () => {
    expect(mastodonLength("https://a.example/1 https://b.example/2")).toBe(47);
  });
  it("long texts with punctuation runs end quickly (no catastrophic backtracking)", () => {
    const t0 = Date.now();
    mastodonLength(`https://example.com/${",".repeat(100_000)}`);
    mastodonLength(`https://example.com/${"a,".repeat(50_000)}`);
    mastodonLength(`https://example.com/${"(a".repeat(20_000)}`);
    mastodonLength(`${"@a".repeat(50_000)}`);
    mastodonLength(`https://example.com/?${"!".repeat(100_000)}`);
    mastodonLength(`https://${"a.".repeat(50_000)}1`);
    mastodonLength(`https://${"a-".repeat(50_000)}`);
    mastodonLength("https://".repeat(20_000));
    mastodonLength(`@bob@${"a.".repeat(50_000)}`);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe("mastodonLength: mentions", () => {
  it("@user@domain counts as @user", () => {
    expect(mastodonLength("@bob@example.social")).toBe(4);
    expect(mastodonLength("hi @bob@example.social!")).toBe(3 + 4 + 1);
  });
  it("a local @user counts as typed", () => {
    expect(mastodonLength("@bob")).toBe(4);
  });
  it("dotted and dashed names and domains", () => {
    expect(mastodonLength("@bob.smith@sub.example.org")).toBe(10);
    expect(mastodonLength("@bob@my-server.example")).toBe(4);
  });
  it("an e-mail address is not a mention", () => {
    expect(mastodonLength("bob@example.com")).toBe(15);
  });
  it("a mention followed by another @ is not one", () => {
    expect(mastodonLength("@bob@x.org@y")).toBe(12);
  });
  it("a mention inside a URL is part of the URL", () => {
    expect(mastodonLength("https://example.com/@bob@other.example/123")).toBe(23);
  });
});

describe("mastodonRules", () => {
  const rules = mastodonRules();
  it("takes Mastodon snowflakes, snac ids, ULIDs and UUIDs as they are", () => {
    for (const id of [
      "113366441012345678",
      "17959685988771f9c6c5f259669737a153da06c061",
      "01HZX3J6Y5Q8V2K9M4N7P0R1ST",
      "2c0f7b2e-8a3b-4c1d-9e5f-0a1b2c3d4e5f",
      "AbC.d_e~f-1",
      "1",
    ]) {
      expect(rules.statusId(id)).toBe(id);
    }
  });
  it("refuses anything else with 64, naming the option", () => {
    for (const id of ["", "a/b", "12 3", "?x", "#1", "%2e", "é", ".", "..", "x".repeat(129)]) {
      expect(() => rules.statusId(id), id).toThrow(UsageError);
    }
    expect(() => rules.statusId("a/b", "--reply-to")).toThrow(/^--reply-to takes a status id .*not "a\/b"$/);
    expect(() => rules.statusId("a b")).toThrow(/^"a b" is not a status id/);
  });
  it("never calls an id a number", () => {
    expect(() => rules.statusId("x y")).not.toThrow(/number/);
  });
  it("counts a text as Mastodon does, with the server's URL length", () => {
    expect(rules.textLength("hi https://example.com/long/long/long/path @bob@example.social")).toBe(
      3 + 23 + 1 + 4,
    );
    expect(mastodonRules(32).textLength("https://example.com")).toBe(32);
  });
});

describe("visibility", () => {
  it("is one of public, unlisted, private, direct", () => {
    expect(VISIBILITIES).toEqual(["public", "unlisted", "private", "direct"]);
    for (const v of VISIBILITIES) expect(checkVisibility(v)).toBe(v);
  });
  it("anything else is 64, listing them (snac would silently make it direct)", () => {
    for (const v of ["bogus", "Public", "", "followers"]) {
      expect(() => checkVisibility(v)).toThrow(UsageError);
    }
    expect(() => checkVisibility("bogus")).toThrow(
      '--visibility takes public, unlisted, private, direct, not "bogus"',
    );
  });
});

describe("the count without the segmenter (text below U+0300)", () => {
  // The strings neither start nor end with white space, which Mastodon strips before counting.
  it("agrees with Intl.Segmenter on Latin text, controls and CR LF", () => {
    const seg = new Intl.Segmenter(undefined, { granularity: "grapheme" });
    const byIcu = (s: string) => [...seg.segment(s)].length;
    for (const s of [
      "hello world",
      "café crème brûlée ÿ",
      "a\r\nb\nc\rd\r\n\r\ne",
      "x\r\r\n\ny",
      "tab\tand\u0001control\u007f",
      "ʰʲ modifier letters ˆ˜",
      "",
    ]) {
      expect(mastodonLength(s), JSON.stringify(s)).toBe(byIcu(s));
    }
  });
});

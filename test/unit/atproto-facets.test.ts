import { describe, expect, it } from "vitest";
import { facetsJson, findFacets } from "../../src/services/atproto/facets.js";

/**
 * Links and mentions as `app.bsky.richtext.facet`s with UTF-8 byte offsets (CLI.md "A third API").
 * Every range is checked by cutting the UTF-8 bytes of the text with it: what it covers must be the URL
 * or the `@handle`, which UTF-16 indices would miss as soon as anything non-ASCII comes before.
 */
const DID = "did:plc:uquscmmaa5wx4d7cim33jixc";

const cut = (text: string, start: number, end: number) =>
  Buffer.from(text, "utf8").subarray(start, end).toString("utf8");

function links(text: string): string[] {
  return findFacets(text).links.map((l) => {
    expect(cut(text, l.start, l.end)).toBe(l.uri);
    return l.uri;
  });
}

function mentions(text: string): string[] {
  return findFacets(text).mentions.map((m) => {
    expect(cut(text, m.start, m.end).toLowerCase()).toBe(`@${m.handle}`);
    return m.handle;
  });
}

describe("findFacets: links", () => {
  it("finds an http and an https link, ended by white space", () => {
    expect(links("see https://example.com/a?b=c#d and http://example.org\nthen")).toEqual([
      "https://example.com/a?b=c#d",
      "http://example.org",
    ]);
  });
  it("byte offsets after emoji, a family emoji, CJK and Cyrillic differ from UTF-16 indices", () => {
    const text = "👨‍👩‍👧‍👦 Привет 你好 👍 https://example.com/путь?q=1 ok";
    const [link] = findFacets(text).links;
    const utf16 = text.indexOf("https://");
    expect(link?.start).toBe(Buffer.byteLength(text.slice(0, utf16), "utf8"));
    expect(link?.start).not.toBe(utf16);
    expect(link?.end).toBe((link?.start ?? 0) + Buffer.byteLength("https://example.com/путь?q=1", "utf8"));
    expect(links(text)).toEqual(["https://example.com/путь?q=1"]);
  });
  it("leaves one trailing punctuation mark out, as the app does", () => {
    expect(links("read https://example.com/a.")).toEqual(["https://example.com/a"]);
    expect(links("https://example.com, then")).toEqual(["https://example.com"]);
    expect(links("https://example.com/x;")).toEqual(["https://example.com/x"]);
    expect(links("https://example.com/x:")).toEqual(["https://example.com/x"]);
    expect(links("really? https://example.com!")).toEqual(["https://example.com"]);
    expect(links("https://example.com/?")).toEqual(["https://example.com/"]);
  });
  it("leaves a closing parenthesis out when the URL opens none", () => {
    expect(links("(see https://example.com/a)")).toEqual(["https://example.com/a"]);
    expect(links("(https://example.com/a).")).toEqual(["https://example.com/a"]);
    expect(links("https://en.wikipedia.org/wiki/Foo_(bar)")).toEqual([
      "https://en.wikipedia.org/wiki/Foo_(bar)",
    ]);
  });
  it("starts a link only at the start, after white space or (", () => {
    expect(links("xhttps://example.com")).toEqual([]);
    expect(links('"https://example.com"')).toEqual([]);
    expect(links("(https://example.com")).toEqual(["https://example.com"]);
  });
  it("takes the scheme in any case", () => {
    expect(links("HTTPS://EXAMPLE.COM/A")).toEqual(["HTTPS://EXAMPLE.COM/A"]);
  });
  it("skips what is no URL (the PDS would refuse the facet: fixture 21)", () => {
    expect(links("https:// and https://. and http://[::1")).toEqual([]);
  });
  it("no bare domains: example.com stays text", () => {
    expect(links("example.com www.example.com")).toEqual([]);
  });
});

describe("findFacets: mentions", () => {
  it("finds handles at the start, after white space or (, lower-cased, the range with the @", () => {
    expect(mentions("@alice.test hi (@Bob.Example.COM) and\n@carol.bsky.social")).toEqual([
      "alice.test",
      "bob.example.com",
      "carol.bsky.social",
    ]);
  });
  it("byte offsets after non-ASCII text", () => {
    const text = "Привет 👨‍👩‍👧‍👦 @alice.test 你好";
    const [m] = findFacets(text).mentions;
    expect(m?.start).toBe(Buffer.byteLength("Привет 👨‍👩‍👧‍👦 ", "utf8"));
    expect(m?.end).toBe((m?.start ?? 0) + "@alice.test".length);
    expect(mentions(text)).toEqual(["alice.test"]);
  });
  it("leaves a sentence's full stop and an apostrophe out", () => {
    expect(mentions("thanks @alice.test.")).toEqual(["alice.test"]);
    expect(mentions("@alice.test's post")).toEqual(["alice.test"]);
  });
  it("is not a mention: no dot, an address, a bad label, a word character after it", () => {
    expect(mentions("@alice hi")).toEqual([]);
    expect(mentions("mail me@alice.test")).toEqual([]);
    expect(mentions("@-alice.test")).toEqual([]);
    expect(mentions("@alice.test_x")).toEqual([]);
    expect(mentions("@1.2")).toEqual([]);
  });
  it("an @ inside a link is the link's", () => {
    const found = findFacets("https://example.com/(@alice.test)");
    expect(found.mentions).toEqual([]);
    expect(found.links.map((l) => l.uri)).toEqual(["https://example.com/(@alice.test)"]);
  });
});

describe("facetsJson", () => {
  it("links, and mentions whose handle resolved, in order; the rest stays text", () => {
    const text = "👋 @bob.test @alice.test: https://example.com/ü. @nobody.test";
    const dids = new Map([
      ["alice.test", DID],
      ["bob.test", "not a did"],
    ]);
    const facets = facetsJson(findFacets(text), dids);
    const mention = Buffer.byteLength("👋 @bob.test ", "utf8");
    const link = Buffer.byteLength("👋 @bob.test @alice.test: ", "utf8");
    expect(facets).toEqual([
      {
        index: { byteStart: mention, byteEnd: mention + 11 },
        features: [{ $type: "app.bsky.richtext.facet#mention", did: DID }],
      },
      {
        index: { byteStart: link, byteEnd: link + Buffer.byteLength("https://example.com/ü", "utf8") },
        features: [{ $type: "app.bsky.richtext.facet#link", uri: "https://example.com/ü" }],
      },
    ]);
    // What would go in the record serialises as the lexicon wants it.
    expect(JSON.parse(JSON.stringify(facets))).toEqual(facets);
  });
  it("sorts by byteStart across kinds", () => {
    const text = "https://a.example @alice.test https://b.example";
    const starts = facetsJson(findFacets(text), new Map([["alice.test", DID]])).map((f) => f.index.byteStart);
    expect(starts).toEqual([0, 18, 30]);
  });
  it("nothing to link: no facets", () => {
    expect(facetsJson(findFacets("just text, 100% plain"), new Map())).toEqual([]);
  });
});

describe("findFacets, from the hostile round", () => {
  it("a `)` closing the text's parenthesis is left out even when the URL has one of its own", () => {
    const text = "(see https://en.wikipedia.org/wiki/Foo_(bar))";
    const [link] = findFacets(text).links;
    expect(link?.uri).toBe("https://en.wikipedia.org/wiki/Foo_(bar)");
  });

  it("a fediverse address @user@host mentions no Bluesky account", () => {
    expect(findFacets("hi @bob.test@other.example and @bob.test").mentions.map((m) => m.start)).toEqual([
      Buffer.byteLength("hi @bob.test@other.example and "),
    ]);
  });
});

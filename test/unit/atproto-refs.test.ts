import { describe, expect, it } from "vitest";
import { ExitCode, UsageError } from "../../src/errors.js";
import {
  atUri,
  bskyUrl,
  isDid,
  isHandle,
  parsePostRef,
  repoOf,
  rkeyOf,
} from "../../src/services/atproto/refs.js";
import { ReplyFormatError } from "../../src/services/statusnet/xml.js";
import { ATPROTO_FIXTURES, fixtureReply } from "../helpers/fixtures.js";

/** What show, delete and --reply-to take on the AT Protocol (CLI.md "A third API"). */
const DID = "did:plc:uquscmmaa5wx4d7cim33jixc";
const RKEY = "3n3hqbvuvpk2p";
/** The URI of the post the real PDS created in fixture 05. */
const URI = (JSON.parse(fixtureReply("05-createRecord.txt", ATPROTO_FIXTURES).body) as { uri: string }).uri;

describe("parsePostRef accepts", () => {
  it.each([
    ["the real PDS's at:// URI (fixture 05)", URI, { repo: DID, rkey: RKEY }],
    [
      "an at:// URI with a handle",
      `at://alice.test/app.bsky.feed.post/${RKEY}`,
      { repo: "alice.test", rkey: RKEY },
    ],
    [
      "a handle in capitals, lower-cased",
      `at://Alice.Test/app.bsky.feed.post/${RKEY}`,
      { repo: "alice.test", rkey: RKEY },
    ],
    ["AT:// in capitals", `AT://${DID}/app.bsky.feed.post/${RKEY}`, { repo: DID, rkey: RKEY }],
    [
      "a did:web",
      `at://did:web:example.com/app.bsky.feed.post/${RKEY}`,
      { repo: "did:web:example.com", rkey: RKEY },
    ],
    [
      "a bsky.app URL",
      `https://bsky.app/profile/alice.bsky.social/post/${RKEY}`,
      { repo: "alice.bsky.social", rkey: RKEY },
    ],
    ["a bsky.app URL with a DID", `https://bsky.app/profile/${DID}/post/${RKEY}`, { repo: DID, rkey: RKEY }],
    ["http://", `http://bsky.app/profile/alice.test/post/${RKEY}`, { repo: "alice.test", rkey: RKEY }],
    ["www.", `https://www.bsky.app/profile/alice.test/post/${RKEY}`, { repo: "alice.test", rkey: RKEY }],
    [
      "a trailing slash",
      `https://bsky.app/profile/alice.test/post/${RKEY}/`,
      { repo: "alice.test", rkey: RKEY },
    ],
    [
      "a query and a fragment",
      `https://bsky.app/profile/alice.test/post/${RKEY}?ref=x#top`,
      { repo: "alice.test", rkey: RKEY },
    ],
    [
      "a DID's colons escaped",
      `https://bsky.app/profile/did%3Aplc%3Auquscmmaa5wx4d7cim33jixc/post/${RKEY}`,
      { repo: DID, rkey: RKEY },
    ],
    [
      "a capitalised host",
      `HTTPS://BSKY.APP/profile/alice.test/post/${RKEY}`,
      { repo: "alice.test", rkey: RKEY },
    ],
    ["a bare record key", RKEY, { rkey: RKEY }],
    ["a record key of other characters the spec allows", "self:a.b_c~d-e", { rkey: "self:a.b_c~d-e" }],
    ["white space around it", `  ${URI}\n`, { repo: DID, rkey: RKEY }],
  ])("%s", (_why, input, ref) => {
    expect(parsePostRef(input)).toEqual(ref);
  });
});

describe("parsePostRef refuses with 64", () => {
  it.each([
    ["empty", ""],
    ["white space", "   "],
    [".", "."],
    ["..", ".."],
    ["another collection", `at://alice.test/app.bsky.feed.like/${RKEY}`],
    ["no record key", "at://alice.test/app.bsky.feed.post/"],
    ["a path too long", `at://alice.test/app.bsky.feed.post/${RKEY}/x`],
    ["an at:// URI with a query", `at://alice.test/app.bsky.feed.post/${RKEY}?x=1`],
    ["a one-label handle", `at://alice/app.bsky.feed.post/${RKEY}`],
    ["a handle with a bad label", `at://-alice.test/app.bsky.feed.post/${RKEY}`],
    ["a numeric top-level label", `at://1.2.3.4/app.bsky.feed.post/${RKEY}`],
    ["a DID with no identifier", `at://did:plc:/app.bsky.feed.post/${RKEY}`],
    ["a DID method in capitals", `at://did:PLC:abc/app.bsky.feed.post/${RKEY}`],
    ["another site", `https://example.com/profile/alice.test/post/${RKEY}`],
    ["bsky.app on another port", `https://bsky.app:8443/profile/alice.test/post/${RKEY}`],
    ["bsky.app with credentials", `https://u:p@bsky.app/profile/alice.test/post/${RKEY}`],
    ["a profile URL", "https://bsky.app/profile/alice.test"],
    ["a URL with more path", `https://bsky.app/profile/alice.test/post/${RKEY}/liked-by`],
    ["a bad escape", "https://bsky.app/profile/alice.test/post/%E0%A4%A"],
    ["ftp", `ftp://bsky.app/profile/alice.test/post/${RKEY}`],
    ["a control character", `3n3h\u0007qbvuvpk2p`],
    ["a space inside", "3n3h qbvuvpk2p"],
    ["a slash", "a/b"],
    ["a key of 513 characters", "a".repeat(513)],
  ])("%s", (_why, input) => {
    let caught: unknown;
    try {
      parsePostRef(input, "--reply-to");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(ExitCode.Usage);
    expect((caught as UsageError).message).toMatch(
      /^--reply-to takes an at:\/\/ URI, a bsky\.app post URL or a record key, not ".*"$/s,
    );
  });

  it("names the flag, and quotes the input", () => {
    expect(() => parsePostRef("https://example.com/x", "--reply-to")).toThrow(
      '--reply-to takes an at:// URI, a bsky.app post URL or a record key, not "https://example.com/x"',
    );
  });
  it("without a flag says what the input is not", () => {
    expect(() => parsePostRef("a b")).toThrow(
      '"a b" is not an at:// URI, a bsky.app post URL or a record key',
    );
  });
  it("cuts a long paste to 60 characters, never inside a surrogate pair", () => {
    const long = `https://example.com/${"x".repeat(200)}`;
    expect(() => parsePostRef(long, "--reply-to")).toThrow(`not "${long.slice(0, 59)}…"`);
    const emoji = `${"x".repeat(58)}👍👍👍`;
    expect(() => parsePostRef(emoji)).toThrow(`"${"x".repeat(58)}…" is not`);
  });
});

describe("syntax", () => {
  it("handles: at least two labels, at most 253 characters, labels of at most 63", () => {
    expect(isHandle("alice.test")).toBe(true);
    expect(isHandle("a-b.c-d.example")).toBe(true);
    expect(isHandle("alice")).toBe(false);
    expect(isHandle("alice.test.")).toBe(false);
    expect(isHandle("alice_x.test")).toBe(false);
    expect(isHandle(`${"a".repeat(64)}.test`)).toBe(false);
    const label = "a".repeat(63);
    expect(isHandle(`${label}.${label}.${label}.${"a".repeat(61)}`)).toBe(true); // 253
    expect(isHandle(`${label}.${label}.${label}.${"a".repeat(62)}`)).toBe(false); // 254
  });
  it("DIDs: a lower-case method, an identifier that does not end in a colon", () => {
    expect(isDid(DID)).toBe(true);
    expect(isDid("did:web:localhost")).toBe(true);
    expect(isDid("did:web:localhost%3A2583")).toBe(true);
    expect(isDid("did:plc:abc:")).toBe(false);
    expect(isDid("did:plc")).toBe(false);
    expect(isDid("DID:plc:abc")).toBe(false);
    expect(isDid("did:plc:a/b")).toBe(false);
  });
});

describe("URIs and URLs", () => {
  it("atUri and bskyUrl", () => {
    expect(atUri(DID, RKEY)).toBe(URI);
    expect(bskyUrl("alice.test", RKEY)).toBe(`https://bsky.app/profile/alice.test/post/${RKEY}`);
    expect(parsePostRef(bskyUrl(DID, RKEY))).toEqual({ repo: DID, rkey: RKEY });
  });
  it("rkeyOf and repoOf take a post's URI apart", () => {
    expect(rkeyOf(URI)).toBe(RKEY);
    expect(repoOf(URI)).toBe(DID);
  });
  it.each([
    `at://${DID}/app.bsky.feed.like/${RKEY}`,
    `at://${DID}/app.bsky.feed.post`,
    "https://bsky.app/profile/alice.test/post/x",
    ` ${URI}`,
  ])("a server's %s that is not a post's URI is a ReplyFormatError", (uri) => {
    expect(() => rkeyOf(uri)).toThrow(ReplyFormatError);
    expect(() => repoOf(uri)).toThrow(ReplyFormatError);
  });
});

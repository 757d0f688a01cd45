import { beforeAll, describe, expect, it } from "vitest";
import {
  fromNotifications,
  type HtmlText,
  toProfile,
  toStatus,
  toStatuses,
} from "../../src/services/mastodon/entities.js";
import { parseJsonReply } from "../../src/services/mastodon/errors.js";
import { loadHtmlText } from "../../src/services/mastodon/html.js";
import { ReplyFormatError } from "../../src/services/statusnet/xml.js";
import { httpResponse, snacResponse } from "../helpers/http-response.js";

/** The Mastodon API's JSON as identica's types (src/services/mastodon/entities.ts; MASTODON.md §6, §7). */
let html: HtmlText;
beforeAll(async () => {
  html = await loadHtmlText();
});

const SNAC = "127.0.0.1:8001";
const doc = (name: string) => parseJsonReply(snacResponse(name), SNAC, true).doc;
const snacStatus = (name: string) => toStatus(doc(name), html, SNAC);
const ALICE = { id: "2f6b78eef73ced0ee5c2894c50f9a179", screenName: "alice", name: "alice" };

describe("snac's statuses (real replies)", () => {
  it("snac/30: the id as a string, the text from the HTML content, the date, the account", () => {
    expect(snacStatus("30-statuses-post-form.txt")).toEqual({
      id: "17959685988771f9c6c5f259669737a153da06c061",
      text: "hello from curl & #probe @nobody https://example.invalid/x ünïcödé",
      createdAt: "2026-11-29T16:09:58Z",
      source: null,
      inReplyToId: null,
      inReplyToScreenName: null,
      conversationId: null,
      user: ALICE,
      visibility: "public",
      spoilerText: "",
      url: "http://127.0.0.1:8001/alice/p/1795968598.192268",
    });
  });
  it("snac writes a local account's acct with its domain: kept without localDomain", () => {
    expect(toStatus(doc("30-statuses-post-form.txt"), html).user.screenName).toBe("alice@127.0.0.1:8001");
    expect(toStatus(doc("30-statuses-post-form.txt"), html, "other.example").user.screenName).toBe(
      "alice@127.0.0.1:8001",
    );
  });
  it("snac/31: a JSON-posted status", () => {
    expect(snacStatus("31-statuses-post-json.txt")).toMatchObject({
      id: "17959685981fd980515dfe37f5c2fbd3f111b3be95",
      text: "hello as JSON",
      user: ALICE,
    });
  });
  it("snac/31b: the text is the content's, not snac's non-standard `text` (the source as typed)", () => {
    const raw = doc("31b-statuses-post-markup.txt") as { text: string };
    const s = snacStatus("31b-statuses-post-markup.txt");
    expect(s.text).toBe("plain? star bold code _under_ tag  5<6 & 7>3 \"q\" 'a'\nsecond line\n\nnew para");
    expect(raw.text).toContain("*star*");
    expect(s.text).not.toContain("<script>");
  });
  it("snac/32: a reply to one's own status names its parent and its author", () => {
    expect(snacStatus("32-statuses-post-reply.txt")).toMatchObject({
      id: "17959685985b7b6801d4dd6a546be35bcbfc824aa1",
      text: "a reply",
      inReplyToId: "17959685988771f9c6c5f259669737a153da06c061",
      inReplyToScreenName: "alice",
    });
  });
  it("snac/32b: an unknown parent was dropped by snac: a top-level status", () => {
    expect(snacStatus("32b-statuses-post-reply-unknown-id.txt")).toMatchObject({
      text: "reply to nothing",
      inReplyToId: null,
      inReplyToScreenName: null,
    });
  });
  it.each([
    ["33-statuses-post-visibility-unlisted.txt", "unlisted", "1795968599c344c1a93459dc69c999f99a9d771cf6"],
    ["33-statuses-post-visibility-private.txt", "private", "179596859972453da1a9c34c2db74156743ceacca9"],
    ["33-statuses-post-visibility-direct.txt", "direct", "1795968599af738ba28f8b2f583348655a40996b78"],
    // snac/33d: asked for "bogus", stored as direct: the reply says what the server did.
    ["33d-statuses-post-visibility-bogus.txt", "direct", "17959685993fa858fc733a84725e995190ca2ec8c1"],
  ])("%s: visibility %s", (name, visibility, id) => {
    const s = snacStatus(name);
    expect(s.visibility).toBe(visibility);
    expect(s.id).toBe(id);
    expect(s.text).toBe(`visibility ${name.includes("bogus") ? "bogus" : visibility}`);
  });
  it("snac/37, 37b: an empty status has an empty text", () => {
    expect(snacStatus("37-statuses-post-empty.txt").text).toBe("");
    expect(snacStatus("37b-statuses-post-no-status-param.txt").text).toBe("");
  });
  it("snac/40: GET a status; snac/41: DELETE answers the deleted status", () => {
    expect(snacStatus("40-statuses-get.txt")).toEqual(snacStatus("30-statuses-post-form.txt"));
    expect(snacStatus("41-statuses-delete.txt")).toMatchObject({
      id: "17959685981fd980515dfe37f5c2fbd3f111b3be95",
      text: "hello as JSON",
    });
  });
  it("snac/51: a status posted over https", () => {
    expect(snacStatus("51-https-statuses-post.txt").text).toBe("posted over https");
  });
});

describe("snac's timelines (real replies)", () => {
  it("snac/42: home, newest first", () => {
    const list = toStatuses(doc("42-timelines-home.txt"), html, SNAC);
    expect(list.map((s) => [s.id, s.text, s.visibility])).toEqual([
      ["17959686056985aebc9a451e547b7bb594349707fd", "idempotent post", "public"],
      ["179596859988a3ae398151031e4d8ac7515cbe9700", "idempotent post", "public"],
      ["17959685993fa858fc733a84725e995190ca2ec8c1", "visibility bogus", "direct"],
    ]);
    expect(list.every((s) => s.user.screenName === "alice")).toBe(true);
  });
  it("snac/43: public", () => {
    const list = toStatuses(doc("43-timelines-public.txt"), html, SNAC);
    expect(list.map((s) => s.text)).toEqual(["idempotent post", "idempotent post", "reply to nothing"]);
    expect(list[2]?.createdAt).toBe("2026-11-29T16:09:58Z");
  });
  it("snac/45: an account's statuses", () => {
    const list = toStatuses(doc("45-accounts-statuses.txt"), html, SNAC);
    expect(list.map((s) => s.id)).toEqual([
      "17959686056985aebc9a451e547b7bb594349707fd",
      "179596859988a3ae398151031e4d8ac7515cbe9700",
    ]);
  });
});

describe("the account (verify_credentials)", () => {
  it("snac/20: screenName is the username", () => {
    expect(toProfile(doc("20-verify-credentials.txt"), html, SNAC)).toEqual({
      id: "2f6b78eef73ced0ee5c2894c50f9a179",
      screenName: "alice",
      name: "alice",
      profileUrl: "http://127.0.0.1:8001/alice",
      statusesCount: 0,
      latest: null,
    });
  });
  it("Mastodon's: a snowflake id, a display name, the count", () => {
    const raw = parseJsonReply(
      httpResponse(
        200,
        '{"id":"109348264851234567","username":"alice","acct":"alice","display_name":"Alice Example","url":"https://m.example/@alice","statuses_count":1234}',
      ),
      "m.example",
      true,
    ).doc;
    expect(toProfile(raw)).toEqual({
      id: "109348264851234567",
      screenName: "alice",
      name: "Alice Example",
      profileUrl: "https://m.example/@alice",
      statusesCount: 1234,
      latest: null,
    });
  });
  it("an empty display name falls back to the username", () => {
    expect(toProfile({ id: "1", username: "bob", display_name: "" }).name).toBe("bob");
  });
  it.each([null, [], "alice", { username: "a" }, { id: "1" }, { id: "a/b", username: "a" }])(
    "a malformed account is a ReplyFormatError: %j",
    (raw) => {
      expect(() => toProfile(raw)).toThrow(ReplyFormatError);
    },
  );
});

/** A Mastodon-shaped status (MASTODON.md §6), parsed as the Service would. */
function mastodon(status: Record<string, unknown>): unknown {
  const base = {
    id: "113366441012345678",
    created_at: "2024-10-23T09:41:02.196Z",
    in_reply_to_id: null,
    in_reply_to_account_id: null,
    sensitive: false,
    spoiler_text: "",
    visibility: "public",
    language: "en",
    uri: "https://m.example/users/alice/statuses/113366441012345678",
    url: "https://m.example/@alice/113366441012345678",
    content: "<p>hello</p>",
    reblog: null,
    application: { name: "identica", website: null },
    account: {
      id: "109348264851234567",
      username: "alice",
      acct: "alice",
      display_name: "Alice Example",
      url: "https://m.example/@alice",
    },
    mentions: [],
    tags: [],
    emojis: [],
    media_attachments: [],
  };
  return parseJsonReply(httpResponse(200, JSON.stringify({ ...base, ...status })), "m.example", true).doc;
}

describe("Mastodon's statuses (hand-written, MASTODON.md §6)", () => {
  it("the whole status: paragraphs, the invisible-span link, an h-card mention, the application", () => {
    const s = toStatus(
      mastodon({
        content:
          '<p>Read <a href="https://example.com/a/very/long/path/to/somewhere" rel="nofollow noopener" translate="no" target="_blank">' +
          '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very/long/path</span>' +
          '<span class="invisible">/to/somewhere</span></a></p><p>cc <span class="h-card" translate="no">' +
          '<a href="https://other.example/@bob" class="u-url mention">@<span>bob</span></a></span><br />thanks &amp; bye</p>',
      }),
      html,
      "m.example",
    );
    expect(s).toEqual({
      id: "113366441012345678",
      text: "Read https://example.com/a/very/long/path/to/somewhere\n\ncc @bob\nthanks & bye",
      createdAt: "2024-10-23T09:41:02.196Z",
      source: "identica",
      inReplyToId: null,
      inReplyToScreenName: null,
      conversationId: null,
      user: { id: "109348264851234567", screenName: "alice", name: "Alice Example" },
      visibility: "public",
      spoilerText: "",
      url: "https://m.example/@alice/113366441012345678",
    });
  });
  it("an 18-digit snowflake sent as a bare number stays exact (never a float)", () => {
    const raw = parseJsonReply(
      httpResponse(
        200,
        '{"id":113366441012345679,"created_at":"2024-10-23T09:41:02.000Z","content":"<p>x</p>","account":{"id":109348264851234567,"username":"a","acct":"a"},"in_reply_to_id":113366441012345001}',
      ),
      "m.example",
      true,
    ).doc;
    const s = toStatus(raw, html);
    expect(s.id).toBe("113366441012345679");
    expect(s.user.id).toBe("109348264851234567");
    expect(s.inReplyToId).toBe("113366441012345001");
  });
  it("a small numeric id is taken as its digits", () => {
    expect(toStatus({ id: 42, content: "", account: { id: 7, username: "a" } }, html).id).toBe("42");
  });
  it("a reply names the mentioned account it answers", () => {
    const s = toStatus(
      mastodon({
        in_reply_to_id: "113366440000000001",
        in_reply_to_account_id: "200",
        mentions: [
          { id: "100", username: "carol", acct: "carol", url: "https://m.example/@carol" },
          { id: "200", username: "bob", acct: "bob@other.example", url: "https://other.example/@bob" },
        ],
      }),
      html,
      "m.example",
    );
    expect(s.inReplyToId).toBe("113366440000000001");
    expect(s.inReplyToScreenName).toBe("bob@other.example");
  });
  it("a reply to an account that is not among the mentions names nobody", () => {
    const s = toStatus(mastodon({ in_reply_to_id: "1", in_reply_to_account_id: "999" }), html);
    expect(s.inReplyToScreenName).toBeNull();
  });
  it("a content warning and a visibility", () => {
    const s = toStatus(mastodon({ spoiler_text: "spoilers", visibility: "unlisted", sensitive: true }), html);
    expect(s.spoilerText).toBe("spoilers");
    expect(s.visibility).toBe("unlisted");
  });
  it("no application (someone else's status) and no url", () => {
    const s = toStatus(mastodon({ application: null, url: null }), html);
    expect(s.source).toBeNull();
    expect(s.url).toBeNull();
  });
  it("an unreadable date is null", () => {
    expect(toStatus(mastodon({ created_at: "yesterday" }), html).createdAt).toBeNull();
    expect(toStatus(mastodon({ created_at: null }), html).createdAt).toBeNull();
  });
  it("a display name is kept as sent (the printer sanitises it); an empty one is the username", () => {
    expect(
      toStatus(mastodon({ account: { id: "1", username: "eve", acct: "eve", display_name: "" } }), html).user,
    ).toEqual({ id: "1", screenName: "eve", name: "eve" });
  });
  it("a reblog is the boosted status, under the boost's id and date", () => {
    const boosted = {
      id: "113300000000000001",
      created_at: "2024-10-20T08:00:00.000Z",
      content: "<p>the original</p>",
      visibility: "public",
      spoiler_text: "",
      url: "https://other.example/@bob/113300000000000001",
      application: null,
      account: { id: "300", username: "bob", acct: "bob@other.example", display_name: "Bob" },
      reblog: null,
      mentions: [],
    };
    const s = toStatus(
      mastodon({ id: "113366441012349999", content: "", url: null, application: null, reblog: boosted }),
      html,
      "m.example",
    );
    expect(s).toMatchObject({
      id: "113366441012349999",
      createdAt: "2024-10-23T09:41:02.196Z",
      text: "the original",
      user: { id: "300", screenName: "bob@other.example", name: "Bob" },
      url: "https://other.example/@bob/113300000000000001",
    });
  });

  const good = { id: "1", content: "<p>x</p>", account: { id: "2", username: "a", acct: "a" } };
  it.each([
    ["not an object", null],
    ["an array", [good]],
    ["a string", "status"],
    ["no id", { ...good, id: undefined }],
    ["an empty id", { ...good, id: "" }],
    ["an id with a slash", { ...good, id: "../../x" }],
    ["a fractional id", { ...good, id: 1.5 }],
    ["an id beyond 2^53 as a number", { ...good, id: 2 ** 60 }],
    ["no account", { ...good, account: undefined }],
    ["an account without an id", { ...good, account: { username: "a" } }],
    ["an account without a name", { ...good, account: { id: "2" } }],
    ["no content", { ...good, content: undefined }],
    ["a content that is not a string", { ...good, content: 5 }],
    ["an in_reply_to_id that is no id", { ...good, in_reply_to_id: {} }],
    ["a malformed reblog", { ...good, reblog: { id: "3" } }],
  ])("a status with %s is a ReplyFormatError", (_what, raw) => {
    expect(() => toStatus(raw, html)).toThrow(ReplyFormatError);
  });
  it("a timeline that is not an array is a ReplyFormatError", () => {
    expect(() => toStatuses({ statuses: [] }, html)).toThrow(ReplyFormatError);
    expect(() => toStatuses([good, null], html)).toThrow(ReplyFormatError);
    expect(toStatuses([], html)).toEqual([]);
  });
});

describe("notifications (mentions)", () => {
  it("the statuses inside, skipping notifications without one", () => {
    const status = {
      id: "5",
      content: "<p>@alice hi</p>",
      account: { id: "2", username: "bob", acct: "bob" },
    };
    const raw = [
      { id: "n1", type: "mention", created_at: "2024-10-23T09:41:02.196Z", account: status.account, status },
      { id: "n2", type: "follow", account: status.account, status: null },
      { id: "n3", type: "follow", account: status.account },
    ];
    const statuses = fromNotifications(raw);
    expect(statuses).toEqual([status]);
    expect(toStatuses(statuses, html).map((s) => [s.id, s.text, s.user.screenName])).toEqual([
      ["5", "@alice hi", "bob"],
    ]);
  });
  it("anything but an array of objects is a ReplyFormatError", () => {
    expect(() => fromNotifications({})).toThrow(ReplyFormatError);
    expect(() => fromNotifications([1])).toThrow(ReplyFormatError);
  });
});

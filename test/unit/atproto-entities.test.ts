import { describe, expect, it } from "vitest";
import {
  createdToStatus,
  feedToStatuses,
  notificationsToStatuses,
  postViewToStatus,
  recordToStatus,
} from "../../src/services/atproto/entities.js";
import type { Status } from "../../src/services/service.js";
import { ReplyFormatError } from "../../src/services/statusnet/xml.js";
import { ATPROTO_FIXTURES, fixtureReply } from "../helpers/fixtures.js";

/** The PDS's and the AppView's JSON as identica's Status (CLI.md "A third API", Results). */
const DID = "did:plc:uquscmmaa5wx4d7cim33jixc";
const BOB = "did:plc:funah4zf7ddwphfutcdbc62z";
const ALICE = { did: DID, handle: "alice.test" };
const body = (name: string): unknown => JSON.parse(fixtureReply(name, ATPROTO_FIXTURES).body);
const uri = (repo: string, rkey: string) => `at://${repo}/app.bsky.feed.post/${rkey}`;

describe("recordToStatus", () => {
  it("fixture 06: the real PDS's getRecord", () => {
    const status: Status = recordToStatus(body("06-getRecord.txt"), { ...ALICE, name: "Alice" });
    expect(status).toEqual({
      id: uri(DID, "3n3hqbvuvpk2p"),
      text: "hello from a CLI poster test",
      createdAt: "2026-11-29T17:24:11.000Z",
      source: null,
      inReplyToId: null,
      inReplyToScreenName: null,
      conversationId: null,
      user: { id: DID, screenName: "alice.test", name: "Alice" },
      url: "https://bsky.app/profile/alice.test/post/3n3hqbvuvpk2p",
      cid: "bafyreieyv2xh4ptyuomhwvziatezu6nrqt2yvaqukfldfgh7qgh4vxjiwa",
    });
  });
  it("a reply: its parent and root", () => {
    const parent = { uri: uri(BOB, "3n3hqdlej722q"), cid: "bafyparent" };
    const root = { uri: uri(BOB, "3n3hqaaaaaa2q"), cid: "bafyroot" };
    const s = recordToStatus(
      {
        uri: uri(DID, "3n3hqc6v2g22p"),
        cid: "bafy",
        value: { text: "re", createdAt: "2026-11-29T18:24:11+01:00", reply: { parent, root }, langs: ["en"] },
      },
      ALICE,
    );
    expect(s.inReplyToId).toBe(parent.uri);
    expect(s.conversationId).toBe(root.uri);
    expect(s.inReplyToScreenName).toBeNull();
    expect(s.createdAt).toBe("2026-11-29T17:24:11.000Z");
    expect(s.user.name).toBe("alice.test");
  });
  it("an unreadable date is null, not a guess", () => {
    const s = recordToStatus({ uri: uri(DID, "x"), value: { text: "t", createdAt: "yesterday" } }, ALICE);
    expect(s.createdAt).toBeNull();
    expect(s.cid).toBeUndefined();
  });
  it("a handle that is not one never goes into the URL: the DID does", () => {
    for (const handle of ["evil.test/../../x", "handle.invalid", "a b"]) {
      const s = recordToStatus({ uri: uri(DID, "x"), value: { text: "t" } }, { did: DID, handle });
      expect(s.url).toBe(`https://bsky.app/profile/${DID}/post/x`);
    }
  });
  it.each([
    ["not an object", "nope"],
    ["no uri", { cid: "c", value: { text: "t" } }],
    ["a uri of another collection", { uri: `at://${DID}/app.bsky.feed.like/x`, value: { text: "t" } }],
    ["a uri that is not at://", { uri: "https://bsky.app/profile/alice.test/post/x", value: { text: "t" } }],
    ["no value", { uri: uri(DID, "x") }],
    ["a text that is not a string", { uri: uri(DID, "x"), value: { text: 42 } }],
    ["a record of another type", { uri: uri(DID, "x"), value: { $type: "app.bsky.feed.like", text: "t" } }],
    [
      "a reply without a root",
      { uri: uri(DID, "x"), value: { text: "t", reply: { parent: { uri: uri(DID, "y") } } } },
    ],
    [
      "a reply to something else",
      {
        uri: uri(DID, "x"),
        value: { text: "t", reply: { parent: { uri: "x" }, root: { uri: uri(DID, "y") } } },
      },
    ],
  ])("%s is a ReplyFormatError", (_why, raw) => {
    expect(() => recordToStatus(raw, ALICE)).toThrow(ReplyFormatError);
  });
  it("an author without a DID is a ReplyFormatError", () => {
    expect(() => recordToStatus(body("06-getRecord.txt"), { did: "alice", handle: "alice.test" })).toThrow(
      ReplyFormatError,
    );
  });
});

describe("createdToStatus", () => {
  it("fixture 05: the server's uri and cid, the record that was sent", () => {
    const record = {
      $type: "app.bsky.feed.post",
      text: "hello from a CLI poster test",
      createdAt: "2026-11-29T17:24:11.000Z",
    };
    const s = createdToStatus(body("05-createRecord.txt"), record, ALICE);
    expect(s.id).toBe(uri(DID, "3n3hqbvuvpk2p"));
    expect(s.cid).toBe("bafyreieyv2xh4ptyuomhwvziatezu6nrqt2yvaqukfldfgh7qgh4vxjiwa");
    expect(s.text).toBe(record.text);
    expect(s.createdAt).toBe(record.createdAt);
    expect(s.url).toBe("https://bsky.app/profile/alice.test/post/3n3hqbvuvpk2p");
  });
  it("fixture 28: bob's post", () => {
    const s = createdToStatus(
      body("28-createRecord-ratelimit-headers.txt"),
      { text: "hi", createdAt: "2026-11-29T17:25:07.000Z" },
      {
        did: BOB,
        handle: "bob.test",
      },
    );
    expect(s.url).toBe("https://bsky.app/profile/bob.test/post/3n3hqdlej722q");
  });
  it("a reply without a uri (fixture 07 is a delete's answer) is a ReplyFormatError", () => {
    expect(() => createdToStatus(body("07-deleteRecord.txt"), { text: "t", createdAt: "" }, ALICE)).toThrow(
      ReplyFormatError,
    );
    expect(() => createdToStatus(null, { text: "t", createdAt: "" }, ALICE)).toThrow(ReplyFormatError);
  });
});

/** An AppView post view as `app.bsky.feed.defs#postView` describes it. */
function postView(rkey: string, extra: Record<string, unknown> = {}, record: Record<string, unknown> = {}) {
  return {
    uri: uri(BOB, rkey),
    cid: `bafy${rkey}`,
    author: { did: BOB, handle: "bob.test", displayName: "Bob", avatar: "https://cdn.example/a.jpg" },
    record: {
      $type: "app.bsky.feed.post",
      text: `post ${rkey}`,
      createdAt: "2026-11-29T17:00:00.000Z",
      ...record,
    },
    replyCount: 0,
    repostCount: 0,
    likeCount: 0,
    indexedAt: "2026-11-29T17:00:01.000Z",
    labels: [],
    ...extra,
  };
}

describe("postViewToStatus", () => {
  it("a post view: its author's DID, handle and display name", () => {
    expect(postViewToStatus(postView("3n3hqaaaaaa2q"))).toEqual({
      id: uri(BOB, "3n3hqaaaaaa2q"),
      text: "post 3n3hqaaaaaa2q",
      createdAt: "2026-11-29T17:00:00.000Z",
      source: null,
      inReplyToId: null,
      inReplyToScreenName: null,
      conversationId: null,
      user: { id: BOB, screenName: "bob.test", name: "Bob" },
      url: "https://bsky.app/profile/bob.test/post/3n3hqaaaaaa2q",
      cid: "bafy3n3hqaaaaaa2q",
    });
  });
  it("no display name: the handle; no readable createdAt: when it was indexed", () => {
    const s = postViewToStatus(
      postView("x", { author: { did: BOB, handle: "bob.test", displayName: " " } }, { createdAt: "soon" }),
    );
    expect(s.user.name).toBe("bob.test");
    expect(s.createdAt).toBe("2026-11-29T17:00:01.000Z");
  });
  it.each([
    ["no author", postView("x", { author: undefined })],
    ["an author without a DID", postView("x", { author: { handle: "bob.test" } })],
    ["no record", postView("x", { record: undefined })],
    ["not an object", []],
  ])("%s is a ReplyFormatError", (_why, raw) => {
    expect(() => postViewToStatus(raw)).toThrow(ReplyFormatError);
  });
});

describe("feedToStatuses", () => {
  it("a timeline: posts, a repost as the post, a reply naming whom it answers", () => {
    const parent = postView("3n3hqparent2q");
    const reply = postView(
      "3n3hqreply22q",
      {},
      {
        reply: { parent: { uri: parent.uri, cid: parent.cid }, root: { uri: parent.uri, cid: parent.cid } },
      },
    );
    const statuses = feedToStatuses({
      feed: [
        { post: postView("3n3hqaaaaaa2q") },
        {
          post: postView("3n3hqbbbbbb2q"),
          reason: { $type: "app.bsky.feed.defs#reasonRepost", by: { did: DID, handle: "alice.test" } },
        },
        { post: reply, reply: { parent, root: parent } },
      ],
      cursor: "abc",
    });
    expect(statuses.map((s) => s.id)).toEqual([
      uri(BOB, "3n3hqaaaaaa2q"),
      uri(BOB, "3n3hqbbbbbb2q"),
      uri(BOB, "3n3hqreply22q"),
    ]);
    expect(statuses[1]?.user.screenName).toBe("bob.test");
    expect(statuses[2]?.inReplyToId).toBe(parent.uri);
    expect(statuses[2]?.inReplyToScreenName).toBe("bob.test");
    expect(statuses[0]?.inReplyToScreenName).toBeNull();
  });
  it("an empty feed is no statuses; anything else is a ReplyFormatError", () => {
    expect(feedToStatuses({ feed: [] })).toEqual([]);
    expect(() => feedToStatuses(body("24-err-appview-timeline.txt"))).toThrow(ReplyFormatError);
    expect(() => feedToStatuses({ feed: [null] })).toThrow(ReplyFormatError);
    expect(() => feedToStatuses({ feed: [{ post: { uri: "at://x" } }] })).toThrow(ReplyFormatError);
  });
});

describe("notificationsToStatuses", () => {
  it("keeps mentions and replies, skips likes, follows and reposts", () => {
    const n = (rkey: string, reason: string) => ({ ...postView(rkey), reason, isRead: false });
    const statuses = notificationsToStatuses({
      notifications: [
        n("3n3hqmention2", "mention"),
        { ...n("3n3hqlike2222", "like"), uri: `at://${BOB}/app.bsky.feed.like/3n3hqlike2222` },
        { ...n("3n3hqfollow22", "follow"), uri: `at://${BOB}/app.bsky.graph.follow/3n3hqfollow22` },
        n("3n3hqreply222", "reply"),
        n("3n3hqrepost22", "repost"),
      ],
    });
    expect(statuses.map((s) => s.id)).toEqual([uri(BOB, "3n3hqmention2"), uri(BOB, "3n3hqreply222")]);
  });
  it("a reply that is not a list of notifications is a ReplyFormatError", () => {
    expect(() => notificationsToStatuses({ feed: [] })).toThrow(ReplyFormatError);
    expect(() => notificationsToStatuses({ notifications: ["x"] })).toThrow(ReplyFormatError);
  });
});

import stringWidth from "string-width";
import { MockAgent } from "undici";
import { beforeAll, describe, expect, it } from "vitest";
import { parseServer } from "../../src/config/server.js";
import { HttpSession } from "../../src/http/client.js";
import { wrap } from "../../src/output/timeline.js";
import { BasicSession } from "../../src/services/statusnet/auth.js";
import { swallowedCommand } from "../../src/services/statusnet/post.js";
import { fetchTextLimit } from "../../src/services/statusnet/server-config.js";
import type { Status } from "../../src/services/statusnet/status.js";
import { timeline } from "../../src/services/statusnet/statuses.js";
import type { Api } from "../../src/services/statusnet/update.js";
import { loadXmlParser } from "../../src/services/statusnet/xml.js";
import { fixtureReply } from "../helpers/fixtures.js";

// The XML parser loads with a connection (src/services/statusnet/connect.ts); these tests make their Api by hand.
beforeAll(loadXmlParser);

/** An Api whose server answers `path` with `body` (MockAgent: unit tests only). */
function apiAnswering(path: string, body: string, format: "xml" | "json", contentType?: string): Api {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agent
    .get("https://social.example")
    .intercept({ path, method: "GET" })
    .reply(200, body, { headers: { "content-type": contentType ?? `application/${format}; charset=utf-8` } });
  const config = {
    timeoutMs: 5000,
    userAgent: "t",
    insecureHttp: false,
    maxResponseBytes: 1 << 20,
    dispatcher: agent,
  };
  const session = new BasicSession(new HttpSession("https://social.example", config), config);
  return { server: parseServer("social.example"), session, format, credential: undefined };
}

describe("the server's text limit (statusnet/config)", () => {
  it("from the real server's fixtures: 1000, in XML and JSON", async () => {
    const x = fixtureReply("j-config.xml.txt").body;
    const j = fixtureReply("j-config.json.txt").body;
    expect(await fetchTextLimit(apiAnswering("/api/statusnet/config.xml", x, "xml"))).toBe(1000);
    expect(await fetchTextLimit(apiAnswering("/api/statusnet/config.json", j, "json"))).toBe(1000);
  });
  const xml = (site: string, notice: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<config><site><textlimit>${site}</textlimit></site><notice><contentlimit>${notice}</contentlimit></notice></config>`;
  it.each([
    ["140", "", 140],
    ["140", "200", 200],
    ["false", "", 0],
    ["0", "", 0],
    ["", "", 0],
    ["1000", "false", 0],
    ["banana", "", undefined],
  ])("textlimit %j, contentlimit %j → %j", async (site, notice, limit) => {
    expect(await fetchTextLimit(apiAnswering("/api/statusnet/config.xml", xml(site, notice), "xml"))).toBe(
      limit,
    );
  });
  it("JSON: contentlimit null falls back to textlimit; strings are read too", async () => {
    const body = '{"site":{"textlimit":"500"},"notice":{"contentlimit":null}}';
    expect(await fetchTextLimit(apiAnswering("/api/statusnet/config.json", body, "json"))).toBe(500);
  });
});

describe("timelines from the real server's fixtures", () => {
  it("home_timeline.xml and friends_timeline.json", async () => {
    const x = await timeline(
      apiAnswering(
        "/api/statuses/home_timeline.xml?count=3",
        fixtureReply("l-home-timeline.xml.txt").body,
        "xml",
      ),
      { kind: "home", count: 3 },
    );
    expect(x.statuses).toHaveLength(3);
    expect(x.statuses.every((s) => /^\d+$/.test(s.id) && s.user.screenName !== "")).toBe(true);
    const j = await timeline(
      apiAnswering(
        "/api/statuses/home_timeline.json?count=2",
        fixtureReply("l-friends-timeline.json.txt").body,
        "json",
      ),
      { kind: "home", count: 2 },
    );
    expect(j.statuses).toHaveLength(2);
  });
  it("an empty timeline and a one-status timeline are lists", async () => {
    const empty =
      '<?xml version="1.0" encoding="UTF-8"?>\n<statuses type="array" xmlns:statusnet="http://status.net/schema/api/1/">\n</statuses>\n';
    expect(
      (await timeline(apiAnswering("/api/statuses/public_timeline.xml", empty, "xml"), { kind: "public" }))
        .statuses,
    ).toEqual([]);
    const one = `<?xml version="1.0"?><statuses type="array"><status><id>5</id><text>t</text><user><id>1</id><screen_name>a</screen_name></user></status></statuses>`;
    expect(
      (await timeline(apiAnswering("/api/statuses/public_timeline.xml", one, "xml"), { kind: "public" }))
        .statuses,
    ).toHaveLength(1);
  });
});

describe("a status swallowed as a command (fixtures o-command-*)", () => {
  const reply = (status: Status, notBefore?: Date) => ({ status, reply: { doc: {}, text: "" }, notBefore });
  it.each([
    ["o-command-text.xml.txt", "whois bob", "whois"],
    ["o-command-d-dm.xml.txt", "d bob secret 051043", "d"],
    ["o-command-reply-swallowed.xml.txt", "reply to nothing 051043", "reply"],
  ])("%s", async (fixture, sent, word) => {
    const api = apiAnswering("/api/statuses/show/1.xml", fixtureReply(fixture).body, "xml");
    const { showStatus } = await import("../../src/services/statusnet/statuses.js");
    const { status } = await showStatus(api, "1");
    const err = await swallowedCommand(sent, reply(status));
    expect(err?.exitCode).toBe(65);
    expect(err?.message).toContain(`its "${word}" command and posted nothing`);
    // The reply is older than the request (by the server's clock): the user's latest notice.
    const old = await swallowedCommand(
      sent,
      reply(status, new Date(Date.parse(status.createdAt ?? "") + 5000)),
    );
    expect(old?.message).toContain(`its "${word}" command and posted nothing`);
  });
  const status: Status = {
    id: "1",
    text: "help   is on the way",
    createdAt: "2026-11-29T10:00:00.000Z",
    source: null,
    inReplyToId: null,
    inReplyToScreenName: null,
    conversationId: null,
    user: { id: "1", screenName: "a", name: "" },
  };
  it("a status that merely starts like a command but came back as sent is a success", async () => {
    expect(await swallowedCommand("help is on the way", reply(status))).toBeUndefined();
    expect(
      await swallowedCommand("hello world", reply({ ...status, text: "something else" })),
    ).toBeUndefined();
  });
  it("compares with the text as GNU social stores it: entities decoded (not quotes), whitespace collapsed", async () => {
    const back = (text: string) => reply({ ...status, text });
    expect(await swallowedCommand("last night &amp; today", back("last night & today"))).toBeUndefined();
    expect(
      await swallowedCommand("get &lt;this&gt; &#233;t&eacute;", back("get <this> été")),
    ).toBeUndefined();
    expect(
      await swallowedCommand("d &quot;x&quot; &#39;y&#39;\tz\n", back("d &quot;x&quot; &#39;y&#39; z")),
    ).toBeUndefined();
    expect(await swallowedCommand('d "x" y z', back("d &quot;x&quot; y z"))).toBeDefined();
    // A shortened link is still this status.
    expect(
      await swallowedCommand(
        "follow https://example.org/a/very/long/path now",
        back("follow https://sho.rt/x now"),
      ),
    ).toBeUndefined();
  });
  it("a new notice that is not the text is what the command made (fav, sub): nothing was posted, and said so", async () => {
    const made = {
      ...status,
      id: "77",
      text: "alice favorited something by bob: hi",
      createdAt: "2026-11-29T10:00:05.000Z",
    };
    const err = await swallowedCommand("fav bob", reply(made, new Date("2026-11-29T10:00:04.000Z")));
    expect(err?.exitCode).toBe(65);
    expect(err?.message).toMatch(
      /ran the text as its "fav" command, which made notice #77 .*; your text was not posted/,
    );
  });
});

describe("wrap", () => {
  it("wraps on spaces by terminal columns and cuts words wider than the width", () => {
    expect(wrap("aaa bbb ccc", 7, stringWidth)).toEqual(["aaa bbb", "ccc"]);
    // An emoji takes two columns.
    expect(wrap("😀😀😀😀😀 x", 4, stringWidth)).toEqual(["😀😀", "😀😀", "😀 x"]);
    expect(wrap("short", undefined, stringWidth)).toEqual(["short"]);
  });
  it("CJK takes two columns a character; a grapheme (ZWJ emoji, skin tone, accent) is never cut", () => {
    const lines = wrap("日本語のテキストはとても長いです 漢字", 10, stringWidth);
    expect(lines).toEqual(["日本語のテ", "キストはと", "ても長いで", "す 漢字"]);
    for (const l of lines) expect(stringWidth(l)).toBeLessThanOrEqual(10);
    expect(wrap("👩‍👩‍👧👍🏽é👩‍👩‍👧", 4, stringWidth)).toEqual(["👩‍👩‍👧👍🏽", "é👩‍👩‍👧"]);
  });
});

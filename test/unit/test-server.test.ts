import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FIXTURES, fixtureReply } from "../helpers/fixtures.js";
import { parseCommand, startServer, type TestServer } from "../server/gnusocial.js";
import { htmlEntityDecode, parseForm, xmlSafeStr } from "../server/php.js";

/**
 * The GNU social look-alike must do to a status what the real GNU social 2.0.1 does
 * (test/fixtures/gnusocial): the e2e tests of the product are only as
 * good as this server.
 */

describe("html_entity_decode(ENT_NOQUOTES, UTF-8)", () => {
  it.each([
    ["fish &amp; chips", "fish & chips"],
    ["&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"],
    ["&nbsp;&eacute;&Eacute;&copy;&hellip;&mdash;&euro;&trade;&hearts;", "\u00a0éÉ©…—€™♥"],
    ["&#233; &#xE9; &#XE9; &#x1F600; &#0065;", "é é é 😀 A"],
    ["line&#10;break&#9;tab", "line\nbreak\ttab"],
    // Decoded once: what the user typed as "&amp;amp;" is stored as "&amp;".
    ["&amp;amp; &amp;lt;", "&amp; &lt;"],
  ])("%j → %j", (typed, stored) => {
    expect(htmlEntityDecode(typed)).toBe(stored);
  });

  it.each([
    // ENT_NOQUOTES: no reference to a quote is decoded (docs/statusnet-api.md §8: &quot; and &#39; stay as typed).
    "&quot;quoted&quot;",
    "&#34; &#x22; &#39; &#x27; &#X27;",
    // Not an HTML 4.01 entity.
    "&apos; &foo; &EACUTE;",
    // No semicolon, nothing after the &, or not a name.
    "&amp &lt &#233 & ; &; &#; &#x; &#xG1;",
    // Code points HTML 4.01 does not allow, and numbers out of range.
    "&#0; &#1; &#127; &#128; &#159; &#xD800; &#xFFFE; &#x110000; &#99999999999999999999;",
  ])("%j stays as typed", (typed) => {
    expect(htmlEntityDecode(typed)).toBe(typed);
  });

  it("a failed reference does not hide the next one", () => {
    expect(htmlEntityDecode("&amp&lt; &#39&amp;")).toBe("&amp< &#39&");
  });
});

describe("PHP's form decoding (fixtures i3, i4, i5)", () => {
  it("an & that was not percent-encoded ends the value (i3-unencoded-ampersand)", () => {
    expect(parseForm(Buffer.from("status=Tom & Jerry raw 051043")).get("status")).toBe("Tom ");
  });
  it("a raw + is a space (i4-plus-sign)", () => {
    expect(parseForm(Buffer.from("status=1+1=2 plus 051043")).get("status")).toBe("1 1=2 plus 051043");
  });
  it("bytes that are not UTF-8 become ? (i5-latin1-bytes)", () => {
    expect(parseForm(Buffer.from("status=caf%E9 latin1 051043")).get("status")).toBe("caf? latin1 051043");
    expect(parseForm("a=%C3%A9%C3&b=%F0%9F%98%80%ED%A0%80").get("a")).toBe("é?");
    expect(parseForm("b=%F0%9F%98%80%ED%A0%80").get("b")).toBe("😀???");
  });
  it("a stray % stays, a name without = is empty, the last repeated name wins", () => {
    const form = parseForm("status=100%25+%zz%4&flag&status=second");
    expect(form.get("status")).toBe("second");
    expect(form.get("flag")).toBe("");
    expect(parseForm("s=100%25+%zz%4").get("s")).toBe("100% %zz%4");
  });
});

describe("common_xml_safe_str", () => {
  it("tab, LF and VT become spaces, CR and NUL vanish, other controls become *", () => {
    expect(xmlSafeStr("a\tb\nc\x0Bd\r\ne\0f\x1b[2J\x7f\x85g 😀")).toBe("a b c d ef*[2J**g 😀");
  });
});

describe("the command interpreter's grammar", () => {
  it.each([
    ["help", "help"],
    ["  HELP  ", "help"],
    ["whois bob", "whois"],
    ["whois\t\tbob", "whois"],
    ["d bob secret 051043", "d"],
    ["reply to nothing 051043", "reply"],
    ["fav bob", "fav"],
    ["fav #31", "fav"],
    ["sub bob", "sub"],
    ["follow bob", "follow"],
    ["on", "on"],
    ["off bob", "off"],
    ["last", "last"],
    ["repeat bob", "repeat"],
  ])("%j is the %s command", (text, word) => {
    expect(parseCommand(text)?.word).toBe(word);
  });
  it.each([
    "help me",
    "whois bob is here",
    "d bob",
    "fav",
    "fav 0",
    "sub bob please",
    "stats for today",
    "favorite things",
    "d\u00a0bob hi",
  ])("%j is posted", (text) => {
    expect(parseCommand(text)).toBeUndefined();
  });
});

describe("the test server on the wire", () => {
  let server: TestServer;
  const alice = `Basic ${Buffer.from("alice:correct horse").toString("base64")}`;
  const bob = `Basic ${Buffer.from("bob:battery staple").toString("base64")}`;
  let n = 0;
  const unique = (s: string) => `${s} ${++n}`;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.site.dupelimit = 60;
    server.site.textlimit = 1000;
    server.clock.offsetMs = 0;
  });

  async function raw(path: string, init: { body?: string; auth?: string; method?: string } = {}) {
    const headers: Record<string, string> = {};
    if (init.auth !== undefined) headers.authorization = init.auth;
    if (init.body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const r = await fetch(`${server.origin}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    return { status: r.status, headers: r.headers, body: await r.text() };
  }
  const post = (status: string, fmt: "xml" | "json" = "json", auth = alice) =>
    raw(`/api/statuses/update.${fmt}`, { body: new URLSearchParams({ status }).toString(), auth });
  const json = async (status: string, auth = alice) => {
    const r = await post(status, "json", auth);
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as Record<string, unknown> & { id: number; text: string };
  };
  const xmlText = (body: string) => /<text>(.*)<\/text>/.exec(body)?.[1];
  const userTimeline = async (fmt: "json" = "json") =>
    JSON.parse((await raw(`/api/statuses/user_timeline.${fmt}?count=200`, { auth: alice })).body) as {
      id: number;
      text: string;
    }[];

  describe("the text as GNU social stores it", () => {
    it("i2-special-chars: the same <text> as the real server", async () => {
      const sent = `Tom & Jerry <b>bold</b> 1 < 2 > 0 "quoted" 'single' see http://127.0.0.1:8080/alice?x=1&y=2 #tag 051043`;
      const r = await post(sent, "xml");
      expect(xmlText(r.body)).toBe(xmlText(fixtureReply("i2-special-chars.xml.txt").body));
    });
    it("i2-special-chars.json: the same text as the real server", async () => {
      const sent = "A&B <i>x</i> http://127.0.0.1:8080/main/public?a=1&b=2 json 051043";
      const r = await post(sent, "json");
      const real = JSON.parse(fixtureReply("i2-special-chars.json.txt").body) as { text: string };
      expect(JSON.parse(r.body).text).toBe(real.text);
      expect(r.body).toContain('"text":"A&B <i>x<\\/i> http:\\/\\/127.0.0.1:8080');
    });
    it.each([
      ["i3-unencoded-ampersand.xml.txt", "status=Tom & Jerry raw 051043", "Tom"],
      ["i4-plus-sign.xml.txt", "status=1+1=2 plus 051043", "1 1=2 plus 051043"],
      ["i5-latin1-bytes.xml.txt", "status=caf%E9 latin1 051043", "caf? latin1 051043"],
    ])("%s: the body curl sent is stored as %j", async (fixture, body, stored) => {
      const real = fixtureReply(fixture);
      const real200 = xmlText(real.body);
      if (real200 !== undefined) expect(real200).toBe(stored);
      const r = await raw("/api/statuses/update.xml", { body, auth: bob });
      expect(r.status).toBe(200);
      expect(xmlText(r.body)).toBe(stored);
      // i3 was recorded on a rerun: the cut text was a duplicate by then.
      const again = await raw("/api/statuses/update.xml", { body, auth: bob });
      expect(again.status).toBe(400);
      if (real.status === 400) expect(again.body.trimEnd()).toBe(real.body);
    });
    it("entities are decoded, quotes kept (docs/statusnet-api.md §8: fish &amp; chips)", async () => {
      const s = await json(
        unique("fish &amp; chips &lt;3 &eacute;t&eacute; &#x2603; &quot;q&quot; &#39;s&#39;"),
      );
      expect(s.text).toMatch(/^fish & chips <3 été ☃ &quot;q&quot; &#39;s&#39; \d+$/);
      expect(server.store.notice(s.id)?.text).toBe(s.text);
      const x = await post(unique("fish &amp; chips xml"), "xml");
      expect(xmlText(x.body)).toMatch(/^fish &amp; chips xml \d+$/);
    });
    it("the text is trimmed first, so an entity for a space at the end stays a space", async () => {
      const s = await json(`  \t${unique("padded")}&#32;\n`);
      expect(s.text).toMatch(/^padded \d+ $/);
    });
    it("the length is counted before decoding, in code points", async () => {
      server.site.textlimit = 20;
      const fits = await post("&amp;&amp;&amp;&amp;", "json"); // 20 characters typed, "&&&&" stored
      expect(fits.status).toBe(200);
      expect(JSON.parse(fits.body).text).toBe("&&&&");
      const over = await post("&amp;&amp;&amp;&amp;x", "json");
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body).error).toBe(
        "Maximum notice size is 20 characters, including attachment URL.",
      );
      expect((await post("😀".repeat(20), "json")).status).toBe(200);
    });
  });

  describe("whitespace in replies", () => {
    it("XML turns newlines and tabs in <text> into spaces; JSON keeps them", async () => {
      const text = unique("line one\nline\ttwo\r\nthree\x1b");
      const x = await post(text, "xml");
      expect(xmlText(x.body)).toMatch(/^line one line two three\* \d+$/);
      const id = Number(/<id>(\d+)<\/id>/.exec(x.body)?.[1]);
      expect(server.store.notice(id)?.text).toBe(text);
      const j = JSON.parse((await raw(`/api/statuses/show/${id}.json`)).body);
      expect(j.text).toBe(text);
      const shown = await raw(`/api/statuses/show/${id}.xml`);
      expect(xmlText(shown.body)).toBe(xmlText(x.body));
      const tl = await raw("/api/statuses/user_timeline.xml?count=1", { auth: alice });
      expect(xmlText(tl.body)).toBe(xmlText(x.body));
    });
    it("a multi-line duplicate is refused even though the XML reply showed it on one line", async () => {
      const text = unique("two\nlines");
      expect((await post(text, "xml")).status).toBe(200);
      expect((await post(text, "xml")).status).toBe(400);
      expect((await post(text.replace("\n", " "), "xml")).status).toBe(200);
    });
  });

  describe("commands", () => {
    it("whois, d and help answer with the latest existing notice and post nothing", async () => {
      const last = await json(unique("before the commands"));
      for (const cmd of ["whois bob", "d bob a secret", "help"]) {
        const count = server.store.notices.length;
        const r = await json(cmd);
        expect(r.id).toBe(last.id);
        expect(server.store.notices).toHaveLength(count);
      }
    });
    it("a command word with the wrong arguments is posted", async () => {
      const r = await json(unique("whois bob, anyway?"));
      expect(r.text).toMatch(/^whois bob, anyway\? \d+$/);
    });
    it("fav NICK favorites bob's latest notice: the reply is the new favorite notice", async () => {
      const bobs = await json(unique("bob says &amp; hi"), bob);
      const before = await json(unique("alice before fav"));
      const fav = await json("fav bob");
      expect(fav.id).toBeGreaterThan(before.id);
      expect(fav.text).toBe(`alice favorited something by bob: ${bobs.text}`);
      expect(fav.in_reply_to_status_id).toBe(String(bobs.id));
      expect(fav.in_reply_to_screen_name).toBe("bob");
      expect(server.store.notice(fav.id)?.verb).toBe("favorite");
      // Already favorited: nothing new, the reply is that latest notice again.
      const again = await json("fav bob");
      expect(again.id).toBe(fav.id);
      // It is alice's latest notice, on her timeline, but not on the public one.
      expect((await userTimeline())[0]?.id).toBe(fav.id);
      const pub = JSON.parse((await raw("/api/statuses/public_timeline.json?count=200")).body);
      expect(pub.map((s: { id: number }) => s.id)).not.toContain(fav.id);
    });
    it("fav #ID favorites that notice; fav of nobody or of a missing notice creates nothing", async () => {
      const mine = await json(unique("fave me by id"));
      const fav = await json(`fav #${mine.id}`);
      expect(fav.text).toBe(`alice favorited something by alice: ${mine.text}`);
      const count = server.store.notices.length;
      expect((await json("fav nobody")).id).toBe(fav.id);
      expect((await json("fav #99999999")).id).toBe(fav.id);
      expect(server.store.notices).toHaveLength(count);
    });
    it("sub NICK follows: the reply is the new follow notice; a second sub creates nothing", async () => {
      const before = await json(unique("alice before sub"), alice);
      const sub = await json("sub bob");
      expect(sub.id).toBeGreaterThan(before.id);
      expect(sub.text).toBe(
        `Alice Example (${server.origin}/alice) started following Bob Example (${server.origin}/bob).`,
      );
      expect(sub.source).toBe("activity");
      expect(server.store.notice(sub.id)?.verb).toBe("follow");
      expect((sub.user as { friends_count: number }).friends_count).toBe(1);
      expect((await json("sub bob")).id).toBe(sub.id);
      expect((await json("follow bob")).id).toBe(sub.id);
      // Everyone already follows themselves; an unknown user cannot be followed.
      expect((await json("sub alice")).id).toBe(sub.id);
      expect((await json("sub nobody")).id).toBe(sub.id);
      // After unsub, sub runs again.
      await json("unsub bob");
      const resub = await json("follow bob");
      expect(resub.id).toBeGreaterThan(sub.id);
    });
    it.each(["repeat bob", "rd bob", "rp bob", "rt bob"])("%j is a 500 with a PHP TypeError", async (cmd) => {
      const count = server.store.notices.length;
      const r = await post(cmd, "xml");
      expect(r.status).toBe(500);
      expect(r.body).toMatch(/<error>\w+::\w+\(\): .*must be of type/);
      expect(server.store.notices).toHaveLength(count);
    });
  });

  describe("deleting", () => {
    it("creates a delete notice, so ids skip; timelines and counts leave it out (l-destroy-*)", async () => {
      const a = await json(unique("to be deleted"));
      const count = (a.user as { statuses_count: number }).statuses_count;
      const d = await raw(`/api/statuses/destroy/${a.id}.json`, { method: "POST", auth: alice });
      expect(d.status).toBe(200);
      expect(JSON.parse(d.body).user.statuses_count).toBe(count - 1);
      const b = await json(unique("after the delete"));
      expect(b.id).toBe(a.id + 2);
      expect(server.store.notice(a.id + 1)?.verb).toBe("delete");
      expect(server.store.notice(a.id + 1)?.text).toMatch(
        new RegExp(`^Alice Example deleted notice \\{\\{tag:.*noticeId=${a.id}:objectType=note\\}\\}\\.$`),
      );
      expect((b.user as { statuses_count: number }).statuses_count).toBe(count);
      const ids = (await userTimeline()).map((s) => s.id);
      expect(ids).toContain(b.id);
      expect(ids).not.toContain(a.id);
      expect(ids).not.toContain(a.id + 1);
      expect((await raw(`/api/statuses/show/${a.id}.xml`)).status).toBe(410);
      // The swallowed command's "latest notice" is never the delete notice.
      await raw(`/api/statuses/destroy/${b.id}.json`, { method: "POST", auth: alice });
      const latest = await json("whois bob");
      expect(latest.id).toBeLessThan(b.id);
      expect(server.store.notice(latest.id)?.verb).not.toBe("delete");
    });
    it("a deleted status is no longer a duplicate", async () => {
      const text = unique("posted, deleted, posted");
      const a = await json(text);
      await raw(`/api/statuses/destroy/${a.id}.json`, { method: "DELETE", auth: alice });
      expect((await post(text)).status).toBe(200);
    });
  });

  describe("the clock", () => {
    it("every reply carries a Date header from the server's clock", async () => {
      // The real server's form (fixtures: "< Date: Fri, 27 Nov 2026 05:10:53 GMT" on every reply).
      const transcript = readFileSync(`${FIXTURES}g-duplicate.xml.txt`, "utf8");
      const fixtureDate = /^< Date: (.*?)\r?$/m.exec(transcript)?.[1];
      expect(fixtureDate).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      server.clock.set(new Date("2031-02-03T04:05:06Z"));
      for (const r of [
        await post(unique("dated")),
        await raw("/api/statuses/update.xml", { body: "status=x" }),
        await raw("/api/nothing.xml"),
        await raw("/nowhere"),
      ]) {
        const date = Date.parse(r.headers.get("date") ?? "");
        expect(Math.abs(date - Date.parse("2031-02-03T04:05:06Z"))).toBeLessThan(60_000);
        expect(r.headers.get("date")).toMatch(/^Mon, 03 Feb 2031 04:0\d:\d\d GMT$/);
      }
      server.faults.push({ fault: { kind: "reply", status: 502, body: "bad gateway" }, times: 1 });
      expect((await raw("/api/help/test.xml")).headers.get("date")).toMatch(/ 2031 /);
    });
    it("stamps new notices' created_at, and can be moved", async () => {
      server.clock.set(new Date("2030-01-01T12:00:00Z"));
      const a = await json(unique("new year"));
      expect(a.created_at).toMatch(/^Tue Jan 01 12:00:0\d \+0000 2030$/);
      server.clock.advance(3_600_000);
      const b = await json(unique("an hour later"));
      expect(b.created_at).toMatch(/^Tue Jan 01 13:00:0\d \+0000 2030$/);
      expect(b.uri).toMatch(/^tag:127\.0\.0\.1:\d+,2030-01-01:noticeId=\d+:objectType=note$/);
    });
  });

  describe("the duplicate window (g-duplicate*)", () => {
    it("refuses the same text within 60 s with the real message, and takes it again at 60 s", async () => {
      server.clock.set(new Date("2030-06-01T00:00:00.000Z"));
      const text = unique("duplicate test");
      expect((await post(text, "xml")).status).toBe(200);
      const dup = await post(text, "xml");
      expect(dup.status).toBe(400);
      expect(dup.body.trimEnd()).toBe(fixtureReply("g-duplicate.xml.txt").body);
      const dupJson = await post(text, "json");
      expect(JSON.parse(dupJson.body)).toEqual({
        error: JSON.parse(fixtureReply("g-duplicate.json.txt").body).error,
        request: "/api/statuses/update.json",
      });
      server.clock.advance(59_000);
      expect((await post(text)).status).toBe(400);
      server.clock.advance(1_000);
      expect((await post(text)).status).toBe(200);
    });
    it("is per user (g2-duplicate-other-user)", async () => {
      const text = unique("same text, two users");
      expect((await post(text, "json", alice)).status).toBe(200);
      expect((await post(text, "json", bob)).status).toBe(200);
    });
    it("compares the stored (decoded) text: fish &amp; chips then fish & chips is a duplicate", async () => {
      const tag = unique("");
      expect((await post(`fish &amp; chips${tag}`)).status).toBe(200);
      expect((await post(`fish & chips${tag}`)).status).toBe(400);
      expect((await post(`fish &#38; chips${tag}`)).status).toBe(400);
    });
    it("site.dupelimit can be changed at run time; 0 turns the check off", async () => {
      server.clock.set(new Date("2030-07-01T00:00:00.000Z"));
      const text = unique("short window");
      server.site.dupelimit = 5;
      expect((await post(text)).status).toBe(200);
      server.clock.advance(4_000);
      expect((await post(text)).status).toBe(400);
      server.clock.advance(1_000);
      expect((await post(text)).status).toBe(200);
      server.site.dupelimit = 0;
      expect((await post(text)).status).toBe(200);
      server.site.dupelimit = 3600;
      server.clock.advance(600_000);
      expect((await post(text)).status).toBe(400);
    });
  });
});

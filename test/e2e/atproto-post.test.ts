import { describe, expect, it } from "vitest";
import {
  createSession,
  fresh,
  getRecord,
  listPosts,
  POST,
  postsWithText,
  rkeyOf,
  traced,
  usePds,
  xrpc,
} from "../helpers/atproto.js";
import { expectFailure, type RunResult } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";

/**
 * Posting and reading on a real PDS, end to end: the record identica writes (text, facets at UTF-8
 * byte offsets, langs, reply refs), the limits it checks before sending, show/delete by every form
 * of reference, timelines. Every result is read back from the PDS itself.
 */

const h = usePds();
const CREATE = "POST /xrpc/com.atproto.repo.createRecord";

/** A run as alice (a session per run from the app password), each in a home of its own. */
const as = (args: string[]): Promise<RunResult> =>
  new Scenario().run([...args, "--server", h.pds.origin, "--user", "alice.test", "--api", "atproto"], {
    env: { IDENTICA_PASSWORD: h.alice.appPassword },
  });

/** Posts as alice and returns the new record's at:// URI. */
async function post(text: string, extra: string[] = []): Promise<string> {
  const r = await as(["post", "-o", "id", ...extra, text]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** A post of bob's, made by the test directly on the PDS. */
async function bobPost(text: string): Promise<{ uri: string; cid: string }> {
  const s = await createSession(h.pds.origin, h.bob);
  const r = await xrpc(h.pds.origin, "com.atproto.repo.createRecord", {
    token: s.accessJwt,
    body: {
      repo: h.bob.did,
      collection: POST,
      record: { $type: POST, text, createdAt: new Date().toISOString() },
    },
  });
  expect(r.status).toBe(200);
  return { uri: r.body.uri, cid: r.body.cid };
}

const record = async (uri: string) => {
  const r = await getRecord(h.pds.origin, uri.split("/")[2] as string, rkeyOf(uri));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { uri: string; cid: string; value: Record<string, unknown> & { text: string } };
};

describe("post", () => {
  it("-o id is the at:// URI, -o url the bsky.app link, -o json has the cid and the DID", async () => {
    const text = fresh("forms");
    const uri = await post(text);
    expect(uri).toMatch(new RegExp(`^at://${h.alice.did}/app\\.bsky\\.feed\\.post/[a-z2-7]{13}$`));
    const got = await record(uri);
    expect(got.value.text).toBe(text);

    const t2 = fresh("url");
    const url = await as(["post", "-o", "url", t2]);
    expect(url.code, url.stderr).toBe(0);
    const [r2] = await postsWithText(h.pds.origin, h.alice.did, t2);
    expect(url.stdout).toBe(`https://bsky.app/profile/alice.test/post/${rkeyOf(r2?.uri ?? "")}\n`);

    const t3 = fresh("json");
    const json = await as(["post", "-o", "json", t3]);
    expect(json.code, json.stderr).toBe(0);
    const status = JSON.parse(json.stdout);
    const [r3] = await postsWithText(h.pds.origin, h.alice.did, t3);
    expect(status).toMatchObject({
      id: r3?.uri,
      cid: r3?.cid,
      text: t3,
      user: { id: h.alice.did, screenName: "alice.test" },
    });
  });

  it("facets: a link and a resolvable mention at exact UTF-8 byte offsets after emoji, CJK and Cyrillic", async () => {
    const link = "https://example.com/a/path?q=1";
    const text = `${fresh("facets")} héllo 😀 👨‍👩‍👧‍👦 日本語 Привет ${link} @bob.test @nobody.test`;
    const got = await record(await post(text));
    expect(got.value.text).toBe(text);
    const bytes = Buffer.from(text, "utf8");
    type Facet = { index: { byteStart: number; byteEnd: number }; features: Record<string, string>[] };
    const facets = (got.value.facets ?? []) as Facet[];
    const slice = (f: Facet) => bytes.subarray(f.index.byteStart, f.index.byteEnd).toString("utf8");
    expect(facets.map((f) => [slice(f), f.features])).toEqual([
      [link, [{ $type: "app.bsky.richtext.facet#link", uri: link }]],
      ["@bob.test", [{ $type: "app.bsky.richtext.facet#mention", did: h.bob.did }]],
    ]);
  });

  it("--language pt is the record's langs", async () => {
    const got = await record(await post(fresh("olá"), ["--language", "pt"]));
    expect(got.value.langs).toEqual(["pt"]);
  });
});

describe("limits and what the AT Protocol cannot do: 64, nothing sent", () => {
  /** A text of exactly n grapheme clusters, each "é" written as e + U+0301 (two code points). */
  const graphemes = (n: number) => {
    const head = fresh("limit");
    return head + "e\u0301".repeat(n - head.length);
  };

  it("300 grapheme clusters are posted", async () => {
    const text = graphemes(300);
    expect((await record(await post(text))).value.text).toBe(text);
  });

  it.each([
    ["301 grapheme clusters", [], graphemes(301), /301 characters long, over .* limit of 300/],
    ["300 family emoji (7500 bytes)", [], "👨‍👩‍👧‍👦".repeat(300), /7500 bytes long .* limit of 3000 bytes/],
    ["--cw", ["--cw", "x"], fresh("cw"), /--cw: .*no content warnings/],
    [
      "--visibility unlisted",
      ["--visibility", "unlisted"],
      fresh("unlisted"),
      /--visibility unlisted: .*public/,
    ],
  ])("%s", async (_, extra, text, message) => {
    const before = (await listPosts(h.pds.origin, h.alice.did)).length;
    const r = await as(["post", "-v", ...extra, text]);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stdout).toBe("");
    expect(traced(r)).not.toContain(CREATE);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("identica: "))).toEqual([
      expect.stringMatching(message),
    ]);
    expect((await listPosts(h.pds.origin, h.alice.did)).length).toBe(before);
  });
});

describe("replies", () => {
  it("--reply-to at:// or a bsky.app URL: parent is that post, root the thread's first", async () => {
    const root = await record(await post(fresh("root")));
    const first = await record(await post(fresh("reply 1"), ["--reply-to", root.uri]));
    expect(first.value.reply).toEqual({
      root: { uri: root.uri, cid: root.cid },
      parent: { uri: root.uri, cid: root.cid },
    });
    const url = `https://bsky.app/profile/alice.test/post/${rkeyOf(first.uri)}`;
    const second = await record(await post(fresh("reply 2"), ["--reply-to", url]));
    expect(second.value.reply).toEqual({
      root: { uri: root.uri, cid: root.cid },
      parent: { uri: first.uri, cid: first.cid },
    });
    // Another account's post, by its bsky.app URL with the handle.
    const bobs = await bobPost(fresh("bob's"));
    const third = await record(
      await post(fresh("to bob"), [
        "--reply-to",
        `https://bsky.app/profile/bob.test/post/${rkeyOf(bobs.uri)}`,
      ]),
    );
    expect(third.value.reply).toEqual({ root: bobs, parent: bobs });
  });
});

describe("show and delete", () => {
  it("by at:// URI, bsky.app URL and bare record key; a deleted post is 65 to show", async () => {
    const texts = [fresh("del uri"), fresh("del url"), fresh("del rkey")];
    const uris: string[] = [];
    for (const t of texts) uris.push(await post(t));
    const refs = [
      uris[0] as string,
      `https://bsky.app/profile/alice.test/post/${rkeyOf(uris[1] as string)}`,
      rkeyOf(uris[2] as string),
    ];
    for (const [i, ref] of refs.entries()) {
      const show = await as(["show", "-o", "json", ref]);
      expect(show.code, show.stderr).toBe(0);
      expect(JSON.parse(show.stdout)).toMatchObject({ id: uris[i], text: texts[i] });
    }
    for (const [i, ref] of refs.entries()) {
      const del = await as(["delete", "-o", "id", ref]);
      expect(del.code, del.stderr).toBe(0);
      expect(del.stdout).toBe(`${uris[i]}\n`);
      const gone = await getRecord(h.pds.origin, h.alice.did, rkeyOf(uris[i] as string));
      expect(gone.status).toBe(400);
      expect(gone.body.error).toBe("RecordNotFound");
    }
    expectFailure(await as(["show", refs[0] as string]), 65, /./);
    expectFailure(await as(["show", refs[2] as string]), 65, /./);
  });

  it("another account's post is not deleted", async () => {
    const bobs = await bobPost(fresh("bob keeps this"));
    for (const ref of [bobs.uri, `https://bsky.app/profile/bob.test/post/${rkeyOf(bobs.uri)}`]) {
      const r = await as(["delete", ref]);
      // Refused here (64) or by the server (77/65): either way one line, and the record stays.
      expect([64, 65, 77], r.stderr).toContain(r.code);
      expectFailure(r, r.code as number, /another account|not (allowed|authorized)|Unauthorized/i);
      expect((await getRecord(h.pds.origin, h.bob.did, rkeyOf(bobs.uri))).status).toBe(200);
    }
  });
});

describe("timelines", () => {
  it("user: one's own and --of bob.test, newest first, --count respected", async () => {
    for (let i = 0; i < 3; i++) await bobPost(fresh(`bob ${i}`));
    await post(fresh("mine"));
    const own = await as(["timeline", "user", "--count", "2", "-o", "json"]);
    expect(own.code, own.stderr).toBe(0);
    const mine = (await listPosts(h.pds.origin, h.alice.did)).slice(0, 2);
    expect(JSON.parse(own.stdout).map((s: { id: string; text: string }) => [s.id, s.text])).toEqual(
      mine.map((r) => [r.uri, r.value.text]),
    );

    const of = await as(["timeline", "user", "--of", "bob.test", "--count", "3", "-o", "json"]);
    expect(of.code, of.stderr).toBe(0);
    const bobs = (await listPosts(h.pds.origin, h.bob.did)).slice(0, 3);
    expect(JSON.parse(of.stdout).map((s: { id: string; text: string }) => [s.id, s.text])).toEqual(
      bobs.map((r) => [r.uri, r.value.text]),
    );
  });

  it.each(["home", "public", "mentions"])("%s: 69 with one line naming the missing AppView", async (kind) => {
    expectFailure(await as(["timeline", kind]), 69, /no AppView/);
  });
});

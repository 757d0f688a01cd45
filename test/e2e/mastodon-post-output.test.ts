import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN, type RunResult } from "../helpers/cli.js";
import { fresh, useMastodon } from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";

/**
 * Issue 13, part post: what `identica post` prints for the status a Mastodon-API server made — the
 * HTML `content` as text, the JSON fields, ids exact as strings, the reply body byte for byte — and
 * that nothing the server sends is obeyed by the terminal. The look-alike in its Mastodon and snac
 * modes; crafted replies (a fault) where a server could send something no look-alike makes.
 */

const MODES = ["mastodon", "snac"] as const;

/** Raw ESC, BEL and every other C0 control but \n and \t, DEL, C1, and the bidi and invisible format characters. */
const UNSAFE =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u180E\u2028\u2029\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]/;

function expectTerminalSafe(r: RunResult): void {
  expect(r.stdout, JSON.stringify(r.stdout)).not.toMatch(UNSAFE);
  expect(r.stderr, JSON.stringify(r.stderr)).not.toMatch(UNSAFE);
}

describe.each(MODES)("post output (%s)", (mode) => {
  const h = useMastodon(mode);
  const home = () => new Scenario({ IDENTICA_TOKEN: h.token });
  const post = (sc: Scenario, args: string[]) =>
    sc.run(["post", "--server", h.host, "--cacert", h.certPath, ...args]);

  /** A status as a server could answer it, with `over` replacing fields. */
  const status = (over: Record<string, unknown> = {}) => ({
    id: "999999999999999999",
    created_at: "2026-01-02T03:04:05.678Z",
    in_reply_to_id: null,
    in_reply_to_account_id: null,
    sensitive: false,
    spoiler_text: "",
    visibility: "public",
    language: "en",
    uri: `${h.server.origin}/users/alice/statuses/999999999999999999`,
    url: `${h.server.origin}/@alice/999999999999999999`,
    content: "<p>crafted</p>",
    application: { name: "identica", website: null },
    account: {
      id: "109265603788800001",
      username: "alice",
      acct: "alice",
      display_name: "Alice Example",
      url: `${h.server.origin}/@alice`,
    },
    mentions: [],
    tags: [],
    media_attachments: [],
    reblog: null,
    ...over,
  });
  /** The next POST is answered with this body (200). */
  const answer = (body: string) =>
    h.server.faults.push({
      fault: { kind: "reply", status: 200, body, contentType: "application/json; charset=utf-8" },
      path: /^\/api\/v1\/statuses/,
      times: 1,
    });

  it("pretty: paragraphs as a blank line, line breaks, whole URLs, entities decoded: the text as typed", async () => {
    const text = `${fresh("first line")}\nsecond line\n\nnew paragraph: 5<6 & 7>3 "q" 'a' https://example.com/a/very/long/path/that/gets/cut/with/an/ellipsis/0123456789?x=1&y=2 end`;
    const r = await post(home(), [text]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("Alice Example @alice");
    expect(r.stdout).toContain(`\n${text}\n`);
    expect(lines.at(-2)).toBe(h.server.statuses.at(-1)?.url);
    expect(r.stdout).not.toMatch(/<\/?(p|br|a|span)\b|&(amp|lt|gt|quot|#39);|…/);
  });

  it("pretty: Mastodon's markup exactly as documented (a crafted reply)", async () => {
    answer(
      JSON.stringify(
        status({
          content:
            '<p>one<br />two</p><p>three &amp; &lt;four&gt; &quot;five&quot; &#39;six&#39; <a href="https://example.com/x/yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.com/x/yyyyyyyyyyyyyyy</span><span class="invisible">yyyyyyyyyyyyyyyyyyyy</span></a> <span class="h-card"><a href="https://social.example/@bob" class="u-url mention">@<span>bob</span></a></span></p>',
        }),
      ),
    );
    const r = await post(home(), [fresh("crafted")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `\none\ntwo\n\nthree & <four> "five" 'six' https://example.com/x/yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy @bob\n`,
    );
  });

  it("snac's raw <script> and <b>&</b> are never printed as markup, in pretty or json", async () => {
    const text = `${fresh("raw")} x <b>&</b> y <script>alert(1)</script> z`;
    for (const out of ["pretty", "json"]) {
      const r = await post(home(), ["-o", out, `${text} ${out}`]);
      expect(r.code, r.stderr).toBe(0);
      const shown = out === "json" ? JSON.parse(r.stdout).text : r.stdout;
      if (mode === "snac") {
        // snac stored it as markup: it is shown as the text a browser would show.
        expect(h.server.statuses.at(-1)?.content).toContain("<script>");
        expect(shown).not.toMatch(/<b>|<script|alert\(1\)/);
        expect(shown).toContain("x & y");
        expect(shown).toMatch(/ z (pretty|json)/);
      } else {
        // Mastodon escaped what was typed: it is shown as typed.
        expect(shown).toContain(`${text} ${out}`);
      }
    }
  });

  it("-o json: the documented fields, ids as the server's strings", async () => {
    const text = fresh("json");
    const r = await post(home(), ["-o", "json", text]);
    expect(r.code, r.stderr).toBe(0);
    const s = h.server.statuses.at(-1);
    const json = JSON.parse(r.stdout);
    expect(json).toEqual({
      id: s?.id,
      text,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/),
      url: s?.url,
      inReplyToId: null,
      inReplyToScreenName: null,
      conversationId: null,
      source: mode === "mastodon" ? "Web" : null,
      user: { id: h.server.accountId("alice"), screenName: "alice", name: "Alice Example" },
      visibility: "public",
      spoilerText: "",
    });
    expect(Date.parse(json.createdAt)).toBe(
      Math.floor((s?.createdAt.getTime() ?? 0) / (mode === "snac" ? 1000 : 1)) * (mode === "snac" ? 1000 : 1),
    );
    if (mode === "mastodon") {
      // A snowflake beyond 2^53, exact: never through a number.
      expect(json.id).toMatch(/^\d{18}$/);
      expect(Number.isSafeInteger(Number(json.id))).toBe(false);
    }
    expect(r.stdout).toContain(`"id": "${s?.id}"`);
  });

  it("-o json and -o id keep an 18-digit id that a number would round (999999999999999999), and a reply's parent", async () => {
    const body = JSON.stringify(
      status({ in_reply_to_id: "109999999999999993", in_reply_to_account_id: "109265603788800002" }),
    );
    answer(body);
    const json = await post(home(), ["-o", "json", fresh("big id")]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: "999999999999999999",
      inReplyToId: "109999999999999993",
      createdAt: "2026-01-02T03:04:05.678Z",
      source: "identica",
    });
    answer(body);
    const id = await post(home(), ["-o", "id", fresh("big id 2")]);
    expect({ code: id.code, stdout: id.stdout, stderr: id.stderr }).toEqual({
      code: 0,
      stdout: "999999999999999999\n",
      stderr: "",
    });
  });

  it("-o id, -o url (the server's url), -o none", async () => {
    const sc = home();
    const id = await post(sc, ["-o", "id", fresh("id")]);
    expect({ code: id.code, stdout: id.stdout, stderr: id.stderr }).toEqual({
      code: 0,
      stdout: `${h.server.statuses.at(-1)?.id}\n`,
      stderr: "",
    });
    const url = await post(sc, ["-o", "url", fresh("url")]);
    const stored = h.server.statuses.at(-1);
    expect(url.stdout).toBe(`${stored?.url}\n`);
    expect(stored?.url).toMatch(mode === "snac" ? /\/alice\/p\/\d+\.\d+$/ : /\/@alice\/\d{18}$/);
    const none = await post(sc, ["-o", "none", fresh("none")]);
    expect({ code: none.code, stdout: none.stdout, stderr: none.stderr }).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
  });

  it("-o url prints only an http(s) URL, percent-encoded: never the server's control characters, a second line or another scheme", async () => {
    const cases: [string, string][] = [
      [
        `${h.server.origin}/@alice/1\u001b]0;pwned\u0007\u202E`,
        `${h.server.origin}/@alice/1%1B]0;pwned%07%E2%80%AE`,
      ],
      [`${h.server.origin}/@alice/2\nidentica: fake`, `${h.server.origin}/@alice/2identica:%20fake`],
      // Not a web page: the status's own address on this server instead.
      ["javascript:alert(1)", `${h.server.origin}/statuses/999999999999999999`],
      ["not a url", `${h.server.origin}/statuses/999999999999999999`],
    ];
    for (const [url, shown] of cases) {
      answer(JSON.stringify(status({ url })));
      const r = await post(home(), ["-o", "url", fresh("url")]);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
        code: 0,
        stdout: `${shown}\n`,
        stderr: "",
      });
      answer(JSON.stringify(status({ url })));
      const json = await post(home(), ["-o", "json", fresh("url json")]);
      expect(JSON.parse(json.stdout).url).toBe(shown);
    }
  });

  it("-o raw (and -o xml) is the reply body byte for byte into a pipe", async () => {
    // Pretty-printed, non-ASCII, a line separator inside a string, and no newline at the end.
    const body = JSON.stringify(status({ content: "<p>caf\u00e9 \u{1F600} \u2028 x</p>" }), null, 3);
    answer(body);
    const raw = await post(home(), ["-o", "raw", fresh("raw")]);
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).toBe(body);
    answer(body);
    const xml = await post(home(), ["-o", "xml", fresh("xml")]);
    expect(xml.stdout).toBe(body);
    // With --lines the bodies are a stream: each one ends with a newline, so they stay apart.
    answer(body);
    answer(body);
    const lines = await home().run(
      ["post", "--server", h.host, "--cacert", h.certPath, "--lines", "-o", "raw"],
      {
        input: `${fresh("raw line")}\n${fresh("raw line")}\n`,
      },
    );
    expect(lines.code, lines.stderr).toBe(0);
    expect(lines.stdout).toBe(`${body}\n${body}\n`);
  });

  it("on a terminal, -o raw and pretty make the server's C1 and bidi characters visible (a pty)", async () => {
    // JSON may carry U+009B (a C1 CSI) and U+202E raw in its strings: a terminal would obey them.
    const body = JSON.stringify(
      status({
        content: "<p>csi \u009b2J and \u202Eevil\u202C</p>",
        account: { id: "109265603788800001", username: "alice", acct: "alice", display_name: "M \u009b5m" },
      }),
    );
    for (const out of ["raw", "pretty"]) {
      answer(body);
      const r = await onTerminal(home(), [
        "post",
        "--server",
        h.host,
        "--cacert",
        h.certPath,
        "-o",
        out,
        fresh(`tty ${out}`),
      ]);
      expect(r.code, r.output).toBe(0);
      expect(r.output, JSON.stringify(r.output)).not.toMatch(UNSAFE);
      expect(r.output).toContain("\\x9b2J and <U+202E>evil<U+202C>");
      if (out === "raw") expect(r.output).toContain('"display_name":"M \\x9b5m"');
      else expect(r.output).toMatch(/^M \\x9b5m @alice\n/);
    }
  });

  it("a display name and content with bidi overrides and C0/C1 controls are made visible, never obeyed", async () => {
    const evilName = "Mallory \u202Eyxe.exe\u202C \u001b[5m\nidentica: fake";
    const evil = status({
      content:
        "<p>see \u001b]0;pwned\u0007\u001b[2J this \u009b31m red \u202Eevil\u202C and \u2066iso\u2069 end &#27;[2J</p>",
      spoiler_text: "cw \u001b[31m\u202E",
      visibility: "private\u001b[2J",
      account: { id: "109265603788800001", username: "alice", acct: "alice", display_name: evilName },
    });
    answer(JSON.stringify(evil));
    const pretty = await post(home(), ["-v", fresh("evil")]);
    expect(pretty.code, pretty.stderr).toBe(0);
    expectTerminalSafe(pretty);
    const lines = pretty.stdout.split("\n");
    // One line: the newline in the name is shown, not obeyed.
    expect(lines[0]).toBe("Mallory <U+202E>yxe.exe<U+202C> ^[[5m^Jidentica: fake @alice");
    expect(pretty.stdout).toContain("\nCW: cw ^[[31m<U+202E>\n");
    expect(pretty.stdout).toContain(
      "see ^[]0;pwned^G^[[2J this \\x9b31m red <U+202E>evil<U+202C> and <U+2066>iso<U+2069> end ^[[2J\n",
    );
    expect(pretty.stdout).toContain("private^[[2J");

    // JSON keeps the strings exactly, written as \u escapes.
    answer(JSON.stringify(evil));
    const json = await post(home(), ["-o", "json", fresh("evil json")]);
    expect(json.code, json.stderr).toBe(0);
    expectTerminalSafe(json);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.user.name).toBe(evilName);
    expect(parsed.spoilerText).toBe("cw \u001b[31m\u202E");
    expect(parsed.text).toContain("\u001b]0;pwned\u0007");
  });
});

/** Runs the CLI with stdout and stderr on a terminal (a pty, through script(1)), without colour. */
function onTerminal(sc: Scenario, args: string[]): Promise<{ code: number | null; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const cmd = [process.execPath, BIN, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...sc.env, NO_COLOR: "1", TERM: "dumb", TZ: "UTC" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")));
    child.on("error", reject);
    // The terminal turns each newline into CR LF.
    child.on("close", (code) => resolve({ code, output: output.replace(/\r\n/g, "\n") }));
    child.stdin.end();
  });
}

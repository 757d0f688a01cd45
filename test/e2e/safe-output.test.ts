import { describe, expect, it } from "vitest";
import { expectFailure, expectNoSecret, type RunResult, runCli } from "../helpers/cli.js";
import { uniqueText, useHttpsServer } from "../helpers/setup.js";
import {
  type Notice,
  phpJson,
  statusesXml,
  statusObject,
  statusXml,
  userObject,
  userXml,
} from "../server/model.js";

/**
 * Issue 10 items 12 and 15 (docs/threats.md I10, I11, H3, A9): results on stdout are data and are never
 * rewritten by the redactor; whatever the server says reaches the terminal only through the sanitiser.
 */
const h = useHttpsServer();

/** A user of the test server with this password, and the arguments and environment to act as them. */
function account(nickname: string, password: string, name = `${nickname} Example`) {
  const users = h.server.store.users;
  let user = users.find((u) => u.nickname === nickname);
  if (!user) {
    user = { id: Math.max(...users.map((u) => u.id)) + 1, nickname, name, password };
    users.push(user);
  }
  user.password = password;
  user.name = name;
  return {
    user,
    args: ["--server", h.server.apiRoot, "--user", nickname, "--cacert", h.certPath],
    env: { IDENTICA_PASSWORD: password },
  };
}

/** Raw ESC, BEL and every other C0 control but \n and \t, DEL, C1, and the bidi and invisible format characters. */
const UNSAFE =
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u180E\u2028\u2029\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]/;

function expectTerminalSafe(r: RunResult): void {
  expect(r.stdout, JSON.stringify(r.stdout)).not.toMatch(UNSAFE);
  expect(r.stderr, JSON.stringify(r.stderr)).not.toMatch(UNSAFE);
}

describe("I10: the redactor never rewrites results", () => {
  it("a password that is also this year leaves the text and the dates of -o json, pretty and show alone", async () => {
    const year = String(new Date().getUTCFullYear());
    const me = account("carol", year);
    const text = `notes for ${year} (${uniqueText("i10")})`;
    const r = await runCli(["post", ...me.args, "-o", "json", text], { env: me.env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("<redacted>");
    const status = JSON.parse(r.stdout);
    expect(status.text).toBe(text);
    expect(status.createdAt).toMatch(new RegExp(`^${year}-\\d\\d-\\d\\dT`));

    const pretty = await runCli(["show", status.id, ...me.args], { env: me.env });
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toContain(`\n${text}\n`);
    expect(pretty.stdout).toMatch(new RegExp(`\\(${year}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)`));
    expect(pretty.stdout).not.toContain("<redacted>");

    const timeline = await runCli(["timeline", "user", "-o", "json", ...me.args], { env: me.env });
    expect(timeline.code).toBe(0);
    expect(JSON.parse(timeline.stdout)[0]).toMatchObject({ id: status.id, text });
  });

  it("an id that contains the password is printed whole by -o id, -o url and pretty", async () => {
    const me = account("carol", "5131");
    h.server.store.nextId = 5131472;
    const id = await runCli(["post", ...me.args, "-o", "id", uniqueText("id 5131")], { env: me.env });
    expect({ code: id.code, stdout: id.stdout, stderr: id.stderr }).toEqual({
      code: 0,
      stdout: "5131472\n",
      stderr: "",
    });
    const url = await runCli(["post", ...me.args, "-o", "url", uniqueText("url")], { env: me.env });
    expect(url.stdout).toBe(`${h.server.origin}/notice/5131473\n`);
    const text = `pretty 5131 ${uniqueText("x")}`;
    const pretty = await runCli(["post", ...me.args, text], { env: me.env });
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toContain(`\n${text}\n`);
    expect(pretty.stdout).toMatch(/\/notice\/5131474\n$/);
    expect(pretty.stdout).not.toContain("<redacted>");
  });

  it("-v shows neither the password nor its base64 nor user:password, and leaves the text in the trace alone", async () => {
    // Five digits above 65535: it cannot turn up as a port, a date or a time in the trace by chance.
    const me = account("carol", "90817");
    // No digits in the text either (uniqueText has some), so that a match could only be the secret.
    const words = `plain words ${Math.random()
      .toString(36)
      .replace(/[^a-z]/g, "")}`;
    const r = await runCli(["post", ...me.args, "-v", "-o", "none", words], { env: me.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^> authorization: Basic <redacted>$/m);
    expectNoSecret(r, "90817", "carol");

    const text = `notes for 90817 ${uniqueText("v")}`;
    const v = await runCli(["post", ...me.args, "-v", "-o", "none", text], { env: me.env });
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/^> authorization: Basic <redacted>$/m);
    expect(v.stderr).toContain(`<text>${text}</text>`);
    expect(v.stderr).toContain(`> status=${encodeURIComponent(text).replace(/%20/g, "+")}&`);
    for (const form of [Buffer.from("carol:90817").toString("base64"), "carol:90817"])
      expect(v.stderr).not.toContain(form);
  });

  it("an error message masks the credential as whole tokens only: a date and a status text it quotes stay intact", async () => {
    const year = String(new Date().getUTCFullYear());
    const me = account("carol", year);
    const basic = Buffer.from(`carol:${year}`).toString("base64");
    const echo = `refused Basic ${basic} (carol:${year}) for "notes for ${year}" on ${year}-11-29, token=${year}`;
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 400,
        body: JSON.stringify({ error: echo }),
        contentType: "application/json",
      },
      when: "authenticated",
    });
    const r = await runCli(["post", ...me.args, "--format", "json", uniqueText("echoed")], { env: me.env });
    expectFailure(
      r,
      65,
      new RegExp(
        `refused Basic <redacted> \\(<redacted>\\) for "notes for ${year}" on ${year}-11-29, token=<redacted>`,
      ),
    );
    expect(r.stderr).not.toContain(basic);
    expect(r.stderr).not.toContain(basic.replace(/=+$/, ""));
  });
});

const EVIL_ID = "\u001b]0;pwned\u0007\u001b[2J";

/** A status of the test server as GNU social writes it, with some fields replaced. */
function statusWith(overrides: Record<string, unknown>, userOverrides: Record<string, unknown> = {}) {
  const n: Notice = {
    id: 777,
    userId: 2,
    text: "a reply",
    created: new Date(),
    source: null,
    inReplyTo: null,
    conversation: 777,
    deleted: false,
    verb: "post",
    tag: "noticeId=777:objectType=note",
    mentions: [],
  };
  const obj = statusObject(h.server.store, n, h.server.origin);
  Object.assign(obj, overrides);
  obj.user = { ...(obj.user as object), ...userOverrides };
  return obj;
}

const reply = (format: string, body: string, path?: RegExp) =>
  h.server.faults.push({
    fault: { kind: "reply", status: 200, body, contentType: `application/${format}; charset=utf-8` },
    ...(path ? { path } : { when: "authenticated" as const }),
  });

describe("I11/H3: ids from the server are validated before use", () => {
  it.each(["xml", "json"])(
    "an in_reply_to_status_id holding escape sequences makes a post 76, and show and timeline too (%s)",
    async (format) => {
      const fmt = ["--format", format];
      const obj = statusWith({ in_reply_to_status_id: EVIL_ID, text: "" });

      const text = uniqueText("evil reply id");
      obj.text = text;
      reply(format, format === "xml" ? statusXml(obj) : phpJson(obj));
      const post = await runCli(["post", ...h.args, ...fmt, text], { env: h.env });
      expectFailure(post, 76, /in_reply_to_status_id/);
      expectTerminalSafe(post);

      reply(format, format === "xml" ? statusXml(obj) : phpJson(obj), /statuses\/show/);
      const show = await runCli(["show", "777", ...h.args, ...fmt], { env: h.env });
      expectFailure(show, 76, /in_reply_to_status_id/);
      expectTerminalSafe(show);

      reply(format, format === "xml" ? statusesXml([obj]) : phpJson([obj]), /public_timeline/);
      const timeline = await runCli(["timeline", "public", ...h.args, ...fmt], { env: h.env });
      expectFailure(timeline, 76, /in_reply_to_status_id/);
      expectTerminalSafe(timeline);
    },
  );
});

describe("I11/H3: server text is shown, not obeyed", () => {
  // ESC and BEL (an OSC title and a screen clear), a C1 CSI, a right-to-left override and an isolate.
  const evilText =
    "see \u001b]0;pwned\u0007\u001b[2J this \u009b31m red \u202Eevil\u202C and \u2066iso\u2069 end";
  const evilName = "Mallory \u202Eyxe.exe\u202C \u001b[5m";

  it.each(["xml", "json"])(
    "pretty post, show and timeline make escapes, C1 and bidi controls visible (%s)",
    async (format) => {
      const fmt = ["--format", format];
      const me = account("mallory", "mallory pw", evilName);
      const notice = h.server.store.add(
        me.user.id,
        `${evilText} ${format}`,
        "app\u001b[31m\u202E",
        null,
        new Date(),
      );

      const text = uniqueText("from mallory");
      const post = await runCli(["post", ...me.args, ...fmt, text], { env: me.env });
      expect(post.code).toBe(0);
      expect(post.stdout).toContain("Mallory <U+202E>yxe.exe<U+202C> ^[[5m @mallory\n");
      expectTerminalSafe(post);

      const show = await runCli(["show", String(notice.id), ...me.args, ...fmt], { env: me.env });
      expect(show.code).toBe(0);
      // GNU social's XML writer turns control characters in <text> into "*" itself (test/server/model.ts).
      expect(show.stdout).toContain(
        format === "xml"
          ? "see *]0;pwned**[2J this *31m red <U+202E>evil<U+202C> and <U+2066>iso<U+2069> end"
          : "see ^[]0;pwned^G^[[2J this \\x9b31m red <U+202E>evil<U+202C> and <U+2066>iso<U+2069> end",
      );
      expect(show.stdout).toContain("via app^[[31m<U+202E>");
      expectTerminalSafe(show);

      const timeline = await runCli(["timeline", "user", "--of", "mallory", ...me.args, ...fmt], {
        env: me.env,
      });
      expect(timeline.code).toBe(0);
      expect(timeline.stdout).toContain("<U+202E>evil<U+202C>");
      expect(timeline.stdout).toContain("Mallory <U+202E>yxe.exe<U+202C>");
      expectTerminalSafe(timeline);
    },
  );

  it("-o json keeps the server's strings exactly, written as \\u escapes", async () => {
    const me = account("mallory", "mallory pw", evilName);
    const notice = h.server.store.add(me.user.id, `${evilText} json out`, null, null, new Date());
    for (const args of [
      ["show", String(notice.id), "--format", "json", "-o", "json"],
      ["timeline", "user", "--of", "mallory", "--format", "json", "-o", "json"],
    ]) {
      const r = await runCli([...args, ...me.args], { env: me.env });
      expect(r.code).toBe(0);
      expectTerminalSafe(r);
      const parsed = JSON.parse(r.stdout);
      const status = Array.isArray(parsed)
        ? parsed.find((s: { id: string }) => s.id === String(notice.id))
        : parsed;
      expect(status.text).toBe(`${evilText} json out`);
      expect(status.user.name).toBe(evilName);
    }
  });

  it("whoami: pretty sanitises the name, -o url prints the profile URL percent-encoded", async () => {
    const me = account("mallory", "mallory pw", evilName);
    const profile = userObject(h.server.store, me.user, h.server.origin, true);
    profile.statusnet_profile_url = `${h.server.origin}/mallory\u001b[2J\u202E`;
    reply("xml", userXml(profile), /verify_credentials/);
    const pretty = await runCli(["whoami", ...me.args], { env: me.env });
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toContain("Mallory <U+202E>yxe.exe<U+202C> ^[[5m @mallory on ");
    expectTerminalSafe(pretty);
    reply("xml", userXml(profile), /verify_credentials/);
    const url = await runCli(["whoami", "-o", "url", ...me.args], { env: me.env });
    expect(url.stdout).toBe(`${h.server.origin}/mallory%1B[2J%E2%80%AE\n`);
  });

  it("a validator's message quoting a tag name (a 200 with <a ESC[2J>) reaches stderr sanitised: 76", async () => {
    reply("xml", '<?xml version="1.0" encoding="UTF-8"?>\n<a \u001b[2J>x</a>\n');
    const r = await runCli(["post", ...h.args, uniqueText("bad tag")], { env: h.env });
    expectFailure(r, 76, /not well-formed XML .*\^\[\[2J/);
    expectTerminalSafe(r);
  });

  it("V8's JSON message quoting a reply that starts with ESC reaches stderr sanitised: 76", async () => {
    reply("json", '\u001b]0;pwned\u0007\u001b[2J{"id":1}');
    const r = await runCli(["post", ...h.args, "--format", "json", uniqueText("bad json")], { env: h.env });
    expectFailure(r, 76, /not valid JSON .*\^\[\]0;pwned\^G/);
    expectTerminalSafe(r);
  });

  it("a malformed WWW-Authenticate with a C1 CSI byte is quoted visibly: 77", async () => {
    h.server.faults.push({
      fault: { kind: "challenge", values: ["Basic \u009b2J"] },
      path: /statuses\/update/,
    });
    const r = await runCli(["post", ...h.args, uniqueText("c1 challenge")], { env: h.env });
    expectFailure(r, 77, /malformed WWW-Authenticate header \(unexpected "\\x9b"/);
    expectTerminalSafe(r);
  });

  it("a server error message with a bidi override and a newline stays one visible line: 65", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 400,
        body: JSON.stringify({ error: "refused \u202Etxt.exe\u202C\nidentica: fake second line" }),
        contentType: "application/json",
      },
      when: "authenticated",
    });
    const r = await runCli(["post", ...h.args, "--format", "json", uniqueText("bidi error")], { env: h.env });
    expectFailure(r, 65, /refused <U\+202E>txt\.exe<U\+202C> identica: fake second line/);
    expectTerminalSafe(r);
  });

  it("-v traces a reply full of escapes without obeying any", async () => {
    const me = account("mallory", "mallory pw", evilName);
    const r = await runCli(["post", ...me.args, "-v", "-o", "none", uniqueText("trace")], { env: me.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Mallory <U+202E>yxe.exe<U+202C> ^[[5m");
    expectTerminalSafe(r);
  });
});

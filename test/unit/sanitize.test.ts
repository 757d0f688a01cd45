import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/context.js";
import { rawReply } from "../../src/output/status.js";
import { jsonForTerminal, oneLine, sanitizeForTerminal, stringsForTerminal } from "../../src/sanitize.js";

describe("the terminal sanitiser (docs/threats.md H3, I11)", () => {
  it("makes C0, DEL, C1 and bidi or invisible format characters visible, and keeps joiners and emoji", () => {
    expect(sanitizeForTerminal("a\u001b]0;x\u0007\u001b[2J\u007f\u009b1m")).toBe("a^[]0;x^G^[[2J^?\\x9b1m");
    expect(sanitizeForTerminal("\u202Eevil\u202C \u2066i\u2069 \u2060\uFEFF\u2028")).toBe(
      "<U+202E>evil<U+202C> <U+2066>i<U+2069> <U+2060><U+FEFF><U+2028>",
    );
    const family = "👩\u200D👩\u200D👧 ❤\uFE0F نمی\u200Cخواهم";
    expect(sanitizeForTerminal(family)).toBe(family);
    // Directional marks and the zero-width space are part of ordinary Hebrew, Arabic and Thai text.
    const scripts = "\u05E9\u05DC\u05D5\u05DD\u200F (1) \u0627\u061C\u0628 \u0E2A\u0E27\u200B\u0E14\u200E";
    expect(sanitizeForTerminal(scripts)).toBe(scripts);
  });
  it("keeps line breaks only when asked, and a CR only before a LF", () => {
    expect(sanitizeForTerminal("a\nb\tc\r\nd\re")).toBe("a^Jb^Ic^M^Jd^Me");
    expect(sanitizeForTerminal("a\nb\tc\r\nd\re", true)).toBe("a\nb\tc\r\nd^Me");
  });
  it("is idempotent, so a line holding sanitised parts can be sanitised again", () => {
    const once = sanitizeForTerminal("x\u001b[2J\u009b\u202E\u0000");
    expect(sanitizeForTerminal(once)).toBe(once);
    expect(oneLine(" a \n b\u202E ")).toBe("a b<U+202E>");
  });
  it("walks objects and arrays", () => {
    expect(stringsForTerminal({ a: "\u001b", b: ["\u202E", 3, null], c: { d: "ok" } })).toEqual({
      a: "^[",
      b: ["<U+202E>", 3, null],
      c: { d: "ok" },
    });
  });
  it("JSON for stdout is the same value, with nothing a terminal obeys", () => {
    const value = { text: "a\u001b[2J\u009b\u202E\u2028b\u007f", n: 1, nested: ["\u2066"] };
    const out = jsonForTerminal(value, 2);
    expect(out).not.toMatch(/[\u001b\u007f-\u009f\u2028\u202e\u2066]/);
    expect(out).toContain("\\u202e");
    expect(JSON.parse(out)).toEqual(value);
  });
  it("-o xml is byte for byte into a pipe, sanitised on a terminal", () => {
    const xml = "<status>\r\n <text>\u009b2J \u202Ex</text>\r\n</status>";
    expect(rawReply(xml, false)).toBe(xml);
    // One of several bodies in a stream (post --lines, outbox send): a newline keeps them apart.
    expect(rawReply(xml, false, true)).toBe(`${xml}\n`);
    expect(rawReply(`${xml}\n`, false, true)).toBe(`${xml}\n`);
    expect(rawReply(xml, true)).toBe("<status>\r\n <text>\\x9b2J <U+202E>x</text>\r\n</status>\n");
  });
});

describe("the redactor (docs/threats.md A9, I10)", () => {
  const r = new Redactor();
  const token68 = Buffer.from("carol:2026").toString("base64");
  r.addCredential({ user: "carol", password: "2026", token68 });

  it("masks the Basic token and user:password as whole tokens", () => {
    expect(r.redact(`Authorization: Basic ${token68}`)).toBe("Authorization: Basic <redacted>");
    expect(r.redact(`Basic ${token68.replace(/=+$/, "")}.`)).toBe("Basic <redacted>.");
    expect(r.redact("https://carol:2026@host/ (carol:2026)")).toBe("https://<redacted>@host/ (<redacted>)");
  });
  it("masks the bare password only as the value of a known secret field", () => {
    expect(r.redact('password=2026 Password: 2026 "password":"2026" token=2026x')).toBe(
      'password=<redacted> Password: <redacted> "password":"<redacted>" token=2026x',
    );
  });
  it("leaves dates, ids, texts and longer tokens alone", () => {
    const data = `notes for 2026 on 2026-11-29, #5131472, x${token68}, ${token68}AB, mcarol:20261`;
    expect(r.redact(data)).toBe(data);
  });
});

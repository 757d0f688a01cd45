import { beforeAll, describe, expect, it } from "vitest";
import { ExitCode, type HttpError } from "../../src/errors.js";
import type { HttpResponse } from "../../src/http/client.js";
import { quoteBigIntegers } from "../../src/services/statusnet/json.js";
import { errorForStatus, parseSuccess } from "../../src/services/statusnet/reply.js";
import { statusOf } from "../../src/services/statusnet/update.js";
import { loadXmlParser } from "../../src/services/statusnet/xml.js";
import { fixtureReply } from "../helpers/fixtures.js";

// The XML parser loads with a connection (src/services/statusnet/connect.ts); these tests parse replies without one.
beforeAll(loadXmlParser);

function response(
  status: number,
  body: string,
  contentType = "application/xml; charset=utf-8",
  extra = {},
): HttpResponse {
  return {
    status,
    headers: { "content-type": contentType, ...extra },
    contentType,
    bytes: Buffer.from(body, "utf8"),
    authenticated: true,
  };
}

function fromFixture(name: string): HttpResponse {
  const f = fixtureReply(name);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of f.headers) headers[k] = v;
  return {
    status: f.status,
    headers,
    contentType: f.contentType,
    bytes: Buffer.from(f.body),
    authenticated: true,
  };
}

const statusFrom = (res: HttpResponse, fmt: "xml" | "json") =>
  statusOf(parseSuccess(res, fmt, "h"), fmt, 200, "h");

function failure(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    return err as HttpError;
  }
  throw new Error("expected a failure");
}

describe("status replies from the real server (fixtures)", () => {
  it("b2: the XML status after the challenge", () => {
    const s = statusFrom(fromFixture("b2-anyauth-challenge-flow.xml.txt"), "xml");
    expect(s).toMatchObject({
      id: "35",
      text: "hello via anyauth 051043",
      createdAt: "2026-11-27T05:10:44Z",
      source: null,
      inReplyToId: null,
      conversationId: "32",
      user: { id: "2", screenName: "alice", name: "Alice Example" },
    });
  });
  it("c-update.json: ids are numbers in JSON, strings here", () => {
    const s = statusFrom(fromFixture("c-update.json.txt"), "json");
    expect(s.id).toBe("37");
    expect(s.user.screenName).toBe("alice");
  });
  it("h-reply: a reply, XML and JSON (in_reply_to_status_id is a JSON string)", () => {
    const x = statusFrom(fromFixture("h-reply.xml.txt"), "xml");
    expect(x.inReplyToId).toMatch(/^\d+$/);
    expect(x.inReplyToScreenName).toBe("alice");
    const j = statusFrom(fromFixture("h-reply-no-mention.json.txt"), "json");
    expect(j.inReplyToId).toBe("45");
  });
  it("i-nonascii and i2-special-chars: text decoded exactly once", () => {
    const x = statusFrom(fromFixture("i-nonascii.xml.txt"), "xml");
    const j = statusFrom(fromFixture("i-nonascii.json.txt"), "json");
    expect(x.text).toBe("Café naïve façade — 日本語 😀🎉 051043");
    expect(j.text).toBe("Crème brûlée ☕ 😀 json 051043");
    const sx = statusFrom(fromFixture("i2-special-chars.xml.txt"), "xml");
    expect(sx.text).toBe(
      "Tom & Jerry <b>bold</b> 1 < 2 > 0 \"quoted\" 'single' see http://127.0.0.1:8080/alice?x=1&y=2 #tag 051043",
    );
    const sj = statusFrom(fromFixture("i2-special-chars.json.txt"), "json");
    expect(sj.text).toBe("A&B <i>x</i> http://127.0.0.1:8080/main/public?a=1&b=2 json 051043");
  });
  it("m-source: the source name", () => {
    expect(statusFrom(fromFixture("m-source.xml.txt"), "xml").source).toBe("identica-cli");
    expect(statusFrom(fromFixture("m-source.json.txt"), "json").source).toBe("identica-cli");
  });
  it("keeps ids beyond 2^53 exact and never coerces text (docs/threats.md F1)", () => {
    const xml =
      '<?xml version="1.0"?><status><text>0x1A</text><id>12345678901234567890123</id><user><id>1</id><screen_name>a</screen_name></user></status>';
    const s = statusFrom(response(200, xml), "xml");
    expect(s.id).toBe("12345678901234567890123");
    expect(s.text).toBe("0x1A");
    const json =
      '{"text":"1e5","id":12345678901234567890123,"user":{"id":9007199254740993,"screen_name":"a"}}';
    const j = statusFrom(response(200, json, "application/json"), "json");
    expect(j.id).toBe("12345678901234567890123");
    expect(j.user.id).toBe("9007199254740993");
    expect(j.text).toBe("1e5");
  });
  it("quoteBigIntegers leaves strings, small numbers and floats alone", () => {
    expect(quoteBigIntegers('{"a":"12345678901234567890","b":12,"c":1.5e300,"d":-12345678901234567}')).toBe(
      '{"a":"12345678901234567890","b":12,"c":1.5e300,"d":"-12345678901234567"}',
    );
  });
});

describe("a 200 that is not a status is an unknown outcome (76)", () => {
  const cases: [string, HttpResponse][] = [
    ["empty", response(200, "")],
    ["HTML portal", response(200, "<!doctype html><html><body>Login to Wi-Fi</body></html>", "text/html")],
    ["truncated", response(200, '<?xml version="1.0"?>\n<status>\n <text>trunc')],
    [
      "DOCTYPE",
      response(200, '<?xml version="1.0"?><!DOCTYPE status [<!ENTITY a "b">]><status><id>1</id></status>'),
    ],
    ["wrong root", response(200, '<?xml version="1.0"?><ok>true</ok>')],
    ["no id", response(200, '<?xml version="1.0"?><status><text>x</text></status>')],
    ["bad JSON", response(200, '{"id":1', "application/json")],
    ["gzip", response(200, "x", "application/xml", { "content-encoding": "gzip" })],
    ["not UTF-8", { ...response(200, ""), bytes: Buffer.from([0x3c, 0xff, 0xfe]) }],
  ];
  it.each(cases)("%s", (_name, res) => {
    const fmt = res.contentType.includes("json") ? "json" : "xml";
    const err = failure(() => statusFrom(res, fmt));
    expect(err.exitCode).toBe(ExitCode.Protocol);
    expect(err.message).toMatch(/may have been posted/);
  });
  it("refuses a billion-laughs document before expanding anything", () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><status><id>1</id><text>&lol2;</text></status>`;
    expect(failure(() => statusFrom(response(200, bomb), "xml")).message).toMatch(/DOCTYPE/);
  });
});

describe("error replies give the server's message and docs/cli.md's exit code", () => {
  const cases: [string, number, RegExp][] = [
    ["g-duplicate.xml.txt", ExitCode.Data, /Too many duplicate messages too quickly/],
    ["g-duplicate.json.txt", ExitCode.Data, /Too many duplicate messages too quickly/],
    ["f-over-limit.xml.txt", ExitCode.Data, /Maximum notice size is 1000 characters/],
    ["f-over-limit.json.txt", ExitCode.Data, /Maximum notice size is 1000 characters/],
    ["h2-reply-nonexistent.xml.txt", ExitCode.Data, /Parent notice not found/],
    ["e-missing-status.json.txt", ExitCode.Data, /Client must provide a 'status' parameter/],
    ["l-show-after-destroy.xml.txt", ExitCode.Data, /Notice deleted/],
    ["l-destroy-other-user.xml.txt", ExitCode.NoPerm, /You may not delete another user's status/],
    ["d3-empty-password-update.xml.txt", ExitCode.Unavailable, /server error 500/],
    ["c-update.rss.txt", ExitCode.Unavailable, /no such API endpoint/],
    ["n-GET-update.xml.txt", ExitCode.Data, /This method requires a POST/],
  ];
  it.each(cases)("%s → %i", (name, code, message) => {
    const err = errorForStatus(fromFixture(name), "h", "post the status");
    expect(err.exitCode).toBe(code);
    expect(err.message).toMatch(message);
  });
  it("429 and 503 are temporary (75)", () => {
    expect(
      errorForStatus(response(503, "busy", "text/plain", { "retry-after": "120" }), "h", "x").exitCode,
    ).toBe(ExitCode.TempFail);
    expect(
      errorForStatus(response(429, '{"error":"slow down"}', "application/json"), "h", "x").message,
    ).toMatch(/slow down/);
  });
  it("a redirect names a sanitised Location (69)", () => {
    const err = errorForStatus(
      response(301, "", "text/html", { location: "https://user:pw@evil.test/api/\u001b[2J" }),
      "h",
      "x",
    );
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toContain("https://evil.test/api/");
    expect(err.message).not.toContain("pw@");
    expect(err.message).not.toContain("\u001b");
  });
  it("control characters in a server message are made visible", () => {
    const err = errorForStatus(
      response(400, '{"error":"bad\\u001b]0;pwned\\u0007"}', "application/json"),
      "h",
      "x",
    );
    expect(err.message).not.toMatch(/[\u0000-\u001f]/);
  });
});

import { describe, expect, it } from "vitest";
import {
  basicAuthorization,
  findBasic,
  MalformedChallengeError,
  parseChallenges,
} from "../../src/http/challenge.js";

const realmOfBasic = (...values: string[]) => findBasic(parseChallenges(values))?.params.get("realm");

describe("WWW-Authenticate parser: docs/threats.md §B (greenbytes, curl)", () => {
  it("B1 simple Basic", () => expect(realmOfBasic('Basic realm="foo"')).toBe("foo"));
  it("B2 case-insensitive scheme and parameter name", () =>
    expect(realmOfBasic('BASIC REALM="foo"')).toBe("foo"));
  it("B3 token realm", () => expect(realmOfBasic("Basic realm=foo")).toBe("foo"));
  it("B4 single quotes are not quotes", () => expect(realmOfBasic("Basic realm='foo'")).toBe("'foo'"));
  it("B5 escaped quotes and backslashes", () => {
    expect(realmOfBasic('Basic realm="\\"foo\\""')).toBe('"foo"');
    expect(realmOfBasic('Basic realm="\\f\\o\\o"')).toBe("foo");
  });
  it("B6 comma inside a quoted string", () => {
    const ch = parseChallenges(['Basic realm="foo, bar", charset="UTF-8"']);
    expect(ch).toHaveLength(1);
    expect(ch[0]?.params.get("realm")).toBe("foo, bar");
    expect(ch[0]?.params.get("charset")).toBe("UTF-8");
  });
  it("B7 Basic after or before another scheme with parameters", () => {
    expect(
      realmOfBasic('Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'),
    ).toBe("simple");
    expect(
      realmOfBasic('Basic realm="simple", Newauth realm="apps", type=1, title="Login to \\"apps\\""'),
    ).toBe("simple");
    expect(realmOfBasic('X-MobileMe-AuthToken realm="Newcastle", Basic realm="fun fun  fun"')).toBe(
      "fun fun  fun",
    );
  });
  it("B8 several header lines", () =>
    expect(realmOfBasic('Newauth realm="newauth"', 'Basic realm="basic"')).toBe("basic"));
  it("B9 a parameter named basic is not a scheme", () => {
    expect(realmOfBasic('Newauth realm="Newauth Realm", basic=foo, Basic realm="Basic Realm"')).toBe(
      "Basic Realm",
    );
  });
  it("B10 disguised realm", () => {
    expect(realmOfBasic('Basic foo="realm=nottherealm", realm="basic"')).toBe("basic");
    expect(realmOfBasic('Basic nottherealm="nottherealm", realm="basic"')).toBe("basic");
  });
  it("B11 empty list elements", () => {
    expect(realmOfBasic('Basic realm="foo", bar="xyz",, a=b,,,c=d')).toBe("foo");
    expect(parseChallenges(['Basic realm="foo", bar="xyz",, a=b,,,c=d'])[0]?.params.get("c")).toBe("d");
    expect(realmOfBasic(',Basic realm="basic"')).toBe("basic");
    expect(realmOfBasic('Basic , realm="foo"')).toBe("foo");
  });
  it("B12 Basic without a realm is accepted", () => {
    expect(findBasic(parseChallenges(["Basic"]))).toBeDefined();
    expect(parseChallenges(["Basic, Wild-and-crazy, NTLM"]).map((c) => c.scheme)).toEqual([
      "basic",
      "wild-and-crazy",
      "ntlm",
    ]);
  });
  it("B13 a missing closing quote fails closed", () => {
    expect(() => parseChallenges(['Basic realm="basic'])).toThrow(MalformedChallengeError);
  });
  it("B14 a repeated parameter is deterministic (first wins)", () => {
    expect(realmOfBasic('Basic realm="foo", realm="bar"')).toBe("foo");
  });
  it("B15 whitespace around =", () => expect(realmOfBasic('Basic realm = "foo"')).toBe("foo"));
  it("B18 token68", () => {
    const ch = parseChallenges(["Basic dGVzdA=="]);
    expect(ch[0]?.scheme).toBe("basic");
    expect(ch[0]?.token68).toBe("dGVzdA==");
  });
  it("B19 only other schemes: no Basic", () => {
    for (const v of [
      'Bearer realm="api", error="invalid_token"',
      'Digest realm="x", nonce="abc"',
      "Negotiate",
      "NTLM",
    ]) {
      expect(findBasic(parseChallenges([v]))).toBeUndefined();
    }
  });
  it("B20 no header at all", () => expect(parseChallenges([])).toEqual([]));
  it("B22 pathological input: a single pass, no backtracking (the suite's timeout is the bound)", () => {
    for (const unit of [", ", "\t", '"', "=", "a=b, "]) {
      const v = `Basic realm="x", ${unit.repeat((16 * 1024) / unit.length)}`;
      let outcome: string;
      try {
        outcome = findBasic(parseChallenges([v])) ? "basic" : "none";
      } catch (err) {
        outcome = (err as Error).name;
      }
      expect(["basic", "MalformedChallengeError"]).toContain(outcome);
    }
  });
});

describe("httplib2 test_parse_www_authenticate_correct", () => {
  const cases: [string, Record<string, Record<string, string>>][] = [
    ["", {}],
    [
      'Test realm="test realm" , foo=foo ,bar="bar", baz=baz,qux=qux',
      { test: { realm: "test realm", foo: "foo", bar: "bar", baz: "baz", qux: "qux" } },
    ],
    [
      'T*!%#st realm=to*!%#en, to*!%#en="quoted string"',
      { "t*!%#st": { realm: "to*!%#en", "to*!%#en": "quoted string" } },
    ],
    ['Test realm="a \\"test\\" realm"', { test: { realm: 'a "test" realm' } }],
    ['Basic realm="me"', { basic: { realm: "me" } }],
    ['Basic realm="me", algorithm="MD5"', { basic: { realm: "me", algorithm: "MD5" } }],
    ['Basic realm="me", algorithm=MD5', { basic: { realm: "me", algorithm: "MD5" } }],
    ['Basic realm="me",other="fred" ', { basic: { realm: "me", other: "fred" } }],
    ['Basic REAlm="me" ', { basic: { realm: "me" } }],
    [
      'Digest realm="digest1", qop="auth,auth-int", nonce="7102dd2", opaque="e9517f"',
      { digest: { realm: "digest1", qop: "auth,auth-int", nonce: "7102dd2", opaque: "e9517f" } },
    ],
    [
      'Digest realm="2-comma-d", qop="auth-int", nonce="c0c8ff1", Basic realm="2-comma-b"',
      { digest: { realm: "2-comma-d", qop: "auth-int", nonce: "c0c8ff1" }, basic: { realm: "2-comma-b" } },
    ],
    [
      'Digest realm="com3d", Basic realm="com3b", WSSE realm="com3w", profile="token"',
      { digest: { realm: "com3d" }, basic: { realm: "com3b" }, wsse: { realm: "com3w", profile: "token" } },
    ],
    [
      'Digest realm="myrealm", nonce="KBAA=3", algorithm=MD5, qop="auth", stale=true',
      { digest: { realm: "myrealm", nonce: "KBAA=3", algorithm: "MD5", qop: "auth", stale: "true" } },
    ],
  ];
  it.each(cases)("%s", (header, expected) => {
    const got: Record<string, Record<string, string>> = {};
    for (const c of parseChallenges(header === "" ? [] : [header]))
      got[c.scheme] = Object.fromEntries(c.params);
    expect(got).toEqual(expected);
  });
  it("rejects the malformed OAuth example", () => {
    expect(() =>
      parseChallenges(['OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token."']),
    ).toThrow(MalformedChallengeError);
  });
});

describe("Basic credentials (RFC 7617, docs/threats.md B16)", () => {
  it("encodes UTF-8, never Latin-1", () => {
    expect(basicAuthorization("joe", "pässwörd")).toBe("Basic am9lOnDDpHNzd8O2cmQ=");
    expect(basicAuthorization("alice", "correct horse")).toBe("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==");
    expect(() => basicAuthorization("joe", "日本語")).not.toThrow();
  });
  it("normalises to NFC only when the server announces charset=UTF-8", () => {
    const nfd = "cafe\u0301";
    const utf8 = parseChallenges(['Basic realm="x", charset="UTF-8"'])[0];
    expect(basicAuthorization("joe", nfd, utf8)).toBe(basicAuthorization("joe", "caf\u00e9"));
    expect(basicAuthorization("joe", nfd)).not.toBe(basicAuthorization("joe", "caf\u00e9"));
  });
});

import { sanitizeForTerminal } from "../sanitize.js";

/**
 * A linear-time parser for `WWW-Authenticate` (RFC 7235 §2.1 and §4.1): a comma-separated list of
 * challenges, each `scheme [ token68 / #auth-param ]`, where the header may also occur several times.
 * Hand-written rather than a regex search, because regex parsers of this header have been both wrong
 * (`realm=` found inside another parameter) and exploitable (CPython CVE-2020-8492, CVE-2021-3733).
 */
export interface Challenge {
  /** The scheme in lower case ("basic"); compared case-insensitively. */
  scheme: string;
  /** Parameter names in lower case; the first occurrence of a name wins. */
  params: Map<string, string>;
  token68?: string;
}

export class MalformedChallengeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedChallengeError";
  }
}

/** A character of the header quoted in a message: made visible (a C1 byte such as U+009B is a CSI). */
const shown = (c: string | undefined) => sanitizeForTerminal(c ?? "");

// tchar (RFC 7230 §3.2.6)
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*/y;

/** Every challenge in every line of the header; throws MalformedChallengeError for broken syntax. */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const v of values) out.push(...parseLine(v));
  return out;
}

function parseLine(s: string): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const n = s.length;
  const skipWs = () => {
    while (i < n && (s[i] === " " || s[i] === "\t")) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && TCHAR.test(s[i] as string)) i++;
    return s.slice(start, i);
  };
  const expectEndOfElement = () => {
    skipWs();
    if (i < n && s[i] !== ",")
      throw new MalformedChallengeError(`unexpected "${shown(s[i])}" at position ${i}`);
  };

  while (i < n) {
    // Empty list elements are allowed (RFC 7230 §7): skip whitespace and commas.
    while (i < n && (s[i] === " " || s[i] === "\t" || s[i] === ",")) i++;
    if (i >= n) break;
    const token = readToken();
    if (token === "") throw new MalformedChallengeError(`expected a token at position ${i}`);
    const afterToken = i;
    skipWs();
    if (s[i] === "=") {
      // `name = value`: a parameter of the challenge in progress.
      if (!current) throw new MalformedChallengeError(`parameter "${token}" before any scheme`);
      i++;
      addParam(current, token, readValue());
      expectEndOfElement();
      continue;
    }
    current = { scheme: token.toLowerCase(), params: new Map() };
    challenges.push(current);
    if (i >= n || s[i] === ",") continue;
    if (i === afterToken)
      throw new MalformedChallengeError(`unexpected "${shown(s[i])}" after scheme ${token}`);
    // After the scheme and a space: either a token68 or the first auth-param.
    TOKEN68.lastIndex = i;
    const m = TOKEN68.exec(s);
    if (m) {
      const end = i + m[0].length;
      let j = end;
      while (j < n && (s[j] === " " || s[j] === "\t")) j++;
      if (j >= n || s[j] === ",") {
        current.token68 = m[0];
        i = j;
        continue;
      }
    }
    const name = readToken();
    if (name === "") throw new MalformedChallengeError(`unexpected "${shown(s[i])}" after scheme ${token}`);
    skipWs();
    if (s[i] !== "=") throw new MalformedChallengeError(`expected "=" after "${name}"`);
    i++;
    addParam(current, name, readValue());
    expectEndOfElement();
  }
  return challenges;

  function readValue(): string {
    skipWs();
    if (s[i] !== '"') return readToken();
    i++;
    let value = "";
    while (i < n) {
      const c = s[i] as string;
      if (c === '"') {
        i++;
        return value;
      }
      if (c === "\\") {
        if (i + 1 >= n) break;
        value += s[i + 1];
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    throw new MalformedChallengeError("unterminated quoted string");
  }
}

function addParam(ch: Challenge, name: string, value: string): void {
  const key = name.toLowerCase();
  if (!ch.params.has(key)) ch.params.set(key, value);
}

/** The first Basic challenge, if any (RFC 7617). */
export function findBasic(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "basic");
}

/**
 * `Basic base64(utf8(user ":" password))` (RFC 7617 §2). With `charset="UTF-8"` the RFC asks for NFC
 * normalisation first; without it the text is sent as typed, because the server compares bytes.
 * Never `btoa`: it throws on anything outside Latin-1.
 */
export function basicAuthorization(user: string, password: string, challenge?: Challenge): string {
  const utf8Charset = challenge?.params.get("charset")?.toLowerCase() === "utf-8";
  const pair = `${user}:${password}`;
  return `Basic ${Buffer.from(utf8Charset ? pair.normalize("NFC") : pair, "utf8").toString("base64")}`;
}

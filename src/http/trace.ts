import { sanitizeForTerminal } from "../sanitize.js";

/**
 * `-v` output in curl's style: `>` lines for what was sent, `<` for what came back. Redaction here is
 * structural, by where a secret sits rather than by what it looks like: every Authorization value is
 * shown as `Basic <redacted>` (the scheme is kept, the credential never is), and so is the value of a
 * known secret field of a form. Everything else (the status text, the reply) is shown as it is, made
 * safe for the terminal.
 */
export function traceRequestHead(
  head: string,
  form: string | undefined,
  trace: (line: string) => void,
): void {
  for (const line of head.split("\r\n")) {
    if (line === "") continue;
    trace(`> ${redactHeaderLine(line)}`);
  }
  if (form !== undefined) {
    trace(`> content-length: ${Buffer.byteLength(form)}`);
    trace(">");
    trace(`> ${sanitizeForTerminal(form.startsWith("{") ? redactJsonSecrets(form) : redactForm(form))}`);
  }
}

/** Form fields that hold a secret whenever they occur; their values are never traced. */
const SECRET_FIELDS = new Set([
  "password",
  "passwd",
  "token",
  "access_token",
  "refresh_token",
  "client_secret",
  // OAuth (services/mastodon/oauth.ts): the authorization code and the PKCE verifier get a token.
  "code",
  "code_verifier",
]);

/** The form body with the value of every known secret field shown as `<redacted>`. */
export function redactForm(form: string): string {
  return form
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let key: string;
      try {
        key = decodeURIComponent(name.replace(/\+/g, " ")).toLowerCase();
      } catch {
        key = name.toLowerCase();
      }
      return eq >= 0 && SECRET_FIELDS.has(key) ? `${name}=<redacted>` : pair;
    })
    .join("&");
}

export function redactHeaderLine(line: string): string {
  const m = /^(authorization|proxy-authorization)\s*:\s*(\S+)/i.exec(line);
  return m ? `${m[1]}: ${m[2]} <redacted>` : sanitizeForTerminal(line);
}

export function traceResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  trace: (line: string) => void,
): void {
  trace(`< HTTP/1.1 ${status}`);
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value ?? ""])
      trace(`< ${redactHeaderLine(`${name}: ${v}`)}`);
  }
  trace("<");
  const text = redactJsonSecrets(body.toString("utf8"));
  for (const line of text.split("\n")) trace(`< ${sanitizeForTerminal(line, true)}`);
}

/**
 * JSON members whose value is a secret wherever they occur: OAuth token and app registration replies,
 * and the AT Protocol's createSession request (its password) and session replies (both JWTs).
 */
const SECRET_MEMBERS = new Set([
  "access_token",
  "refresh_token",
  "client_secret",
  "password",
  "accessjwt",
  "refreshjwt",
]);

/**
 * The body with the value of every SECRET_MEMBERS member shown as `"<redacted>"`, and every other byte
 * as it came (a reply is traced as received, ids beyond 2^53 included, so it is not re-serialised). A
 * scan over JSON's tokens: a string followed by `:` is a member name, compared once decoded (so an
 * escaped spelling of the name is caught too); a name inside a string value is not one. On a body that
 * is not JSON it redacts at most a look-alike, which is harmless.
 */
export function redactJsonSecrets(text: string): string {
  if (!text.includes('"')) return text;
  let out = "";
  let last = 0;
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    const nameEnd = stringEnd(text, i);
    let j = skipSpace(text, nameEnd);
    if (text[j] !== ":" || !SECRET_MEMBERS.has(decodeJsonString(text.slice(i, nameEnd)))) {
      i = nameEnd;
      continue;
    }
    j = skipSpace(text, j + 1);
    const end = valueEnd(text, j);
    if (end > j) {
      out += `${text.slice(last, j)}"<redacted>"`;
      last = end;
    }
    i = Math.max(end, j + 1);
  }
  return out + text.slice(last);
}

/**
 * The index just past the JSON value at `start`: a string, an object or array (the whole of it: a
 * secret is hidden whatever its shape), or a scalar.
 */
function valueEnd(text: string, start: number): number {
  const c = text[start];
  if (c === '"') return stringEnd(text, start);
  if (c !== "{" && c !== "[") return start + (/^[^,}\]\s]*/.exec(text.slice(start))?.[0].length ?? 0);
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const d = text[i];
    if (d === '"') {
      i = stringEnd(text, i);
      continue;
    }
    if (d === "{" || d === "[") depth++;
    else if ((d === "}" || d === "]") && --depth === 0) return i + 1;
    i++;
  }
  return text.length;
}

/** The index just past the JSON string that starts at `start` (its opening quote), escapes honoured. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return Math.min(i + 1, text.length);
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  return i;
}

function decodeJsonString(literal: string): string {
  try {
    return String(JSON.parse(literal)).toLowerCase();
  } catch {
    return literal.slice(1, -1).toLowerCase();
  }
}

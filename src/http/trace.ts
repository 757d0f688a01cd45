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
    trace(`> ${sanitizeForTerminal(redactForm(form))}`);
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
  const text = body.toString("utf8");
  for (const line of text.split("\n")) trace(`< ${sanitizeForTerminal(line, true)}`);
}

import { sanitizeForTerminal } from "../sanitize.js";

/**
 * `-v` output in curl's style: `>` lines for what was sent, `<` for what came back. Every Authorization
 * value is shown as `Basic <redacted>` (the scheme is kept, the credential never is).
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
    trace(`> ${sanitizeForTerminal(form)}`);
  }
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

/**
 * Text from a server (error bodies, realms, Location headers, status text) is shown with its control
 * characters made visible, so a reply cannot rewrite the user's terminal (git CVE-2024-52005, SECURITY.md H3).
 * Newlines and tabs are kept when `keepNewlines` is set.
 */
export function sanitizeForTerminal(text: string, keepNewlines = false): string {
  return text.replace(/[\u0000-\u001F\u007F-\u009F]/g, (c) => {
    if (keepNewlines && (c === "\n" || c === "\t")) return c;
    const code = c.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
    if (code === 0x7f) return "^?";
    return `\\x${code.toString(16)}`;
  });
}

/** One line, at most `max` characters, for error messages that quote a server. */
export function oneLine(text: string, max = 300): string {
  const flat = sanitizeForTerminal(text.replace(/\s+/g, " ").trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * The one sanitiser for text that is shown to a person (docs/threats.md H3, I11). Whatever a server sends —
 * status texts, names, error bodies, realms, Location headers, and the messages that parsers build by
 * quoting it — passes through here before it reaches a terminal, so a reply cannot rewrite the user's
 * screen (git CVE-2024-52005) or disguise what it says (Trojan Source, CVE-2021-42574).
 *
 * Nothing is removed: every character in UNSAFE is replaced by a visible, ASCII spelling of itself.
 * - C0 controls and DEL: caret notation, `^[` for ESC, `^G` for BEL, `^?` for DEL (as `cat -v`).
 * - C1 controls (U+0080–U+009F: a terminal may obey U+009B as CSI): `\x9b`.
 * - Invisible format characters: `<U+202E>`. These are the bidi embeddings, overrides and isolates
 *   (U+202A–U+202E, U+2066–U+2069), which reorder everything that follows them; the line and
 *   paragraph separators (U+2028, U+2029), which some terminals break lines on; and the characters
 *   that are invisible and exist only to make two strings that look the same differ (U+180E,
 *   U+2060–U+2064, U+206A–U+206F, U+FEFF, U+FFF9–U+FFFB). Kept as they are: the directional marks
 *   (U+061C, U+200E, U+200F) and U+200B, which Arabic, Hebrew and Thai text use and which reorder
 *   nothing beyond a neutral character; joiners (U+200C, U+200D), variation selectors and tag
 *   characters, which emoji sequences and scripts need.
 * The replacements contain no character of UNSAFE, so sanitising twice changes nothing: the error
 * reporter can sanitise a whole line that already holds sanitised parts.
 */
const BEYOND_C0 =
  "\\u007F-\\u009F\\u180E\\u2028\\u2029\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF\\uFFF9-\\uFFFB";
const UNSAFE = new RegExp(`[\\u0000-\\u001F${BEYOND_C0}]`, "g");
/** What `JSON.stringify` leaves raw in strings (it escapes C0 there; outside strings C0 is layout). */
const UNSAFE_IN_JSON = new RegExp(`[${BEYOND_C0}]`, "g");

/**
 * Text for the terminal, with UNSAFE characters made visible. With `keepNewlines` (a status text in
 * pretty output, an XML body), `\n`, `\t` and a `\r` right before `\n` are kept as they are.
 */
export function sanitizeForTerminal(text: string, keepNewlines = false): string {
  return text.replace(UNSAFE, (c, offset: number) => {
    if (keepNewlines && (c === "\n" || c === "\t" || (c === "\r" && text[offset + 1] === "\n"))) return c;
    const code = c.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
    if (code === 0x7f) return "^?";
    if (code <= 0x9f) return `\\x${code.toString(16)}`;
    return `<U+${code.toString(16).toUpperCase().padStart(4, "0")}>`;
  });
}

/** One line, at most `max` characters, for error messages that quote a server. */
export function oneLine(text: string, max = 300): string {
  const flat = sanitizeForTerminal(text.replace(/\s+/g, " ").trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Every string in a value (objects and arrays walked), made safe for one line of a terminal: what the
 * pretty formatters start from, so that no field of a status or a profile can be printed unsanitised.
 */
export function stringsForTerminal<T>(value: T): T {
  if (typeof value === "string") return sanitizeForTerminal(value) as T;
  if (Array.isArray(value)) return value.map(stringsForTerminal) as T;
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = stringsForTerminal(v);
    return out as T;
  }
  return value;
}

/**
 * JSON for stdout. Results are data and are never rewritten, so the UNSAFE characters that
 * `JSON.stringify` leaves raw (DEL, C1, the format characters; it escapes C0 itself) are written as
 * `\uXXXX` escapes: the same JSON value, byte for byte what a parser reads back, but inert on a
 * terminal. Outside strings JSON is ASCII, so every match is inside a string, where an escape is valid.
 * (C0 is left to `JSON.stringify`: it escapes it in strings, and outside them it is the indentation.)
 */
export function jsonForTerminal(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

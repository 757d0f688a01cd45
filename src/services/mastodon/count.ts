/**
 * A status's length as Mastodon counts it against its limit (MASTODON.md §8; Mastodon 4.x
 * app/validators/status_length_validator.rb): grapheme clusters of the content warning plus the text,
 * where every URL the entity extractor finds counts as `urlLength` characters (the server's
 * `characters_reserved_per_url`, 23 on Mastodon) and every mention `@user@domain` as `@user`. Other
 * servers copy the limit but enforce it differently or not at all (snac accepted 100 001 characters
 * against its advertised 100 000), so identica counts this way before sending, for all of them.
 *
 * The URL rule is Mastodon's (config/initializers/twitter_regex.rb over twitter-text's extractor),
 * simplified where following it exactly would mean carrying twitter-text's list of top-level domains:
 * a URL is a scheme (`http://`, `https://`, or one of the few others Mastodon links), a host (labels
 * with a dot and an alphabetic top-level label, `localhost`, an IPv4 address or a bracketed IPv6 one),
 * an optional port, path and query; a path does not end in punctuation (`.`, `,`, `!`, `?`, a closing
 * bracket without its opening one…), while balanced parentheses stay part of it
 * (`https://en.wikipedia.org/wiki/Foo_(bar)`). A URL without a scheme (`example.com`) counts as typed, as
 * on Mastodon (`extract_url_without_protocol: false`).
 */
export function mastodonLength(text: string, spoiler = "", urlLength = 23): number {
  return graphemes(rubyStrip(spoiler)) + graphemes(countableText(rubyStrip(text), urlLength));
}

/** What Ruby's `String#strip` removes: NUL, tab, line feed, vertical tab, form feed, carriage return, space. */
const STRIPPED = new Set([0, 9, 10, 11, 12, 13, 32]);

/**
 * The text and the warning as Mastodon measures them: `Status#prepare_contents` strips both before the
 * length is validated, so white space at either end (a trailing newline from a pipe, an indented
 * heredoc) does not count. A loop, not a regular expression: `\s+$` backtracks quadratically over a
 * long run of spaces that does not end the text.
 */
function rubyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && STRIPPED.has(s.charCodeAt(start))) start++;
  while (end > start && STRIPPED.has(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

let segmenter: Intl.Segmenter | undefined;

/**
 * V8's grapheme iterator spends time in proportion to the whole string on every segment (100 000
 * characters took 3 s, 1 MiB minutes), so a long text is counted a window at a time. A window starts at
 * a boundary; its last segment may be cut short by the window's end, so it is not counted there but
 * starts the next window. Every other boundary in the window is one of the whole text: UAX #29 decides
 * a break from what precedes it (all in the window, back to a boundary) and the one character after it.
 */
const WINDOW = 256;

/**
 * Below U+0300 (where combining marks begin) every character is a grapheme cluster of its own, but for
 * CR LF, which is one (UAX #29 GB3–GB5): such a text is counted without the segmenter, whose first use
 * costs about 12 ms of ICU data loading — most of a post's own CPU time.
 */
const SIMPLE = /^[\u0000-\u02FF]*$/;

/** Grapheme clusters of a text as it is (atproto/rules.ts counts with it too: Bluesky does not strip). */
export function graphemes(s: string): number {
  if (SIMPLE.test(s)) {
    let n = s.length;
    for (let i = s.indexOf("\r\n"); i >= 0; i = s.indexOf("\r\n", i + 2)) n--;
    return n;
  }
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let n = 0;
  let start = 0;
  let size = WINDOW;
  while (s.length - start > size) {
    let count = 0;
    let last = 0;
    for (const { index } of segmenter.segment(s.slice(start, start + size))) {
      count++;
      last = index;
    }
    if (last === 0) {
      // One cluster fills the window (a long run of combining marks): look further.
      size *= 2;
      continue;
    }
    n += count - 1;
    start += last;
    size = WINDOW;
  }
  for (const _ of segmenter.segment(s.slice(start))) n++;
  return n;
}

interface Entity {
  start: number;
  end: number;
  replacement: string;
}

/** The text with each URL replaced by `urlLength` characters and each `@user@domain` by `@user`. */
function countableText(text: string, urlLength: number): string {
  // Ruby's `blank?`: a text of nothing but whitespace counts as nothing (only the content warning counts).
  if (/^\s*$/u.test(text)) return "";
  const entities = [...urls(text, urlLength), ...mentions(text)].sort((a, b) => a.start - b.start);
  let out = "";
  let at = 0;
  for (const e of entities) {
    // Extractor.remove_overlapping_entities: the earlier one wins.
    if (e.start < at) continue;
    out += text.slice(at, e.start) + e.replacement;
    at = e.end;
  }
  return out + text.slice(at);
}

// twitter-text's pieces, as Mastodon redefines them (config/initializers/twitter_regex.rb).
const PATH_CHAR = String.raw`[^\p{White_Space}<>()?]`;
const BALANCED_PARENS = String.raw`\((?:${PATH_CHAR}+|${PATH_CHAR}*\(${PATH_CHAR}+\)${PATH_CHAR}*)\)`;
const PATH_END = String.raw`(?:[^\p{White_Space}()?!*"'「」<>;:=,.$%\[\]~&|@]|${BALANCED_PARENS})`;
const PATH = `(?:${PATH_CHAR}*(?:${BALANCED_PARENS}${PATH_CHAR}*)*${PATH_END}|${PATH_CHAR}+/)`;
const UCHARS = String.raw`\u{A0}-\u{D7FF}\u{F900}-\u{FDCF}\u{FDF0}-\u{FFEF}\u{10000}-\u{1FFFD}\u{20000}-\u{10FFFD}`;
const QUERY = String.raw`\?[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@^${UCHARS}]*[a-z0-9_&=#/\-${UCHARS}]`;
// A host: letters, digits and marks of any script, `-` and `_` inside a label; the last label alphabetic
// (twitter-text wants a known top-level domain there; this is the shape of one, punycode included), and
// the host not running on into more letters or an `@`.
const LABEL = String.raw`[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}_-]*[\p{L}\p{M}\p{N}])?`;
const TLD = String.raw`(?:\p{L}[\p{L}\p{M}]+|xn--[a-z0-9-]+)`;
const IPV4 = String.raw`(?:\d{1,3}\.){3}\d{1,3}`;
const HOST = String.raw`(?:(?:${LABEL}\.)+${TLD}|localhost|${IPV4}|\[[0-9a-f:.]+\])`;
// Mastodon links these schemes too (its valid_url); without one there is no URL here.
const SCHEME = `(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://`;
/**
 * twitter-text's valid_url_preceding_chars: a URL starts a text or follows anything but an ASCII letter
 * or digit, `@`, `$` or `#` (so `xhttps://…` and `#https://…` are not links).
 */
const URL_RE = new RegExp(
  String.raw`(^|[^a-z0-9@＠$#＃])(${SCHEME}${HOST}(?![\p{L}\p{M}\p{N}_@-])(?::\d+)?(?:/${PATH}*)?(?:${QUERY})?)`,
  "giu",
);

function urls(text: string, urlLength: number): Entity[] {
  if (!text.includes("://")) return [];
  const found: Entity[] = [];
  for (const m of text.matchAll(URL_RE)) {
    const start = (m.index ?? 0) + (m[1] as string).length;
    found.push({ start, end: start + (m[2] as string).length, replacement: "x".repeat(urlLength) });
  }
  return found;
}

/**
 * Account::MENTION_RE (Mastodon 4.x): `@user` or `@user@domain`, not after a word character, `/` or `=`
 * (so not inside a URL or an address). Ruby's `[[:word:]]` is letters, marks, decimal digits and
 * connector punctuation.
 */
const WORD = String.raw`\p{L}\p{M}\p{Nd}\p{Pc}`;
const MENTION_RE = new RegExp(
  `(?<![=/${WORD}])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)((?:@[${WORD}.-]+[${WORD}]+)?)`,
  "giu",
);
/**
 * twitter-text's end_mention_match: a mention followed by another `@`, a Latin accented letter or `://`
 * is not one (Extractor.extract_mentions_or_lists_with_indices).
 */
const NOT_A_MENTION_AFTER =
  /^(?:[@＠]|[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u1e00-\u1eff]|[\u0300-\u036f]|:\/\/)/;

/**
 * The text with every mention `@user@domain` written `@user`, as Mastodon shows it in a status's
 * `content` (a mention link's text is the account's `@username`): what identica typed and what the
 * server shows then read alike when looking for an earlier copy (mastodon.ts findMine).
 */
export function foldMentions(text: string): string {
  let out = "";
  let at = 0;
  for (const e of mentions(text)) {
    out += text.slice(at, e.start) + e.replacement;
    at = e.end;
  }
  return out + text.slice(at);
}

function mentions(text: string): Entity[] {
  if (!text.includes("@")) return [];
  const found: Entity[] = [];
  for (const m of text.matchAll(MENTION_RE)) {
    const start = m.index ?? 0;
    const end = start + m[0].length;
    if (NOT_A_MENTION_AFTER.test(text.slice(end, end + 3))) continue;
    found.push({ start, end, replacement: `@${m[1] as string}` });
  }
  return found;
}

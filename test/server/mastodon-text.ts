/**
 * How the Mastodon look-alike turns a status's text into `content` HTML and counts its length, per
 * server: Mastodon's TextFormatter and StatusLengthValidator (MASTODON.md §6, §8), and snac's
 * not_really_markdown + process_tags (fixtures/snac/30, 31b). Approximations are named where made.
 */

/** Ruby's `String#strip` (Mastodon's `Status#prepare_contents` strips text and spoiler_text). */
export function rubyStrip(s: string): string {
  return s.replace(/^[\0\t\n\v\f\r ]+|[\0\t\n\v\f\r ]+$/g, "");
}

/** `ERB::Util.html_escape`, as Mastodon escapes a status's text (so `'` becomes `&#39;`). */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`,
  );
}

interface Entity {
  start: number;
  end: number;
  kind: "url" | "mention" | "tag";
  text: string;
  /** mention: the local part; tag: the name. */
  name: string;
  /** mention: the domain, when written `@user@domain`. */
  domain?: string;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Grapheme clusters, as Ruby's `mb_chars.grapheme_length`. */
export function graphemeLength(s: string): number {
  let n = 0;
  for (const _ of graphemes.segment(s)) n++;
  return n;
}

/**
 * Is this host one the URL extractor links? Mastodon's twitter-text regexes want a domain with a
 * known TLD; this accepts any alphabetic TLD of two letters or more, `localhost` and IPv4 literals
 * (an approximation, the same one the client's counter makes).
 */
function linkableHost(host: string): boolean {
  if (host === "localhost" || /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return true;
  return /^([\p{L}\p{N}-]+\.)+\p{L}{2,}$/u.test(host);
}

/** URLs with an http(s) scheme; trailing punctuation is not part of them, balanced brackets are. */
function findUrls(text: string): Entity[] {
  const out: Entity[] = [];
  for (const m of text.matchAll(/https?:\/\/[^\s<>"]+/giu)) {
    let url = m[0];
    for (;;) {
      const last = url.at(-1) ?? "";
      const unbalanced =
        (last === ")" && url.split("(").length < url.split(")").length) ||
        (last === "]" && url.split("[").length < url.split("]").length);
      if (!".,;:!?'\"".includes(last) && !unbalanced) break;
      url = url.slice(0, -1);
    }
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      continue;
    }
    if (!linkableHost(host)) continue;
    const start = m.index ?? 0;
    out.push({ start, end: start + url.length, kind: "url", text: url, name: url });
  }
  return out;
}

/** `Account::MENTION_RE`: `@user` or `@user@domain`, not after a word character, `=` or `/`. */
function findMentions(text: string): Entity[] {
  const re =
    /(?<![=/\p{L}\p{N}_])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@([\p{L}\p{N}_.-]+[\p{L}\p{N}_]+))?/giu;
  return [...text.matchAll(re)].map((m) => {
    const start = m.index ?? 0;
    const e: Entity = { start, end: start + m[0].length, kind: "mention", text: m[0], name: m[1] as string };
    if (m[2] !== undefined) e.domain = m[2];
    return e;
  });
}

/** `Tag::HASHTAG_RE`, simplified: `#` then word characters with at least one letter or `_`. */
function findTags(text: string): Entity[] {
  const re = /(?<![=/\p{L}\p{N}_])#([\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*)/gu;
  return [...text.matchAll(re)].map((m) => {
    const start = m.index ?? 0;
    return { start, end: start + m[0].length, kind: "tag", text: m[0], name: m[1] as string };
  });
}

/** `Extractor.remove_overlapping_entities`: sorted by start, a later entity overlapping one kept is dropped. */
function withoutOverlaps(entities: Entity[]): Entity[] {
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const out: Entity[] = [];
  for (const e of sorted) if (out.length === 0 || e.start >= (out.at(-1) as Entity).end) out.push(e);
  return out;
}

/**
 * `StatusLengthValidator` (Mastodon 4.x): grapheme clusters of spoiler_text plus the text, where a
 * URL counts as `urlLength` characters and `@user@domain` as `@user`.
 */
export function mastodonLength(text: string, spoiler: string, urlLength: number): number {
  const entities = withoutOverlaps([...findUrls(text), ...findMentions(text)]);
  let countable = "";
  let at = 0;
  for (const e of entities) {
    countable += text.slice(at, e.start) + (e.kind === "url" ? "x".repeat(urlLength) : `@${e.name}`);
    at = e.end;
  }
  countable += text.slice(at);
  return graphemeLength(spoiler + countable);
}

/** A local account a mention resolves to: its name and profile URL. */
export interface MentionTarget {
  username: string;
  url: string;
}

export interface Formatted {
  html: string;
  /** The usernames of the local accounts mentioned, in order, without repeats. */
  mentions: string[];
  /** The hashtags, as typed, without repeats. */
  tags: string[];
}

/** `TextFormatter.shortened_link`: the whole URL is the link text, split into spans CSS hides. */
function shortenedLink(url: string): string {
  const prefix = /^(https?:\/\/(www\.)?|xmpp:)/i.exec(url)?.[0] ?? "";
  const rest = url.slice(prefix.length);
  const display = rest.slice(0, 30);
  const suffix = rest.slice(30);
  return (
    `<a href="${escapeHtml(url)}" target="_blank" rel="nofollow noopener" translate="no">` +
    `<span class="invisible">${escapeHtml(prefix)}</span>` +
    `<span class="${rest.length > 30 ? "ellipsis" : ""}">${escapeHtml(display)}</span>` +
    `<span class="invisible">${escapeHtml(suffix)}</span></a>`
  );
}

/** Ruby's `split(/\n\n+/)`: like JavaScript's, but trailing empty fields are dropped. */
function rubySplitParagraphs(s: string): string[] {
  const parts = s.split(/\n\n+/);
  while (parts.length > 0 && parts.at(-1) === "") parts.pop();
  return parts;
}

/**
 * Rails' `simple_format(html, {}, sanitize: false).delete("\n")`, as TextFormatter applies it: blank
 * lines make paragraphs, single newlines `<br />`.
 */
function simpleFormat(html: string): string {
  const paragraphs = rubySplitParagraphs(html.replace(/\r\n?/g, "\n")).map((p) =>
    p.replace(/([^\n]\n)(?=[^\n])/g, "$1<br />"),
  );
  const body = paragraphs.length === 0 ? "<p></p>" : paragraphs.map((p) => `<p>${p}</p>`).join("\n\n");
  return body.replaceAll("\n", "");
}

/**
 * Mastodon's `TextFormatter` for a local status: the text HTML-escaped, URLs, mentions of accounts
 * it knows (`resolve`) and hashtags linked, then paragraphs. An unknown mention stays text.
 */
export function mastodonContent(
  text: string,
  origin: string,
  resolve: (username: string, domain: string | undefined) => MentionTarget | undefined,
): Formatted {
  const mentions: string[] = [];
  const tags: string[] = [];
  if (text.trim() === "") return { html: "", mentions, tags };
  const entities = withoutOverlaps([...findUrls(text), ...findMentions(text), ...findTags(text)]);
  let html = "";
  let at = 0;
  for (const e of entities) {
    html += escapeHtml(text.slice(at, e.start));
    at = e.end;
    if (e.kind === "url") {
      html += shortenedLink(e.text);
    } else if (e.kind === "tag") {
      if (!tags.some((t) => t.toLowerCase() === e.name.toLowerCase())) tags.push(e.name);
      html += `<a href="${escapeHtml(`${origin}/tags/${e.name.toLowerCase()}`)}" class="mention hashtag" rel="tag">#<span>${escapeHtml(e.name)}</span></a>`;
    } else {
      const target = resolve(e.name, e.domain);
      if (target === undefined) {
        html += escapeHtml(e.text);
        continue;
      }
      if (!mentions.includes(target.username)) mentions.push(target.username);
      html += `<span class="h-card" translate="no"><a href="${escapeHtml(target.url)}" class="u-url mention">@<span>${escapeHtml(target.username)}</span></a></span>`;
    }
  }
  html += escapeHtml(text.slice(at));
  return { html: simpleFormat(html), mentions, tags };
}

/** Is `c` in POSIX `[:punct:]` (ASCII punctuation), which ends a snac hashtag (`_` excepted)? */
const SNAC_TAG_RE = /#(?:_|[^!-/:-@[-`{-~\s])+/gu;

/** snac's `format_line`: code, bold/italic, strike, markdown links and bare URLs; nothing escaped. */
function snacLine(line: string, base: string, tags: string[]): string {
  const re = /(`[^`]+`|\*\*?\*?[^*]+\*?\*?\*|~~[^~]+~~|\[[^\]]+\]\([^)]+\)|[a-z]+:\/\/\S+)/g;
  let out = "";
  let at = 0;
  const plain = (s: string) =>
    s.replace(SNAC_TAG_RE, (t) => {
      const name = t.slice(1).toLowerCase();
      if (!tags.includes(name)) tags.push(name);
      return `<a href="${base}?t=${name}" class="mention hashtag" rel="tag">#${name}</a>`;
    });
  for (const m of line.matchAll(re)) {
    const v = m[0];
    out += plain(line.slice(at, m.index));
    at = (m.index ?? 0) + v.length;
    if (v.startsWith("`")) out += `<code>${v.slice(1, -1)}</code>`;
    else if (v.startsWith("~~")) out += `<s>${v.slice(2, -2)}</s>`;
    else if (v.startsWith("*")) {
      const stars = /^\*+/.exec(v)?.[0].length ?? 1;
      const inner = v.replace(/^\*+|\*+$/g, "");
      out += stars >= 3 ? `<b><i>${inner}</i></b>` : stars === 2 ? `<b>${inner}</b>` : `<i>${inner}</i>`;
    } else if (v.startsWith("[")) {
      const link = /^\[([^\]]+)\]\(([^)]+)\)$/.exec(v);
      out += `<a href="${link?.[2]}" target="_blank">${link?.[1]}</a>`;
    } else out += `<a href="${v}" target="_blank">${v}</a>`;
  }
  return out + plain(line.slice(at));
}

/**
 * snac's `not_really_markdown` + `process_tags` (fixtures/snac/30, 31b): nothing is escaped (raw
 * `<b>&</b>` and `<script>` pass through), `*x*` → `<i>`, `**x**` → `<b>`, backticks → `<code>`,
 * URLs and `#tags` linked, every line followed by `<br>`. Mentions are left as typed (snac resolves
 * them by WebFinger, which a loopback server cannot); code fences and quotes are not special here.
 */
export function snacContent(text: string, base: string): { html: string; tags: string[] } {
  const tags: string[] = [];
  const html = text
    .split("\n")
    .map((line) => `${snacLine(line, base, tags)}<br>`)
    .join("");
  return { html, tags };
}

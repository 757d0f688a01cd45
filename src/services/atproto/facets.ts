import { isDid, isHandle } from "./refs.js";

/**
 * Links and mentions in a post (`app.bsky.richtext.facet`). Bluesky links nothing by itself: a post's
 * text is plain, and only the facets sent with it make a URL clickable or an `@handle` a mention. They
 * are found as the Bluesky app's RichText `detectFacets` finds them, so that a post from identica reads
 * like one from the app, but only `http(s)://` links (no bare domains: CLI.md "A third API").
 *
 * Offsets are in UTF-8 bytes of the text (start inclusive, end exclusive), as the lexicon wants — not
 * JavaScript's UTF-16 indices, which differ as soon as the text has anything beyond ASCII.
 */
export interface FoundFacets {
  links: { start: number; end: number; uri: string }[];
  /** `handle` lower-cased; the range covers the `@` too. */
  mentions: { start: number; end: number; handle: string }[];
}

export type FacetFeature =
  | { $type: "app.bsky.richtext.facet#link"; uri: string }
  | { $type: "app.bsky.richtext.facet#mention"; did: string };

export interface Facet {
  index: { byteStart: number; byteEnd: number };
  features: FacetFeature[];
}

/** The app's URL_REGEX, scheme part: at the start, after white space or `(`, up to the next white space. */
const LINK = /(^|\s|\()(https?:\/\/\S+)/gi;
/**
 * The app's MENTION_REGEX: the `\b` makes the handle end at a word boundary, so a trailing `.` or `-`
 * (`@alice.test.` ending a sentence) is left out, and `@alice.test_x` is no mention of alice.test.
 */
const MENTION = /(^|\s|\()@([a-zA-Z0-9.-]+)\b/g;

export function findFacets(text: string): FoundFacets {
  const bytes = byteOffsets(text);
  const links: FoundFacets["links"] = [];
  if (text.includes("://")) {
    for (const m of text.matchAll(LINK)) {
      const start = (m.index ?? 0) + (m[1] as string).length;
      let uri = m[2] as string;
      // The app strips one trailing punctuation mark, then a `)` that closes nothing in the URL.
      if (/[.,;:!?]$/.test(uri)) uri = uri.slice(0, -1);
      // A `)` that closes nothing in the URL closes the text's parenthesis (`(see https://x/a_(b))`).
      const count = (c: string) => uri.split(c).length - 1;
      while (uri.endsWith(")") && count(")") > count("(")) uri = uri.slice(0, -1);
      // The PDS refuses a facet whose uri is not a URI (fixture 21): such a "link" stays text.
      if (!URL.canParse(uri)) continue;
      links.push({ start: bytes(start), end: bytes(start + uri.length), uri });
    }
  }
  const mentions: FoundFacets["mentions"] = [];
  if (text.includes("@")) {
    for (const m of text.matchAll(MENTION)) {
      const handle = m[2] as string;
      if (!isHandle(handle)) continue;
      const at = (m.index ?? 0) + (m[1] as string).length;
      // `@bob.test@other.example` is a fediverse address, not a mention of the Bluesky account bob.test.
      if (text[at + 1 + handle.length] === "@") continue;
      const start = bytes(at);
      const end = bytes(at + 1 + handle.length);
      // `(@x.y` inside a URL is part of the link, not a mention.
      if (links.some((l) => start < l.end && l.start < end)) continue;
      mentions.push({ start, end, handle: handle.toLowerCase() });
    }
  }
  return { links, mentions };
}

/**
 * The facets to send: every link, and every mention whose handle resolved to a DID (`dids`, keyed by
 * the lower-cased handle); a handle that did not resolve stays plain text, as in the app. Sorted by
 * position.
 */
export function facetsJson(found: FoundFacets, dids: ReadonlyMap<string, string>): Facet[] {
  const facets: Facet[] = found.links.map((l) => ({
    index: { byteStart: l.start, byteEnd: l.end },
    features: [{ $type: "app.bsky.richtext.facet#link", uri: l.uri }],
  }));
  for (const m of found.mentions) {
    const did = dids.get(m.handle);
    // The DID came from the server: one that is not a DID would only get the post refused.
    if (did === undefined || !isDid(did)) continue;
    facets.push({
      index: { byteStart: m.start, byteEnd: m.end },
      features: [{ $type: "app.bsky.richtext.facet#mention", did }],
    });
  }
  return facets.sort((a, b) => a.index.byteStart - b.index.byteStart);
}

/**
 * UTF-16 index → UTF-8 byte offset, for increasing indices (the matches come in order): each call
 * counts on from the last one, so a text with many facets is walked once per kind.
 */
function byteOffsets(text: string): (index: number) => number {
  let at = 0;
  let bytes = 0;
  return (index: number) => {
    if (index < at) {
      at = 0;
      bytes = 0;
    }
    bytes += Buffer.byteLength(text.slice(at, index), "utf8");
    at = index;
    return bytes;
  };
}

/**
 * What a StatusNet / GNU social server makes of the text it is sent, so that a reply or a timeline
 * entry can be recognised as "this status" although its text differs from what was typed.
 *
 * GNU social (lib/apiaction.php, classes/Notice.php; docs/statusnet-api.md §2.3 and §8, docs/threats.md I1):
 * - `html_entity_decode($text, ENT_NOQUOTES, 'UTF-8')`: `&amp;` → `&`, `&lt;`, `&gt;`, named and
 *   numeric references are decoded, but the quote references (`&quot;`, `&#34;`, `&#39;`, …) stay as
 *   typed, and `&apos;` is not an HTML 4.01 entity at all;
 * - PHP `trim()`; XML replies show newlines and tabs as spaces (JSON replies keep them);
 * - long URLs may be shortened.
 * So two texts are the same status when they match after decoding and collapsing whitespace, or,
 * failing that, when they differ only in links the server shortened.
 */
import { HTML401_ENTITIES } from "./html401-entities.js";

const URLS = /\bhttps?:\/\/\S+/gi;

/**
 * Code points that PHP's html_entity_decode() agrees to produce from a numeric reference in an
 * HTML 4.01 document (php-src ext/standard/html.c `unicode_cp_is_allowed`); others stay as typed.
 */
function allowedInHtml401(cp: number): boolean {
  return (
    (cp >= 0x20 && cp <= 0x7e) ||
    cp === 0x09 ||
    cp === 0x0a ||
    cp === 0x0d ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0x10ffff && (cp & 0xffff) < 0xfffe && (cp < 0xfdd0 || cp > 0xfdef))
  );
}

/**
 * `html_entity_decode($text, ENT_NOQUOTES, 'UTF-8')`, as GNU social runs it on a new status:
 * - named references of HTML 4.01 only (case-sensitive, `;` required): `&amp;` `&lt;` `&eacute;` …,
 *   never HTML5's (`&check;`, `&Tab;` stay as typed);
 * - numeric ones, `&#233;` and `&#xE9;`, when the code point is allowed in HTML 4.01 (`&#128;` is not);
 * - but with ENT_NOQUOTES every reference to `"` or `'` is kept as typed: `&quot;`, `&#34;`,
 *   `&#x22;`, `&#39;`, `&#x27;` (and `&apos;`, which HTML 4.01 does not define at all);
 * - anything else (`&foo;`, `&amp` without `;`, `&#0;`, `&#xD800;`) is left alone.
 */
export function htmlEntityDecode(text: string): string {
  return text.replace(
    /&(?:#[xX]([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z0-9]+));/g,
    (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
      let cp: number | undefined;
      if (name !== undefined) {
        cp = HTML401_ENTITIES.get(name);
      } else {
        // strtol saturates on overflow, so a huge number is simply out of range.
        const n = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(dec as string, 10);
        if (n <= 0x10ffff && allowedInHtml401(n)) cp = n;
      }
      if (cp === undefined || cp === 0x22 || cp === 0x27) return whole;
      return String.fromCodePoint(cp);
    },
  );
}

/**
 * Whitespace as replies show it: XML replies drop CR and turn newlines and tabs into spaces, JSON
 * keeps them; so CR goes, and every run of whitespace becomes one space.
 */
const collapse = (s: string) => s.replace(/\r/g, "").replace(/\s+/g, " ").trim();

/** The text as the server stores it, whitespace collapsed (the form replies are compared in). */
export function storedForm(text: string): string {
  return collapse(text.includes("&") ? htmlEntityDecode(text) : text);
}

/**
 * Whether `stored` (a reply's or timeline's text) is the status `sent` became on the server: the same
 * after decoding and whitespace, or the same apart from its URLs (the server may shorten links).
 */
export function isStoredFormOf(sent: string, stored: string): boolean {
  const want = storedForm(sent);
  const got = collapse(stored);
  if (want === got) return true;
  // A shortened link: the same text with every differing URL replaced by a shorter one on another
  // host (a shortening service). A different link on the same site is a different status.
  const wantUrls = want.match(URLS) ?? [];
  const gotUrls = got.match(URLS) ?? [];
  if (wantUrls.length === 0 || wantUrls.length !== gotUrls.length) return false;
  const noUrls = (s: string) => s.replace(URLS, "\u0001");
  if (noUrls(want) !== noUrls(got)) return false;
  return wantUrls.every((u, i) => {
    const v = gotUrls[i] as string;
    return u === v || (v.length < u.length && hostOf(u) !== hostOf(v));
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

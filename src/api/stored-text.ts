/**
 * What a StatusNet / GNU social server makes of the text it is sent, so that a reply or a timeline
 * entry can be recognised as "this status" although its text differs from what was typed.
 *
 * GNU social (lib/apiaction.php, classes/Notice.php; API.md §2.3 and §8, SECURITY.md I1):
 * - `html_entity_decode($text, ENT_NOQUOTES, 'UTF-8')`: `&amp;` → `&`, `&lt;`, `&gt;`, named and
 *   numeric references are decoded, but the quote references (`&quot;`, `&#34;`, `&#39;`, …) stay as
 *   typed, and `&apos;` is not an HTML 4.01 entity at all;
 * - PHP `trim()`; XML replies show newlines and tabs as spaces (JSON replies keep them);
 * - long URLs may be shortened.
 * So two texts are the same status when they match after decoding and collapsing whitespace, or,
 * failing that, when they match with every URL set aside.
 */

// The references ENT_NOQUOTES leaves alone; they are shielded from the decoder and put back.
const QUOTE_REF = /&(?:quot|apos|#0*3[49]|#x0*2[27]);/gi;
const URLS = /\bhttps?:\/\/\S+/gi;

const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

/** The text as the server stores it, whitespace collapsed (the form replies are compared in). */
export async function storedForm(text: string): Promise<string> {
  if (!text.includes("&")) return collapse(text);
  const { decodeHTMLStrict } = await import("entities");
  const kept: string[] = [];
  const shielded = text.replace(QUOTE_REF, (ref) => `\u0000${kept.push(ref) - 1}\u0000`);
  const decoded = decodeHTMLStrict(shielded).replace(/\u0000(\d+)\u0000/g, (_, i) => kept[Number(i)] ?? "");
  return collapse(decoded);
}

/**
 * Whether `stored` (a reply's or timeline's text) is the status `sent` became on the server: the same
 * after decoding and whitespace, or the same apart from its URLs (the server may shorten links).
 */
export async function isStoredFormOf(sent: string, stored: string): Promise<boolean> {
  const want = await storedForm(sent);
  const got = collapse(stored);
  if (want === got) return true;
  if (!/\bhttps?:\/\//i.test(want)) return false;
  const noUrls = (s: string) => s.replace(URLS, "\u0001");
  return noUrls(want) === noUrls(got);
}

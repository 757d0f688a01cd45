import type { Parser } from "htmlparser2";

/**
 * A Mastodon status's `content` as plain text (docs/cli.md "Mastodon results": paragraphs as blank
 * lines, `<br>` as newlines, links as their text, entities decoded, anything else dropped).
 *
 * The content is untrusted HTML: Mastodon sends sanitised `<p>`, `<br />`, `<a>` and `<span>`, but snac
 * passes what the user typed straight through (`<b>&</b>`, `5<6 & 7>3`, even `<script>`; MASTODON.md §6),
 * and other servers send `<blockquote>`, lists or emoji `<img>`. So it is read by a real HTML tokenizer,
 * never by regular expressions on `<` and `&`: htmlparser2, which is tolerant of broken markup (a stray
 * `<` or `&` is text, as in a browser), decodes every named and numeric character reference, and works as
 * a stream of events, so no tree is built and only its tokenizer and parser are bundled (parse5 would be
 * the spec's tree builder: several times the code, for a tree that is thrown away). Control characters
 * are left in: the printer makes them visible (sanitize.ts), and the JSON output keeps the text as it is.
 */

/**
 * Elements whose contents are not shown: code, styles and a template's inert markup; and the other
 * elements the tokenizer reads as raw text (title, textarea, xmp, iframe, noembed, noframes, plaintext),
 * whose contents would come out as text that still looks like tags (`<textarea><b>x</b>`). No server
 * puts them in a status; one that does gets nothing of them shown.
 */
const DROPPED = new Set([
  "script",
  "style",
  "template",
  "title",
  "textarea",
  "xmp",
  "iframe",
  "noembed",
  "noframes",
  "plaintext",
]);
/** Elements that stand as paragraphs of their own: a blank line before and after. */
const PARAGRAPHS = new Set([
  "p",
  "div",
  "blockquote",
  "pre",
  "ul",
  "ol",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "table",
]);
/** Elements that start a line of their own. */
const LINES = new Set(["li", "dt", "dd", "tr"]);
/** HTML's inter-element whitespace (the spec's "ASCII whitespace"); not NBSP or other Unicode spaces. */
const HTML_SPACE = /^[ \t\n\r\f]+/;

type ParserClass = typeof Parser;

let convert: ((html: string) => string) | undefined;

/**
 * The converter, once htmlparser2 is loaded. The parser is in a bundle of its own (dist/html-libs.cjs,
 * src/html-libs.ts) that only a run showing a Mastodon status loads: this function is the only way to
 * it, so the Service awaits it once (before parsing its first reply) and then converts synchronously.
 */
export async function loadHtmlText(): Promise<(html: string) => string> {
  if (convert) return convert;
  const { Parser } = await import("../../html-libs.js");
  convert ??= (html: string) => htmlText(Parser, html);
  return convert;
}

function htmlText(ParserCtor: ParserClass, html: string): string {
  let out = "";
  /** Newlines the next text must follow (a block's boundary), counted with those already written. */
  let need = 0;
  /** How deep inside dropped elements (their text is not shown). */
  let dropped = 0;

  const boundary = (newlines: number) => {
    if (out !== "") need = Math.max(need, newlines);
  };
  const flush = () => {
    if (need === 0) return;
    let have = 0;
    while (have < need && out[out.length - 1 - have] === "\n") have++;
    out += "\n".repeat(need - have);
    need = 0;
  };
  const write = (text: string) => {
    // At a block's start (or the very start) the markup's own line breaks and indentation are
    // layout, not text: a browser shows none of them either.
    const t = need > 0 || out === "" ? text.replace(HTML_SPACE, "") : text;
    if (t === "") return;
    flush();
    out += t;
  };

  const parser = new ParserCtor(
    {
      onopentag(name, attribs) {
        if (DROPPED.has(name)) dropped++;
        if (dropped > 0) return;
        if (name === "br") {
          // A line break before any text would only be a blank line at the top.
          if (out !== "") {
            flush();
            out += "\n";
          }
        } else if (PARAGRAPHS.has(name)) boundary(2);
        else if (LINES.has(name)) boundary(1);
        // An image's text is its alt text (Akkoma and Pleroma send custom emoji as `<img alt=":x:">`).
        else if (name === "img" && attribs.alt) write(attribs.alt);
      },
      onclosetag(name) {
        if (DROPPED.has(name)) {
          dropped = Math.max(0, dropped - 1);
          return;
        }
        if (dropped > 0) return;
        if (PARAGRAPHS.has(name)) boundary(2);
        else if (LINES.has(name)) boundary(1);
      },
      ontext(text) {
        if (dropped === 0) write(text);
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);
  // snac ends every status with a `<br>`; Mastodon's paragraphs leave nothing after the last one.
  return out.trimEnd();
}

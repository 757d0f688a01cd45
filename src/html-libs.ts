import { Parser } from "htmlparser2";

/**
 * The HTML parser that turns a Mastodon status's `content` into plain text (services/mastodon/html.ts),
 * in a bundle of its own (dist/html-libs.cjs): only a run that shows a Mastodon status loads it, so a
 * StatusNet post, `--dry-run` or `--version` never compiles it. Only the streaming Parser is taken
 * (no DOM, no serializer): the text is built from its events.
 */
export { Parser };

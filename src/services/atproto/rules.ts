import { TooLongError } from "../../core/limit-cache.js";
import { graphemes } from "../mastodon/count.js";
import type { ServiceRules } from "../service.js";
import { parsePostRef } from "./refs.js";

/**
 * The limits of `app.bsky.feed.post`'s `text` (its lexicon: maxGraphemes 300, maxLength 3000 bytes of
 * UTF-8). The PDS refuses a record over either (atproto fixtures 12 and 19), so both are checked before
 * anything is sent.
 */
export const ATPROTO_LIMIT = 300;
export const ATPROTO_MAX_BYTES = 3000;

/** The AT Protocol's rules that need no connection. */
export const atprotoRules: ServiceRules = {
  statusId(id: string, option?: string): string {
    parsePostRef(id, option);
    return id.trim();
  },
  /**
   * Grapheme clusters of the text as typed: the app and the lexicon count it as is, with no trimming
   * and no allowance for links. The byte limit has no place in a length compared with 300, so a text
   * over it is refused here, whatever its length in graphemes (300 family emoji are 300 graphemes but
   * 7500 bytes). Bytes first: they are cheap, and a huge paste is not segmented for nothing.
   */
  textLength(text: string): number {
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > ATPROTO_MAX_BYTES) {
      throw new TooLongError(
        `the status is ${bytes} bytes long in UTF-8, over the AT Protocol's limit of ${ATPROTO_MAX_BYTES} bytes; nothing was sent`,
      );
    }
    return graphemes(text);
  },
};

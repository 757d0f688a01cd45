import { UsageError } from "../../errors.js";
import type { ServiceRules } from "../service.js";

/** StatusNet's rules that need no connection (docs/statusnet-api.md). */
export const STATUSNET_RULES: ServiceRules = {
  /** StatusNet ids are digits. */
  statusId(id: string, option?: string): string {
    if (!/^\d+$/.test(id)) {
      throw new UsageError(
        option === undefined
          ? `a status id is a number, not "${id}"`
          : `${option} takes a numeric status id, not "${id}"`,
      );
    }
    return id;
  },
  /**
   * What counts is what the server will store and measure (`mb_strlen`: code points): whitespace at
   * either end, which it trims first, does not.
   */
  textLength(text: string): number {
    let n = 0;
    for (const _ of serverTrimmed(text)) n++;
    return n;
  },
};

/**
 * The text the server stores and measures: GNU social runs PHP `trim()` on the status before its
 * length check (apistatusesupdate.php), which strips space, tab, LF, CR, NUL and vertical tab from
 * both ends, and nothing else (no NBSP, no Unicode spaces).
 */
export function serverTrimmed(text: string): string {
  return text.replace(/^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g, "");
}

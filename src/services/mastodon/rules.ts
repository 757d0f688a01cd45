import { UsageError } from "../../errors.js";
import type { ServiceRules } from "../service.js";
import { mastodonLength } from "./count.js";

/**
 * What a status id may look like. Ids are opaque strings (MASTODON.md §6): Mastodon's 18-digit
 * snowflakes (beyond 2^53, so never numbers), snac's epoch + 32 hex, GoToSocial's ULIDs, Hollo's UUIDs.
 * They go into URL paths (`/api/v1/statuses/:id`), so only RFC 3986's unreserved characters are taken:
 * nothing that would need escaping, nothing that could leave the path (`/`, `?`, `#`, `%`, `..` alone is
 * refused too).
 */
const STATUS_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** Whether a string can be a status (or account) id; `.` and `..` would climb out of the path as segments. */
export function isStatusId(id: string): boolean {
  return STATUS_ID.test(id) && id !== "." && id !== "..";
}

/** The Mastodon API's rules that need no connection; `urlLength` is the server's `characters_reserved_per_url`. */
export function mastodonRules(urlLength = 23): ServiceRules {
  return {
    statusId(id: string, option?: string): string {
      if (!isStatusId(id)) {
        // The error line is sanitised on its way out (cli.ts); a long paste is cut to keep it one line.
        const shown = `"${id.length > 60 ? `${id.slice(0, 59)}…` : id}"`;
        const what = "a status id (at most 128 letters, digits, and . _ ~ -)";
        throw new UsageError(
          option === undefined ? `${shown} is not ${what}` : `${option} takes ${what}, not ${shown}`,
        );
      }
      return id;
    },
    textLength(text: string): number {
      return mastodonLength(text, "", urlLength);
    },
    warningLength(warning: string): number {
      return mastodonLength("", warning, urlLength);
    },
  };
}

export const VISIBILITIES = ["public", "unlisted", "private", "direct"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/**
 * `--visibility`, checked before anything is sent: snac stores an unknown value as `direct` without a
 * word (MASTODON.md §5), so a typo must never reach a server.
 */
export function checkVisibility(v: string): Visibility {
  if ((VISIBILITIES as readonly string[]).includes(v)) return v as Visibility;
  const shown = v.length > 40 ? `${v.slice(0, 39)}…` : v;
  throw new UsageError(`--visibility takes ${VISIBILITIES.join(", ")}, not "${shown}"`);
}

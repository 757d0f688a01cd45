import type { Server } from "../../config/server.js";
import type { HttpResponse } from "../../http/client.js";
import type { BearerSession } from "./bearer.js";

/** Mastodon's own default, for a server whose instance document names no limit (docs/mastodon-api.md §8). */
export const DEFAULT_MAX_CHARACTERS = 500;
export const DEFAULT_URL_LENGTH = 23;

export interface InstanceLimits {
  maxCharacters: number;
  urlLength: number;
}

/**
 * The limits from an instance document (v2 or v1): `configuration.statuses.max_characters` and
 * `characters_reserved_per_url`, else the old top-level `max_toot_chars`; undefined when the document
 * names none.
 */
export function limitsOf(doc: unknown): {
  maxCharacters?: number | undefined;
  urlLength?: number | undefined;
} {
  if (typeof doc !== "object" || doc === null) return {};
  const d = doc as { configuration?: { statuses?: Record<string, unknown> }; max_toot_chars?: unknown };
  const statuses = d.configuration?.statuses;
  const count = (v: unknown) => (Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : undefined);
  return {
    maxCharacters: count(statuses?.max_characters) ?? count(d.max_toot_chars),
    urlLength: count(statuses?.characters_reserved_per_url),
  };
}

/** The body of a 200 JSON reply as an object, or undefined (an HTML page, an error, not JSON). */
export function jsonObject(res: HttpResponse): Record<string, unknown> | undefined {
  if (res.status !== 200) return undefined;
  try {
    const doc = JSON.parse(res.bytes.toString("utf8")) as unknown;
    return typeof doc === "object" && doc !== null && !Array.isArray(doc)
      ? (doc as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `GET /api/v2/instance`, else `/api/v1/instance` (snac has no v2), without a token: the server's
 * limit and how it counts a URL. A server that names none gets Mastodon's defaults.
 */
export async function instanceLimits(session: BearerSession, server: Server): Promise<InstanceLimits> {
  let found: ReturnType<typeof limitsOf> = {};
  for (const path of ["/api/v2/instance", "/api/v1/instance"]) {
    const url = new URL(path, server.origin);
    const { res } = await session.send(
      { method: "GET", url, accept: "application/json", timeoutMs: 10_000 },
      "none",
    );
    found = limitsOf(jsonObject(res));
    if (found.maxCharacters !== undefined) break;
  }
  return {
    maxCharacters: found.maxCharacters ?? DEFAULT_MAX_CHARACTERS,
    urlLength: found.urlLength ?? DEFAULT_URL_LENGTH,
  };
}

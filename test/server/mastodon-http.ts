import type { Recorded } from "./gnusocial.js";
import { type Mode, railsJson, snacJson } from "./mastodon-model.js";
import { MASTODON_404, SNAC_AGENT } from "./mastodon-pages.js";

/**
 * The Mastodon look-alike's plumbing: the fields of a request (form, JSON, query) read as Rails
 * and snac read them, and the replies each server frames (its JSON encoder, its error bodies).
 */

/** How the server frames its answer; snac's is written on the socket as snac writes it. */
export interface Reply {
  status: number;
  /** null: snac's default, `text/html; charset=utf-8`. */
  contentType: string | null;
  /** null: no body and no Content-Length; snac ends such a reply by closing the connection. */
  body: string | null;
  headers: [string, string][];
}

export type Values = Record<string, unknown>;

/** A form body or query: repeated `x[]` fields collected into an array under `x[]`. */
export function formValues(s: string): Values {
  const out: Values = {};
  for (const [k, v] of new URLSearchParams(s)) {
    if (k.endsWith("[]")) {
      const list = Array.isArray(out[k]) ? (out[k] as string[]) : [];
      list.push(v);
      out[k] = list;
    } else out[k] = v;
  }
  return out;
}

export interface Body {
  values: Values;
  kind: "form" | "json" | "none";
  /** A JSON body that does not parse to an object. */
  invalid: boolean;
}

export function parseBody(rec: Recorded): Body {
  const type = String(rec.headers["content-type"] ?? "").toLowerCase();
  if (rec.body.length === 0) return { values: {}, kind: "none", invalid: false };
  if (type.startsWith("application/json")) {
    try {
      const v: unknown = JSON.parse(rec.body.toString("utf8"));
      if (v !== null && typeof v === "object" && !Array.isArray(v))
        return { values: v as Values, kind: "json", invalid: false };
    } catch {}
    return { values: {}, kind: "json", invalid: true };
  }
  if (type.startsWith("application/x-www-form-urlencoded"))
    return { values: formValues(rec.body.toString("utf8")), kind: "form", invalid: false };
  return { values: {}, kind: "none", invalid: false };
}

/** A field as a string (Rails and snac alike take a JSON number or boolean as its text). */
export function str(values: Values, key: string): string | undefined {
  const v = values[key];
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

/** A list field, `x[]` in a form or query, `x` as an array in JSON. */
export function list(values: Values, key: string): string[] | undefined {
  for (const k of [`${key}[]`, key]) {
    const v = values[k];
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === "string") return [v];
  }
  return undefined;
}

/** `ActiveModel::Type::Boolean`. */
export function railsTrue(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  return !["", "0", "f", "false", "off", "F", "FALSE", "OFF"].includes(String(v));
}

/** The replies a server makes, in the framing of the mode it is in when it makes them. */
export function makeReplies(mode: () => Mode) {
  function json(status: number, value: unknown, headers: [string, string][] = []): Reply {
    if (mode() === "snac") return { status, contentType: "application/json", body: snacJson(value), headers };
    return { status, contentType: "application/json; charset=utf-8", body: railsJson(value), headers };
  }
  /** Mastodon's `{"error": …}`; GoToSocial's texts start with the status's name. */
  const error = (status: number, message: string, headers: [string, string][] = []) =>
    json(status, { error: message }, headers);
  /** snac's pages for an error without a body (httpd.c). */
  function snacError(status: 400 | 403 | 404): Reply {
    const text = { 400: "400 Bad Request", 403: "403 Forbidden", 404: "404 Not Found" }[status];
    return { status, contentType: null, body: `<h1>${text} (${SNAC_AGENT})</h1>`, headers: [] };
  }
  /** snac's 401 and 422 without a body: no Content-Length, the connection closed to end it. */
  const snacEmpty = (status: 401 | 422): Reply => ({ status, contentType: null, body: null, headers: [] });
  const html = (status: number, body: string, headers: [string, string][] = []): Reply => ({
    status,
    contentType: "text/html; charset=utf-8",
    body,
    headers,
  });
  function notFound(): Reply {
    return html(404, MASTODON_404);
  }

  /** The record a lookup did not find, in each server's words. */
  function recordNotFound(): Reply {
    if (mode() === "snac") return snacError(404);
    return error(404, mode() === "gotosocial" ? "Not Found" : "Record not found");
  }
  return { json, error, html, snacError, snacEmpty, notFound, recordNotFound };
}

export type Replies = ReturnType<typeof makeReplies>;

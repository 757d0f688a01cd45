import { jsonForTerminal, sanitizeForTerminal, stringsForTerminal } from "../sanitize.js";
import type { Status } from "../services/service.js";
import type { Style } from "./color.js";
import { absoluteTime, relativeTime } from "./time.js";

/** `raw` prints the server's reply body as received, for either API; `xml` is its StatusNet spelling. */
export type OutputMode = "pretty" | "json" | "xml" | "raw" | "id" | "url" | "none";
export const OUTPUT_MODES: readonly OutputMode[] = ["pretty", "json", "xml", "raw", "id", "url", "none"];

/** The stable JSON shape of `-o json` (docs/cli.md "Output"). */
export interface StatusJson {
  id: string;
  text: string;
  createdAt: string | null;
  url: string;
  inReplyToId: string | null;
  inReplyToScreenName: string | null;
  conversationId: string | null;
  source: string | null;
  user: { id: string; screenName: string; name: string };
  /** Mastodon statuses only. */
  visibility?: string;
  spoilerText?: string;
  /** AT Protocol records only: the record's content id. */
  cid?: string;
}

export function statusJson(s: Status, url: string): StatusJson {
  return {
    id: s.id,
    text: s.text,
    createdAt: s.createdAt,
    url,
    inReplyToId: s.inReplyToId,
    inReplyToScreenName: s.inReplyToScreenName,
    conversationId: s.conversationId,
    source: s.source,
    user: { ...s.user },
    ...(s.visibility === undefined ? {} : { visibility: s.visibility }),
    ...(s.spoilerText === undefined ? {} : { spoilerText: s.spoilerText }),
    ...(s.cid === undefined ? {} : { cid: s.cid }),
  };
}

/**
 * A status for a person, like its page on the web: who, the text, when (relative and absolute), from
 * what, what it replies to, and where it lives. It works from a copy in which every server string is
 * sanitised for the terminal (the text keeping its line breaks), so no field can be printed raw.
 */
export function prettyStatus(raw: Status, url: string, style: Style, now: Date): string {
  const s = { ...stringsForTerminal(raw), text: sanitizeForTerminal(raw.text, true) };
  const who = s.user.name && s.user.name !== s.user.screenName ? `${style.name(s.user.name)} ` : "";
  const lines = [`${who}${style.accent(`@${s.user.screenName}`)}`];
  if (s.spoilerText) lines.push(style.dim(`CW: ${sanitizeForTerminal(s.spoilerText)}`));
  lines.push(s.text);
  const meta: string[] = [];
  if (s.createdAt) meta.push(`${relativeTime(s.createdAt, now)} (${absoluteTime(s.createdAt)})`);
  if (s.source) meta.push(`via ${s.source}`);
  if (s.visibility && s.visibility !== "public") meta.push(sanitizeForTerminal(s.visibility));
  if (s.inReplyToId) {
    meta.push(`in reply to #${s.inReplyToId}${s.inReplyToScreenName ? ` by @${s.inReplyToScreenName}` : ""}`);
  }
  if (meta.length > 0) lines.push(style.dim(meta.join(" · ")));
  lines.push(style.link(sanitizeForTerminal(url)));
  return `${lines.join("\n")}\n`;
}

/**
 * `-o raw` / `-o xml`: the server's reply body as received, byte for byte, into a pipe or a file —
 * nothing added, not even a newline (a Mastodon body never ends with one, and a script may hash or
 * sign what it gets). On a terminal it is being read, not parsed, so it goes through the sanitiser
 * (line breaks kept) and ends with a newline for the prompt. `separated`: one of several bodies in a
 * stream (`post --lines`, `outbox send`), where a newline after each keeps them apart.
 */
export function rawReply(raw: string, tty: boolean, separated = false): string {
  const body = tty ? sanitizeForTerminal(raw, true) : raw;
  if (!tty && !separated) return body;
  return body.endsWith("\n") ? body : `${body}\n`;
}

/** Everything but `pretty`, which needs a style. */
export function plainStatusOutput(
  mode: Exclude<OutputMode, "pretty">,
  s: Status,
  url: string,
  raw: string,
  tty: boolean,
  separated = false,
): string {
  switch (mode) {
    case "json":
      return `${jsonForTerminal(statusJson(s, url), 2)}\n`;
    case "xml":
    case "raw":
      return rawReply(raw, tty, separated);
    case "id":
      return `${s.id}\n`;
    case "url":
      return `${url}\n`;
    case "none":
      return "";
  }
}

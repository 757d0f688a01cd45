import type { Status } from "../api/status.js";
import { sanitizeForTerminal } from "../sanitize.js";
import type { Style } from "./color.js";
import { absoluteTime, relativeTime } from "./time.js";

export type OutputMode = "pretty" | "json" | "xml" | "id" | "url" | "none";
export const OUTPUT_MODES: readonly OutputMode[] = ["pretty", "json", "xml", "id", "url", "none"];

/** The stable JSON shape of `-o json` (CLI.md "Output"). */
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
  };
}

/**
 * A status for a person, like its page on the web: who, the text, when (relative and absolute), from
 * what, what it replies to, and where it lives. Server text is sanitised for the terminal.
 */
export function prettyStatus(s: Status, url: string, style: Style, now: Date): string {
  const t = (x: string) => sanitizeForTerminal(x, true);
  const who = s.user.name && s.user.name !== s.user.screenName ? `${style.name(t(s.user.name))} ` : "";
  const lines = [`${who}${style.accent(`@${t(s.user.screenName)}`)}`, t(s.text)];
  const meta: string[] = [];
  if (s.createdAt) meta.push(`${relativeTime(s.createdAt, now)} (${absoluteTime(s.createdAt)})`);
  if (s.source) meta.push(`via ${t(s.source)}`);
  if (s.inReplyToId) {
    meta.push(
      `in reply to #${s.inReplyToId}${s.inReplyToScreenName ? ` by @${t(s.inReplyToScreenName)}` : ""}`,
    );
  }
  if (meta.length > 0) lines.push(style.dim(meta.join(" · ")));
  lines.push(style.link(url));
  return `${lines.join("\n")}\n`;
}

/** Everything but `pretty`, which needs a style. */
export function plainStatusOutput(
  mode: Exclude<OutputMode, "pretty">,
  s: Status,
  url: string,
  raw: string,
): string {
  switch (mode) {
    case "json":
      return `${JSON.stringify(statusJson(s, url), null, 2)}\n`;
    case "xml":
      return raw.endsWith("\n") ? raw : `${raw}\n`;
    case "id":
      return `${s.id}\n`;
    case "url":
      return `${url}\n`;
    case "none":
      return "";
  }
}

import { jsonForTerminal, sanitizeForTerminal, stringsForTerminal } from "../sanitize.js";
import type { Status } from "../services/service.js";
import type { Style } from "./color.js";
import { type OutputMode, rawReply, statusJson } from "./status.js";
import { relativeTime } from "./time.js";

export interface TimelineView {
  style: Style;
  now: Date;
  /** Terminal width to wrap to; undefined (not a terminal) means no wrapping. */
  width: number | undefined;
  /** Columns a string takes on the terminal: the text is wrapped and the names aligned by it. */
  widthOf: WidthOf;
  urlOf: (s: Status) => string;
}

/**
 * A timeline for reading in a terminal: one block per status, the names aligned in a column, the
 * text wrapped beside it, relative times, and a marker on replies.
 */
export function prettyTimeline(raw: readonly Status[], v: TimelineView): string {
  if (raw.length === 0) return "No statuses.\n";
  // Every server string sanitised up front (the text line by line when it is wrapped below).
  const statuses = raw.map((s) => ({
    ...stringsForTerminal(s),
    lines: s.text.split("\n").map((l) => sanitizeForTerminal(l)),
  }));
  const names = statuses.map((s) => `@${s.user.screenName}`);
  const col = Math.min(20, Math.max(...names.map((n) => v.widthOf(n))));
  const indent = " ".repeat(col + 2);
  const textWidth = v.width === undefined ? undefined : Math.max(20, v.width - col - 2);
  const blocks = statuses.map((s, i) => {
    const name = names[i] as string;
    const pad = " ".repeat(Math.max(0, col - v.widthOf(name)));
    const meta = [s.user.name && s.user.name !== s.user.screenName ? s.user.name : undefined];
    if (s.createdAt) meta.push(relativeTime(s.createdAt, v.now));
    if (s.visibility && s.visibility !== "public") meta.push(s.visibility);
    meta.push(`#${s.id}`);
    const head = `${v.style.accent(name)}${pad}  ${v.style.dim(meta.filter((m) => m !== undefined).join(" · "))}`;
    const lines = s.lines.flatMap((line) => wrap(line, textWidth, v.widthOf));
    const body = lines.map((l) => `${indent}${l}`);
    // A content warning goes before the text it warns about, as the servers' web pages show it.
    if (s.spoilerText) body.unshift(`${indent}${v.style.dim(`CW: ${s.spoilerText}`)}`);
    if (s.inReplyToId) {
      const to = s.inReplyToScreenName ? ` by @${s.inReplyToScreenName}` : "";
      body.push(`${indent}${v.style.dim(`↳ in reply to #${s.inReplyToId}${to}`)}`);
    }
    return [head, ...body].join("\n");
  });
  return `${blocks.join("\n\n")}\n`;
}

/** Columns a string takes on a terminal (string-width: wide CJK and emoji are 2, combining marks 0). */
export type WidthOf = (text: string) => number;

/** Greedy word wrap to `width` terminal columns; words wider than that are cut between graphemes. */
export function wrap(text: string, width: number | undefined, widthOf: WidthOf): string[] {
  if (width === undefined || widthOf(text) <= width) return [text];
  const out: string[] = [];
  let line = "";
  let used = 0;
  for (const word of text.split(/ +/)) {
    let w = word;
    let ww = widthOf(w);
    while (ww > width) {
      if (line !== "") {
        out.push(line);
        line = "";
        used = 0;
      }
      const [head, rest] = cut(w, width, widthOf);
      out.push(head);
      w = rest;
      ww = widthOf(w);
    }
    if (line === "") {
      line = w;
      used = ww;
    } else if (used + 1 + ww <= width) {
      line += ` ${w}`;
      used += 1 + ww;
    } else {
      out.push(line);
      line = w;
      used = ww;
    }
  }
  if (line !== "") out.push(line);
  return out;
}

let graphemes: Intl.Segmenter | undefined;

/** The longest start of `word` that fits in `width` columns (at least one grapheme), and the rest. */
function cut(word: string, width: number, widthOf: WidthOf): [string, string] {
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let used = 0;
  for (const { segment, index } of graphemes.segment(word)) {
    const w = widthOf(segment);
    if (index > 0 && used + w > width) return [word.slice(0, index), word.slice(index)];
    used += w;
  }
  return [word, ""];
}

export function plainTimelineOutput(
  mode: Exclude<OutputMode, "pretty">,
  statuses: readonly Status[],
  urlOf: (s: Status) => string,
  raw: string,
  tty: boolean,
): string {
  switch (mode) {
    case "json":
      return `${jsonForTerminal(
        statuses.map((s) => statusJson(s, urlOf(s))),
        2,
      )}\n`;
    case "xml":
    case "raw":
      return rawReply(raw, tty);
    case "id":
      return statuses.map((s) => `${s.id}\n`).join("");
    case "url":
      return statuses.map((s) => `${urlOf(s)}\n`).join("");
    case "none":
      return "";
  }
}

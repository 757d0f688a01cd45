import { jsonForTerminal, sanitizeForTerminal, stringsForTerminal } from "../sanitize.js";
import type { Profile } from "../services/service.js";
import type { Style } from "./color.js";
import { type OutputMode, rawReply } from "./status.js";
import { relativeTime } from "./time.js";

/** `whoami` for a person: who, where, how many notices, the latest one. */
export function prettyProfile(raw: Profile, rawServer: string, style: Style, now: Date): string {
  const p = stringsForTerminal(raw);
  const server = sanitizeForTerminal(rawServer);
  const lines = [
    `${p.name && p.name !== p.screenName ? `${style.name(p.name)} ` : ""}${style.accent(`@${p.screenName}`)} on ${server}`,
  ];
  if (p.profileUrl) lines.push(style.link(p.profileUrl));
  const facts: string[] = [`user id ${p.id}`];
  if (p.statusesCount !== null) facts.push(`${p.statusesCount} notice${p.statusesCount === 1 ? "" : "s"}`);
  lines.push(style.dim(facts.join(" · ")));
  if (p.latest) {
    const when = p.latest.createdAt ? ` (${relativeTime(p.latest.createdAt, now)})` : "";
    lines.push(`latest: ${p.latest.text}${style.dim(when)}`);
  }
  return `${lines.join("\n")}\n`;
}

export function profileJson(p: Profile, server: string): Record<string, unknown> {
  return {
    id: p.id,
    screenName: p.screenName,
    name: p.name,
    server,
    url: p.profileUrl,
    statusesCount: p.statusesCount,
    latest: p.latest,
  };
}

export function plainProfileOutput(
  mode: Exclude<OutputMode, "pretty">,
  p: Profile,
  server: string,
  raw: string,
  tty: boolean,
): string {
  switch (mode) {
    case "json":
      return `${jsonForTerminal(profileJson(p, server), 2)}\n`;
    case "xml":
    case "raw":
      return rawReply(raw, tty);
    case "id":
      return `${p.id}\n`;
    case "url":
      return p.profileUrl ? `${p.profileUrl}\n` : "";
    case "none":
      return "";
  }
}

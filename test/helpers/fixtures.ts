import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** `curl -sv` transcripts of a real GNU social 2.0.1 server, kept in the repository (INDEX.md lists them). */
export const FIXTURES = fileURLToPath(new URL("../fixtures/gnusocial/", import.meta.url));
/** `curl -sv` transcripts of a real snac2 2.94 server (Mastodon client API); INDEX.md lists them. */
export const SNAC_FIXTURES = fileURLToPath(new URL("../fixtures/snac/", import.meta.url));
/** `curl -sv` transcripts of a real AT Protocol PDS (`@atproto/pds` 0.5.35); INDEX.md lists them. */
export const ATPROTO_FIXTURES = fileURLToPath(new URL("../fixtures/atproto/", import.meta.url));

export interface FixtureReply {
  status: number;
  contentType: string;
  headers: [string, string][];
  body: string;
}

/**
 * The last reply of a `curl -sv` transcript: its status line, headers and body as the real GNU social
 * server sent them.
 */
export function fixtureReply(name: string, dir = FIXTURES): FixtureReply {
  const lines = readFileSync(dir + name, "utf8").split(/\r?\n/);
  const statusAt = lines.findLastIndex((l) => /^< HTTP\/1\.1 \d{3}/.test(l));
  if (statusAt < 0) throw new Error(`no reply in ${name}`);
  const status = Number(/^< HTTP\/1\.1 (\d{3})/.exec(lines[statusAt] as string)?.[1]);
  const headers: [string, string][] = [];
  let i = statusAt + 1;
  for (; i < lines.length && (lines[i] as string).startsWith("< "); i++) {
    const m = /^< ([^:]+):\s*(.*)$/.exec(lines[i] as string);
    if (m) headers.push([(m[1] as string).toLowerCase(), (m[2] as string).replace(/\r$/, "")]);
  }
  while (i < lines.length && /^(<\s*$|\{ \[|\* |\} \[)/.test(lines[i] as string)) i++;
  // snac's transcripts put a "--- response body (N bytes) ---" line before the body.
  const marker = lines.findIndex((l, j) => j >= i && /^--- response body/.test(l));
  if (marker >= 0) i = marker + 1;
  const end = lines.findIndex((l, j) => j >= i && l.startsWith("### http_code"));
  const body = lines
    .slice(i, end < 0 ? undefined : end)
    .join("\n")
    // curl's stderr sometimes lands in the middle of the body in these transcripts.
    .replace(/\* Connection #\d+ to host \S+ left intact\n/g, "")
    .replace(/\n+$/, "");
  const contentType = headers.find(([k]) => k === "content-type")?.[1] ?? "";
  return { status, contentType, headers, body };
}

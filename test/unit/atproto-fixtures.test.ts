import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ATPROTO_FIXTURES, fixtureReply } from "../helpers/fixtures.js";

/**
 * The PDS transcripts put curl's "* Connection #0 … left intact" line between the headers and the
 * body: fixtureReply must still give the body, whole, as the PDS sent it.
 */
const index = readFileSync(`${ATPROTO_FIXTURES}INDEX.md`, "utf8");
const listed = [...index.matchAll(/^- `([^`]+\.txt)` \[(\d{3})\]/gm)].map(
  (m) => [m[1] as string, Number(m[2])] as const,
);

describe("the AT Protocol fixtures", () => {
  it("INDEX.md lists all 37", () => {
    expect(listed).toHaveLength(37);
  });
  it.each(listed)("%s parses: status %i, its JSON body whole", (name, status) => {
    const reply = fixtureReply(name, ATPROTO_FIXTURES);
    expect(reply.status).toBe(status);
    expect(reply.contentType).toBe("application/json; charset=utf-8");
    expect(reply.body).not.toMatch(/Connection #|^[*{}<>] /m);
    // Content-Length is the body's size in bytes: nothing lost, nothing of curl's left in.
    const length = Number(reply.headers.find(([k]) => k === "content-length")?.[1]);
    expect(Buffer.byteLength(reply.body, "utf8")).toBe(length);
    const doc = JSON.parse(reply.body) as Record<string, unknown>;
    if (status >= 400) expect(typeof doc.error).toBe("string");
  });
});

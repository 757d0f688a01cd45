import type { HttpResponse } from "../../src/http/types.js";
import { ATPROTO_FIXTURES, type FixtureReply, fixtureReply, SNAC_FIXTURES } from "./fixtures.js";

/** A reply as the transport hands it over (src/http/types.ts), from its parts. */
export function httpResponse(
  status: number,
  body: string,
  contentType = "application/json; charset=utf-8",
  headers: Record<string, string | string[]> = {},
): HttpResponse {
  return {
    status,
    headers: { "content-type": contentType, ...headers },
    contentType,
    bytes: Buffer.from(body, "utf8"),
    authenticated: true,
  };
}

/** A recorded reply (test/fixtures/…) as the transport would have handed it over. */
export function fixtureResponse(reply: FixtureReply): HttpResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of reply.headers) headers[k] = v;
  return {
    status: reply.status,
    headers,
    contentType: reply.contentType,
    bytes: Buffer.from(reply.body, "utf8"),
    authenticated: true,
  };
}

/** A real snac2 2.94 reply (test/fixtures/snac/, INDEX.md lists them). */
export function snacResponse(name: string): HttpResponse {
  return fixtureResponse(fixtureReply(name, SNAC_FIXTURES));
}

/** A real AT Protocol PDS reply (test/fixtures/atproto/, INDEX.md lists them). */
export function atprotoResponse(name: string): HttpResponse {
  return fixtureResponse(fixtureReply(name, ATPROTO_FIXTURES));
}

import type { Server } from "../config/server.js";
import type { LimitCache } from "../core/limit-cache.js";
import { ApiCache, type ApiName, type Endpoint, endpointFor } from "./api.js";
import { jsonObject, limitsOf } from "./mastodon/instance.js";
import type { ConnectionConfig } from "./options.js";

/**
 * Finds out which API a server speaks, once (docs/cli.md "Two APIs"): `GET <origin>/api/v1/instance`,
 * without credentials, answering a JSON object with `uri` or `domain` means Mastodon; anything else
 * (GNU social's 404 page, a login page, an error) means StatusNet. The answer is remembered, and a
 * Mastodon server's limit from that same document is cached, so a post costs no further lookup. A
 * network failure is thrown as it is (nothing was sent that could post anything: 75).
 */
export async function detectApi(
  server: Server,
  http: ConnectionConfig,
  cacheDir: string,
  limits: LimitCache,
  note: (line: string) => void,
): Promise<Endpoint> {
  const { HttpSession } = await import("../http/client.js");
  const session = new HttpSession(server.origin, http);
  let api: ApiName;
  try {
    const res = await session.send({
      method: "GET",
      url: new URL("/api/v1/instance", server.origin),
      accept: "application/json",
    });
    const doc = jsonObject(res);
    const mastodon = doc !== undefined && (typeof doc.uri === "string" || typeof doc.domain === "string");
    api = mastodon ? "mastodon" : "statusnet";
    const endpoint = endpointFor(server, api);
    if (mastodon) {
      const found = limitsOf(doc);
      await limits.set(endpoint.server, found.maxCharacters ?? 500, found.urlLength ?? 23);
    }
  } finally {
    await session.close();
  }
  await new ApiCache(cacheDir).set(server.spec, api);
  note(
    `* ${server.key} speaks the ${api === "mastodon" ? "Mastodon" : "StatusNet"} API (remembered; --api overrides)`,
  );
  return endpointFor(server, api);
}

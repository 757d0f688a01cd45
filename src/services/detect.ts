import type { Server } from "../config/server.js";
import type { LimitCache } from "../core/limit-cache.js";
import { ExitCode, HttpError } from "../errors.js";
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
  let definite: boolean;
  try {
    const res = await session
      .send({ method: "GET", url: new URL("/api/v1/instance", server.origin), accept: "application/json" })
      .catch((err: unknown) => {
        throw probeFailure(err);
      });
    // A server that is down or throttling says nothing about its API: nothing is decided or posted.
    if (res.status === 429 || res.status >= 500) {
      throw new HttpError(
        ExitCode.TempFail,
        `${server.key} answered ${res.status} when asked which API it speaks; nothing was posted`,
        { status: res.status, sent: true },
        { hint: "safe to retry later, or pass --api statusnet|mastodon" },
      );
    }
    const doc = jsonObject(res);
    const mastodon = doc !== undefined && (typeof doc.uri === "string" || typeof doc.domain === "string");
    api = mastodon ? "mastodon" : "statusnet";
    // A redirect, a refusal or an HTML page is not an answer about the API either (a portal, a login
    // page, an instance that wants a login): taken for StatusNet this once, not remembered. GNU
    // social's own answer is a 404.
    definite =
      mastodon ||
      res.status === 404 ||
      res.status === 410 ||
      res.status === 405 ||
      res.status === 400 ||
      (res.status === 200 && !/html/i.test(res.contentType));
    const endpoint = endpointFor(server, api);
    if (mastodon) {
      const found = limitsOf(doc);
      await limits.set(endpoint.server, found.maxCharacters ?? 500, found.urlLength ?? 23);
    }
  } finally {
    await session.close();
  }
  if (definite) await new ApiCache(cacheDir).set(server.spec, api);
  note(
    `* ${server.key} speaks the ${api === "mastodon" ? "Mastodon" : "StatusNet"} API${definite ? " (remembered; --api overrides)" : " (taken so for this run only)"}`,
  );
  return { ...endpointFor(server, api), ...(definite ? { probed: true } : { definite: false }) };
}

/**
 * The probe is a GET without credentials, sent before the command's own request: however its
 * exchange failed, nothing was posted. A reply to it cut short or never finished is therefore no
 * "outcome unknown" (76, as a read's broken reply is): for the post waiting on it, it is the same as
 * no answer, safe to retry (75). Other failures (a TLS certificate refused: 69) stay as they are.
 */
function probeFailure(err: unknown): unknown {
  if (!(err instanceof HttpError)) return err;
  if (err.exitCode !== ExitCode.Protocol && err.exitCode !== ExitCode.TempFail) return err;
  const what = err.message.replace(/; nothing was (changed|posted)$/, "");
  return new HttpError(
    ExitCode.TempFail,
    `${what} when asked which API it speaks; nothing was posted`,
    { ...err.details, sent: false },
    { hint: "safe to retry later, or pass --api statusnet|mastodon", cause: err },
  );
}

import type { Server } from "../config/server.js";
import type { LimitCache } from "../core/limit-cache.js";
import { ExitCode, HttpError } from "../errors.js";
import type { HttpSession } from "../http/client.js";
import type { HttpResponse } from "../http/types.js";
import { ApiCache, type ApiName, apiTitle, type Endpoint, endpointFor } from "./api.js";
import { ATPROTO_LIMIT } from "./atproto/rules.js";
import { jsonObject, limitsOf } from "./mastodon/instance.js";
import type { ConnectionConfig } from "./options.js";

/**
 * Finds out which API a server speaks, once (docs/cli.md "Two APIs"): `GET <origin>/api/v1/instance`,
 * without credentials, answering a JSON object with `uri` or `domain` means Mastodon; else
 * `GET <origin>/xrpc/com.atproto.server.describeServer` answering one with `did` means the AT Protocol;
 * anything else (GNU social's 404 pages, a login page, an error) means StatusNet. The answer is remembered, and a
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
    if (res.status === 429 || res.status >= 500) throw busy(server, res.status);
    const doc = jsonObject(res);
    const mastodon = doc !== undefined && (typeof doc.uri === "string" || typeof doc.domain === "string");
    // A redirect, a refusal or an HTML page is not an answer about the API either (a portal, a login
    // page, an instance that wants a login): taken for StatusNet this once, not remembered. GNU
    // social's own answer is a 404.
    definite = mastodon || clearAnswer(res);
    if (mastodon) {
      api = "mastodon";
      const found = limitsOf(doc);
      await limits.set(endpointFor(server, api).server, found.maxCharacters ?? 500, found.urlLength ?? 23);
    } else {
      // Not Mastodon: an AT Protocol PDS describes itself at the origin (a JSON object with its `did`);
      // only when it does not either is the server taken for StatusNet.
      const atproto = await askAtproto(session, server);
      api = atproto ? "atproto" : "statusnet";
      definite = atproto === true || (definite && atproto === false);
      // Its limit is the protocol's (300 graphemes), known without asking.
      if (atproto) await limits.set(endpointFor(server, api).server, ATPROTO_LIMIT);
    }
  } finally {
    await session.close();
  }
  if (definite) await new ApiCache(cacheDir).set(server.spec, api);
  note(
    `* ${server.key} speaks the ${apiTitle(api)}${definite ? " (remembered; --api overrides)" : " (taken so for this run only)"}`,
  );
  return { ...endpointFor(server, api), ...(definite ? { probed: true } : { definite: false }) };
}

/** An answer that says something about the API: an error a real server gives, or a non-HTML document. */
function clearAnswer(res: HttpResponse): boolean {
  return (
    res.status === 404 ||
    res.status === 410 ||
    res.status === 405 ||
    res.status === 400 ||
    (res.status === 200 && !/html/i.test(res.contentType))
  );
}

/**
 * The second question, on the same connection: `GET /xrpc/com.atproto.server.describeServer`. True for
 * an AT Protocol PDS (a JSON object with its `did`), false for a clear "no" (GNU social's 404 page),
 * undefined for no answer about it (a redirect, a login page). A 429 or 5xx is thrown as for the
 * first question: nothing is decided, nothing posted.
 */
async function askAtproto(session: HttpSession, server: Server): Promise<boolean | undefined> {
  const res = await session
    .send({
      method: "GET",
      url: new URL("/xrpc/com.atproto.server.describeServer", server.origin),
      accept: "application/json",
    })
    .catch((err: unknown) => {
      throw probeFailure(err);
    });
  if (res.status === 429 || res.status >= 500) throw busy(server, res.status);
  const doc = jsonObject(res);
  if (doc !== undefined && typeof doc.did === "string" && doc.did.startsWith("did:")) return true;
  return clearAnswer(res) ? false : undefined;
}

function busy(server: Server, status: number): HttpError {
  return new HttpError(
    ExitCode.TempFail,
    `${server.key} answered ${status} when asked which API it speaks; nothing was posted`,
    { status, sent: true },
    { hint: "safe to retry later, or pass --api statusnet|mastodon|atproto" },
  );
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
    { hint: "safe to retry later, or pass --api statusnet|mastodon|atproto", cause: err },
  );
}

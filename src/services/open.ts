import type { ServiceOptions } from "./options.js";

export type { ServiceOptions };

import type { Server } from "../config/server.js";
import type { ApiName } from "./api.js";
import { describeRecord } from "./atproto/dry-run.js";
import { atprotoRules } from "./atproto/rules.js";
import { describeStatus } from "./mastodon/forms.js";
import { mastodonRules } from "./mastodon/rules.js";
import type { PostParams, Service, ServiceRules } from "./service.js";
import { withStatusNet } from "./statusnet/connect.js";
import { describeUpdate } from "./statusnet/dry-run.js";
import { STATUSNET_RULES } from "./statusnet/rules.js";
import { FileSpaces, type ProtectionSpaces } from "./statusnet/spaces.js";

/**
 * Opens the server's service on one connection, runs `fn` with it, and closes it. The one place that
 * picks an API's implementation (services/api.ts and detect.ts find out which one a server speaks).
 */
export async function withService<T>(opts: ServiceOptions, fn: (svc: Service) => Promise<T>): Promise<T> {
  if (opts.api === "mastodon") {
    const { withMastodon } = await import("./mastodon/connect.js");
    return withMastodon(opts, fn);
  }
  if (opts.api === "atproto") {
    const { withAtproto } = await import("./atproto/connect.js");
    return withAtproto(opts, fn);
  }
  return withStatusNet(opts, fn);
}

/** The rules of the API that need no connection (status ids, how a text is counted). */
export function rulesFor(api: ApiName | undefined, urlLength?: number): ServiceRules {
  return api === "mastodon" ? mastodonRules(urlLength) : api === "atproto" ? atprotoRules : STATUSNET_RULES;
}

/** `--dry-run`: the request that would post this status, with the credential shown only as redacted. */
export function describePost(req: PostParams & Omit<ServiceOptions, "credential">): string {
  return req.api === "mastodon"
    ? describeStatus(req)
    : req.api === "atproto"
      ? describeRecord(req)
      : describeUpdate(req);
}

/**
 * Protection spaces remembered from earlier runs (kept in the cache dir), so that a known one gets its
 * credential at once instead of after a 401.
 */
export function knownSpaces(cacheDir: string, apiRoot: URL, now: () => Date): ProtectionSpaces {
  return new FileSpaces(cacheDir, apiRoot, now);
}

export type { Server };

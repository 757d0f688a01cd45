import type { Server } from "../config/server.js";
import type { ServiceOptions } from "./options.js";

export type { ServiceOptions };

import type { PostParams, Service, ServiceRules } from "./service.js";
import { withStatusNet } from "./statusnet/connect.js";
import { describeUpdate } from "./statusnet/dry-run.js";
import { STATUSNET_RULES } from "./statusnet/rules.js";
import { FileSpaces, type ProtectionSpaces } from "./statusnet/spaces.js";

/**
 * Opens the server's service on one connection, runs `fn` with it, and closes it. The one place that
 * picks an API: StatusNet is the only one so far (docs/cli.md "Two APIs" says how a second is chosen).
 */
export function withService<T>(opts: ServiceOptions, fn: (svc: Service) => Promise<T>): Promise<T> {
  return withStatusNet(opts, fn);
}

/** The rules of the server's API that need no connection (status ids, how a text is counted). */
export function rulesFor(_server: Server): ServiceRules {
  return STATUSNET_RULES;
}

/** `--dry-run`: the request that would post this status, with the credential shown only as redacted. */
export function describePost(req: PostParams & Omit<ServiceOptions, "credential">): string {
  return describeUpdate(req);
}

/**
 * Protection spaces remembered from earlier runs (kept in the cache dir), so that a known one gets its
 * credential at once instead of after a 401.
 */
export function knownSpaces(cacheDir: string, apiRoot: URL, now: () => Date): ProtectionSpaces {
  return new FileSpaces(cacheDir, apiRoot, now);
}

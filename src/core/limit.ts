import type { Service } from "../services/service.js";
import type { LimitCache } from "./limit-cache.js";

/**
 * The limit for this server: the cached one, else the service's (on the already open connection;
 * then cached). Undefined when the server cannot say; the post then goes ahead and the server decides.
 */
export async function serverLimit(
  svc: Service,
  cache: LimitCache,
  note: (line: string) => void,
): Promise<number | undefined> {
  const entry = await cache.entry(svc.server);
  const cached = entry?.textlimit;
  if (entry?.urlLength !== undefined) svc.useUrlLength?.(entry.urlLength);
  if (cached !== undefined) {
    note(`* text limit of ${svc.server.key}: ${cached || "none"} (cached)`);
    return cached;
  }
  try {
    const limit = await svc.textLimit();
    if (limit !== undefined) await cache.set(svc.server, limit, svc.urlLength);
    note(`* text limit of ${svc.server.key}: ${limit === undefined ? "unknown" : limit || "none"}`);
    return limit;
  } catch (err) {
    note(`* could not read the text limit of ${svc.server.key}: ${(err as Error).message}; posting anyway`);
    return undefined;
  }
}

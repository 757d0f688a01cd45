import { fetchTextLimit } from "../api/server-config.js";
import type { Api } from "../api/update.js";
import type { LimitCache } from "./limit-cache.js";

/**
 * The limit for this server: the cached one, else `statusnet/config` on the already open connection
 * (then cached). Undefined when the server cannot say; the post then goes ahead and the server decides.
 */
export async function serverLimit(
  api: Api,
  cache: LimitCache,
  note: (line: string) => void,
): Promise<number | undefined> {
  const cached = await cache.get(api.server);
  if (cached !== undefined) {
    note(`* text limit of ${api.server.key}: ${cached || "none"} (cached)`);
    return cached;
  }
  try {
    const limit = await fetchTextLimit(api);
    if (limit !== undefined) await cache.set(api.server, limit);
    note(`* text limit of ${api.server.key}: ${limit === undefined ? "unknown" : limit || "none"}`);
    return limit;
  } catch (err) {
    note(`* could not read the text limit of ${api.server.key}: ${(err as Error).message}; posting anyway`);
    return undefined;
  }
}

import type { Server } from "../../config/server.js";

/** `<api root>/<path>.<format>`, with an optional query. */
export function endpointUrl(server: Server, path: string, query?: Record<string, string>): URL {
  const url = new URL(`${server.root}/${path}`);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  return url;
}

export function noticeUrl(server: Server, id: string): string {
  return `${server.webRoot}/notice/${id}`;
}

import { ACCEPT } from "./forms.js";
import { parseSuccess } from "./reply.js";
import type { Api } from "./update.js";
import { endpointUrl } from "./urls.js";

/**
 * The server's length limit from `statusnet/config` (docs/statusnet-api.md §3.1): `notice/contentlimit` when set,
 * else `site/textlimit`; `0`, `false` or empty mean no limit (returned as 0). Needs no login.
 * Returns undefined when the server does not say (an error reply, an unreadable document).
 */
export async function fetchTextLimit(api: Api): Promise<number | undefined> {
  const url = endpointUrl(api.server, `statusnet/config.${api.format}`);
  const res = await api.session.send({
    method: "GET",
    url,
    accept: ACCEPT[api.format],
    credential: undefined,
    // A nicety: at most 5 s, and never more than a third of the run's --timeout, so a server that
    // does not answer it leaves the post the rest.
    timeoutMs: Math.min(5000, Math.round(api.session.timeoutMs / 3)),
  });
  if (res.status !== 200) return undefined;
  const doc = parseSuccess(res, api.format, url.host, true).doc as Record<string, unknown>;
  const cfg = (api.format === "xml" ? doc.config : doc) as
    | Record<string, Record<string, unknown> | undefined>
    | undefined;
  if (!cfg || typeof cfg !== "object") return undefined;
  const content = limitValue(cfg.notice?.contentlimit);
  if (content !== undefined && content !== "unset") return content;
  const text = limitValue(cfg.site?.textlimit);
  return text === "unset" ? 0 : text;
}

/** A limit as written by the server: a number, `false`/`0`/empty (no limit), or unset. */
function limitValue(v: unknown): number | "unset" | undefined {
  if (v === undefined || v === null || v === "") return "unset";
  if (v === false || v === "false" || v === 0 || v === "0") return 0;
  const n = typeof v === "number" ? v : Number(String(v).trim());
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

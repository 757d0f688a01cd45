import type { StatusReply, TimelineKind, TimelineQuery, TimelineReply } from "../service.js";
import { ACCEPT } from "./forms.js";
import { errorForStatus, parseSuccess, unknownOutcome } from "./reply.js";
import { toStatus } from "./status.js";
import { type Api, statusOf } from "./update.js";
import { endpointUrl } from "./urls.js";

/** `GET statuses/show/ID.{xml,json}` (docs/statusnet-api.md §3.4): 404 unknown, 410 deleted, both exit 65. */
export async function showStatus(api: Api, id: string): Promise<StatusReply> {
  const url = endpointUrl(api.server, `statuses/show/${id}.${api.format}`);
  const res = await api.session.send({
    method: "GET",
    url,
    accept: ACCEPT[api.format],
    credential: api.credential,
  });
  if (res.status < 200 || res.status >= 300) throw errorForStatus(res, url.host, `show status ${id}`);
  const reply = parseSuccess(res, api.format, url.host, true);
  return { status: statusOf(reply, api.format, res.status, url.host, true), reply };
}

/**
 * `POST statuses/destroy/ID.{xml,json}` (docs/statusnet-api.md §3.5): the reply is the deleted status; someone
 * else's is 403 (77), an unknown or already deleted one 404 (65).
 */
export async function destroyStatus(api: Api, id: string): Promise<StatusReply> {
  const url = endpointUrl(api.server, `statuses/destroy/${id}.${api.format}`);
  const res = await api.session.send({
    method: "POST",
    url,
    form: "",
    accept: ACCEPT[api.format],
    credential: api.credential,
    writesOnlyWhenAuthenticated: true,
    deletes: true,
  });
  if (res.status < 200 || res.status >= 300) throw errorForStatus(res, url.host, `delete status ${id}`);
  const reply = parseSuccess(res, api.format, url.host, "delete");
  return { status: statusOf(reply, api.format, res.status, url.host, "delete"), reply };
}

const TIMELINE_PATHS: Record<TimelineKind, string> = {
  home: "statuses/home_timeline",
  user: "statuses/user_timeline",
  mentions: "statuses/mentions",
  public: "statuses/public_timeline",
};

/**
 * The timelines (docs/statusnet-api.md §3.6): `public` and `user` with a screen_name need no login on a public site,
 * the others do; the request goes without credentials and answers a challenge as a post does.
 */
export async function timeline(api: Api, q: TimelineQuery): Promise<TimelineReply> {
  const query: Record<string, string> = {};
  if (q.count !== undefined) query.count = String(q.count);
  if (q.sinceId !== undefined) query.since_id = q.sinceId;
  if (q.maxId !== undefined) query.max_id = q.maxId;
  if (q.kind === "user" && q.of !== undefined) query.screen_name = q.of;
  const url = endpointUrl(api.server, `${TIMELINE_PATHS[q.kind]}.${api.format}`, query);
  const res = await api.session.send({
    method: "GET",
    url,
    accept: ACCEPT[api.format],
    credential: api.credential,
  });
  if (res.status < 200 || res.status >= 300)
    throw errorForStatus(res, url.host, `read the ${q.kind} timeline`);
  const reply = parseSuccess(res, api.format, url.host, true);
  const doc = reply.doc as Record<string, unknown>;
  let raw: unknown;
  if (api.format === "json") {
    raw = doc;
  } else {
    const root = doc.statuses as Record<string, unknown> | string | undefined;
    // An empty timeline is `<statuses type="array"/>`: an empty string or an object without <status>.
    raw = root === undefined ? undefined : typeof root === "object" ? (root.status ?? []) : [];
  }
  if (!Array.isArray(raw))
    throw unknownOutcome("the reply is not a list of statuses", res.status, url.host, true);
  try {
    const serverNow = Date.parse(String(res.headers.date ?? ""));
    const clockSkewMs = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();
    return { statuses: raw.map(toStatus), text: reply.text, clockSkewMs };
  } catch (err) {
    throw unknownOutcome((err as Error).message, res.status, url.host, true);
  }
}

import type { Profile, ProfileReply } from "../service.js";
import { ACCEPT } from "./forms.js";
import { errorForStatus, parseSuccess, unknownOutcome } from "./reply.js";
import { toStatus } from "./status.js";
import type { Api } from "./update.js";
import { endpointUrl } from "./urls.js";

/**
 * `GET account/verify_credentials.{xml,json}` (docs/statusnet-api.md §3.3): always needs authentication, so it goes
 * through the same challenge and single retry as a post.
 */
export async function verifyCredentials(api: Api): Promise<ProfileReply> {
  const url = endpointUrl(api.server, `account/verify_credentials.${api.format}`);
  const res = await api.session.send({
    method: "GET",
    url,
    accept: ACCEPT[api.format],
    credential: api.credential,
  });
  if (res.status < 200 || res.status >= 300) throw errorForStatus(res, url.host, "verify the credentials");
  const reply = parseSuccess(res, api.format, url.host, true);
  const doc = reply.doc as Record<string, unknown>;
  const raw = (api.format === "xml" ? doc.user : doc) as Record<string, unknown> | undefined;
  const id = raw && typeof raw === "object" ? String(raw.id ?? "") : "";
  const screenName = raw && typeof raw === "object" ? String(raw.screen_name ?? "") : "";
  if (!raw || !/^\d+$/.test(id) || screenName === "") {
    throw unknownOutcome(
      "the reply is not a <user> with an id and a screen_name",
      res.status,
      url.host,
      true,
    );
  }
  let latest: Profile["latest"] = null;
  if (raw.status && typeof raw.status === "object") {
    try {
      const s = toStatus(raw.status);
      latest = { id: s.id, text: s.text, createdAt: s.createdAt };
    } catch {
      latest = null;
    }
  }
  const count = Number(raw.statuses_count);
  const profileUrl = raw["statusnet:profile_url"] ?? raw.statusnet_profile_url;
  return {
    profile: {
      id,
      screenName,
      name: typeof raw.name === "string" ? raw.name : String(raw.name ?? ""),
      profileUrl: webUrl(profileUrl),
      statusesCount: Number.isFinite(count) ? count : null,
      latest,
    },
    reply,
  };
}

/**
 * The profile page as a normalised http(s) URL (the URL parser percent-encodes control and format
 * characters, so `whoami -o url` prints something a terminal and a browser both take as a URL), or null.
 */
function webUrl(v: unknown): string | null {
  if (typeof v !== "string" || v === "") return null;
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

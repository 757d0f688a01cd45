import type { Server } from "../../config/server.js";
import type { WireFormat } from "./reply.js";
import { endpointUrl } from "./urls.js";

/** Request building for `statuses/update`, apart from reply parsing so `--dry-run` loads no parser. */
export interface UpdateParams {
  text: string;
  source: string;
  replyTo?: string | undefined;
}

export const ACCEPT: Record<WireFormat, string> = { xml: "application/xml", json: "application/json" };

/** The form body of `statuses/update`, built once (docs/statusnet-api.md §2.1): plain text, never HTML-escaped. */
export function updateForm(p: UpdateParams): string {
  const form = new URLSearchParams({ status: p.text, source: p.source });
  if (p.replyTo !== undefined) form.set("in_reply_to_status_id", p.replyTo);
  return form.toString();
}

export function updateUrl(server: Server, format: WireFormat): URL {
  return endpointUrl(server, `statuses/update.${format}`);
}

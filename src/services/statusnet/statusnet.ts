import type { SecretKind } from "../../credentials/store.js";
import type { Service, Since, TimelineQuery } from "../service.js";
import { verifyCredentials } from "./account.js";
import { findPosted, postUpdate } from "./post.js";
import { STATUSNET_RULES } from "./rules.js";
import { fetchTextLimit } from "./server-config.js";
import { destroyStatus, showStatus, timeline } from "./statuses.js";
import type { Api } from "./update.js";
import { noticeUrl } from "./urls.js";

/** StatusNet takes a password (HTTP Basic), never a token. */
export const STATUSNET_SECRET: SecretKind = "password";

/** The StatusNet / GNU social API (docs/statusnet-api.md) on one open connection. */
export class StatusNet implements Service {
  readonly secret = STATUSNET_SECRET;
  readonly api = "statusnet" as const;
  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  get server() {
    return this.#api.server;
  }

  newDeadline(): void {
    this.#api.session.newDeadline();
  }

  statusId(id: string, option?: string): string {
    return STATUSNET_RULES.statusId(id, option);
  }

  textLength(text: string): number {
    return STATUSNET_RULES.textLength(text);
  }

  statusUrl(status: { id: string }): string {
    return noticeUrl(this.server, status.id);
  }

  textLimit() {
    return fetchTextLimit(this.#api);
  }

  post(p: Parameters<Service["post"]>[0]) {
    return postUpdate(this.#api, p);
  }

  findMine(user: string, text: string, since: Since | undefined) {
    return findPosted(this.#api, user, text, since);
  }

  show(id: string) {
    return showStatus(this.#api, this.statusId(id));
  }

  delete(id: string) {
    return destroyStatus(this.#api, this.statusId(id));
  }

  timeline(q: TimelineQuery) {
    return timeline(this.#api, q);
  }

  whoami() {
    return verifyCredentials(this.#api);
  }
}

import type { Server } from "../../config/server.js";
import { checkLength } from "../../core/limit-cache.js";
import { ExitCode, HttpError, UsageError } from "../../errors.js";
import type { HttpResponse } from "../../http/client.js";
import { oneLine } from "../../sanitize.js";
import type {
  PostParams,
  ProfileReply,
  Service,
  Since,
  Status,
  StatusReply,
  TimelineQuery,
  TimelineReply,
} from "../service.js";
import { unknownOutcome } from "../statusnet/reply.js";
import { ReplyFormatError } from "../statusnet/xml.js";
import { createdToStatus, feedToStatuses, notificationsToStatuses, recordToStatus } from "./entities.js";
import { atprotoError, xrpcErrorBody } from "./errors.js";
import { facetsJson, findFacets } from "./facets.js";
import { bskyUrl, type PostRef, parsePostRef, repoOf, rkeyOf } from "./refs.js";
import { ATPROTO_LIMIT, atprotoRules } from "./rules.js";
import { type AtSession, jsonBody, type XrpcCall, type XrpcSession } from "./session.js";
import { isTid, newTid } from "./tid.js";

export const POST_COLLECTION = "app.bsky.feed.post";

/** How far back `findMine` looks at most: as far as the other APIs' checks do. */
const MAX_SCAN = 2000;
const PAGE = 100;
const DEFAULT_COUNT = 20;
/** Bluesky's "Discover" feed: what `timeline public` shows through an AppView that has it. */
const DISCOVER = "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/whats-hot";

interface Created {
  uri: string;
  cid: string;
}

/**
 * The AT Protocol (Bluesky, self-hosted PDSes; docs/atproto.md) on one open connection to the
 * account's PDS. A status is an `app.bsky.feed.post` record in the account's repository; its id is the
 * record's `at://` URI. Every post chooses its record key (a TID) itself and keeps it for every retry:
 * a PDS refuses a second record under the same key, so a retry can never make a second copy, and
 * `getRecord` with that key tells whether an attempt whose outcome was unknown went through.
 */
export class Atproto implements Service {
  readonly secret = "password" as const;
  readonly api = "atproto" as const;
  readonly server: Server;
  readonly #xrpc: XrpcSession;
  readonly #note: ((line: string) => void) | undefined;
  /** The PDS's host[:port], as messages name it. */
  readonly #host: string;

  constructor(server: Server, xrpc: XrpcSession, note?: (line: string) => void) {
    this.server = server;
    this.#xrpc = xrpc;
    this.#note = note;
    this.#host = new URL(xrpc.origin).host;
  }

  newDeadline(): void {
    this.#xrpc.newDeadline();
  }

  statusId(id: string, option?: string): string {
    return atprotoRules.statusId(id, option);
  }

  textLength(text: string): number {
    return atprotoRules.textLength(text);
  }

  statusUrl(status: Status): string {
    return status.url ?? bskyUrl(repoOf(status.id), rkeyOf(status.id));
  }

  /** The protocol's own limit: nothing to ask. */
  async textLimit(): Promise<number> {
    return ATPROTO_LIMIT;
  }

  async post(p: PostParams): Promise<StatusReply> {
    if (p.visibility !== undefined && p.visibility !== "public")
      throw new UsageError(
        `--visibility ${p.visibility}: every AT Protocol post is public; nothing was sent`,
      );
    if (p.spoilerText !== undefined)
      throw new UsageError("--cw: the AT Protocol has no content warnings; nothing was sent");
    const ref = p.replyTo === undefined ? undefined : parsePostRef(p.replyTo, "--reply-to");
    // The protocol's own limit, whatever --max-length said: a PDS refuses more (docs/atproto.md).
    checkLength(p.text, ATPROTO_LIMIT, "the AT Protocol's", (t) => atprotoRules.textLength(t));
    const session = await this.#xrpc.session();
    const key = p.idempotencyKey?.split(",")[0];
    const rkey = key !== undefined && isTid(key) ? key : newTid();
    const reply = ref === undefined ? undefined : await this.#replyRefs(ref, session);
    const facets = await this.#facets(p.text);
    const record = {
      $type: POST_COLLECTION,
      text: p.text,
      createdAt: new Date().toISOString(),
      ...(p.language === undefined ? {} : { langs: [p.language.replace(/_/g, "-")] }),
      ...(facets.length === 0 ? {} : { facets }),
      ...(reply === undefined ? {} : { reply }),
    };
    const host = this.#host;
    let res: HttpResponse;
    try {
      ({ res } = await this.#xrpc.call({
        method: "POST",
        nsid: "com.atproto.repo.createRecord",
        auth: true,
        bodyFor: (s) => ({ repo: s.did, collection: POST_COLLECTION, rkey, record }),
      }));
    } catch (err) {
      // No reply, or half of one: the record may be there. Its key says for sure.
      if (err instanceof HttpError && err.exitCode === ExitCode.Protocol) {
        const there = await this.#lookUp(session, rkey).catch(() => undefined);
        if (there !== undefined) return there;
      }
      throw err;
    }
    if (res.status !== 200) {
      const err = atprotoError(res, { host, what: "post the status", endpoint: "post", tokenSent: true });
      // A reused key is refused with a bare 500 (docs/atproto.md): a retry of a status that was made
      // after all. A 502/504 may hide one made behind the gateway. getRecord tells.
      if (res.status >= 500) {
        const there = await this.#lookUp(session, rkey).catch(() => undefined);
        if (there !== undefined) {
          this.#note?.(`* the record ${rkey} was already there; not posting again`);
          return there;
        }
      }
      throw err;
    }
    const created = this.#created(res, host);
    return {
      status: createdToStatus(created, record, { did: session.did, handle: session.handle }),
      reply: { text: res.bytes.toString("utf8") },
    };
  }

  /**
   * An earlier copy: by its record key when the status has one (`key`, an uncertain outbox entry's), which
   * no other status can have; else (`--if-absent`) among the account's recent posts, by text.
   */
  async findMine(
    _user: string,
    text: string,
    since: Since | undefined,
    _visibility?: string,
    key?: string,
  ): Promise<StatusReply | undefined> {
    const session = await this.#xrpc.session();
    // An entry whose text was edited carries its first key too (`<rkey>,<first rkey>`): a record under
    // either is the status, posted (with the text it had then); none is posted a second time.
    const keys = (key ?? "").split(",").filter(isTid);
    for (const k of keys) {
      const there = await this.#lookUp(session, k);
      if (there !== undefined) {
        if (k !== keys[0])
          this.#note?.(`* the first attempt, before the text was edited, was posted as ${there.status.id}`);
        return there;
      }
    }
    if (keys.length > 0 && since !== undefined) return undefined;
    const want = text.trim();
    const after = since === undefined ? undefined : since.at.getTime() - 5 * 60_000;
    let cursor: string | undefined;
    let seen = 0;
    while (seen < MAX_SCAN) {
      const page = await this.#listRecords(session.did, PAGE, cursor, "read the account's posts");
      for (const r of page.records) {
        const status = wellFormed(() => recordToStatus(r, { did: session.did, handle: session.handle }));
        if (status === undefined) continue;
        if (status.text.trim() === want) return { status, reply: { text: JSON.stringify(r) } };
        seen++;
        // createdAt is the client's clock: an old record ends the search, with a leeway for skew.
        if (after !== undefined && status.createdAt !== null && Date.parse(status.createdAt) < after)
          return undefined;
      }
      if (page.cursor === undefined || page.records.length === 0) return undefined;
      cursor = page.cursor;
    }
    throw new HttpError(
      ExitCode.Protocol,
      `looked through ${MAX_SCAN} of the account's posts without reaching the time of the first attempt; nothing was posted`,
      { sent: false },
      { hint: "see whether it was posted, then remove the entry or send it with: identica outbox send" },
    );
  }

  async show(id: string): Promise<StatusReply> {
    const ref = parsePostRef(id);
    const session = await this.#xrpc.session();
    return this.#getPost(ref, session, "show the status");
  }

  async delete(id: string): Promise<StatusReply> {
    const ref = parsePostRef(id);
    const session = await this.#xrpc.session();
    if (ref.repo !== undefined && !isOwn(ref.repo, session)) {
      throw new UsageError(
        `${oneLine(ref.repo, 60)} is another account's repository: only your own posts can be deleted`,
      );
    }
    // deleteRecord succeeds for a key that holds nothing: the record is read first, so a wrong id is
    // 65 and the deleted status can be shown.
    const found = await this.#getPost({ rkey: ref.rkey }, session, "delete the status");
    const host = this.#host;
    const { res } = await this.#xrpc.call({
      method: "POST",
      nsid: "com.atproto.repo.deleteRecord",
      auth: true,
      deletes: true,
      bodyFor: (s) => ({ repo: s.did, collection: POST_COLLECTION, rkey: ref.rkey }),
    });
    if (res.status !== 200)
      throw atprotoError(res, { host, what: "delete the status", endpoint: "delete", tokenSent: true });
    return found;
  }

  async timeline(q: TimelineQuery): Promise<TimelineReply> {
    const count = Math.min(q.count ?? DEFAULT_COUNT, PAGE);
    const session = await this.#xrpc.session();
    if (q.kind === "user") {
      const of = q.of?.replace(/^@/, "");
      const repo = of ?? session.did;
      const author = of === undefined || isOwn(of, session) ? session : { did: "", handle: of };
      const cursor = q.maxId === undefined ? undefined : parsePostRef(q.maxId, "--max-id").rkey;
      const page = await this.#listRecords(repo, count, cursor, "read the posts");
      const since = q.sinceId === undefined ? undefined : parsePostRef(q.sinceId, "--since-id").rkey;
      const statuses = page.records
        .map((r) =>
          wellFormed(() =>
            recordToStatus(r, { did: author.did || repoOf(recordUri(r)), handle: author.handle }),
          ),
        )
        .filter((s): s is Status => s !== undefined && (since === undefined || rkeyOf(s.id) > since));
      return { statuses, text: page.text, clockSkewMs: 0 };
    }
    const [nsid, query, read] =
      q.kind === "home"
        ? (["app.bsky.feed.getTimeline", {}, feedToStatuses] as const)
        : q.kind === "public"
          ? (["app.bsky.feed.getFeed", { feed: DISCOVER }, feedToStatuses] as const)
          : (["app.bsky.notification.listNotifications", {}, notificationsToStatuses] as const);
    const res = await this.#read(
      {
        method: "GET",
        nsid,
        auth: true,
        query: { ...query, limit: String(count) },
      },
      `read the ${q.kind} timeline`,
    );
    const text = res.bytes.toString("utf8");
    const statuses = asRead(() => read(parseJson(res, this.#host)), res);
    return { statuses, text, clockSkewMs: 0 };
  }

  async whoami(): Promise<ProfileReply> {
    const session = await this.#xrpc.session();
    const res = await this.#read(
      { method: "GET", nsid: "com.atproto.server.getSession", auth: true },
      "read the session",
    );
    const body = parseJson(res, this.#host) as { did?: unknown; handle?: unknown };
    const handle = typeof body?.handle === "string" ? body.handle : session.handle;
    return {
      profile: {
        id: typeof body?.did === "string" ? body.did : session.did,
        screenName: handle,
        name: handle,
        profileUrl: `https://bsky.app/profile/${encodeURIComponent(handle)}`,
        statusesCount: null,
        latest: null,
      },
      reply: { text: res.bytes.toString("utf8") },
    };
  }

  /** The record under this key in the account's repository, or undefined when there is none. */
  async #lookUp(session: AtSession, rkey: string): Promise<StatusReply | undefined> {
    const { res } = await this.#xrpc.call({
      method: "GET",
      nsid: "com.atproto.repo.getRecord",
      auth: false,
      query: { repo: session.did, collection: POST_COLLECTION, rkey },
    });
    if (res.status === 400 && xrpcErrorBody(res).error === "RecordNotFound") return undefined;
    if (res.status !== 200) {
      const host = this.#host;
      throw atprotoError(res, { host, what: "look the post up", endpoint: "read", tokenSent: false });
    }
    const body = parseJson(res, this.#host);
    const status = asRead(() => recordToStatus(body, { did: session.did, handle: session.handle }), res);
    return { status, reply: { text: res.bytes.toString("utf8") } };
  }

  async #getPost(ref: PostRef, session: AtSession, what: string): Promise<StatusReply> {
    const repo = ref.repo ?? session.did;
    const res = await this.#read(
      {
        method: "GET",
        nsid: "com.atproto.repo.getRecord",
        auth: false,
        query: { repo, collection: POST_COLLECTION, rkey: ref.rkey },
      },
      what,
    );
    const body = parseJson(res, this.#host);
    const status = asRead(() => {
      const uri = recordUri(body);
      const own = isOwn(repoOf(uri), session) || isOwn(repo, session);
      const author = own
        ? { did: session.did, handle: session.handle }
        : { did: repoOf(uri), handle: repo.startsWith("did:") ? repoOf(uri) : repo };
      const found = recordToStatus(body, author);
      // The record asked for, not another: a reply's refs and a delete's report come from it.
      if (rkeyOf(found.id) !== ref.rkey) throw new ReplyFormatError(`a record other than ${ref.rkey}`);
      return found;
    }, res);
    return { status, reply: { text: res.bytes.toString("utf8") } };
  }

  /** A reply's `parent` and `root`: the parent's own refs, and its root (or the parent, when it starts the thread). */
  async #replyRefs(ref: PostRef, session: AtSession) {
    const { status, reply } = await this.#getPost(ref, session, "read the post replied to");
    const body = JSON.parse(reply.text) as {
      value?: { reply?: { root?: { uri?: unknown; cid?: unknown } } };
    };
    const parent = { uri: status.id, cid: status.cid ?? "" };
    const r = body.value?.reply?.root;
    const root =
      typeof r?.uri === "string" && typeof r?.cid === "string" ? { uri: r.uri, cid: r.cid } : parent;
    return { root, parent };
  }

  /** Links and the mentions whose handle resolves: one `resolveHandle` per handle. */
  async #facets(text: string): Promise<object[]> {
    const found = findFacets(text);
    const dids = new Map<string, string>();
    for (const handle of new Set(found.mentions.map((m) => m.handle))) {
      const res = await this.#xrpc.call({
        method: "GET",
        nsid: "com.atproto.identity.resolveHandle",
        auth: false,
        query: { handle },
      });
      const did = res.res.status === 200 ? (jsonBody(res.res) as { did?: unknown })?.did : undefined;
      if (typeof did === "string" && did.startsWith("did:")) dids.set(handle, did);
      else if (res.res.status === 400) this.#note?.(`* @${handle} does not resolve: left as plain text`);
      else
        throw atprotoError(res.res, {
          host: this.#host,
          what: `resolve @${handle}`,
          endpoint: "read",
          tokenSent: false,
        });
    }
    return facetsJson(found, dids);
  }

  async #listRecords(repo: string, limit: number, cursor: string | undefined, what: string) {
    const res = await this.#read(
      {
        method: "GET",
        nsid: "com.atproto.repo.listRecords",
        auth: false,
        query: { repo, collection: POST_COLLECTION, limit: String(limit), cursor },
      },
      what,
    );
    const body = parseJson(res, this.#host) as { records?: unknown; cursor?: unknown };
    if (!Array.isArray(body?.records))
      throw unknownOutcome("its reply lists no records", res.status, this.#host, true);
    return {
      records: body.records as unknown[],
      cursor: typeof body.cursor === "string" && body.cursor !== "" ? body.cursor : undefined,
      text: res.bytes.toString("utf8"),
    };
  }

  /** A call that changes nothing; any status but 200 is its error. */
  async #read(c: XrpcCall, what: string): Promise<HttpResponse> {
    const { res, tokenSent } = await this.#xrpc.call(c);
    if (res.status === 200) return res;
    const host = this.#host;
    const err = atprotoError(res, { host, what, endpoint: "read", tokenSent });
    const said = xrpcErrorBody(res);
    if (res.status === 400 && /^No service configured/i.test(said.message ?? "")) {
      throw new HttpError(
        ExitCode.Unavailable,
        `${host} has no AppView to ${what} from (a PDS without one serves only its own records)`,
        err.details,
        { hint: "identica timeline user reads your own posts from the PDS itself" },
      );
    }
    throw err;
  }

  #created(res: HttpResponse, host: string): Created {
    let body: unknown;
    try {
      body = JSON.parse(res.bytes.toString("utf8"));
    } catch {
      throw unknownOutcome("its reply is not JSON", res.status, host);
    }
    const { uri, cid } = (body ?? {}) as { uri?: unknown; cid?: unknown };
    if (typeof uri !== "string" || !uri.startsWith("at://") || typeof cid !== "string")
      throw unknownOutcome("its reply names no record", res.status, host);
    return { uri, cid };
  }
}

/** A record that is not a well-formed post (any string is allowed in a repository): left out of a list. */
function wellFormed(make: () => Status): Status | undefined {
  try {
    return make();
  } catch (err) {
    if (err instanceof ReplyFormatError) return undefined;
    throw err;
  }
}

/** A 200 to a read whose body is not what was asked for: 76 in one line, nothing was changed. */
function asRead<T>(make: () => T, res: HttpResponse): T {
  try {
    return make();
  } catch (err) {
    if (!(err instanceof ReplyFormatError)) throw err;
    throw unknownOutcome(
      `its reply is not a well-formed post (${oneLine(err.message, 80)})`,
      res.status,
      "the server",
      true,
    );
  }
}

function isOwn(repo: string, session: AtSession): boolean {
  return repo === session.did || repo.toLowerCase() === session.handle.toLowerCase();
}

function recordUri(r: unknown): string {
  const uri = (r as { uri?: unknown } | null)?.uri;
  if (typeof uri !== "string") throw new ReplyFormatError("a record without its at:// URI");
  return uri;
}

/** A 200 whose body is not JSON: a read's reply that cannot be used (76; nothing was changed). */
function parseJson(res: HttpResponse, host: string): unknown {
  try {
    return JSON.parse(res.bytes.toString("utf8"));
  } catch {
    throw unknownOutcome("its reply is not JSON", res.status, host, true);
  }
}

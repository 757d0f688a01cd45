import { cacheDir, stateDir } from "../config/paths.js";
import type { Server } from "../config/server.js";
import type { Context } from "../context.js";
import { type Draft, keeper, keepOnFailure, keepRefused, keptLines } from "../core/keep.js";
import { checkLength, LimitCache } from "../core/limit-cache.js";
import { type Line, LineSplitter, MAX_LINE_BYTES, quoteLine, splitLines } from "../core/lines.js";
import { Outbox } from "../core/outbox.js";
import { type PostResult, postOn } from "../core/post.js";
import { ExitCode, HttpError, IdenticaError, worse } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import { type ApiName, apiGone, type Endpoint } from "../services/api.js";
import { rulesFor, withService } from "../services/open.js";
import type { Service } from "../services/service.js";
import { type Globals, userOf } from "./globals.js";
import { apiExtras, checkForApi, type MastodonPostOptions, statusKeys } from "./post.js";
import { keepUnread, lineToPost } from "./post-lines-unread.js";
import { type PostFlags, printResult } from "./post-result.js";
import { endpointOf, serviceOptions } from "./session-options.js";

/** The longest `Retry-After` honoured before a line goes to the outbox instead. */
const MAX_RETRY_WAIT_S = 300;
const MAX_RETRIES = 3;

type LinesFlags = Omit<PostFlags, "maxLength"> & { maxLength: number | undefined };

/**
 * `post --lines`: each line of stdin is its own status, posted as it arrives, all on one keep-alive
 * connection; the challenge is answered once and later lines carry the credential directly. A line
 * that fails goes to the outbox and the stream goes on; the exit code is the worst outcome seen.
 */
export async function postLines(
  ctx: Context,
  g: Globals,
  server: { known: Endpoint | undefined; given: Server },
  flags: LinesFlags,
  mastodon: MastodonPostOptions,
): Promise<ExitCode> {
  // Each line is read as its end arrives, with at most 1 MiB of it in memory (docs/threats.md I13); what
  // the splitter holds beyond the line being posted is kept by an interrupted run (keepUnread).
  const splitter = new LineSplitter();
  const input = splitLines(ctx.stdin, MAX_LINE_BYTES, splitter)[Symbol.asyncIterator]();
  const found = await untilKnown(ctx, g, server, flags, mastodon, splitter, input);
  if (found.endpoint === undefined) return found.worst;
  const endpoint = found.endpoint;
  const run = new LinesRun(ctx, g, endpoint, server.given, flags, mastodon);
  run.worst = found.worst;
  ctx.run.pending.setUnread((exitCode, reason) =>
    keepUnread(ctx, splitter, {
      outbox: run.outbox,
      unsent: run.unsent,
      exitCode,
      reason,
      checkLimit: run.limitKnown ? (text) => run.checkLimit(text) : undefined,
    }),
  );
  const opts = await serviceOptions(g, ctx, endpoint, run.unsent.user);
  try {
    await withService(opts, async (svc) => {
      for (let next = await input.next(); !next.done; next = await input.next()) {
        await run.postLine(svc, next.value);
      }
    });
  } finally {
    ctx.run.pending.setUnread(undefined);
  }
  return run.worst;
}

/**
 * The server's API, before the first line is read: known already, or found out now (the probe). While
 * the server cannot say (no answer, 503, 429), nothing can be posted, but the stream goes on as it
 * does for a line whose post fails: each line that arrives meanwhile is kept in the outbox with the
 * server as named (`outbox send` finds its API), and the server is asked again before the next one.
 * Returns the endpoint, or none when the input ended first; and the worst outcome so far. With no line
 * to keep at all, the probe's failure is the run's.
 */
async function untilKnown(
  ctx: Context,
  g: Globals,
  server: { known: Endpoint | undefined; given: Server },
  flags: LinesFlags,
  mastodon: MastodonPostOptions,
  splitter: LineSplitter,
  input: AsyncIterator<Line>,
): Promise<{ endpoint?: Endpoint; worst: ExitCode }> {
  const check = (ep: Endpoint) => {
    checkForApi(ep.api, flags, mastodon);
    if (flags.replyTo !== undefined) rulesFor(ep.api).statusId(flags.replyTo, "--reply-to");
    return ep;
  };
  if (server.known !== undefined) return { endpoint: check(server.known), worst: ExitCode.Ok };
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  const given = server.given;
  // As `post` keeps a text before the API is known: the server as named, the Mastodon options with it.
  const unsent: Omit<Draft, "text"> = {
    server: given,
    api: undefined,
    user: userOf(g, ctx, given),
    replyTo: flags.replyTo,
    source: flags.source,
    ...mastodon,
    ...(flags.ifAbsent ? { ifAbsent: true } : {}),
  };
  ctx.run.pending.setUnread((exitCode, reason) =>
    keepUnread(ctx, splitter, { outbox, unsent, exitCode, reason, checkLimit: undefined }),
  );
  let worst: ExitCode = ExitCode.Ok;
  let keptAny = false;
  try {
    for (;;) {
      let failure: IdenticaError;
      try {
        return { endpoint: check(await endpointOf(g, ctx, given)), worst };
      } catch (err) {
        // Bad usage (a StatusNet server and --cw) and bugs end the run as they would have.
        if (!(err instanceof IdenticaError) || err.exitCode === ExitCode.Usage) throw err;
        failure = err;
      }
      const next = await input.next();
      if (next.done) {
        if (!keptAny) throw failure;
        return { worst };
      }
      const line = next.value;
      let text: string | undefined;
      try {
        text = lineToPost(line);
      } catch (err) {
        worst = worse(worst, reportLine(ctx, line.lineNo, keepRefused(err, outbox, unsent, ctx.now())));
        keptAny = true;
        continue;
      }
      if (text === undefined) continue;
      // Each line its own Idempotency-Key, as when it is posted.
      const keep = keeper(outbox, { ...unsent, text, ...lineKey(unsent.api) }, ctx.now());
      worst = worse(worst, reportLine(ctx, line.lineNo, keepOnFailure(failure, keep)));
      keptAny = true;
    }
  } finally {
    ctx.run.pending.setUnread(undefined);
  }
}

/** A failed line: its one-line message and what became of it, on stderr; returns its exit code. */
function reportLine(ctx: Context, lineNo: number, err: unknown): ExitCode {
  const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
  const e = err as IdenticaError;
  writeDiagnostic(ctx, `identica: line ${lineNo}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`);
  for (const line of keptLines(e.kept, `line ${lineNo}`)) ctx.stderr.write(`${line}\n`);
  return code;
}

/** One `post --lines` run: what every line shares, and the worst outcome so far. */
class LinesRun {
  readonly cache: LimitCache;
  readonly outbox: Outbox;
  readonly unsent: Omit<Draft, "text">;
  readonly undetected: Omit<Draft, "text">;
  worst: ExitCode = ExitCode.Ok;
  #limit: number | undefined;
  limitKnown: boolean;
  readonly server: Server;
  /** The URL length the limit is counted with (Mastodon), once the service knows it. */
  #urlLength: number | undefined;

  constructor(
    readonly ctx: Context,
    readonly g: Globals,
    readonly endpoint: Endpoint,
    /** The server as named (its API may be detected again). */
    readonly given: Server,
    readonly flags: LinesFlags,
    readonly mastodon: MastodonPostOptions,
  ) {
    const server = endpoint.server;
    this.server = server;
    const user = userOf(g, ctx, server);
    this.cache = new LimitCache(cacheDir(ctx.env), ctx.now);
    this.outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
    // A line kept to be detected again: with the server as named, and every option asked for.
    this.undetected = {
      server: given,
      api: undefined,
      user,
      replyTo: flags.replyTo,
      source: flags.source,
      ...mastodon,
      ...(flags.ifAbsent ? { ifAbsent: true } : {}),
    };
    // An API taken for this run only (the probe's answer said nothing) is not kept with the lines.
    this.unsent =
      endpoint.definite === false
        ? this.undetected
        : {
            server,
            api: endpoint.api,
            user,
            replyTo: flags.replyTo,
            source: flags.source,
            ...(endpoint.api === "mastodon"
              ? mastodon
              : endpoint.api === "atproto" && mastodon.language !== undefined
                ? { language: mastodon.language }
                : {}),
            ...(flags.ifAbsent ? { ifAbsent: true } : {}),
          };
    this.#limit = flags.maxLength;
    this.limitKnown = flags.maxLength !== undefined;
  }

  /** A failed line: its one-line message and what became of it on stderr; the run goes on. */
  fail(lineNo: number, err: unknown): void {
    this.worst = worse(this.worst, reportLine(this.ctx, lineNo, err));
  }

  /**
   * A line over the limit is not lost: it is quoted in the message (cron mails stderr), whole unless it
   * is far longer than any status (then only its start: quoteLine).
   */
  checkLimit(text: string): void {
    const { flags, server } = this;
    try {
      checkLength(
        text,
        this.#limit,
        flags.maxLength === undefined ? `${server.key}'s` : "the --max-length",
        (t) => {
          const rules = rulesFor(this.endpoint.api, this.#urlLength);
          const cw = this.mastodon.spoilerText ? (rules.warningLength?.(this.mastodon.spoilerText) ?? 0) : 0;
          return rules.textLength(t) + cw;
        },
      );
    } catch (err) {
      throw new IdenticaError(ExitCode.Usage, `${(err as Error).message}: ${quoteLine(text)}`);
    }
  }

  async postLine(svc: Service, line: Line): Promise<void> {
    const { ctx, g, flags } = this;
    const lineNo = line.lineNo;
    let text: string | undefined;
    try {
      text = lineToPost(line);
    } catch (err) {
      // A line identica refuses (65) is kept, marked refused; one too long (64) is not.
      this.fail(lineNo, keepRefused(err, this.outbox, this.unsent, ctx.now()));
      return;
    }
    if (text === undefined) return;
    // Each line is its own status: its own Idempotency-Key, kept with it in the outbox.
    const draft = {
      ...this.unsent,
      text,
      ...lineKey(this.endpoint.api),
    };
    const keep = keeper(this.outbox, draft, ctx.now(), () =>
      ctx.run.wire.serverClockSkewMs.get(this.server.origin),
    );
    // From here until its outcome is known, an interrupted run saves this line.
    ctx.run.pending.set(keep, `line ${lineNo}`);
    // --timeout is per line: the stream may last for days.
    svc.newDeadline();
    let result: PostResult;
    try {
      if (!this.limitKnown) {
        const { serverLimit } = await import("../core/limit.js");
        this.#limit = await serverLimit(svc, this.cache, g.printer.note);
        this.#urlLength = svc.urlLength;
        this.limitKnown = true;
      }
      this.checkLimit(text);
      result = await withRetryAfter((retry) => {
        // The wait for Retry-After is not the server failing to answer: a new deadline.
        if (retry) svc.newDeadline();
        return postOn(
          svc,
          {
            user: this.unsent.user,
            text,
            source: flags.source,
            replyTo: flags.replyTo,
            idempotencyKey: draft.idempotencyKey,
            ...(this.endpoint.api === "mastodon"
              ? this.mastodon
              : this.endpoint.api === "atproto" && this.mastodon.language !== undefined
                ? { language: this.mastodon.language }
                : {}),
          },
          {
            maxLength: 0,
            cache: this.cache,
            note: g.printer.note,
            unlessPosted: flags.ifAbsent ? {} : undefined,
          },
        );
      }, g.printer.note);
    } catch (err) {
      ctx.run.pending.set(undefined);
      // The API a probe found is gone from the site: the line waits for the one it has now (post.ts).
      const gone = await apiGone(err, this.endpoint, this.given.spec, cacheDir(ctx.env));
      const again =
        gone && keeper(this.outbox, { ...this.undetected, text, ...lineKey(undefined) }, ctx.now());
      this.fail(lineNo, again ? keepOnFailure(gone, again) : keepOnFailure(err, keep));
      return;
    }
    ctx.run.pending.set(undefined);
    await printResult(ctx, g, result, true);
  }
}

/** 429 and 503 say nothing was posted; with a Retry-After the same line is tried again after the wait. */
async function withRetryAfter<T>(
  fn: (retry: boolean) => Promise<T>,
  note: (line: string) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt > 0);
    } catch (err) {
      const wait = err instanceof HttpError ? err.details.retryAfter : undefined;
      if (wait === undefined || wait > MAX_RETRY_WAIT_S || attempt >= MAX_RETRIES) throw err;
      note(`* ${err instanceof Error ? err.message : err}; trying again in ${wait} s`);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }
}

/** A line's own key (Mastodon's Idempotency-Key, the AT Protocol's record key); none for StatusNet. */
function lineKey(api: ApiName | undefined): { idempotencyKey?: string } {
  const key = apiExtras(api, {}, statusKeys()).idempotencyKey;
  return key === undefined ? {} : { idempotencyKey: key };
}

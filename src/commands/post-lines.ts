import { randomUUID } from "node:crypto";
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
import type { Endpoint } from "../services/api.js";
import { rulesFor, withService } from "../services/open.js";
import type { Service } from "../services/service.js";
import { type Globals, userOf } from "./globals.js";
import type { MastodonPostOptions } from "./post.js";
import { keepUnread, lineToPost } from "./post-lines-unread.js";
import { type PostFlags, printResult } from "./post-result.js";
import { serviceOptions } from "./session-options.js";

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
  endpoint: Endpoint,
  flags: LinesFlags,
  mastodon: MastodonPostOptions,
): Promise<ExitCode> {
  const run = new LinesRun(ctx, g, endpoint, flags, mastodon);
  // Each line is read as its end arrives, with at most 1 MiB of it in memory (docs/threats.md I13); what
  // the splitter holds beyond the line being posted is kept by an interrupted run (keepUnread).
  const splitter = new LineSplitter();
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
      for await (const line of splitLines(ctx.stdin, MAX_LINE_BYTES, splitter)) await run.postLine(svc, line);
    });
  } finally {
    ctx.run.pending.setUnread(undefined);
  }
  return run.worst;
}

/** One `post --lines` run: what every line shares, and the worst outcome so far. */
class LinesRun {
  readonly cache: LimitCache;
  readonly outbox: Outbox;
  readonly unsent: Omit<Draft, "text">;
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
    readonly flags: LinesFlags,
    readonly mastodon: MastodonPostOptions,
  ) {
    const server = endpoint.server;
    this.server = server;
    const user = userOf(g, ctx, server);
    this.cache = new LimitCache(cacheDir(ctx.env), ctx.now);
    this.outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
    this.unsent = {
      server,
      api: endpoint.api,
      user,
      replyTo: flags.replyTo,
      source: flags.source,
      ...(endpoint.api === "mastodon" ? mastodon : {}),
      ...(flags.ifAbsent ? { ifAbsent: true } : {}),
    };
    this.#limit = flags.maxLength;
    this.limitKnown = flags.maxLength !== undefined;
  }

  /** A failed line: its one-line message and what became of it on stderr; the run goes on. */
  fail(lineNo: number, err: unknown): void {
    const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
    this.worst = worse(this.worst, code);
    const e = err as IdenticaError;
    writeDiagnostic(this.ctx, `identica: line ${lineNo}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`);
    for (const line of keptLines(e.kept, `line ${lineNo}`)) this.ctx.stderr.write(`${line}\n`);
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
      ...(this.endpoint.api === "mastodon" ? { idempotencyKey: randomUUID() } : {}),
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
            ...(this.endpoint.api === "mastodon" ? this.mastodon : {}),
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
      this.fail(lineNo, keepOnFailure(err, keep));
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

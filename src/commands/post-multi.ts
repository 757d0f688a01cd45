import type { Account } from "../config/handles.js";
import { cacheDir, stateDir } from "../config/paths.js";
import type { Context } from "../context.js";
import { type Draft, keeper, keepOnFailure, keptLines } from "../core/keep.js";
import { checkLength, LimitCache } from "../core/limit-cache.js";
import { Outbox } from "../core/outbox.js";
import type { PostResult } from "../core/post.js";
import { ExitCode, IdenticaError, type Kept, UsageError, worse } from "../errors.js";
import { PauseClock } from "../http/deadline.js";
import { Wire } from "../http/wire.js";
import { writeDiagnostic } from "../output/printer.js";
import { jsonForTerminal, oneLine } from "../sanitize.js";
import { type Endpoint, endpointFor } from "../services/api.js";
import { rulesFor, withService } from "../services/open.js";
import type { Service } from "../services/service.js";
import { type Globals, serverOf, userOf } from "./globals.js";
import { apiExtras, checkForApi, type MastodonPostOptions, statusKeys } from "./post.js";
import type { PostFlags } from "./post-result.js";
import { credentialSource, endpointOf, httpConfig } from "./session-options.js";

/** What became of one target: its status, or the error (with where the status was kept). */
export type Outcome =
  | { account: Account; ok: true; result: PostResult }
  | { account: Account; ok: false; error: IdenticaError | Error; exitCode: ExitCode };

/** A target's own pauses (the wait for the others' limits) on top of the run's (its prompts). */
class TargetPauses extends PauseClock {
  readonly #run: PauseClock;
  constructor(run: PauseClock) {
    super();
    this.#run = run;
  }
  override pausedSoFar(): number {
    return super.pausedSoFar() + this.#run.pausedSoFar();
  }
}

/** One target once its service is open: what posting to it needs. */
interface Target {
  account: Account;
  endpoint: Endpoint;
  svc: Service;
  wire: Wire;
  draft: Draft;
}

/**
 * `post --to A --to B …` (docs/cli.md "Several accounts in one command"): the same text to several
 * accounts. Every target's limit is checked first, each by its API's rule (over any: 64, nothing sent
 * anywhere); then all are posted to at once, one connection per server, each with its own credential
 * (bound to its origin), its own Idempotency-Key, outbox entry, deadline and outcome. A signal saves
 * every target whose outcome is not known, each saying whether its request had gone out.
 */
export async function postToTargets(
  ctx: Context,
  g: Globals,
  accounts: Account[],
  text: string,
  flags: PostFlags,
  mastodon: MastodonPostOptions,
  maxLength: number | undefined,
): Promise<ExitCode> {
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
  // One target: exactly what a plain `post` prints, and its error as a plain post's (cli.ts).
  if (accounts.length === 1) {
    const outcomes = await sendToTargets(ctx, g, accounts, text, flags, mastodon, maxLength, outbox, cache);
    const only = outcomes[0] as Outcome;
    if (!only.ok) throw only.error;
    const { printResult } = await import("./post-result.js");
    await printResult(ctx, g, only.result);
    return ExitCode.Ok;
  }
  const r = await Reporter.create(ctx, g, accounts);
  await sendToTargets(ctx, g, accounts, text, flags, mastodon, maxLength, outbox, cache, (i, o) =>
    r.done(i, o),
  );
  return r.finish();
}

/**
 * One text to every account, as `postToTargets` describes: the outcome of each, in the order given.
 * Throws 64 (nothing sent anywhere) when the text is over any target's limit, or asks for what a
 * StatusNet target cannot do.
 */
export async function sendToTargets(
  ctx: Context,
  g: Globals,
  accounts: Account[],
  text: string,
  flags: PostFlags,
  mastodon: MastodonPostOptions,
  maxLength: number | undefined,
  outbox: Outbox,
  cache: LimitCache,
  onOutcome: (i: number, o: Outcome) => void = () => {},
): Promise<Outcome[]> {
  const startedAt = ctx.now();
  // The run's own server and account: only there do --password-file, IDENTICA_PASSWORD and
  // IDENTICA_TOKEN apply (docs/threats.md I7); every other target uses origin-bound sources only.
  const own = ownAccount(g, ctx);

  // Each target's text is kept from the start (with the server as named until its API is known).
  const drafts = accounts.map((account) => {
    const keys = statusKeys();
    const draft: Draft = {
      text,
      server: account.server,
      api: account.api,
      user: account.user,
      replyTo: flags.replyTo,
      source: flags.source,
      ...apiExtras(account.api, mastodon, keys),
      ...(flags.ifAbsent ? { ifAbsent: true } : {}),
    };
    const wire = new Wire();
    const keep = keeper(outbox, draft, startedAt, () => wire.serverClockSkewMs.get(account.server.origin));
    ctx.run.pending.setTarget(account.handle, keep, wire);
    return { account, draft, wire, keep, keys };
  });
  const done = (handle: string) => ctx.run.pending.setTarget(handle, undefined, new Wire());

  // The APIs of targets not yet known, found out at once (one probe each, remembered).
  const endpoints = await Promise.all(
    drafts.map(async (d) => {
      try {
        const e: Endpoint =
          d.account.api !== undefined
            ? endpointFor(d.account.server, d.account.api)
            : await endpointOf(g, ctx, d.account.server);
        if (e.definite !== false) {
          d.draft.server = e.server;
          d.draft.api = e.api;
          // The AT Protocol's record key replaces the key kept while the API was not known.
          if (e.api === "atproto") {
            delete d.draft.visibility;
            delete d.draft.spoilerText;
            Object.assign(d.draft, apiExtras(e.api, mastodon, d.keys));
          }
        }
        return e;
      } catch (err) {
        return err as Error;
      }
    }),
  );
  // What only the Mastodon API can do is refused if any target cannot: nothing is sent anywhere.
  const statusnet = drafts.filter((_, i) => {
    const e = endpoints[i];
    return !(e instanceof Error) && e?.api === "statusnet";
  });
  for (const [i, d] of drafts.entries()) {
    const e = endpoints[i];
    if (e instanceof Error || e?.api !== "atproto") continue;
    try {
      checkForApi(e.api, flags, mastodon);
    } catch (err) {
      for (const x of drafts) done(x.account.handle);
      throw new UsageError(`${d.account.handle}: ${(err as Error).message} to any account`, {
        hint: "leave that account out (--to), or drop --visibility/--cw",
      });
    }
  }
  const narrow =
    (mastodon.visibility !== undefined && mastodon.visibility !== "public") ||
    mastodon.spoilerText !== undefined ||
    mastodon.language !== undefined;
  if (narrow && statusnet.length > 0) {
    for (const d of drafts) done(d.account.handle);
    throw new UsageError(
      `${statusnet.map((d) => d.account.handle).join(", ")} speak${statusnet.length === 1 ? "s" : ""} the StatusNet API, where every status is public and has no content warning or language; nothing was sent to any account`,
      { hint: "leave those accounts out (--to), or drop --visibility/--cw/--language" },
    );
  }

  const outcomes: Outcome[] = new Array(drafts.length);
  const fail = (i: number, err: unknown) => {
    const d = drafts[i] as (typeof drafts)[number];
    done(d.account.handle);
    const e = keepOnFailure(err, d.keep) as IdenticaError | Error;
    outcomes[i] = {
      account: d.account,
      ok: false,
      error: e,
      exitCode: e instanceof IdenticaError ? e.exitCode : ExitCode.Internal,
    };
    onOutcome(i, outcomes[i] as Outcome);
  };

  // Every target's length is checked before anything is posted anywhere: a barrier they all reach.
  let arrived = 0;
  const over: string[] = [];
  let release: () => void = () => {};
  const allChecked = new Promise<void>((resolve) => {
    release = resolve;
  });
  const checked = () => {
    arrived++;
    if (arrived === drafts.length) release();
  };

  await Promise.all(
    drafts.map(async (d, i) => {
      const e = endpoints[i];
      if (e instanceof Error || e === undefined) {
        checked();
        fail(i, e);
        return;
      }
      let reached = false;
      // Waiting for the other targets' limits is not this server's time: its deadline stops meanwhile,
      // or a slow server's lookup would use up a healthy one's --timeout before its post was sent.
      const pauses = new TargetPauses(ctx.run.pauses);
      try {
        const isOwn =
          own !== undefined &&
          own.origin === e.server.origin &&
          (own.user === undefined || own.user.toLowerCase() === d.account.user.toLowerCase());
        const opts = {
          server: e.server,
          api: e.api,
          user: d.account.user,
          format: g.format,
          http: { ...(await httpConfig(g, ctx, e.server)), wire: d.wire, pauses },
          credential: credentialSource(g, ctx, e.server, isOwn),
        };
        await withService(opts, async (svc) => {
          const target: Target = { account: d.account, endpoint: e, svc, wire: d.wire, draft: d.draft };
          try {
            checkTarget(target, text, maxLength, mastodon, cache, g, over);
            await checkServerLimit(target, text, maxLength, mastodon, cache, g, over);
          } finally {
            reached = true;
            checked();
          }
          await pauses.whilePaused(() => allChecked);
          if (over.length > 0) return;
          const result = await postTo(target, text, flags, mastodon, cache, g);
          done(d.account.handle);
          outcomes[i] = { account: d.account, ok: true, result };
          onOutcome(i, outcomes[i] as Outcome);
        });
      } catch (err) {
        if (!reached) checked();
        if (over.length > 0 && err instanceof UsageError) return;
        fail(i, err);
      }
    }),
  );
  if (over.length > 0) {
    for (const d of drafts) done(d.account.handle);
    throw new UsageError(`${over.join("; ")}; nothing was sent to any account`);
  }
  return outcomes;
}

/**
 * Every account stored in the keychain for the servers the config knows (`--to all`), as handles that
 * resolve through the config; in the config's order.
 */
export async function allAccounts(g: Globals, ctx: Context): Promise<Account[]> {
  const { KeychainStore } = await import("../credentials/keychain.js");
  const { resolveHandle } = await import("../config/handles.js");
  const { parseServer } = await import("../config/server.js");
  const keychain = new KeychainStore({ env: ctx.env });
  const keys = new Set<string>();
  for (const root of Object.keys(g.config.servers ?? {})) {
    try {
      keys.add(parseServer(root).key);
    } catch {
      // Not a server.
    }
  }
  const out: Account[] = [];
  for (const key of keys) {
    for (const user of await keychain.accounts(key)) {
      // A keychain account name is the user as the server spells it; `@` would break the handle.
      if (user.includes("#") || user.includes("@")) continue;
      try {
        out.push(resolveHandle(`${user}@${key}`, g.config));
      } catch {
        // A name that is no handle (stored by hand): not an account to post to.
      }
    }
  }
  if (out.length === 0) {
    throw new UsageError(
      "--to all: no account is stored in the OS keychain for the servers the config knows",
      {
        hint: "log in to each: identica login --server HOST",
      },
    );
  }
  return out;
}

/** `--max-length`, checked with each target's own counting rule (no request). */
function checkTarget(
  t: Target,
  text: string,
  maxLength: number | undefined,
  m: MastodonPostOptions,
  _cache: LimitCache,
  _g: Globals,
  over: string[],
): void {
  if (maxLength === undefined) return;
  try {
    checkLength(text, maxLength, "the --max-length", counter(t, m));
  } catch (err) {
    over.push(`${t.account.handle}: ${(err as Error).message.replace(/; nothing was sent$/, "")}`);
  }
}

/** The server's own limit (cached for a day, else asked on the open connection), by its rule. */
async function checkServerLimit(
  t: Target,
  text: string,
  maxLength: number | undefined,
  m: MastodonPostOptions,
  cache: LimitCache,
  g: Globals,
  over: string[],
): Promise<void> {
  if (maxLength !== undefined) return;
  const { serverLimit } = await import("../core/limit.js");
  const limit = await serverLimit(t.svc, cache, g.printer.note);
  try {
    checkLength(text, limit, `${t.account.handle}'s`, counter(t, m));
  } catch (err) {
    over.push((err as Error).message.replace(/; nothing was sent$/, ""));
  }
}

function counter(t: Target, m: MastodonPostOptions): (text: string) => number {
  const cw = m.spoilerText ? (t.svc.warningLength?.(m.spoilerText) ?? 0) : 0;
  return (s) => t.svc.textLength(s) + cw;
}

async function postTo(
  t: Target,
  text: string,
  flags: PostFlags,
  m: MastodonPostOptions,
  cache: LimitCache,
  g: Globals,
): Promise<PostResult> {
  const { postOn } = await import("../core/post.js");
  return postOn(
    t.svc,
    {
      text,
      source: flags.source,
      replyTo: flags.replyTo,
      user: t.account.user,
      idempotencyKey: t.draft.idempotencyKey,
      ...(t.endpoint.api === "mastodon"
        ? m
        : t.endpoint.api === "atproto" && m.language
          ? { language: m.language }
          : {}),
    },
    // The limit was checked above, by every target's rule, before anything was sent.
    { maxLength: 0, cache, note: g.printer.note, unlessPosted: flags.ifAbsent ? {} : undefined },
  );
}

/** The run's own server and account (`--server`, IDENTICA_SERVER or the config's), when there is one. */
function ownAccount(g: Globals, ctx: Context): { origin: string; user: string | undefined } | undefined {
  try {
    const server = serverOf(g, ctx);
    return { origin: server.origin, user: userOf(g, ctx, server) };
  } catch {
    return undefined;
  }
}

/**
 * One line per target, in the order given: `pretty` the handle and the URL or the error, `json` an
 * array of `{account, ok, exitCode, status | error}`, `id`/`url` the id or URL (an empty line for a
 * target that failed). Errors go to stderr, one line each with where the status was kept; the exit
 * code is the most serious failure (docs/cli.md's order), 0 when every target succeeded.
 */
export async function report(
  ctx: Context,
  g: Globals,
  outcomes: Outcome[],
  what = "",
  oneLineJson = false,
): Promise<ExitCode> {
  const r = await Reporter.create(
    ctx,
    g,
    outcomes.map((o) => o.account),
    what,
    oneLineJson,
  );
  for (const [i, o] of outcomes.entries()) r.done(i, o);
  return r.finish();
}

/**
 * Each target's outcome as it comes: its error on stderr at once, its `pretty` line at once (a slow
 * server delays no one else's result, and what was printed stays printed if a signal ends the run),
 * `-o id`/`-o url` in the order given as soon as the targets before have answered, `-o json` at the
 * end. `finish` gives the exit code: the most serious failure (docs/cli.md's order).
 */
export class Reporter {
  readonly #outcomes: (Outcome | undefined)[];
  #next = 0;
  #code = ExitCode.Ok;

  private constructor(
    readonly ctx: Context,
    readonly g: Globals,
    readonly accounts: Account[],
    readonly what: string,
    readonly oneLineJson: boolean,
    readonly line: (o: Outcome) => string,
    readonly statusJson: typeof import("../output/status.js")["statusJson"],
  ) {
    this.#outcomes = accounts.map(() => undefined);
    // A signal writes what the finished targets are waiting for (their rows, their lines in order).
    ctx.run.onInterrupt.add(this.#interrupted);
  }

  readonly #interrupted = (code: number): void => {
    const { g } = this;
    if (g.output === "id" || g.output === "url") {
      for (; this.#next < this.#outcomes.length; this.#next++) {
        const x = this.#outcomes[this.#next];
        g.printer.result(`${x?.ok ? (g.output === "id" ? x.result.status.id : x.result.url) : ""}\n`);
      }
    } else if (g.output === "json") {
      this.#writeJson(code);
    }
  };

  static async create(ctx: Context, g: Globals, accounts: Account[], what = "", oneLineJson = false) {
    const { statusJson } = await import("../output/status.js");
    const { loadStyle, useColor } = await import("../output/color.js");
    const { sanitizeForTerminal } = await import("../sanitize.js");
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    const width = Math.max(...accounts.map((a) => a.handle.length));
    const line = (o: Outcome) => {
      const who = style.accent(sanitizeForTerminal(o.account.handle).padEnd(width));
      if (!o.ok)
        return `${who}  ${style.dim(`failed (exit ${o.exitCode}): ${oneLine((o.error as Error).message, 300)}`)}`;
      const already = o.result.existing ? style.dim(" (already posted)") : "";
      return `${who}  ${style.link(sanitizeForTerminal(o.result.url))}${already}`;
    };
    return new Reporter(ctx, g, accounts, what, oneLineJson, line, statusJson);
  }

  done(i: number, o: Outcome): void {
    this.#outcomes[i] = o;
    const { ctx, g } = this;
    if (!o.ok) {
      this.#code = worse(this.#code, o.exitCode);
      const e = o.error as IdenticaError;
      writeDiagnostic(
        ctx,
        `identica: ${this.what}${o.account.handle}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`,
      );
      for (const l of keptLines(e.kept as Kept | undefined, `the status for ${o.account.handle}`))
        ctx.stderr.write(`${l}\n`);
    }
    if (g.output === "pretty") g.printer.result(`${this.line(o)}\n`);
    if (g.output === "id" || g.output === "url") {
      // In the order given: each line as soon as every target before it has its outcome.
      while (this.#next < this.#outcomes.length && this.#outcomes[this.#next] !== undefined) {
        const x = this.#outcomes[this.#next] as Outcome;
        g.printer.result(`${x.ok ? (g.output === "id" ? x.result.status.id : x.result.url) : ""}\n`);
        this.#next++;
      }
    }
  }

  finish(): ExitCode {
    this.ctx.run.onInterrupt.delete(this.#interrupted);
    if (this.g.output === "json") this.#writeJson();
    return this.#code;
  }

  /** The rows; with `interrupted` (the exit code of a signal), a row for each target still pending. */
  #writeJson(interrupted?: number): void {
    const rows = this.#outcomes.map((o, i) =>
      o === undefined
        ? interrupted === undefined
          ? undefined
          : {
              account: this.accounts[i]?.handle,
              ok: false,
              exitCode: interrupted,
              error: "interrupted before its outcome was known (see stderr)",
            }
        : o.ok
          ? {
              account: o.account.handle,
              ok: true,
              exitCode: 0,
              status: this.statusJson(o.result.status, o.result.url),
            }
          : {
              account: o.account.handle,
              ok: false,
              exitCode: o.exitCode,
              error: oneLine((o.error as Error).message, 1000),
              ...keptJson((o.error as IdenticaError).kept),
            },
    );
    this.g.printer.result(`${this.oneLineJson ? jsonForTerminal(rows) : jsonForTerminal(rows, 2)}\n`);
  }
}

function keptJson(kept: Kept | undefined): Record<string, unknown> {
  if (kept?.kind === "saved") return { outbox: { id: kept.id, path: kept.path, refused: kept.refused } };
  if (kept?.kind === "already-posted") return { alreadyPosted: true };
  return {};
}

/** `--reply-to` names one status of one server: with several targets it cannot mean anything (64). */
export function checkTargets(accounts: Account[], flags: PostFlags): void {
  if (accounts.length > 1 && flags.replyTo !== undefined) {
    throw new UsageError("--reply-to names a status of one server: it cannot go with several --to accounts", {
      hint: "reply on each server with its own post --to HANDLE --reply-to ID",
    });
  }
  const seen = new Set<string>();
  for (const a of accounts) {
    const key = `${a.user.toLowerCase()}@${a.server.key}`;
    if (seen.has(key)) throw new UsageError(`${a.handle} is named twice`);
    seen.add(key);
  }
}

export { rulesFor };

import { randomUUID } from "node:crypto";
import type { Account } from "../config/handles.js";
import { cacheDir, stateDir } from "../config/paths.js";
import type { Server } from "../config/server.js";
import type { Context } from "../context.js";
import {
  type Draft,
  keeper,
  keepOnFailure,
  keepRefused,
  keptLines,
  partialKeeper,
  textHash,
} from "../core/keep.js";
import { checkLength, LimitCache } from "../core/limit-cache.js";
import { Outbox } from "../core/outbox.js";
import type { PostResult } from "../core/post.js";
import { RefusedTextError, readStatusText } from "../core/text.js";
import { ExitCode, IdenticaError, UsageError } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import { type ApiName, apiGone, type Endpoint } from "../services/api.js";
import { newTid } from "../services/atproto/tid.js";
import { checkVisibility } from "../services/mastodon/rules.js";
import { rulesFor } from "../services/open.js";
import type { ServiceRules } from "../services/service.js";
import { type GlobalFlags, type Globals, readGlobals, serverOf, userOf, withSpinner } from "./globals.js";
import { type PostFlags, printResult } from "./post-result.js";
import { endpointOf, httpConfig, knownEndpoint, serviceOptions } from "./session-options.js";

export type { PostFlags };

/** `identica post [text...]`: read the text, check it, send it, print the status the server made. */
export async function postCommand(
  ctx: Context,
  words: string[],
  flags: PostFlags,
  gflags: GlobalFlags,
): Promise<ExitCode> {
  const state = { reading: false };
  try {
    return await post(ctx, words, flags, gflags, state);
  } catch (err) {
    throw state.reading ? err : await withTextIfUnread(err, ctx, words, flags);
  }
}

/**
 * A failure before the text was read or kept anywhere (a config file that cannot be read, no server,
 * no keychain for `--to all`): the status cannot go to the outbox, which needs its server, so the
 * text is read now and printed with the error (docs/cli.md "The outbox's promises": nothing the user
 * typed is lost). Usage errors (64) and failures after the text was kept are returned as they are.
 */
async function withTextIfUnread(
  err: unknown,
  ctx: Context,
  words: string[],
  flags: PostFlags,
): Promise<unknown> {
  if (!(err instanceof IdenticaError) || err.exitCode === ExitCode.Usage || err.kept !== undefined)
    return err;
  // Only a text on stdin can be lost: words given as arguments are still on the command line.
  if (flags.dryRun || flags.lines || !(words.length === 0 || (words.length === 1 && words[0] === "-")))
    return err;
  try {
    const text = await readStatusText({ args: words, stdin: ctx.stdin, reading: () => {} });
    err.kept = { kind: "unsaved", why: "it failed before the status could be kept", text };
  } catch {
    // No text to keep (a terminal, nothing piped): the error alone.
  }
  return err;
}

/** `state.reading`: the text is being read, or was: from then on the outbox keeps it. */
async function post(
  ctx: Context,
  words: string[],
  flags: PostFlags,
  gflags: GlobalFlags,
  state: { reading: boolean },
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const mastodon = mastodonOptions(flags);
  if (flags.source.trim() === "") throw new UsageError("--source must not be empty");
  const maxLength = flags.maxLength === undefined ? undefined : parseMaxLength(flags.maxLength);
  const accounts = await targetsOf(ctx, g, flags, gflags);
  if (accounts !== undefined) {
    state.reading = true;
    return postToAccounts(ctx, g, accounts, words, flags, mastodon, maxLength);
  }
  const given = serverOf(g, ctx);
  if (flags.lines) {
    if (words.length > 0 && !(words.length === 1 && words[0] === "-")) {
      throw new UsageError("--lines reads the statuses from stdin; give no text arguments");
    }
    if (flags.dryRun) throw new UsageError("--lines cannot be combined with --dry-run");
    const { postLines } = await import("./post-lines.js");
    // An unknown server is probed there: a probe that fails must not lose the lines (post-lines.ts).
    const known = await knownEndpoint(g, ctx, given);
    return postLines(ctx, g, { known, given }, { ...flags, maxLength }, mastodon);
  }
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  // One key for every attempt at this status (Mastodon's Idempotency-Key, the AT Protocol's record
  // key), kept with it in the outbox.
  const keys = statusKeys();
  const draftOf = (e: Endpoint | undefined, server: Server) => ({
    // A status kept while the API is not known for sure keeps the server as named (serverSpec).
    server: e?.definite === false ? given : server,
    api: e?.definite === false ? undefined : e?.api,
    user: userOf(g, ctx, server),
    replyTo: flags.replyTo,
    source: flags.source,
    ...apiExtras(e === undefined || e.definite === false ? undefined : e.api, mastodon, keys),
    ...(flags.ifAbsent ? { ifAbsent: true } : {}),
  });
  // Options that only one API takes (--visibility, --cw, --language, and a --reply-to id) are checked
  // against an API known without a request before the text is read (docs/cli.md "Posting"): a piped
  // text must not be consumed by a run that is then refused (64 keeps nothing).
  if (
    (mastodon.visibility !== undefined && mastodon.visibility !== "public") ||
    mastodon.spoilerText !== undefined ||
    mastodon.language !== undefined ||
    flags.replyTo !== undefined
  ) {
    const early = await knownEndpoint(g, ctx, given);
    if (early !== undefined) {
      checkForApi(early.api, flags, mastodon);
      if (flags.replyTo !== undefined) rulesFor(early.api).statusId(flags.replyTo, "--reply-to");
    }
  }
  // The text is read first, before anything else that takes time: from the moment stdin is being
  // read, a signal keeps what was read (the API is not known yet: the entry keeps the server as named).
  let unsent: Omit<Draft, "text"> = draftOf(undefined, given);
  state.reading = true;
  const text = await readText(ctx, words, flags.dryRun === true, outbox, unsent);
  const startedAt = ctx.now();
  // The draft being kept is read when it is saved: a token found later (tokenId) goes with it.
  let live: Draft = { ...unsent, text };
  const keepAs = (d: Omit<Draft, "text">) => {
    live = { ...d, text, ...(live.tokenId === undefined ? {} : { tokenId: live.tokenId }) };
    return keeper(outbox, live, startedAt, () => ctx.run.wire.serverClockSkewMs.get(d.server.origin));
  };
  // From here until the outcome is known, a signal keeps the text (there is no gap after reading it).
  let keep = keepAs(unsent);
  if (!flags.dryRun) ctx.run.pending.set(keep);
  // Known without a request (forced, configured, a path, or detected before)?
  let endpoint: Endpoint | undefined;
  try {
    endpoint = await knownEndpoint(g, ctx, given);
    if (endpoint !== undefined) {
      checkForApi(endpoint.api, flags, mastodon);
      if (flags.replyTo !== undefined) rulesFor(endpoint.api).statusId(flags.replyTo, "--reply-to");
      unsent = draftOf(endpoint, endpoint.server);
      keep = keepAs(unsent);
      if (!flags.dryRun) ctx.run.pending.set(keep);
    } else if (flags.dryRun) {
      throw new UsageError(`--dry-run sends nothing, and the API of ${given.key} is not known yet`, {
        hint: "pass --api statusnet, mastodon or atproto, or run any other command against it first",
      });
    }
  } catch (err) {
    ctx.run.pending.set(undefined);
    // 64 keeps nothing (a usage error: nothing was sent, the user sees the text on the command line).
    if (err instanceof UsageError || flags.dryRun) throw err;
    throw keepOnFailure(err, keep);
  }
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);

  if (flags.dryRun && endpoint !== undefined) {
    const rules = rulesFor(endpoint.api, (await cache.entry(endpoint.server))?.urlLength);
    if (flags.replyTo !== undefined) rules.statusId(flags.replyTo, "--reply-to");
    const count = countWith(rules, mastodon);
    if (maxLength !== undefined) checkLength(text, maxLength, "the --max-length", count);
    const { describePost } = await import("../services/open.js");
    // No network for a dry run: only a limit already in the cache is checked.
    if (maxLength === undefined)
      checkLength(text, await cache.get(endpoint.server), `${endpoint.server.key}'s`, count);
    g.printer.result(
      describePost({
        ...unsent,
        ...request(endpoint, text),
        http: await httpConfig(g, ctx),
      }),
    );
    return ExitCode.Ok;
  }

  const { postStatus } = await import("../core/post.js");
  let result: PostResult;
  try {
    if (endpoint === undefined) {
      // First use of this server: one request finds its API (remembered), while the text is kept.
      endpoint = await endpointOf(g, ctx, given);
      checkForApi(endpoint.api, flags, mastodon);
      unsent = draftOf(endpoint, endpoint.server);
      keep = keepAs(unsent);
      ctx.run.pending.set(keep);
    }
    const ep = endpoint;
    const rules = rulesFor(ep.api, (await cache.entry(ep.server))?.urlLength);
    if (flags.replyTo !== undefined) rules.statusId(flags.replyTo, "--reply-to");
    if (maxLength !== undefined) checkLength(text, maxLength, "the --max-length", countWith(rules, mastodon));
    const opts = await serviceOptions(g, ctx, ep, unsent.user);
    if (ep.api === "mastodon" && unsent.user === undefined) {
      // No account named: the token decides whose status this is, and the entry remembers which.
      const onSecret = opts.http.onSecret;
      opts.http = {
        ...opts.http,
        onSecret: (c) => {
          onSecret?.(c);
          if (c.user === "") live.tokenId = textHash(c.password);
        },
      };
    }
    result = await withSpinner(g, ctx, `posting to ${ep.server.key}`, () =>
      postStatus(
        { ...request(ep, text), ...opts },
        { maxLength, cache, note: g.printer.note, unlessPosted: flags.ifAbsent ? {} : undefined },
      ),
    );
  } catch (err) {
    ctx.run.pending.set(undefined);
    // A usage error found only once the API was known (a StatusNet server and --cw) kept nothing.
    if (err instanceof UsageError) throw err;
    // The API a probe found is gone from the site (it moved to other software): the verdict is
    // forgotten and the text kept with the server as named, to be sent to the API it has now.
    const gone = endpoint && (await apiGone(err, endpoint, given.spec, cacheDir(ctx.env)));
    if (gone) throw keepOnFailure(gone, keepAs(draftOf(undefined, given)));
    throw keepOnFailure(err, keep);
  }
  ctx.run.pending.set(undefined);
  await printResult(ctx, g, result);
  return ExitCode.Ok;

  function request(e: Endpoint, body: string) {
    return {
      server: e.server,
      api: e.api,
      user: unsent.user,
      format: g.format,
      text: body,
      source: flags.source,
      replyTo: flags.replyTo,
      ...apiExtras(e.api, mastodon, keys),
    };
  }
}

/**
 * The accounts named by `--to` (repeated, comma-separated, or `all`), else by the config's `targets`
 * when no server is named for this run (`--server`, IDENTICA_SERVER); undefined for a plain post.
 */
async function targetsOf(
  ctx: Context,
  g: Globals,
  flags: PostFlags,
  gflags: GlobalFlags,
): Promise<Account[] | undefined> {
  const { handleList, resolveHandle } = await import("../config/handles.js");
  let names = handleList(flags.to ?? []);
  // `--to "$ACCOUNT"` with the variable unset must not post to the default account instead.
  if (flags.to !== undefined && names.length === 0)
    throw new UsageError("--to names no account: give a handle, user@host[:port], or all");
  if (names.length === 0 && g.config.targets && gflags.server === undefined && !ctx.env.IDENTICA_SERVER) {
    names = handleList([g.config.targets]);
  }
  if (names.length === 0) return undefined;
  if (gflags.server !== undefined || gflags.user !== undefined) {
    if (flags.to !== undefined)
      throw new UsageError("--to names the accounts itself: it cannot go with --server or --user");
  }
  if (names.length > 1 && (g.output === "xml" || g.output === "raw")) {
    throw new UsageError(`-o ${g.output} prints one server's reply; with several accounts use -o json`);
  }
  const { allAccounts, checkTargets } = await import("./post-multi.js");
  const accounts: Account[] = [];
  for (const n of names)
    accounts.push(...(n.toLowerCase() === "all" ? await allAccounts(g, ctx) : [resolveHandle(n, g.config)]));
  checkTargets(accounts, flags);
  return accounts;
}

/** `post --to …`: the text read once (kept per target from then on), then posted to every account. */
async function postToAccounts(
  ctx: Context,
  g: Globals,
  accounts: Account[],
  words: string[],
  flags: PostFlags,
  mastodon: MastodonPostOptions,
  maxLength: number | undefined,
): Promise<ExitCode> {
  if (flags.lines) {
    if (words.length > 0 && !(words.length === 1 && words[0] === "-")) {
      throw new UsageError("--lines reads the statuses from stdin; give no text arguments");
    }
    if (flags.dryRun) throw new UsageError("--lines cannot be combined with --dry-run");
    const { postLinesToAccounts } = await import("./post-lines-multi.js");
    return postLinesToAccounts(ctx, g, accounts, flags, mastodon, maxLength);
  }
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  const read = await readTextForAccounts(ctx, words, flags, outbox, accounts);
  if (typeof read !== "string") return read.exitCode;
  const text = read;
  if (flags.dryRun) return dryRunAccounts(ctx, g, accounts, text, flags, mastodon, maxLength);
  const { postToTargets } = await import("./post-multi.js");
  return postToTargets(ctx, g, accounts, text, flags, mastodon, maxLength);
}

/**
 * The text of `post --to …`, read once, is meant for every account: while stdin is read, an
 * interruption keeps what was read for each of them, and a text identica refuses (65) is kept, marked
 * refused, for each of them too (as `post --lines --to` keeps a refused line), so that once it is fixed,
 * `outbox send` sends it to every account, not only to the first. A refused text is reported here, one
 * line, then where it was kept for each account: its exit code is returned in place of the text.
 */
async function readTextForAccounts(
  ctx: Context,
  words: string[],
  flags: PostFlags,
  outbox: Outbox,
  accounts: Account[],
): Promise<string | { exitCode: ExitCode }> {
  const { Wire } = await import("../http/wire.js");
  const readAt = ctx.now();
  const drafts = accounts.map((a) => ({
    handle: a.handle,
    draft: { server: a.server, api: a.api, user: a.user, replyTo: flags.replyTo, source: flags.source },
  }));
  const dryRun = flags.dryRun === true;
  try {
    return await readStatusText({
      args: words,
      stdin: ctx.stdin,
      reading: (soFar) => {
        if (dryRun) return;
        // Nothing is in flight on these wires: a signal says "nothing was posted there" for each.
        for (const { handle, draft } of drafts)
          ctx.run.pending.setTarget(handle, partialKeeper(outbox, draft, soFar, readAt), new Wire());
      },
    });
  } catch (err) {
    if (dryRun || !(err instanceof RefusedTextError)) throw err;
    const lines: string[] = [];
    for (const { handle, draft } of drafts) {
      keepRefused(err, outbox, draft, readAt);
      lines.push(...keptLines(err.kept, `the status for ${handle}`));
    }
    writeDiagnostic(ctx, `identica: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    for (const line of lines) ctx.stderr.write(`${line}\n`);
    return { exitCode: err.exitCode };
  } finally {
    for (const { handle } of drafts) ctx.run.pending.setTarget(handle, undefined, new Wire());
  }
}

/** `--dry-run --to …`: each account's request, for those whose API is known (no probe is sent). */
async function dryRunAccounts(
  ctx: Context,
  g: Globals,
  accounts: Account[],
  text: string,
  flags: PostFlags,
  mastodon: MastodonPostOptions,
  maxLength: number | undefined,
): Promise<ExitCode> {
  const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
  const { describePost } = await import("../services/open.js");
  const { knownApi, endpointFor } = await import("../services/api.js");
  const out: string[] = [];
  for (const a of accounts) {
    const api = a.api ?? (await knownApi(a.server, undefined, ctx.env, g.config, cacheDir(ctx.env)));
    if (api === undefined) {
      throw new UsageError(`--dry-run sends nothing, and the API of ${a.server.key} is not known yet`, {
        hint: "run any other command against it first, or log in to it",
      });
    }
    const e = endpointFor(a.server, api);
    checkForApi(e.api, flags, mastodon);
    const rules = rulesFor(e.api, (await cache.entry(e.server))?.urlLength);
    const count = countWith(rules, mastodon);
    checkLength(
      text,
      maxLength ?? (await cache.get(e.server)),
      maxLength === undefined ? `${a.handle}'s` : "the --max-length",
      count,
    );
    out.push(
      `# ${a.handle}\n${describePost({
        server: e.server,
        api: e.api,
        user: a.user,
        format: g.format,
        text,
        source: flags.source,
        replyTo: flags.replyTo,
        ...apiExtras(e.api, mastodon, statusKeys()),
        http: await httpConfig(g, ctx),
      })}`,
    );
  }
  g.printer.result(out.join("\n"));
  return ExitCode.Ok;
}

/** `--visibility`, `--cw`, `--language`, checked before anything is read or sent. */
export function mastodonOptions(flags: PostFlags): MastodonPostOptions {
  const out: MastodonPostOptions = {};
  if (flags.visibility !== undefined) out.visibility = checkVisibility(flags.visibility);
  if (flags.cw !== undefined) {
    if (/[\u0000-\u0008\u000B-\u001F\u007F]/.test(flags.cw))
      throw new UsageError("--cw must not contain control characters");
    out.spoilerText = flags.cw;
  }
  if (flags.language !== undefined) {
    if (!/^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/.test(flags.language))
      throw new UsageError(`--language takes an ISO 639 code such as en or pt-BR, not "${flags.language}"`);
    out.language = flags.language;
  }
  return out;
}

export interface MastodonPostOptions {
  visibility?: string;
  spoilerText?: string;
  language?: string;
}

/** The keys a status may be sent with, made once for all its attempts: its API picks one. */
export interface StatusKeys {
  /** Mastodon's `Idempotency-Key` (kept too while the API is not known yet). */
  uuid: string;
  /** The AT Protocol's record key, a TID. */
  tid: string;
}

export function statusKeys(): StatusKeys {
  return { uuid: randomUUID(), tid: newTid() };
}

/**
 * What a status carries for its API besides the text: Mastodon's key and options (also kept while the
 * API is not known: `undefined`), the AT Protocol's record key and language, nothing for StatusNet.
 */
export function apiExtras(
  api: ApiName | undefined,
  m: MastodonPostOptions,
  keys: StatusKeys,
): Partial<Pick<Draft, "idempotencyKey" | "visibility" | "spoilerText" | "language">> {
  if (api === "atproto")
    return { idempotencyKey: keys.tid, ...(m.language === undefined ? {} : { language: m.language }) };
  if (api === "mastodon" || api === undefined) return { idempotencyKey: keys.uuid, ...m };
  return {};
}

/**
 * A private status must never go out public: `--visibility` other than public and `--cw` exist only in
 * the Mastodon API, so a StatusNet server refuses them (64) before anything is sent (docs/cli.md), and
 * so does an AT Protocol one (every post public, no content warnings; `--language` is its `langs`).
 */
export function checkForApi(
  api: ApiName,
  flags: Pick<PostFlags, "visibility" | "cw" | "language">,
  m: MastodonPostOptions,
): void {
  if (api === "mastodon") return;
  if (api === "atproto") {
    if (m.visibility !== undefined && m.visibility !== "public")
      throw new UsageError(
        `--visibility ${m.visibility}: every post on the AT Protocol (Bluesky) is public; nothing was sent`,
      );
    if (m.spoilerText !== undefined)
      throw new UsageError("--cw: the AT Protocol (Bluesky) has no content warnings; nothing was sent");
    return;
  }
  if (m.visibility !== undefined && m.visibility !== "public")
    throw new UsageError(
      `--visibility ${m.visibility} needs a Mastodon-API server; this one speaks StatusNet, where every status is public; nothing was sent`,
    );
  if (m.spoilerText !== undefined)
    throw new UsageError("--cw needs a Mastodon-API server; this one speaks StatusNet; nothing was sent");
  if (m.language !== undefined)
    throw new UsageError(
      "--language needs a Mastodon-API server; this one speaks StatusNet; nothing was sent",
    );
  void flags;
}

/** The text's length as the API counts it, the content warning included (Mastodon counts both). */
function countWith(rules: ServiceRules, m: MastodonPostOptions): (text: string) => number {
  const cw = m.spoilerText ? (rules.warningLength?.(m.spoilerText) ?? 0) : 0;
  return (text) => rules.textLength(text) + cw;
}

/** The status text from the arguments or stdin; what was read is kept if the run is cut short. */
async function readText(
  ctx: Context,
  words: string[],
  dryRun: boolean,
  outbox: Outbox,
  unsent: Omit<Draft, "text">,
): Promise<string> {
  const readAt = ctx.now();
  try {
    return await readStatusText({
      args: words,
      stdin: ctx.stdin,
      // A signal before the end of stdin keeps what was read, marked refused: it may be incomplete.
      reading: (soFar) => {
        if (!dryRun) ctx.run.pending.set(partialKeeper(outbox, unsent, soFar, readAt));
      },
    });
  } catch (err) {
    // A text identica refuses (65) is kept too: a piped text exists nowhere else. A dry run writes
    // nothing, the outbox included: it only says what a real run would do.
    throw dryRun ? err : keepRefused(err, outbox, unsent, readAt);
  } finally {
    ctx.run.pending.set(undefined);
  }
}

function parseMaxLength(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--max-length takes a whole number (0 = no limit), not "${v}"`);
  return Number(v);
}

import { join } from "node:path";
import { resolveUser } from "../config/account.js";
import { cacheDir, stateDir } from "../config/paths.js";
import { parseServer, type Server } from "../config/server.js";
import type { Context } from "../context.js";
import { keptLines, mayHavePosted, textHash, updater } from "../core/keep.js";
import { LimitCache, TooLongError } from "../core/limit-cache.js";
import { acquireLock } from "../core/lock.js";
import { type CorruptEntry, isCorrupt, Outbox, type OutboxEntry, uncertainSince } from "../core/outbox.js";
import { checkText } from "../core/text.js";
import { ConfigError, ExitCode, IdenticaError, UsageError, worse } from "../errors.js";
import { writeDiagnostic } from "../output/printer.js";
import { absoluteTime } from "../output/time.js";
import { oneLine } from "../sanitize.js";
import { type ApiName, apiGone, type Endpoint, endpointFor } from "../services/api.js";
import { rkeyFor } from "../services/atproto/tid.js";
import { rulesFor } from "../services/open.js";
import type { ConnectionConfig } from "../services/options.js";
import { type GlobalFlags, type Globals, readGlobals, serverOf, userOf } from "./globals.js";
import { mastodonOptions } from "./post.js";
import { printResult } from "./post-result.js";
import { credentialSource, endpointOf, httpConfig } from "./session-options.js";

/** `identica outbox [list|send|drop ID]`: statuses that could not be posted, kept until sent or dropped. */
export async function outboxCommand(
  ctx: Context,
  action: string | undefined,
  args: string[],
  gflags: GlobalFlags,
  flags: { retryRefused?: string } = {},
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const outbox = new Outbox(stateDir(ctx.env), (t) => ctx.redactor.redact(t));
  switch (action ?? "list") {
    case "list":
      list(g, outbox.listAll());
      return ExitCode.Ok;
    case "drop": {
      const id = args[0];
      if (id === undefined) throw new UsageError("which entry? (identica outbox list shows the ids)");
      if (!outbox.remove(id)) throw new UsageError(`no entry "${id}" in the outbox`);
      if (g.output !== "none" && g.output !== "json") g.printer.result(`Dropped ${id}.\n`);
      return ExitCode.Ok;
    }
    case "send":
      return send(ctx, g, outbox, flags.retryRefused);
    default:
      throw new UsageError(`unknown outbox action "${action}" (use list, send or drop ID)`);
  }
}

/** Every file of the outbox; a corrupt one with its file and what is wrong (`"corrupt"` in JSON). */
function list(g: Globals, entries: (OutboxEntry | CorruptEntry)[]): void {
  if (g.output === "json") {
    const rows = entries.map((e) =>
      isCorrupt(e)
        ? { id: e.id, file: e.file, corrupt: e.corrupt, text: e.text ?? null }
        : { ...e, corrupt: null },
    );
    g.printer.result(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (g.output === "id") {
    g.printer.result(entries.map((e) => `${e.id}\n`).join(""));
    return;
  }
  if (g.output === "none") return;
  if (entries.length === 0) {
    g.printer.result("The outbox is empty.\n");
    return;
  }
  const blocks = entries.map((e) => {
    if (isCorrupt(e)) {
      const text = e.text === undefined ? "" : `\n    ${oneLine(e.text, 200)}`;
      const id = oneLine(e.id);
      return `${id}  CORRUPT: ${oneLine(e.corrupt)}\n    file: ${oneLine(e.file, 1000)} (fix it, or: identica outbox drop ${id})${text}\n`;
    }
    const who = `${oneLine(e.user ?? "?", 80)} at ${oneLine(e.server, 200)}`;
    const since = uncertainSince(e);
    const state = e.refused
      ? "refused; skipped by outbox send"
      : since !== null
        ? `outcome unknown since ${absoluteTime(since)}`
        : "not posted";
    return `${e.id}  ${absoluteTime(e.attemptedAt)}  ${who}  (exit ${e.exitCode}, ${state})\n    ${oneLine(e.text, 200)}\n`;
  });
  g.printer.result(blocks.join(""));
}

/**
 * Sends the entries oldest first, each on its own, and goes on after a failure: the exit code is the
 * most serious outcome (docs/cli.md order). A lock in the state dir keeps two runs (two cron jobs) from
 * sending the same entry. An entry whose outcome is or was ever unknown is first looked for on the
 * account's statuses since its first uncertain attempt, so it is never posted twice. An entry the
 * server refused is skipped until `--retry-refused ID`.
 */
async function send(
  ctx: Context,
  g: Globals,
  outbox: Outbox,
  retryRefused: string | undefined,
): Promise<ExitCode> {
  outbox.ensureDir();
  const lock = await acquireLock(join(stateDir(ctx.env), "outbox.lock"));
  try {
    const entries = outbox.listAll();
    if (retryRefused !== undefined && !entries.some((e) => e.id === retryRefused)) {
      throw new UsageError(`no entry "${retryRefused}" in the outbox`);
    }
    if (entries.length === 0) {
      if (g.output === "pretty") g.printer.result("The outbox is empty.\n");
      return ExitCode.Ok;
    }
    const { postStatus } = await import("../core/post.js");
    const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
    const home = ownServer(g, ctx);
    let worst: ExitCode = ExitCode.Ok;
    for (const listed of entries) {
      if (!lock.held()) {
        // A later run judged our lock stale and broke it: it may be sending these entries now.
        warn(
          ctx,
          `another identica took over the outbox lock; stopped before ${listed.id} (send the rest with: identica outbox send)`,
        );
        return worse(worst, ExitCode.TempFail);
      }
      // Another run may have sent it while we waited for the server.
      const entry = outbox.get(listed.id);
      if (entry === undefined) continue;
      if (isCorrupt(entry)) {
        // Never sent with a guess, never blocking the others; 65 so a script knows one is stuck.
        worst = worse(worst, ExitCode.Data);
        warn(
          ctx,
          `${oneLine(entry.id)}: the outbox entry ${oneLine(entry.file, 1000)} is corrupt (${oneLine(entry.corrupt)}); skipped (fix it, or: identica outbox drop ${oneLine(entry.id)})`,
        );
        continue;
      }
      if (entry.refused && entry.id !== retryRefused) {
        g.printer.note(`* ${entry.id}: refused earlier (${entry.error}); skipped`);
        warn(
          ctx,
          `${entry.id} was refused (exit ${entry.exitCode}: ${oneLine(entry.error, 200)}); skipped (identica outbox send --retry-refused ${entry.id} to try it again, or identica outbox drop ${entry.id})`,
        );
        continue;
      }
      // An entry kept before its server's API was found out is detected now (inside the try below).
      const detect = entry.api === undefined && entry.serverSpec !== undefined;
      let api: ApiName = entry.api ?? "statusnet";
      let { server } = endpointFor(parseServer(entry.server), api);
      const sameOrigin = home !== undefined && home.origin === server.origin;
      const runUser = sameOrigin ? userOf(g, ctx, server) : undefined;
      const user = entry.user ?? runUser ?? resolveUser({}, {}, g.config, server);
      // The sources that name no server or user are the run's own: for its server and account only.
      const own =
        sameOrigin &&
        (runUser === undefined || user === undefined || user.toLowerCase() === runUser.toLowerCase());
      const since = uncertainSince(entry);
      const startedAt = ctx.now();
      const save = updater(outbox, entry, startedAt, () => ctx.run.wire.serverClockSkewMs.get(server.origin));
      ctx.run.pending.set(save);
      let detected: Endpoint | undefined;
      try {
        // A text identica refused when it was read is checked again: never sent as it was kept.
        checkEntryText(entry);
        if (detect) {
          // The run's --api is about its own server, not this one.
          const named = parseServer(entry.serverSpec as string);
          const { api: _forced, ...flags } = g.flags;
          detected = await endpointOf({ ...g, flags }, ctx, named);
          ({ server, api } = detected);
        }
        checkEntryReplyTo(entry, api);
        checkEntryOptions(entry, api);
        const result = await postStatus(
          {
            server,
            api,
            user,
            format: g.format,
            // Unless the run names the account itself (--user): then it vouches for the token.
            http:
              runUser === undefined
                ? boundToToken(entry, await httpConfig(g, ctx, server))
                : await httpConfig(g, ctx, server),
            credential: credentialSource(g, ctx, server, own),
            text: entry.text,
            source: entry.source,
            replyTo: entry.replyTo ?? undefined,
            // Mastodon: the key fixed at the first attempt, so a server that honours it never makes a
            // second status (entries of older versions have none: their id is as good).
            // The AT Protocol: the record key is the key, a TID (one kept before the API was known, or
            // for an edited text, gives a TID of its own, always the same for the entry).
            idempotencyKey: api === "atproto" ? atprotoKeys(entry) : entryKey(entry),
            visibility: entry.visibility,
            spoilerText: entry.spoilerText,
            language: entry.language,
          },
          {
            cache,
            note: g.printer.note,
            // An uncertain entry is looked for since its first uncertain attempt (that attempt's
            // --if-absent check, if any, had found nothing); one kept by a `post --if-absent` whose
            // check never ran (the server failed it) is checked now, or it would be posted beside
            // the copy the check was there to find.
            unlessPosted:
              since === null
                ? entry.ifAbsent
                  ? {}
                  : undefined
                : {
                    since: {
                      at: new Date(since),
                      onServerClock: entry.uncertainSinceServer
                        ? new Date(entry.uncertainSinceServer)
                        : undefined,
                    },
                  },
          },
        );
        ctx.run.pending.set(undefined);
        outbox.remove(entry.id);
        g.printer.note(
          `* ${entry.id}: ${result.existing ? "was already posted" : "posted"} as #${result.status.id}`,
        );
        await printResult(ctx, g, result, true);
      } catch (caught) {
        ctx.run.pending.set(undefined);
        // An entry kept to be detected whose detected API is gone from the site: asked again next time.
        const gone =
          detected && (await apiGone(caught, detected, entry.serverSpec as string, cacheDir(ctx.env)));
        // Over the server's limit is 64 for `post` (the user still has the text); an entry has only
        // its file, and a length will not get better by itself: 65, kept refused and skipped until it
        // is shortened (docs/cli.md "Refusals wait for you"), not tried again by every cron run.
        const err =
          gone ||
          (caught instanceof TooLongError
            ? new IdenticaError(ExitCode.Data, caught.message, {
                hint: `shorten its "text" in the entry's file, then: identica outbox send --retry-refused ${entry.id}`,
              })
            : caught);
        if (err instanceof IdenticaError && err.kept?.kind === "already-posted") {
          // A refused duplicate: the server has this text already (docs/threats.md I2).
          outbox.remove(entry.id);
          g.printer.note(
            `* ${entry.id}: the server already has it (${err.message}); removed from the outbox`,
          );
          continue;
        }
        const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
        worst = worse(worst, code);
        const kept = save(mayHavePosted(err), code, (err as Error)?.message ?? String(err));
        const e = err as IdenticaError;
        let hint = e.hint;
        if (code === ExitCode.Config && !own) {
          const [sources, secret] =
            api === "mastodon"
              ? ["--token-file and IDENTICA_TOKEN", "a token"]
              : ["--password-file and IDENTICA_PASSWORD", "a password"];
          hint = sameOrigin
            ? `${sources} apply only to ${runUser}; send it with: identica --server ${server.root} --user ${user} outbox send, or store ${secret}: identica login --server ${server.root} --user ${user}`
            : `${sources} apply only to ${home?.key ?? "the configured server"}; send it with: identica --server ${server.root} outbox send, or store ${secret}: identica login --server ${server.root}`;
        }
        warn(ctx, `${entry.id}: ${e.message}${hint ? ` (${hint})` : ""}`);
        for (const line of keptLines(kept, entry.id).slice(kept.kind === "saved" && !kept.refused ? 1 : 0)) {
          ctx.stderr.write(`${line}\n`);
        }
      }
    }
    return worst;
  } finally {
    lock.release();
  }
}

/**
 * The checks `post` makes on a text before sending it (core/text.ts checkText), for an entry that may
 * have been kept refused because of them, or edited since: NUL, control characters, and the U+FFFD that
 * stand for input that was not UTF-8 (`bytesBase64`) until the user has fixed the text. Always 65, so
 * the entry stays refused: a blank text will not get better by itself either.
 */
function checkEntryText(entry: OutboxEntry): void {
  if (entry.bytesBase64 !== undefined && entry.text.includes("\uFFFD")) {
    throw new IdenticaError(
      ExitCode.Data,
      `the text still holds U+FFFD where its input was not valid UTF-8 (the bytes are in "bytesBase64"); nothing was sent`,
      { hint: `fix its "text" in the entry's file, then: identica outbox send --retry-refused ${entry.id}` },
    );
  }
  try {
    checkText(entry.text);
  } catch (err) {
    const e = err as IdenticaError;
    throw new IdenticaError(ExitCode.Data, e.message, {
      hint: `fix its "text" in the entry's file, then: identica outbox send --retry-refused ${entry.id}`,
    });
  }
}

/**
 * The status an entry replies to must be an id of its server's API (a hand-edited file may hold
 * anything): 65, so the entry stays refused until it is fixed, and nothing is sent.
 */
function checkEntryReplyTo(entry: OutboxEntry, api: ApiName): void {
  if (entry.replyTo === null) return;
  try {
    rulesFor(api).statusId(entry.replyTo, '"replyTo"');
  } catch (err) {
    throw new IdenticaError(ExitCode.Data, `${(err as Error).message}; nothing was sent`, {
      hint: `fix its "replyTo" in the entry's file, then: identica outbox send --retry-refused ${entry.id}`,
    });
  }
}

/**
 * An entry kept without an account name was tried with one token (its digest, `tokenId`): it is sent
 * with that token only. Another account's token would post it as that account, and look for the
 * earlier copy among that account's statuses (78 before anything is sent).
 */
function boundToToken(entry: OutboxEntry, http: ConnectionConfig): ConnectionConfig {
  if (entry.tokenId === undefined || entry.user !== null) return http;
  const onSecret = http.onSecret;
  return {
    ...http,
    onSecret: (c) => {
      onSecret?.(c);
      if (textHash(c.password) !== entry.tokenId) {
        throw new ConfigError(
          `${entry.id} was tried with another token (another account's?); nothing was sent`,
          {
            hint: "send it with the token it was tried with; if the new token is the same account's, name it: identica --user NAME outbox send",
          },
        );
      }
    },
  };
}

/**
 * The Idempotency-Key for an entry: the one its first attempt used, so a server that honours keys
 * answers with the status that attempt may have made — unless the text was edited since (a fixed
 * typo): the same key would bring back the old status in place of the new text, so an edited text gets
 * a key of its own (still the same for every later retry of that text).
 */
function entryKey(entry: OutboxEntry): string {
  const key = entry.idempotencyKey ?? entry.id;
  if (entry.keyTextHash === undefined) return key;
  const now = textHash(entry.text);
  return now === entry.keyTextHash ? key : `${key}-${now}`;
}

/**
 * An entry asking for what only the Mastodon API has (a non-public visibility, a content warning, a
 * language) is never posted to a StatusNet server, where it would go out public without its warning:
 * 65, kept refused (the entry was kept before its server's API was known, or edited).
 */
function checkEntryOptions(entry: OutboxEntry, api: ApiName): void {
  if (api === "atproto") {
    const asked = [
      entry.visibility !== undefined && entry.visibility !== "public" ? `visibility ${entry.visibility}` : "",
      entry.spoilerText ? "a content warning" : "",
    ].filter((w) => w !== "");
    if (entry.language !== undefined && !/^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/.test(entry.language))
      asked.push(`the language "${oneLine(entry.language, 20)}"`);
    if (asked.length === 0) return;
    throw new IdenticaError(
      ExitCode.Data,
      `it asks for ${asked.join(" and ")}, which ${entry.server} (AT Protocol) cannot do; nothing was sent`,
      {
        hint: `post it elsewhere, or remove those fields from the entry's file and: identica outbox send --retry-refused ${entry.id}`,
      },
    );
  }
  if (api === "mastodon") {
    // What `post` checks before sending, for a value an older version or an editor put in the file:
    // snac stores an unknown visibility as `direct` without a word (docs/mastodon-api.md §5).
    try {
      mastodonOptions({
        source: entry.source,
        ...(entry.visibility === undefined ? {} : { visibility: entry.visibility }),
        ...(entry.spoilerText === undefined ? {} : { cw: entry.spoilerText }),
        ...(entry.language === undefined ? {} : { language: entry.language }),
      });
    } catch (err) {
      throw new IdenticaError(ExitCode.Data, `${(err as Error).message}; nothing was sent`, {
        hint: `fix it in the entry's file, then: identica outbox send --retry-refused ${entry.id}`,
      });
    }
    return;
  }
  const asked = [
    entry.visibility !== undefined && entry.visibility !== "public" ? `visibility ${entry.visibility}` : "",
    entry.spoilerText ? "a content warning" : "",
    entry.language !== undefined ? "a language" : "",
  ].filter((w) => w !== "");
  if (asked.length === 0) return;
  throw new IdenticaError(
    ExitCode.Data,
    `it asks for ${asked.join(" and ")}, which ${entry.server} (StatusNet API) cannot do; nothing was sent`,
    {
      hint: `post it elsewhere, or remove those fields from the entry's file and: identica outbox send --retry-refused ${entry.id}`,
    },
  );
}

/**
 * The AT Protocol record key for an entry (services/atproto/tid.ts rkeyFor); for an entry whose text
 * was edited since its key was first sent, followed by that first key (`<rkey>,<first rkey>`): a record
 * under the first key is the status, posted before the edit, and nothing is posted a second time.
 */
function atprotoKeys(entry: OutboxEntry): string {
  const at = entryTime(entry);
  const now = rkeyFor(entryKey(entry), at);
  const first = rkeyFor(entry.idempotencyKey ?? entry.id, at);
  return first === now ? now : `${now},${first}`;
}

/** When the entry was first kept: its id starts with that time (core/outbox.ts), else its last attempt. */
function entryTime(entry: OutboxEntry): Date {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(\d{3})?/.exec(entry.id);
  if (m) {
    const [, y, mo, d, h, mi, sec, ms] = m;
    const t = Date.UTC(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h),
      Number(mi),
      Number(sec),
      Number(ms ?? 0),
    );
    if (!Number.isNaN(t)) return new Date(t);
  }
  const at = Date.parse(entry.attemptedAt);
  return Number.isNaN(at) ? new Date(0) : new Date(at);
}

/** The server named by --server, IDENTICA_SERVER or the config default, if any. */
function ownServer(g: Globals, ctx: Context): Server | undefined {
  try {
    return serverOf(g, ctx);
  } catch {
    return undefined;
  }
}

function warn(ctx: Context, line: string): void {
  writeDiagnostic(ctx, `identica: ${line}`);
}

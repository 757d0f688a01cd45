import { join } from "node:path";
import { cacheDir, stateDir } from "../config/paths.js";
import { parseServer } from "../config/server.js";
import type { Context } from "../context.js";
import { LimitCache } from "../core/limit-cache.js";
import { acquireLock } from "../core/lock.js";
import { Outbox, type OutboxEntry } from "../core/outbox.js";
import { ExitCode, IdenticaError, UsageError } from "../errors.js";
import { absoluteTime } from "../output/time.js";
import { oneLine } from "../sanitize.js";
import {
  credentialSource,
  type GlobalFlags,
  type Globals,
  httpConfig,
  readGlobals,
  userOf,
} from "./globals.js";
import { mayHavePosted, printResult } from "./post.js";

/** `identica outbox [list|send|drop ID]`: statuses that could not be posted, kept until sent or dropped. */
export async function outboxCommand(
  ctx: Context,
  action: string | undefined,
  args: string[],
  gflags: GlobalFlags,
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const outbox = new Outbox(stateDir(ctx.env));
  switch (action ?? "list") {
    case "list":
      list(g, outbox.list());
      return ExitCode.Ok;
    case "drop": {
      const id = args[0];
      if (id === undefined) throw new UsageError("which entry? (identica outbox list shows the ids)");
      if (!outbox.remove(id)) throw new UsageError(`no entry "${id}" in the outbox`);
      if (g.output !== "none" && g.output !== "json") g.printer.result(`Dropped ${id}.\n`);
      return ExitCode.Ok;
    }
    case "send":
      return send(ctx, g, outbox);
    default:
      throw new UsageError(`unknown outbox action "${action}" (use list, send or drop ID)`);
  }
}

function list(g: Globals, entries: OutboxEntry[]): void {
  if (g.output === "json") {
    g.printer.result(`${JSON.stringify(entries, null, 2)}\n`);
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
    const who = `${e.user ?? "?"} at ${e.server}`;
    const state = e.sent ? "sent, outcome unknown" : "not posted";
    return `${e.id}  ${absoluteTime(e.attemptedAt)}  ${who}  (exit ${e.exitCode}, ${state})\n    ${oneLine(e.text, 200)}\n`;
  });
  g.printer.result(blocks.join(""));
}

/** Whether the server may already have an earlier attempt: then the timeline is checked first. */
function outcomeUnknown(e: OutboxEntry): boolean {
  return e.exitCode === ExitCode.Protocol || e.sent;
}

/**
 * Sends the entries oldest first and stops at the first failure. A lock in the state dir keeps two
 * runs (two cron jobs) from sending the same entry; an entry whose earlier outcome is unknown is first
 * looked for on the user's timeline, so it is never posted twice.
 */
async function send(ctx: Context, g: Globals, outbox: Outbox): Promise<ExitCode> {
  const release = acquireLock(join(stateDir(ctx.env), "outbox.lock"));
  try {
    const entries = outbox.list();
    if (entries.length === 0) {
      if (g.output === "pretty") g.printer.result("The outbox is empty.\n");
      return ExitCode.Ok;
    }
    const { postStatus } = await import("../core/post.js");
    const cache = new LimitCache(cacheDir(ctx.env), ctx.now);
    for (const entry of entries) {
      // Another run may have sent it while we waited for the server.
      if (outbox.get(entry.id) === undefined) continue;
      const server = parseServer(entry.server);
      const user = entry.user ?? userOf(g, ctx, server);
      try {
        const result = await postStatus(
          {
            server,
            user,
            format: g.format,
            http: await httpConfig(g, ctx, server),
            credential: credentialSource(g, ctx, server),
            text: entry.text,
            source: entry.source,
            replyTo: entry.replyTo ?? undefined,
          },
          {
            cache,
            note: g.printer.note,
            unlessPosted: outcomeUnknown(entry) ? { since: new Date(entry.attemptedAt) } : undefined,
          },
        );
        outbox.remove(entry.id);
        g.printer.note(
          `* ${entry.id}: ${result.existing ? "was already posted" : "posted"} as #${result.status.id}`,
        );
        await printResult(ctx, g, result, true);
      } catch (err) {
        const code = err instanceof IdenticaError ? err.exitCode : ExitCode.Internal;
        outbox.update({
          ...entry,
          attemptedAt: ctx.now().toISOString(),
          exitCode: code,
          error: (err as Error)?.message ?? String(err),
          // Once the outcome was unknown it stays so until the timeline says otherwise.
          sent: entry.sent || mayHavePosted(err),
        });
        if (err instanceof IdenticaError) err.savedTo = outbox.pathOf(entry.id);
        throw err;
      }
    }
    return ExitCode.Ok;
  } finally {
    release();
  }
}

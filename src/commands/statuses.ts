import type { Context } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";
import { loadStyle, useColor } from "../output/color.js";
import { plainStatusOutput, prettyStatus } from "../output/status.js";
import { plainTimelineOutput, prettyTimeline } from "../output/timeline.js";
import { withService } from "../services/open.js";
import { type Status, type StatusReply, TIMELINE_KINDS, type TimelineKind } from "../services/service.js";
import { type GlobalFlags, type Globals, readGlobals, withSpinner } from "./globals.js";
import { serviceOptions } from "./session-options.js";

async function printStatus(
  ctx: Context,
  g: Globals,
  r: StatusReply,
  url: string,
  heading = "",
): Promise<void> {
  if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    g.printer.result(`${heading}${prettyStatus(r.status, url, style, ctx.now())}`);
  } else {
    g.printer.result(plainStatusOutput(g.output, r.status, url, r.reply.text, g.printer.tty));
  }
}

/** `identica show <id>`: one status; 404 → 65 "no such", 410 → 65 "deleted". */
export async function showCommand(ctx: Context, id: string, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const opts = await serviceOptions(g, ctx);
  const { r, url } = await withSpinner(g, ctx, `fetching #${id}`, () =>
    withService(opts, async (svc) => {
      const r = await svc.show(id);
      return { r, url: svc.statusUrl(r.status) };
    }),
  );
  await printStatus(ctx, g, r, url);
  return ExitCode.Ok;
}

/** `identica delete <id>`: `statuses/destroy/<id>`; someone else's → 77, unknown → 65. */
export async function deleteCommand(ctx: Context, id: string, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const opts = await serviceOptions(g, ctx);
  const { r, url } = await withSpinner(g, ctx, `deleting #${id}`, () =>
    withService(opts, async (svc) => {
      const r = await svc.delete(id);
      return { r, url: svc.statusUrl(r.status) };
    }),
  );
  await printStatus(ctx, g, r, url, "Deleted:\n");
  return ExitCode.Ok;
}

export interface TimelineFlags {
  count?: string;
  sinceId?: string;
  maxId?: string;
  of?: string;
}

/** `identica timeline [home|user|mentions|public]`. */
export async function timelineCommand(
  ctx: Context,
  kindArg: string | undefined,
  flags: TimelineFlags,
  gflags: GlobalFlags,
): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const kind = (kindArg ?? "home") as TimelineKind;
  if (!TIMELINE_KINDS.includes(kind)) {
    throw new UsageError(`unknown timeline "${kindArg}" (use ${TIMELINE_KINDS.join(", ")})`);
  }
  if (flags.of !== undefined && kind !== "user")
    throw new UsageError("--of goes with the user timeline: timeline user --of NICK");
  let count: number | undefined;
  if (flags.count !== undefined) {
    count = Number(flags.count);
    if (!/^\d+$/.test(flags.count) || count < 1 || count > 200) {
      throw new UsageError(`--count takes a number from 1 to 200, not "${flags.count}"`);
    }
  }
  const opts = await serviceOptions(g, ctx);
  const { r, urlOf } = await withSpinner(g, ctx, `reading the ${kind} timeline`, () =>
    withService(opts, async (svc) => {
      const sinceId = flags.sinceId === undefined ? undefined : svc.statusId(flags.sinceId);
      const maxId = flags.maxId === undefined ? undefined : svc.statusId(flags.maxId);
      const r = await svc.timeline({ kind, count, sinceId, maxId, of: flags.of });
      return { r, urlOf: (s: Status) => svc.statusUrl(s) };
    }),
  );
  if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    const width = ctx.stdout.isTTY ? (ctx.stdout.columns ?? 80) : undefined;
    // Loaded here only: no other output measures text in terminal columns.
    const { default: widthOf } = await import("string-width");
    g.printer.result(prettyTimeline(r.statuses, { style, now: ctx.now(), width, widthOf, urlOf }));
  } else {
    g.printer.result(plainTimelineOutput(g.output, r.statuses, urlOf, r.text, g.printer.tty));
  }
  return ExitCode.Ok;
}

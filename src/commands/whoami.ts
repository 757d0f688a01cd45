import type { Context } from "../context.js";
import { ExitCode } from "../errors.js";
import { loadStyle, useColor } from "../output/color.js";
import { plainProfileOutput, prettyProfile } from "../output/user.js";
import { withService } from "../services/open.js";
import { type GlobalFlags, readGlobals, withSpinner } from "./globals.js";
import { endpointOf, serviceOptions } from "./session-options.js";

/** `identica whoami`: who the credentials belong to, from `account/verify_credentials`. */
export async function whoamiCommand(ctx: Context, gflags: GlobalFlags): Promise<ExitCode> {
  const g = readGlobals(gflags, ctx);
  const endpoint = await endpointOf(g, ctx);
  const { server } = endpoint;
  const opts = await serviceOptions(g, ctx, endpoint);
  const { profile, reply } = await withSpinner(g, ctx, `asking ${server.key}`, () =>
    withService(opts, (svc) => svc.whoami()),
  );
  if (g.output === "pretty") {
    const style = await loadStyle(useColor(g.color, ctx.env, ctx.stdout.isTTY));
    g.printer.result(prettyProfile(profile, server.key, style, ctx.now()));
  } else {
    g.printer.result(plainProfileOutput(g.output, profile, server.root, reply.text, g.printer.tty));
  }
  return ExitCode.Ok;
}

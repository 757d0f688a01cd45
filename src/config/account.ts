import type { Env } from "../io.js";
import type { ConfigFile } from "./file.js";
import { noServerError, parseServer, type Server } from "./server.js";

export interface AccountOptions {
  server?: string | undefined;
  user?: string | undefined;
}

/** `--server`, else `IDENTICA_SERVER`, else the config file's default (docs/cli.md "Servers and accounts"). */
export function resolveServer(opts: AccountOptions, env: Env, config: ConfigFile): Server {
  const given = opts.server ?? (env.IDENTICA_SERVER || undefined) ?? config.server;
  if (given === undefined || given.trim() === "") throw noServerError();
  return parseServer(given);
}

/** `--user`, else `IDENTICA_USER`, else the config file's user for this server, else its default user. */
export function resolveUser(
  opts: AccountOptions,
  env: Env,
  config: ConfigFile,
  server: Server,
): string | undefined {
  const user =
    opts.user ?? (env.IDENTICA_USER || undefined) ?? config.servers?.[server.root]?.user ?? config.user;
  return user === undefined || user === "" ? undefined : user;
}

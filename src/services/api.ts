import { join } from "node:path";
import { writeFileAtomicSync } from "../config/atomic-write.js";
import type { ConfigFile } from "../config/file.js";
import { readRegularFile, readRegularFileSync } from "../config/regular-file.js";
import { atOrigin, type Server } from "../config/server.js";
import { ExitCode, HttpError, UsageError } from "../errors.js";
import type { Env } from "../io.js";

/** The APIs identica speaks (docs/cli.md "Two APIs", "A third API: AT Protocol"). */
export type ApiName = "statusnet" | "mastodon" | "atproto";
export const API_NAMES: readonly ApiName[] = ["statusnet", "mastodon", "atproto"];

export function parseApi(value: string, what = "--api"): ApiName {
  const v = value.trim().toLowerCase();
  if ((API_NAMES as readonly string[]).includes(v)) return v as ApiName;
  throw new UsageError(`${what} takes statusnet, mastodon or atproto, not "${value}"`);
}

/** How messages and listings name an API. */
export function apiTitle(api: ApiName): string {
  return api === "mastodon" ? "Mastodon API" : api === "atproto" ? "AT Protocol" : "StatusNet API";
}

/** Whether the API's base is the server's origin (Mastodon's, the AT Protocol's XRPC): only StatusNet has a root with a path. */
export function atOriginApi(api: ApiName | undefined): boolean {
  return api === "mastodon" || api === "atproto";
}

/** A server together with the API it speaks; its root is that API's (the origin for Mastodon). */
export interface Endpoint {
  server: Server;
  api: ApiName;
  /**
   * False when the probe's answer was no answer about the API (a redirect, a login page): the API is
   * taken for this run only, and a status kept now keeps the server as named, to be detected again.
   */
  definite?: boolean;
  /**
   * The API was found by a probe (now, or remembered from one): not given by `--api`, the config or a
   * path. Such a verdict may go stale when the site moves to other software (apiGone).
   */
  probed?: boolean;
}

/** The server as the given API addresses it: Mastodon's and the AT Protocol's API base is the origin. */
export function endpointFor(server: Server, api: ApiName): Endpoint {
  return { server: atOriginApi(api) ? atOrigin(server) : server, api };
}

/**
 * The API when it is known without asking the server: forced by `--api` / `IDENTICA_API`, kept in the
 * config for this server (by `login`, or by hand), given by a path (a URL with a path is a StatusNet API
 * root), or remembered from an earlier detection. Undefined: the server must be probed.
 */
export async function knownApi(
  server: Server,
  forced: string | undefined,
  env: Env,
  config: ConfigFile,
  cacheDir: string,
): Promise<ApiName | undefined> {
  return (await knownApiFrom(server, forced, env, config, cacheDir))?.api;
}

/** knownApi, and whether the answer is a remembered probe's (`probed`) rather than given. */
export async function knownApiFrom(
  server: Server,
  forced: string | undefined,
  env: Env,
  config: ConfigFile,
  cacheDir: string,
): Promise<{ api: ApiName; probed: boolean } | undefined> {
  if (forced !== undefined) return { api: parseApi(forced), probed: false };
  if (env.IDENTICA_API) return { api: parseApi(env.IDENTICA_API, "IDENTICA_API"), probed: false };
  const configured =
    config.servers?.[server.spec]?.api ??
    config.servers?.[server.root]?.api ??
    config.servers?.[server.origin]?.api;
  if (configured !== undefined) return { api: configured, probed: false };
  if (!server.probe) return { api: "statusnet", probed: false };
  const remembered = await new ApiCache(cacheDir).get(server.spec);
  return remembered === undefined ? undefined : { api: remembered, probed: true };
}

/**
 * Whether a failed post shows that the API a probe found is gone from the site: "no such API
 * endpoint" (69, a 404 or 405 that is not the API's own error document) from an endpoint whose API
 * came from a probe, as when a GNU social site moves to a Mastodon-API server or back. The verdict is
 * then forgotten, so that the next run asks again instead of failing the same way for ever; the
 * caller keeps the text with the server as named, for `outbox send` to detect.
 */
export async function apiGone(
  err: unknown,
  endpoint: Endpoint,
  spec: string,
  cacheDir: string,
): Promise<HttpError | undefined> {
  if (!endpoint.probed || !(err instanceof HttpError) || err.exitCode !== ExitCode.Unavailable)
    return undefined;
  if (err.details.status !== 404 && err.details.status !== 405) return undefined;
  await new ApiCache(cacheDir).forget(spec);
  const again = `the next run will ask again which API it speaks`;
  return new HttpError(err.exitCode, err.message, err.details, {
    hint: err.hint ? `${err.hint}; ${again}` : again,
    cause: err,
  });
}

/**
 * Which API each probed server speaks (`apis.json` in the cache dir). A server's API does not change
 * from one run to the next, so a detection is kept until the cache is cleared; a server that answered
 * as StatusNet is never probed again.
 */
export class ApiCache {
  readonly #file: string;

  constructor(cacheDir: string) {
    this.#file = join(cacheDir, "apis.json");
  }

  async get(spec: string): Promise<ApiName | undefined> {
    const apis = await this.#read();
    const api = Object.hasOwn(apis, spec) ? apis[spec] : undefined;
    return api !== undefined && (API_NAMES as readonly string[]).includes(api) ? (api as ApiName) : undefined;
  }

  // A change is read, made and written with no await between: the targets of one `post --to` are
  // detected at once, and an await there let one detection's write undo the other's.
  async set(spec: string, api: ApiName): Promise<void> {
    const apis = this.#readSync();
    apis[spec] = api;
    this.#write(apis);
  }

  async forget(spec: string): Promise<void> {
    const apis = this.#readSync();
    if (!Object.hasOwn(apis, spec)) return;
    delete apis[spec];
    this.#write(apis);
  }

  #write(apis: Record<string, string>): void {
    try {
      writeFileAtomicSync(this.#file, `${JSON.stringify({ apis })}\n`, {
        mkdir: true,
        tmp: `${this.#file}.${process.pid}.tmp`,
      });
    } catch {
      // A cache that cannot be written costs one probe next time.
    }
  }

  #readSync(): Record<string, string> {
    try {
      return validApis(readRegularFileSync(this.#file));
    } catch {
      return {};
    }
  }

  /** Only well-formed entries: anything else is as if it had not been probed. */
  async #read(): Promise<Record<string, string>> {
    try {
      return validApis(await readRegularFile(this.#file));
    } catch {
      return {};
    }
  }
}

function validApis(text: string): Record<string, string> {
  const data = JSON.parse(text) as { apis?: unknown };
  const apis = data?.apis;
  if (typeof apis !== "object" || apis === null || Array.isArray(apis)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(apis as Record<string, unknown>)) {
    if (typeof v === "string" && (API_NAMES as readonly string[]).includes(v)) out[k] = v;
  }
  return out;
}

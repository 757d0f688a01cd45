import { join } from "node:path";
import { writeFileAtomic } from "../config/atomic-write.js";
import type { ConfigFile } from "../config/file.js";
import { readRegularFile } from "../config/regular-file.js";
import { atOrigin, type Server } from "../config/server.js";
import { UsageError } from "../errors.js";
import type { Env } from "../io.js";

/** The APIs identica speaks (docs/cli.md "Two APIs"). */
export type ApiName = "statusnet" | "mastodon";
export const API_NAMES: readonly ApiName[] = ["statusnet", "mastodon"];

export function parseApi(value: string, what = "--api"): ApiName {
  const v = value.trim().toLowerCase();
  if ((API_NAMES as readonly string[]).includes(v)) return v as ApiName;
  throw new UsageError(`${what} takes ${API_NAMES.join(" or ")}, not "${value}"`);
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
}

/** The server as the given API addresses it: Mastodon's API base is the origin. */
export function endpointFor(server: Server, api: ApiName): Endpoint {
  return { server: api === "mastodon" ? atOrigin(server) : server, api };
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
  if (forced !== undefined) return parseApi(forced);
  if (env.IDENTICA_API) return parseApi(env.IDENTICA_API, "IDENTICA_API");
  const configured =
    config.servers?.[server.spec]?.api ??
    config.servers?.[server.root]?.api ??
    config.servers?.[server.origin]?.api;
  if (configured !== undefined) return configured;
  if (!server.probe) return "statusnet";
  return new ApiCache(cacheDir).get(server.spec);
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

  async set(spec: string, api: ApiName): Promise<void> {
    const apis = await this.#read();
    apis[spec] = api;
    try {
      await writeFileAtomic(this.#file, `${JSON.stringify({ apis })}\n`, {
        mkdir: true,
        tmp: `${this.#file}.${process.pid}.tmp`,
      });
    } catch {
      // A cache that cannot be written costs one probe next time.
    }
  }

  /** Only well-formed entries: anything else is as if it had not been probed. */
  async #read(): Promise<Record<string, string>> {
    try {
      const data = JSON.parse(await readRegularFile(this.#file)) as { apis?: unknown };
      const apis = data?.apis;
      if (typeof apis !== "object" || apis === null || Array.isArray(apis)) return {};
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(apis as Record<string, unknown>)) {
        if (typeof v === "string" && (API_NAMES as readonly string[]).includes(v)) out[k] = v;
      }
      return out;
    } catch {
      return {};
    }
  }
}

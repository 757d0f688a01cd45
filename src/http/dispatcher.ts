import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import type { Dispatcher, Client as UndiciClient } from "undici";
import type { HttpConfig } from "./client.js";

// undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it twice by default: quickly
// (Liftoff), then again optimised (TurboFan) on background threads that the process waits for before
// it can exit. A run that makes one or two requests never profits from the second compile.
setFlagsFromString("--liftoff-only");

// undici's index loads fetch, WebSocket, caches and more (~150 ms at start-up); identica needs only
// the one-connection Client, which loads in a third of that (measured by npm run bench). request() is
// added to the Dispatcher prototype by undici's index, so it is called from its own module.
const load = createRequire(import.meta.url);
const Client = load("undici/lib/dispatcher/client.js") as typeof UndiciClient;
export const request = load("undici/lib/api/api-request.js") as Dispatcher["request"];

/**
 * One connection to the origin: an undici `Client` (a single socket), or with a proxy an Agent limited
 * to one connection per origin, tunnelling through CONNECT. Site credentials are only ever headers of
 * the tunnelled request; the proxy sees the CONNECT line and its own Proxy-Authorization (from its URL).
 */
export function makeDispatcher(origin: string, config: HttpConfig): Dispatcher {
  // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn verification off.
  const tls = { rejectUnauthorized: true, ...(config.ca ? { ca: config.ca } : {}) };
  const common = {
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
    maxResponseSize: config.maxResponseBytes,
  };
  const connect = { timeout: Math.min(10_000, config.timeoutMs), ...tls };
  const proxy = config.proxy;
  if (proxy === undefined || ("env" in proxy && !proxy.env.httpProxy && !proxy.env.httpsProxy)) {
    return new Client(origin, { ...common, connect });
  }
  const viaProxy = {
    ...common,
    connect,
    connections: 1,
    requestTls: tls,
    proxyTls: { rejectUnauthorized: true },
  };
  // The proxy agents use more of undici's API (connect()), which its index puts on the prototype: only
  // a run through a proxy pays for loading all of undici.
  const undici = load("undici") as typeof import("undici");
  if ("url" in proxy) return new undici.ProxyAgent({ ...viaProxy, uri: proxy.url });
  return new undici.EnvHttpProxyAgent({ ...viaProxy, ...proxy.env });
}

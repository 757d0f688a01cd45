import { isIP } from "node:net";
import type { SecureContext } from "node:tls";
import type { Dispatcher } from "undici";
import type { HttpConfig } from "./config.js";

/** A dispatcher and undici's request() of the same copy of undici (see http/proxy.ts). */
export interface Connection {
  dispatcher: Dispatcher;
  request: Dispatcher["request"];
}

/**
 * One connection to the origin: an undici `Client` (a single socket), or with a proxy an Agent limited
 * to one connection per origin, tunnelling through CONNECT. Site credentials are only ever headers of
 * the tunnelled request; the proxy sees the CONNECT line and its own Proxy-Authorization (from its URL).
 */
export async function makeDispatcher(origin: string, config: HttpConfig): Promise<Connection> {
  // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn verification off.
  const tls = {
    rejectUnauthorized: true,
    ...(config.extraCa ? { secureContext: await withExtraCa(config.extraCa) } : {}),
  };
  const common = {
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
    maxResponseSize: config.maxResponseBytes,
  };
  const connect = { timeout: Math.min(10_000, config.timeoutMs), ...tls };
  const proxy = config.proxy;
  const direct = proxy === undefined || ("env" in proxy && !proxy.env.httpProxy && !proxy.env.httpsProxy);
  const { Client, request, setV8Flags } = await import("../net-libs.js");
  // The proxy agents are a bundle of their own: only a run through a proxy loads them.
  const agents = direct ? undefined : await import("./proxy.js");
  // The V8 flags (v8-flags.ts) cost every Node module compiled after them its built-in code cache: the
  // modules the connection will load (TLS, DNS) are loaded first.
  if (!direct || origin.startsWith("https:")) await import("node:tls");
  if (!direct || isIP(new URL(origin).hostname.replace(/^\[|\]$/g, "")) === 0) await import("node:dns");
  setV8Flags();
  if (agents === undefined || proxy === undefined) {
    return { dispatcher: new Client(origin, { ...common, connect }), request };
  }
  const viaProxy = {
    ...common,
    connect,
    connections: 1,
    requestTls: tls,
    proxyTls: { rejectUnauthorized: true },
  };
  const dispatcher =
    "url" in proxy
      ? new agents.ProxyAgent({ ...viaProxy, uri: proxy.url })
      : new agents.EnvHttpProxyAgent({ ...viaProxy, ...proxy.env });
  return { dispatcher, request: agents.request };
}

/**
 * A TLS context trusting Node's CAs (with NODE_EXTRA_CA_CERTS) and `extra`. Listing them all in `ca`
 * makes Node parse its ~140 root certificates again for the connection (~30 ms, a fifth of a post);
 * adding the extra ones to a default context copies the roots Node has already parsed (~1 ms). That
 * uses the context's native handle, which Node's own tls code uses the same way; where it is missing,
 * the full list is built.
 */
async function withExtraCa(extra: string[]): Promise<SecureContext> {
  const { createSecureContext, rootCertificates } = await import("node:tls");
  const context = createSecureContext();
  const native = (context as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== "function") {
    return createSecureContext({ ca: [...rootCertificates, ...extra] });
  }
  for (const pem of extra) native.addCACert(pem);
  return context;
}

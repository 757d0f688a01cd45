import request from "undici/lib/api/api-request.js";
import api from "undici/lib/api/index.js";
import Dispatcher from "undici/lib/dispatcher/dispatcher.js";
import EnvHttpProxyAgent from "undici/lib/dispatcher/env-http-proxy-agent.js";
import ProxyAgent from "undici/lib/dispatcher/proxy-agent.js";

/**
 * undici's proxy agents, in a bundle of their own (dist/proxy.cjs) that only a run through a proxy
 * loads. It holds its own copy of the undici modules they use, so request() comes from here too: the
 * agent and the function that drives it are of one copy.
 *
 * The agents open their tunnel with connect(), which undici's index puts on the Dispatcher prototype
 * together with the rest of its API; this does the same, without loading the rest of undici.
 */
Object.assign(Dispatcher.prototype, api);

export { EnvHttpProxyAgent, ProxyAgent, request };

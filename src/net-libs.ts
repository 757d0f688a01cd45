import { setFlagsFromString } from "node:v8";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import request from "undici/lib/api/api-request.js";
import Client from "undici/lib/dispatcher/client.js";
import { BEFORE_V8_FLAGS, V8_FLAGS } from "./v8-flags.js";

/**
 * The libraries a request needs — undici's one-connection Client and request(), fast-xml-parser — in
 * one bundle (dist/net-libs.cjs) that loads with the first request. The program's own bundle holds
 * none of them, so `--dry-run`, `config` and `outbox list` start without them. The build bundles them:
 * nothing is resolved from node_modules at run time, so a later undici release cannot move a file from
 * under an installed identica.
 *
 * undici's index would also load fetch, WebSocket, caches and more; the Client comes from its own
 * module, and request() (which the index adds to the Dispatcher prototype) is called from its module.
 */
export { Client, request, XMLParser, XMLValidator };

let flagsSet = false;

/** Sets V8_FLAGS once, before the first connection compiles undici's HTTP parser (see v8-flags.ts). */
export function setV8Flags(): void {
  if (flagsSet) return;
  flagsSet = true;
  const beforeFlags = (globalThis as Record<symbol, unknown>)[BEFORE_V8_FLAGS];
  if (typeof beforeFlags === "function") beforeFlags();
  setFlagsFromString(V8_FLAGS);
}

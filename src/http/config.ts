import type { Dispatcher } from "undici";
import type { PauseClock } from "./deadline.js";
import type { Wire } from "./wire.js";

/** The largest reply identica reads; anything longer is not a status (docs/threats.md). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const MIB = MAX_RESPONSE_BYTES / (1024 * 1024);
/** The limit as messages say it. */
export const MAX_RESPONSE_TEXT = `${MIB} MiB`;

export interface HttpConfig {
  /**
   * One deadline for the whole exchange of a session (limit lookup, post, challenge and retry), in
   * milliseconds from its first request; time at the password prompt does not count.
   */
  timeoutMs: number;
  userAgent: string;
  /** CAs (PEM) trusted besides Node's defaults: `--cacert`, with NODE_EXTRA_CA_CERTS. */
  extraCa?: string[] | undefined;
  maxResponseBytes: number;
  /** `-v`: receives the exchange line by line, Authorization already redacted. */
  trace?: ((line: string) => void) | undefined;
  /** Unit tests inject undici's MockAgent here; otherwise a one-connection Client is made. */
  dispatcher?: Dispatcher | undefined;
  /** The run's record of what is on the wire, which its signal handler reads (one of its own if not given). */
  wire?: Wire | undefined;
  /** The run's time at prompts, which its deadlines do not count (one of its own if not given). */
  pauses?: PauseClock | undefined;
  /** Proxies: `--proxy URL`, or HTTP(S)_PROXY/NO_PROXY from the environment; none with `--no-proxy`. */
  proxy?: { url: string } | { env: { httpProxy: string; httpsProxy: string; noProxy: string } } | undefined;
}

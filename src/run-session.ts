import { Pending } from "./core/pending.js";
import { PauseClock } from "./http/deadline.js";
import { Wire } from "./http/wire.js";
import { SpinnerSlot } from "./output/spinner.js";

/**
 * What one run has going on, which the signal handler and the watchdog ask when the run is cut short:
 * the request on the wire (may the status have been posted: 75 or 76?), what must still be saved to the
 * outbox, the time spent at prompts (no deadline counts it) and the spinner. One per run, never a
 * module's variable, so that two runs in one process (several accounts at once) do not mix them up.
 */
export class RunSession {
  readonly wire = new Wire();
  readonly pending = new Pending();
  readonly pauses = new PauseClock();
  readonly spinner = new SpinnerSlot();
}

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
  readonly sessions = new RunSessions();
  /**
   * Called with the exit code when a signal ends the run, before its stderr lines: output that waits
   * for the run to finish (several accounts' `-o json`, `-o id` in order) is written as far as it goes.
   */
  readonly onInterrupt = new Set<(code: number) => void>();
}

/**
 * Sessions a service made for this run and can keep nowhere else (the AT Protocol without a keychain):
 * every later request of the run for the same account uses the same one (`outbox send` with many
 * entries logs in once, not once per entry), and each is ended when the run is done (`finish`).
 */
export class RunSessions {
  readonly #items = new Map<string, { value: unknown; end: () => Promise<void> }>();

  get<T>(key: string): T | undefined {
    return this.#items.get(key)?.value as T | undefined;
  }

  /** Keeps the session for the run; `end` ends it on the server (the newest one replaces the older). */
  set(key: string, value: unknown, end: () => Promise<void>): void {
    this.#items.set(key, { value, end });
  }

  /** Ends every session kept, best effort; called once the command is done. */
  async finish(): Promise<void> {
    const items = [...this.#items.values()];
    this.#items.clear();
    for (const { end } of items) await end().catch(() => undefined);
  }
}

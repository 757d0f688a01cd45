/**
 * `--timeout`: one deadline for a whole exchange (the limit lookup, the post, the challenge and its
 * retry), counted in wall-clock time from the first request, less the time a person spends at the
 * password prompt. Loaded without undici: the prompt pauses every deadline of its run through the run's PauseClock.
 */

// process.hrtime rather than performance.now(): the global `performance` loads perf_hooks (~1 ms).
const clock = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * The time a run has spent at a prompt, which no deadline of that run counts. One per run (the run
 * session holds it), so that a prompt in one run does not stop another's deadlines.
 */
export class PauseClock {
  #total = 0;
  #since: number | undefined;
  #depth = 0;

  /** Milliseconds spent paused so far, including the pause going on now. */
  pausedSoFar(): number {
    return this.#total + (this.#since === undefined ? 0 : clock() - this.#since);
  }

  /** Runs `fn` (a prompt) with every deadline stopped: the time a person takes to type is not the server's. */
  async whilePaused<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#depth++ === 0) this.#since = clock();
    try {
      return await fn();
    } finally {
      if (--this.#depth === 0 && this.#since !== undefined) {
        this.#total += clock() - this.#since;
        this.#since = undefined;
      }
    }
  }
}

/** Thrown by `Deadline.run` when the time is up, whatever the work was doing. */
export class DeadlineExpired extends Error {
  readonly code = "IDENTICA_DEADLINE";
  /** The limit that fired: the whole deadline, or a shorter cap the request asked for. */
  readonly limitMs: number;

  constructor(limitMs: number) {
    super(`no answer within ${limitMs / 1000} s`);
    this.name = "TimeoutError";
    this.limitMs = limitMs;
  }
}

export class Deadline {
  readonly totalMs: number;
  #startedAt: number | undefined;
  #pausedAtStart = 0;
  readonly #pauses: PauseClock;

  /** `pauses`: the run's prompts, which do not count (a deadline of its own when not given). */
  constructor(totalMs: number, pauses: PauseClock = new PauseClock()) {
    this.totalMs = totalMs;
    this.#pauses = pauses;
  }

  /** What is left; the clock starts with the first `run`. */
  remainingMs(): number {
    if (this.#startedAt === undefined) return this.totalMs;
    const elapsed = clock() - this.#startedAt - (this.#pauses.pausedSoFar() - this.#pausedAtStart);
    return Math.max(0, this.totalMs - elapsed);
  }

  /**
   * Runs `work` and settles when it does, or rejects with DeadlineExpired when the deadline (or the
   * shorter `capMs`) passes — even if `work` never settles: a library that loses a request (undici
   * after a TLS name mismatch) must not leave the process waiting on nothing. The timer is ref'd, so
   * the event loop stays alive until then; `work` gets a signal that is aborted at that moment.
   */
  run<T>(work: (signal: AbortSignal) => Promise<T>, capMs = Number.POSITIVE_INFINITY): Promise<T> {
    if (this.#startedAt === undefined) {
      this.#startedAt = clock();
      this.#pausedAtStart = this.#pauses.pausedSoFar();
    }
    const capped = capMs < this.remainingMs();
    const limitMs = capped ? capMs : this.totalMs;
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const expire = () => {
        const err = new DeadlineExpired(limitMs);
        controller.abort(err);
        reject(err);
      };
      const until = capped ? clock() + capMs : undefined;
      const arm = () => {
        const left = until === undefined ? this.remainingMs() : Math.max(0, until - clock());
        if (left <= 0) return expire();
        // A pause (a prompt) during the work moves the end: look again when the timer fires.
        timer = setTimeout(arm, Math.ceil(left));
      };
      arm();
      if (controller.signal.aborted) return;
      const settled = work(controller.signal);
      settled.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

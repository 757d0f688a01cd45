/** What one request on the wire is: whether it was written, with credentials, and whether it can post. */
export interface OnTheWire {
  sent: boolean;
  authenticated: boolean;
  mayWrite: boolean;
  /** It deletes a status rather than posting one (HttpRequest.deletes). */
  deletes?: boolean | undefined;
}

/**
 * What is on the wire right now for one run, without loading undici: the signal handler and the
 * watchdog ask it whether an interrupted post may have reached the server.
 */
export class Wire {
  current: OnTheWire | undefined;
  /** The run's connections, numbered in the order they were first used (for `-v`). */
  readonly #connections = new WeakMap<object, number>();
  #nextConnection = 1;
  /** Per origin, how far the server's clock is ahead of ours, from the last `Date` header it sent. */
  readonly serverClockSkewMs = new Map<string, number>();

  /** The number of this connection, and whether it was used before. */
  connection(socket: object): { id: number; reused: boolean } {
    const known = this.#connections.get(socket);
    if (known !== undefined) return { id: known, reused: true };
    const id = this.#nextConnection++;
    this.#connections.set(socket, id);
    return { id, reused: false };
  }

  /**
   * Whether a request that can post (it carries credentials and is not a read) has been written and not
   * yet answered. A read, or the challenge flow's first request without credentials, cannot post.
   */
  authenticatedRequestInFlight(): boolean {
    return this.current?.sent === true && this.current.authenticated && this.current.mayWrite;
  }

  /** What the request in flight may have done, for the words of an interrupted run. */
  effectInFlight(): "posted" | "deleted" {
    return this.current?.deletes ? "deleted" : "posted";
  }
}

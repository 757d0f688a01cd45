/**
 * What is on the wire right now, without loading undici: the signal handler and the watchdog read it
 * to tell the user whether an interrupted post may have reached the server.
 */
export const wire: {
  current: { sent: boolean; authenticated: boolean; mayWrite: boolean } | undefined;
} = {
  current: undefined,
};

/**
 * Whether a request that can post (it carries credentials and is not a read) has been written and not
 * yet answered. A read, or the challenge flow's first request without credentials, cannot post.
 */
export function authenticatedRequestInFlight(): boolean {
  return wire.current?.sent === true && wire.current.authenticated && wire.current.mayWrite;
}

/**
 * What is on the wire right now, without loading undici: the signal handler reads it to tell the user
 * whether an interrupted post may have reached the server.
 */
export const wire: { current: { sent: boolean; authenticated: boolean } | undefined } = {
  current: undefined,
};

/** Whether a request that can post (it carries credentials) has been written and not yet answered. */
export function authenticatedRequestInFlight(): boolean {
  return wire.current?.sent === true && wire.current.authenticated;
}

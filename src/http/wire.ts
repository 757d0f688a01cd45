/**
 * What has gone out on the wire so far in this process, without loading undici: the signal handler
 * reads it to tell the user whether an interrupted post may have reached the server.
 */
export const wire = {
  /** A request carrying credentials (one that can post) has been written to a socket. */
  authenticatedSent: false,
};

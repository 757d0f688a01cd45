/** What the transport is asked to send, and what it gives back (client.ts `HttpSession.send`). */
export interface HttpRequest {
  method: "GET" | "POST" | "DELETE";
  url: URL;
  /** The form body, built once as a string so the retry sends the very same bytes (docs/threats.md A3). */
  form?: string | undefined;
  /** A JSON body (the AT Protocol's XRPC procedures), also built once as a string; never with `form`. */
  json?: string | undefined;
  accept: string;
  /** Further request headers (Mastodon's `Idempotency-Key`); never a credential (that is `authorization`). */
  headers?: Record<string, string> | undefined;
  /** A shorter limit within the session's deadline, for requests that are only a nicety (the limit lookup). */
  timeoutMs?: number | undefined;
  /**
   * For a POST to an endpoint that changes nothing without credentials (statuses/update and destroy
   * need a logged-in user): a failure of the first request, sent without them, means nothing was
   * posted (75, not 76). A GET changes nothing in any case (RFC 9110 §9.2.1).
   */
  writesOnlyWhenAuthenticated?: boolean | undefined;
  /**
   * The request deletes a status: when its outcome is unknown (no reply, a signal), the status may
   * have been deleted — not "posted", which would send the user looking for a copy that is not there.
   */
  deletes?: boolean | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
  bytes: Buffer;
  /** Whether the request that got this response carried Authorization. */
  authenticated: boolean;
}

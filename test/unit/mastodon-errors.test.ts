import { describe, expect, it } from "vitest";
import { ExitCode, HttpError } from "../../src/errors.js";
import type { HttpResponse } from "../../src/http/types.js";
import {
  type MastodonErrorOptions,
  mastodonError,
  parseJsonReply,
} from "../../src/services/mastodon/errors.js";
import { httpResponse, snacResponse } from "../helpers/http-response.js";

/** The Mastodon API's failures as exit codes (docs/cli.md "Mastodon errors"; MASTODON.md §9, §10). */
const HOST = "127.0.0.1:8001";
const NOW = new Date("2026-11-29T16:10:00Z");
const ACTIONS = {
  verify: { what: "check the token", read: true },
  post: { what: "post the status", read: false },
  show: { what: "show the status", read: true },
  delete: { what: "delete the status", read: false },
  timeline: { what: "read the timeline", read: true },
  lookup: { what: "look the account up", read: true },
  other: { what: "do that", read: true },
} as const;

function fail(
  res: HttpResponse,
  endpoint: MastodonErrorOptions["endpoint"],
  extra: Partial<MastodonErrorOptions> = {},
): HttpError {
  const err = mastodonError(res, {
    host: HOST,
    endpoint,
    tokenSent: true,
    now: NOW,
    ...ACTIONS[endpoint],
    ...extra,
  });
  expect(err).toBeInstanceOf(HttpError);
  // One line, and the request went out.
  expect(err.message).not.toMatch(/[\n\r]/);
  expect(err.details.sent).toBe(true);
  return err;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  httpResponse(status, JSON.stringify(body), "application/json; charset=utf-8", headers);

describe("snac's errors (real replies)", () => {
  it.each([
    ["14b-verify-with-client_credentials-token.txt", "verify"],
    ["21-verify-credentials-wrong-token.txt", "verify"],
    ["22-verify-credentials-no-token.txt", "verify"],
    ["13b-verify-with-password-token.txt", "verify"],
  ] as const)("%s: a bare 422 on verify_credentials is the token → 77", (name, endpoint) => {
    const err = fail(snacResponse(name), endpoint);
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.hint).toBe("run identica login");
    expect(err.message).toBe("127.0.0.1:8001 did not accept the token (422); could not check the token");
  });
  it("snac/37c: a post without a token, 401 → 77, nothing was posted", () => {
    const err = fail(snacResponse("37c-statuses-post-no-token.txt"), "post", { tokenSent: false });
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.hint).toBe("run identica login");
    expect(err.message).toBe("127.0.0.1:8001 wants a token for this (401); nothing was posted");
  });
  it("snac/37d: a post with a wrong token, 401 → 77, rejected the token", () => {
    const err = fail(snacResponse("37d-statuses-post-wrong-token.txt"), "post");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toBe("127.0.0.1:8001 rejected the token (401); nothing was posted");
  });
  it.each([
    ["40b-statuses-get-no-token.txt", "show"],
    ["42b-timelines-home-no-token.txt", "timeline"],
    ["23b-statuses-post-basic-auth.txt", "post"],
  ] as const)("%s: 401 → 77", (name, endpoint) => {
    const err = fail(snacResponse(name), endpoint);
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toMatch(/rejected the token \(401\)/);
  });
  it("snac/44: 404 HTML on show is no such status → 65, and nothing of the page", () => {
    const err = fail(snacResponse("44-statuses-get-404.txt"), "show");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe("127.0.0.1:8001 has no such status (404); could not show the status");
    expect(err.details.serverMessage).toBeUndefined();
  });
  it("snac/41b, 41c: GET or DELETE a deleted status, 404 → 65", () => {
    expect(fail(snacResponse("41b-statuses-get-after-delete.txt"), "show").exitCode).toBe(ExitCode.Data);
    const err = fail(snacResponse("41c-statuses-delete-again.txt"), "delete");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe("127.0.0.1:8001 has no such status (404); nothing was deleted");
  });
  it("snac/44b: the same 404 page from an unknown route elsewhere → 69, no such API endpoint", () => {
    const err = fail(snacResponse("44b-unknown-endpoint-404.txt"), "timeline");
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe("127.0.0.1:8001 has no such API endpoint (404); could not read the timeline");
    expect(fail(snacResponse("02-instance-v2.txt"), "other").exitCode).toBe(ExitCode.Unavailable);
  });
  it("snac/44c: a bare 422 to a POST (snac's unknown route) is the contract's 65, not a token problem", () => {
    const err = fail(snacResponse("44c-unknown-endpoint-404-post.txt"), "post");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe("127.0.0.1:8001 refused the status (422)");
  });
  it("a bare 422 to a read is snac's bad token → 77", () => {
    const err = fail(snacResponse("44c-unknown-endpoint-404-post.txt"), "timeline");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
  });
  it("snac/13c: 400 HTML → 65, quoting the page's heading only", () => {
    const err = fail(snacResponse("13c-token-password-no-redirect_uri.txt"), "other");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe("127.0.0.1:8001 refused the request (400): 400 Bad Request (snac/2.94)");
  });
  it("snac/52: nginx's 400 page → 65, quoting its title", () => {
    const err = fail(snacResponse("52-https-http-redirect-check.txt"), "post");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe(
      "127.0.0.1:8001 refused the status (400): 400 The plain HTTP request was sent to HTTPS port",
    );
    expect(err.message).not.toMatch(/</);
  });
});

describe("Mastodon's errors (hand-written, MASTODON.md §9)", () => {
  it("401 with a Bearer challenge and Doorkeeper's message → 77, rejected the token", () => {
    const res = json(
      401,
      { error: "The access token is invalid" },
      {
        "www-authenticate":
          'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"',
      },
    );
    const err = fail(res, "post");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.hint).toBe("run identica login");
    expect(err.message).toBe(
      "127.0.0.1:8001 rejected the token (401): The access token is invalid; nothing was posted",
    );
    expect(err.details.serverMessage).toBe("The access token is invalid");
  });
  it("403, a scope missing → 77", () => {
    const err = fail(json(403, { error: "This action is outside the authorized scopes" }), "delete");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toBe(
      "127.0.0.1:8001 forbids this (403): This action is outside the authorized scopes; nothing was deleted",
    );
  });
  it("422 'Validation failed: Text character limit of 500 exceeded' on a post → 65, too long", () => {
    const err = fail(json(422, { error: "Validation failed: Text character limit of 500 exceeded" }), "post");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe(
      "127.0.0.1:8001 refused the status (422): Validation failed: Text character limit of 500 exceeded",
    );
    expect(err.details.tooLong).toBe(true);
    expect(err.hint).toBeUndefined();
  });
  it("422 'Text can't be blank' → 65, not too long", () => {
    const err = fail(json(422, { error: "Validation failed: Text can't be blank" }), "post");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.details.tooLong).toBeUndefined();
  });
  it("422 'This method requires an authenticated user' (an app token) → 77 anywhere", () => {
    const err = fail(json(422, { error: "This method requires an authenticated user" }), "timeline");
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.hint).toBe("run identica login");
  });
  it("any 422 to a request without a token → 77", () => {
    const err = fail(json(422, { error: "Validation failed: Text can't be blank" }), "post", {
      tokenSent: false,
    });
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toBe(
      "127.0.0.1:8001 wants a token for this (422): Validation failed: Text can't be blank; nothing was posted",
    );
  });
  it("any 422 on verify_credentials → 77", () => {
    expect(fail(json(422, { error: "Something" }), "verify").exitCode).toBe(ExitCode.NoPerm);
  });
  it("404 with the API's message on show/delete → 65, quoting it", () => {
    const err = fail(json(404, { error: "Record not found" }), "delete");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe(
      "127.0.0.1:8001 has no such status (404): Record not found; nothing was deleted",
    );
  });
  it("404 for a reply's unknown parent → 65 with the server's text", () => {
    const err = fail(
      json(404, { error: "The post you are trying to reply to does not appear to exist." }),
      "post",
    );
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe(
      "127.0.0.1:8001 refused the status (404): The post you are trying to reply to does not appear to exist.",
    );
  });
  it("404 for an unknown account on lookup → 65", () => {
    const err = fail(json(404, { error: "Record not found" }), "lookup");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe("127.0.0.1:8001 has no such account (404): Record not found");
  });
  it("404 for an unknown account on lookup with snac's page (no JSON) → 65 all the same", () => {
    const page = "<!DOCTYPE html>\n<html><body><h1>404 Not Found (snac/2.94)</h1></body></html>\n";
    const err = fail(httpResponse(404, page, "text/html; charset=utf-8"), "lookup");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe("127.0.0.1:8001 has no such account (404); could not look the account up");
  });
  it("404 or 405 without the API's message elsewhere → 69", () => {
    expect(
      fail(httpResponse(404, "<html><title>Not here</title></html>", "text/html"), "post").exitCode,
    ).toBe(ExitCode.Unavailable);
    const err = fail(httpResponse(405, "", "text/plain"), "timeline");
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe("127.0.0.1:8001 has no such API endpoint (405); could not read the timeline");
  });
  it("429 with X-RateLimit-Reset (an ISO timestamp) → 75, naming when, retryAfter in seconds", () => {
    const res = json(
      429,
      { error: "Too many requests" },
      {
        "x-ratelimit-limit": "300",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "2026-11-29T16:15:00.000000Z",
      },
    );
    const post = fail(res, "post");
    expect(post.exitCode).toBe(ExitCode.TempFail);
    expect(post.details.retryAfter).toBe(300);
    expect(post.hint).toBe("safe to retry later");
    expect(post.message).toBe(
      "127.0.0.1:8001 is rate-limiting you (429): Too many requests; nothing was posted (retry in 5 min)",
    );
    // A read says nothing about posting.
    const read = fail(res, "timeline");
    expect(read.exitCode).toBe(ExitCode.TempFail);
    expect(read.message).toBe(
      "127.0.0.1:8001 is rate-limiting you (429): Too many requests (retry in 5 min)",
    );
    expect(read.message).not.toMatch(/post/);
  });
  it("429 with Retry-After in seconds, or as an HTTP date, which wins over X-RateLimit-Reset", () => {
    const secs = fail(
      json(429, {}, { "retry-after": "42", "x-ratelimit-reset": "2026-11-29T17:00:00Z" }),
      "post",
    );
    expect(secs.details.retryAfter).toBe(42);
    expect(secs.message).toBe(
      "127.0.0.1:8001 is rate-limiting you (429); nothing was posted (retry in 42 s)",
    );
    const date = fail(json(429, {}, { "retry-after": "Sun, 29 Nov 2026 18:10:00 GMT" }), "show");
    expect(date.details.retryAfter).toBe(7200);
    expect(date.message).toMatch(/\(retry in 2 h\)$/);
  });
  it("429 with nothing to say when → 75 all the same", () => {
    const err = fail(json(429, { error: "Too many requests" }, { "x-ratelimit-reset": "soon" }), "post");
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.details.retryAfter).toBeUndefined();
  });
  it("503 → 75 (with its Retry-After); other 5xx → 69", () => {
    const busy = fail(
      json(503, { error: "Remote data could not be fetched" }, { "retry-after": "5" }),
      "post",
    );
    expect(busy.exitCode).toBe(ExitCode.TempFail);
    expect(busy.details.retryAfter).toBe(5);
    expect(busy.message).toBe(
      "127.0.0.1:8001 is unavailable (503): Remote data could not be fetched; nothing was posted (retry in 5 s)",
    );
    const bad = fail(
      httpResponse(502, "<html><head><title>502 Bad Gateway</title></head></html>", "text/html"),
      "show",
    );
    expect(bad.exitCode).toBe(ExitCode.Unavailable);
    expect(bad.message).toBe(
      "server error 502 from 127.0.0.1:8001: 502 Bad Gateway; could not show the status",
    );
    expect(fail(httpResponse(500, ""), "post").exitCode).toBe(ExitCode.Unavailable);
  });
  it("400 → 65; OAuth errors quote the code and the description", () => {
    const err = fail(
      json(400, { error: "invalid_grant", error_description: "The provided authorization grant is invalid" }),
      "other",
    );
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.message).toBe(
      "127.0.0.1:8001 refused the request (400): invalid_grant: The provided authorization grant is invalid",
    );
  });
  it("a redirect → 69, never followed, the Location shown without its userinfo", () => {
    const err = fail(
      httpResponse(302, "", "text/html", { location: "https://user:secret@new.example/api/v1/statuses" }),
      "post",
    );
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe(
      "127.0.0.1:8001 redirected (302) to https://new.example/api/v1/statuses; redirects are not followed, nothing was posted",
    );
    expect(err.message).not.toContain("secret");
    expect(fail(httpResponse(301, ""), "show").message).toMatch(/could not show the status$/);
  });
  it("a server's message is sanitised: no escape sequences, one line, bounded", () => {
    const err = fail(json(422, { error: `bad\u001b[31m red\nline two ${"x".repeat(500)}` }), "post");
    expect(err.message).not.toContain("\u001b");
    expect(err.message).toContain("^[[31m red line two");
    expect(err.message.length).toBeLessThan(300);
  });
  it("an HTML page gives at most its title or heading, never its markup or script", () => {
    const page =
      "<html><head><script>alert(1)</script></head><body><h1>Oops &amp; <b>sorry</b></h1><p>details</p></body></html>";
    const err = fail(httpResponse(500, page, "text/html"), "other");
    expect(err.message).toBe("server error 500 from 127.0.0.1:8001: Oops & sorry; could not do that");
    const none = fail(httpResponse(500, "<html><body><p>no heading</p></body></html>", "text/html"), "other");
    expect(none.message).toBe("server error 500 from 127.0.0.1:8001; could not do that");
  });
});

describe("parseJsonReply (2xx)", () => {
  it("a JSON body is the document, big integers kept exact", () => {
    const r = parseJsonReply(httpResponse(200, '{"id":113366441012345679,"n":1}'), HOST, false);
    expect(r.doc).toEqual({ id: "113366441012345679", n: 1 });
    expect(r.text).toBe('{"id":113366441012345679,"n":1}');
  });
  it("snac/30: a real status reply parses", () => {
    const r = parseJsonReply(snacResponse("30-statuses-post-form.txt"), HOST, false);
    expect((r.doc as { id: string }).id).toBe("17959685988771f9c6c5f259669737a153da06c061");
  });
  it.each([
    ["an HTML page", httpResponse(200, "<!doctype html><html><body>portal</body></html>", "text/html")],
    ["an empty body", httpResponse(200, "")],
    ["invalid JSON", httpResponse(200, '{"id": "1"')],
    ["snac's HTML fragment", httpResponse(200, "<h1>404 Not Found (snac/2.94)</h1>", "text/html")],
  ])("%s is 76: for a post the status may have been posted, for a read nothing was changed", (_what, res) => {
    const post = (() => {
      try {
        parseJsonReply(res, HOST, false);
      } catch (err) {
        return err as HttpError;
      }
      throw new Error("expected a failure");
    })();
    expect(post.exitCode).toBe(ExitCode.Protocol);
    expect(post.message).toMatch(/the status may have been posted$/);
    expect(() => parseJsonReply(res, HOST, true)).toThrow(/nothing was changed$/);
  });
});

import { describe, expect, it } from "vitest";
import { ExitCode, HttpError } from "../../src/errors.js";
import type { HttpResponse } from "../../src/http/types.js";
import {
  type AtprotoErrorOptions,
  atprotoError,
  isXrpcError,
  xrpcErrorBody,
} from "../../src/services/atproto/errors.js";
import { atprotoResponse, httpResponse } from "../helpers/http-response.js";

/** XRPC failures as exit codes (CLI.md "A third API" Errors, "Exit codes"), replayed from a real PDS. */
const HOST = "127.0.0.1:2583";
const ACTIONS = {
  post: "post the status",
  delete: "delete the status",
  read: "show the status",
  session: "log in",
} as const;

function fail(
  res: HttpResponse,
  endpoint: AtprotoErrorOptions["endpoint"],
  extra: Partial<AtprotoErrorOptions> = {},
): HttpError {
  const err = atprotoError(res, {
    host: HOST,
    what: ACTIONS[endpoint],
    endpoint,
    tokenSent: true,
    now: new Date("2026-11-29T17:25:01Z"),
    ...extra,
  });
  expect(err).toBeInstanceOf(HttpError);
  // One line, the request went out, and no stack or object dump in it.
  expect(err.message).not.toMatch(/[\n\r]|\[object|undefined/);
  expect(err.details.sent).toBe(true);
  expect(err.details.status).toBe(res.status);
  return err;
}

const json = (status: number, doc: unknown, headers: Record<string, string> = {}) =>
  httpResponse(status, JSON.stringify(doc), "application/json; charset=utf-8", headers);

describe("every error the real PDS sent", () => {
  it.each([
    ["09-err-badPassword.txt", "session", false, ExitCode.NoPerm],
    ["10-err-noAuth.txt", "post", false, ExitCode.NoPerm],
    ["11-err-badToken.txt", "post", true, ExitCode.NoPerm],
    ["12-err-301graphemes.txt", "post", true, ExitCode.Data],
    ["14-err-missingCreatedAt.txt", "post", true, ExitCode.Data],
    ["17-err-refreshWithAccess.txt", "session", true, ExitCode.NoPerm],
    ["19-err-300familyEmoji-bytes.txt", "post", true, ExitCode.Data],
    ["21-err-badFacetUri.txt", "post", true, ExitCode.Data],
    ["22-err-badCreatedAt.txt", "post", true, ExitCode.Data],
    ["24-err-appview-timeline.txt", "read", true, ExitCode.Unavailable],
    ["25-err-expiredAccessToken.txt", "post", true, ExitCode.NoPerm],
    ["26-err-rateLimited-createSession.txt", "session", false, ExitCode.TempFail],
    ["29-err-wrongRepo.txt", "post", true, ExitCode.NoPerm],
    ["30-err-badJson.txt", "post", true, ExitCode.Data],
    ["31-err-createAccount-badHandleDomain.txt", "session", false, ExitCode.Data],
    ["32-err-appPassSession-createAppPassword.txt", "session", true, ExitCode.NoPerm],
    ["33-err-deleteSession-withAccess.txt", "session", true, ExitCode.NoPerm],
    ["35-err-unknownMethod.txt", "read", false, ExitCode.Unavailable],
    ["36-err-duplicateAppPasswordName.txt", "session", true, ExitCode.Unavailable],
    ["08-getRecord-after-delete.txt", "read", false, ExitCode.Data],
  ] as const)("%s (%s, token sent: %s) → %i", (name, endpoint, tokenSent, code) => {
    const res = atprotoResponse(name);
    const err = fail(res, endpoint, { tokenSent });
    expect(err.exitCode).toBe(code);
    // The server's own words are quoted, and kept for the outbox.
    const { message } = JSON.parse(res.bytes.toString("utf8")) as { message: string };
    expect(err.details.serverMessage).toBe(message);
    // "No service configured for <method>" is said in the line's own words (below).
    expect(err.message).toContain(message.replace(/^No service configured for /, "does not serve "));
    if (code === ExitCode.NoPerm) expect(err.hint).toMatch(/identica login/);
  });
});

describe("the messages", () => {
  it("fixture 12: too many graphemes, 65, marked too long", () => {
    const err = fail(atprotoResponse("12-err-301graphemes.txt"), "post");
    expect(err.message).toBe(
      "127.0.0.1:2583 refused the status (400 InvalidRequest): Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got 301) at $.record.text",
    );
    expect(err.details.tooLong).toBe(true);
  });
  it("fixture 19: too many bytes, marked too long", () => {
    expect(fail(atprotoResponse("19-err-300familyEmoji-bytes.txt"), "post").details.tooLong).toBe(true);
  });
  it.each([
    "14-err-missingCreatedAt.txt",
    "21-err-badFacetUri.txt",
    "22-err-badCreatedAt.txt",
    "30-err-badJson.txt",
  ])("%s: refused, but not for its length", (name) => {
    expect(fail(atprotoResponse(name), "post").details.tooLong).toBeUndefined();
  });
  it("a string too big elsewhere than the text is not the text's length", () => {
    const res = json(400, {
      error: "InvalidRequest",
      message:
        "Invalid app.bsky.feed.post record: string too big (maximum 640, got 900) at $.record.langs[0]",
    });
    expect(fail(res, "post").details.tooLong).toBeUndefined();
    expect(fail(res, "read").details.tooLong).toBeUndefined();
  });
  it("fixture 09: a wrong app password", () => {
    const err = fail(atprotoResponse("09-err-badPassword.txt"), "session", { tokenSent: false });
    expect(err.message).toBe(
      "127.0.0.1:2583 refused the handle or app password (401 AuthenticationRequired): Invalid identifier or password; could not log in",
    );
    expect(err.hint).toBe("check the handle and the app password (identica login)");
  });
  it("fixture 10: a post without a session", () => {
    const err = fail(atprotoResponse("10-err-noAuth.txt"), "post", { tokenSent: false });
    expect(err.message).toBe(
      "127.0.0.1:2583 wants a login for this (401 AuthMissing): Authentication Required; nothing was posted",
    );
    expect(err.hint).toBe("run identica login");
  });
  it("fixture 25: an expired token that could not be refreshed", () => {
    expect(fail(atprotoResponse("25-err-expiredAccessToken.txt"), "post").message).toBe(
      "127.0.0.1:2583 did not accept the session (400 ExpiredToken): Token has expired; nothing was posted",
    );
  });
  it("fixture 29: forbidden, 77", () => {
    expect(fail(atprotoResponse("29-err-wrongRepo.txt"), "post").message).toBe(
      "127.0.0.1:2583 forbids this (403 AccountNotFound): Account not found; nothing was posted",
    );
  });
  it("fixture 08: no such post, on show and on delete", () => {
    const res = atprotoResponse("08-getRecord-after-delete.txt");
    expect(fail(res, "read").message).toBe(
      "127.0.0.1:2583 has no such post (400 RecordNotFound): Could not locate record: at://did:plc:uquscmmaa5wx4d7cim33jixc/app.bsky.feed.post/3n3hqbvuvpk2p; could not show the status",
    );
    const del = fail(res, "delete");
    expect(del.exitCode).toBe(ExitCode.Data);
    expect(del.message).toMatch(/; nothing was deleted$/);
  });
  it("fixture 24: a PDS without an AppView, 69 with a line that says so", () => {
    const err = fail(atprotoResponse("24-err-appview-timeline.txt"), "read", { what: "read the timeline" });
    expect(err.message).toBe(
      "127.0.0.1:2583 does not serve app.bsky.feed.getTimeline (400 InvalidRequest), it has no AppView; could not read the timeline",
    );
    expect(err.hint).toMatch(/AppView/);
  });
  it("fixture 35: an unknown method, 69", () => {
    const err = fail(atprotoResponse("35-err-unknownMethod.txt"), "read");
    expect(err.message).toMatch(
      /does not serve com\.atproto\.repo\.nonexistentMethod \(400 InvalidRequest\);/,
    );
    expect(err.hint).toMatch(/--server/);
  });
  it("fixture 26: rate-limited, 75, naming when the window ends (RateLimit-Reset, epoch seconds)", () => {
    const err = fail(atprotoResponse("26-err-rateLimited-createSession.txt"), "session", {
      tokenSent: false,
    });
    // 17:29:50 UTC, 289 s after the reply's Date.
    expect(err.details.retryAfter).toBe(289);
    expect(err.message).toBe(
      "127.0.0.1:2583 is rate-limiting you (429 RateLimitExceeded): Rate Limit Exceeded (retry in 5 min)",
    );
    expect(err.hint).toBe("safe to retry later");
  });
  it("a rate-limited post: nothing was posted; Retry-After when there is no RateLimit-Reset", () => {
    const err = fail(json(429, { error: "RateLimitExceeded" }, { "retry-after": "30" }), "post");
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.details.retryAfter).toBe(30);
    expect(err.message).toBe(
      "127.0.0.1:2583 is rate-limiting you (429 RateLimitExceeded); nothing was posted (retry in 30 s)",
    );
  });
  it("a RateLimit-Reset that is a number of seconds (the IETF draft's) is taken as one", () => {
    expect(fail(json(429, {}, { "ratelimit-reset": "90" }), "post").details.retryAfter).toBe(90);
  });
  it("a window that ended already: retry now", () => {
    const err = fail(json(429, {}, { "ratelimit-reset": "1795973000" }), "post");
    expect(err.details.retryAfter).toBe(0);
    expect(err.message).toMatch(/\(retry now\)$/);
  });
  it("503: 75, with its Retry-After date; without one, no retry time", () => {
    const err = fail(
      httpResponse(503, "", "text/html", { "retry-after": "Sun, 29 Nov 2026 17:26:01 GMT" }),
      "post",
    );
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.details.retryAfter).toBe(60);
    expect(err.message).toBe("127.0.0.1:2583 is unavailable (503); nothing was posted (retry in 60 s)");
    expect(fail(httpResponse(503, ""), "read").details.retryAfter).toBeUndefined();
  });
  it("502 and 504 to a post: 69, and the status may have been posted", () => {
    for (const status of [502, 504]) {
      const err = fail(httpResponse(status, "<html><title>Bad Gateway</title></html>", "text/html"), "post");
      expect(err.exitCode).toBe(ExitCode.Unavailable);
      expect(err.details.mayHavePosted).toBe(true);
      expect(err.message).toBe(
        `${HOST} answered ${status} from its gateway; the server behind it may have posted the status`,
      );
    }
    expect(fail(httpResponse(502, ""), "read").details.mayHavePosted).toBeUndefined();
  });
  it("500: 69, never 'nothing was posted' (a reused record key gets a bare 500)", () => {
    const err = fail(json(500, { error: "InternalServerError", message: "Internal Server Error" }), "post");
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe(
      "server error 500 InternalServerError from 127.0.0.1:2583: Internal Server Error; could not post the status",
    );
  });
  it("404: 69, no such endpoint", () => {
    const err = fail(httpResponse(404, "Not Found", "text/plain"), "post");
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe("127.0.0.1:2583 has no such API endpoint (404); nothing was posted");
  });
  it("3xx: 69, redirects are not followed, the Location without its credentials", () => {
    const err = fail(
      httpResponse(301, "", "text/html", { location: "https://u:p@pds.example/xrpc" }),
      "post",
    );
    expect(err.exitCode).toBe(ExitCode.Unavailable);
    expect(err.message).toBe(
      "127.0.0.1:2583 redirected (301) to https://pds.example/xrpc; redirects are not followed, nothing was posted",
    );
  });
  it("413 to a post: too long", () => {
    const err = fail(httpResponse(413, ""), "post");
    expect(err.exitCode).toBe(ExitCode.Data);
    expect(err.details.tooLong).toBe(true);
  });
  it("a 2xx is no error the API sends: 76", () => {
    expect(fail(httpResponse(200, "{}"), "post").exitCode).toBe(ExitCode.Protocol);
  });
});

describe("xrpcErrorBody", () => {
  it("the real PDS's error document", () => {
    expect(xrpcErrorBody(atprotoResponse("11-err-badToken.txt"))).toEqual({
      error: "InvalidToken",
      message: "Token could not be verified",
    });
  });
  it.each([
    ["an HTML page from a proxy", httpResponse(502, "<html><body>Bad Gateway</body></html>", "text/html")],
    ["an empty body", httpResponse(500, "")],
    ["invalid JSON", httpResponse(400, "{nope")],
    ["a JSON array", httpResponse(400, "[]")],
    ["fields that are not strings", json(400, { error: 42, message: ["x"] })],
  ])("%s gives {}", (_why, res) => {
    expect(xrpcErrorBody(res)).toEqual({});
  });
  it("sanitises to one line and caps the length", () => {
    const body = xrpcErrorBody(
      json(400, { error: "Bad\u001b[31mName", message: `line one\nline two\u202e ${"x".repeat(500)}` }),
    );
    expect(body.error).toBe("Bad^[[31mName");
    expect(body.message).toMatch(/^line one line two<U\+202E> x+…$/);
    expect(body.message?.length).toBe(200);
    const err = fail(json(400, { error: "X", message: "a\nb" }), "post");
    expect(err.message).toBe("127.0.0.1:2583 refused the status (400 X): a b");
  });
  it("isXrpcError names the error of an error reply only", () => {
    expect(isXrpcError(atprotoResponse("25-err-expiredAccessToken.txt"), "ExpiredToken")).toBe(true);
    expect(isXrpcError(atprotoResponse("25-err-expiredAccessToken.txt"), "InvalidToken")).toBe(false);
    expect(isXrpcError(atprotoResponse("11-err-badToken.txt"), "InvalidToken")).toBe(true);
    expect(isXrpcError(json(200, { error: "ExpiredToken" }), "ExpiredToken")).toBe(false);
  });
});

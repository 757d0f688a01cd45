import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectFailure, type RunOptions } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * How a Mastodon-API server's refusals and failures reach the user, end to end (docs/cli.md "Mastodon
 * errors"): the exit code from the status, one clean line from whatever body came with it (JSON, an
 * HTML page, nothing), the text kept in the outbox when a post failed. The look-alike's own answers
 * where it has them (a revoked token, a missing scope, an app token, its rate limit), faults elsewhere.
 */

const tls = testCertificate();

/** The one-line error of a failed run, for the cases where a second line says where the text went. */
const firstLine = (stderr: string) => stderr.split("\n")[0] as string;

/** Both servers over https, and over plain http (snac then closes after every reply, and ends a body
 * it did not measure, such as its empty 401 and 422, by closing the connection). */
const TRANSPORTS: [Mode, "https" | "http"][] = [
  ["mastodon", "https"],
  ["snac", "https"],
  ["mastodon", "http"],
  ["snac", "http"],
];

describe.each(TRANSPORTS)("errors on %s over %s", (mode, transport) => {
  let server: MastodonServer;
  let scn: Scenario;
  let token: string;
  beforeEach(async () => {
    server = await startMastodon(transport === "https" ? { mode, tls } : { mode });
    token = server.issueToken("alice");
    scn = new Scenario({ IDENTICA_TOKEN: token });
    const first = await scn.run(["whoami", ...base(), "-o", "none"]);
    expect(first.code, first.stderr).toBe(0);
    server.requests.length = 0;
  });
  afterEach(async () => {
    await server.close();
  });
  const base = () =>
    transport === "https"
      ? ["--server", server.domain, "--user", "alice", "--cacert", tls.certPath]
      : ["--server", server.origin, "--user", "alice"];
  const run = (args: string[], opts: RunOptions = {}) => scn.run([...args, ...base()], opts);
  const post = (text: string, opts: RunOptions = {}) => run(["post", "-o", "id", text], opts);
  const keptTexts = () => scn.outbox().map((e) => e.entry.text);
  const statusFault = (
    status: number,
    body: string,
    contentType?: string,
    headers?: Record<string, string>,
  ) =>
    server.faults.push({
      fault: {
        kind: "reply",
        status,
        body,
        ...(contentType === undefined ? {} : { contentType }),
        ...(headers === undefined ? {} : { headers }),
      },
      path: /^\/api\/v1\/statuses/,
    });

  it("401 (a revoked token): 77 'run identica login', the text kept; Mastodon's JSON quoted, snac's empty body not", async () => {
    server.revokeToken(token);
    const r = await post("after the token was revoked");
    expectFailure(r, 77, /rejected the token \(401\).*nothing was posted \(run identica login\)$/);
    if (mode === "mastodon") expect(firstLine(r.stderr)).toMatch(/\(401\): The access token was revoked;/);
    else expect(firstLine(r.stderr)).toMatch(/\(401\); nothing was posted/);
    expect(keptTexts()).toEqual(["after the token was revoked"]);
    expect(server.statuses).toEqual([]);
  });

  it("403: 77 'run identica login' (Mastodon: a token without the write scope; snac: its proxy)", async () => {
    if (mode === "mastodon") {
      scn = new Scenario({ IDENTICA_TOKEN: server.issueToken("alice", { scopes: "read" }) });
    } else {
      statusFault(
        403,
        "<html><head><title>403 Forbidden</title></head><body>nginx</body></html>",
        "text/html",
      );
    }
    const r = await post("not allowed to write");
    expectFailure(
      r,
      77,
      mode === "mastodon"
        ? /forbids this \(403\): This action is outside the authorized scopes; nothing was posted \(run identica login\)$/
        : /forbids this \(403\): 403 Forbidden; nothing was posted \(run identica login\)$/,
    );
    expect(keptTexts()).toEqual(["not allowed to write"]);
  });

  it("422 on verify_credentials (an app token, no user): 77 'run identica login', not 'bad content'", async () => {
    const appToken = server.issueToken(null, { scopes: "read write" });
    const r = await run(["whoami"], { env: { IDENTICA_TOKEN: appToken } });
    expectFailure(
      r,
      77,
      mode === "mastodon"
        ? /did not accept the token \(422\): This method requires an authenticated user; could not check the token \(run identica login\)$/
        : /did not accept the token \(422\); could not check the token \(run identica login\)$/,
    );
  });

  it("429 with Retry-After: 75, naming when, nothing posted, the text kept", async () => {
    statusFault(429, mode === "snac" ? "" : '{"error":"Too many requests"}', undefined, {
      "retry-after": "120",
    });
    const r = await post("too fast");
    expectFailure(
      r,
      75,
      /is rate-limiting you \(429\).*nothing was posted \(retry in 2 min\) \(safe to retry later\)$/,
    );
    expect(keptTexts()).toEqual(["too fast"]);
  });

  it("503: 75, safe to retry; 500: 69; an HTML error page gives one clean line, its markup and escapes gone", async () => {
    statusFault(
      503,
      "<html><head><title>Down &amp; out\n\u001b[31mfor maintenance</title></head><body><h1>x</h1></body></html>",
      "text/html",
    );
    const down = await post("while down");
    expectFailure(
      down,
      75,
      /is unavailable \(503\): Down & out \^\[\[31mfor maintenance; nothing was posted/,
    );
    server.faults.length = 0;
    statusFault(
      500,
      "<!DOCTYPE html><html><body><h1>We&#39;re sorry, but <em>something</em> went wrong.</h1></body></html>",
      "text/html",
    );
    const broken = await post("while broken");
    expectFailure(
      broken,
      69,
      /server error 500 from .*: We're sorry, but something went wrong\.; nothing was posted$/,
    );
    expect(keptTexts()).toEqual(["while down", "while broken"]);
  });

  it("a 200 HTML page instead of JSON: 76 for a post (kept, may have been posted), 'nothing was changed' for a read", async () => {
    const page =
      "<!DOCTYPE html><html><head><title>Welcome to the captive portal</title></head><body></body></html>";
    statusFault(200, page, "text/html");
    const r = await post("into the portal");
    expectFailure(r, 76, /./);
    expect(firstLine(r.stderr)).not.toMatch(/nothing was posted/);
    const [kept] = scn.outbox();
    expect(kept?.entry).toMatchObject({ text: "into the portal", sent: true });

    server.faults.length = 0;
    server.faults.push({
      fault: { kind: "reply", status: 200, body: page, contentType: "text/html" },
      path: /timelines/,
    });
    const read = await run(["timeline", "home"]);
    expect(read.code).toBe(76);
    expect(read.stderr).toMatch(/nothing was changed/);
    expect(read.stderr).not.toMatch(/posted/);
    expect(read.stderr.split("\n")).toHaveLength(2);
  });

  it("post --lines waits out a 429 with Retry-After: 1 and posts the line once", async () => {
    server.faults.push({
      fault: { kind: "reply", status: 429, body: "", headers: { "retry-after": "1" } },
      path: /^\/api\/v1\/statuses$/,
      times: 1,
    });
    const r = await run(["post", "--lines", "-o", "id", "-v"], { input: "first line\nsecond line\n" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/is rate-limiting you \(429\).*trying again in 1 s/);
    expect(server.statuses.map((s) => s.text)).toEqual(["first line", "second line"]);
    expect(r.stdout.trim().split("\n")).toEqual(server.statuses.map((s) => s.id));
    // The retry of the first line sent the same Idempotency-Key as its first try.
    const keys = server.requests
      .filter((q) => q.method === "POST" && q.url === "/api/v1/statuses")
      .map((q) => q.headers["idempotency-key"]);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keptTexts()).toEqual([]);
  });
});

describe("errors only Mastodon gives", () => {
  let server: MastodonServer;
  let scn: Scenario;
  beforeEach(async () => {
    server = await startMastodon({ mode: "mastodon", tls });
    scn = new Scenario({ IDENTICA_TOKEN: server.issueToken("alice") });
  });
  afterEach(async () => {
    await server.close();
  });
  const base = () => ["--server", server.domain, "--user", "alice", "--cacert", tls.certPath];

  it("the limit lowered on the server between runs: its 422 is 65 with the server's text, and the next run counts the new limit", async () => {
    const first = await scn.run(["post", ...base(), "-o", "id", "x".repeat(100)]);
    expect(first.code, first.stderr).toBe(0);
    server.site.maxCharacters = 50;
    const r = await scn.run(["post", ...base(), "y".repeat(80)]);
    expectFailure(
      r,
      65,
      /refused the status \(422\): Validation failed: Text character limit of 50 exceeded$/,
    );
    // Refused for good: kept, marked so (never sent again by itself).
    expect(r.stderr).toMatch(/marked refused/);
    server.requests.length = 0;
    const next = await scn.run(["post", ...base(), "z".repeat(60)]);
    expectFailure(next, 64, /60 .*limit of 50/);
    expect(server.requests.filter((q) => q.method === "POST")).toEqual([]);
  });

  it("429 from the rate limiter (X-RateLimit-Reset, no Retry-After): 75 naming when the window ends", async () => {
    server.site.rateLimit = { limit: 2, periodMs: 3_600_000, path: /^\/api\/v1\/statuses/ };
    for (const text of ["one", "two"]) {
      const ok = await scn.run(["post", ...base(), "-o", "id", text]);
      expect(ok.code, ok.stderr).toBe(0);
    }
    const r = await scn.run(["post", ...base(), "three"]);
    expectFailure(
      r,
      75,
      /is rate-limiting you \(429\): Too many requests; nothing was posted \(retry in (\d+ min|\d+ s)\)/,
    );
    const m = /\(retry in (\d+) (min|s)\)/.exec(r.stderr) as RegExpExecArray;
    const said = Number(m[1]) * (m[2] === "min" ? 60 : 1);
    const reset = (Math.floor(Date.now() / 3_600_000) + 1) * 3_600_000;
    expect(Math.abs(said - (reset - Date.now()) / 1000)).toBeLessThan(90);
    expect(server.statuses.map((s) => s.text)).toEqual(["one", "two"]);
  });

  it("someone else's status: delete is 65 'Record not found'; an unknown reply parent is 65 with the server's text", async () => {
    const bobs = server.addStatus({ username: "bob", text: "bob's" });
    const del = await scn.run(["delete", ...base(), bobs.id]);
    expectFailure(del, 65, /has no such status \(404\): Record not found; nothing was deleted$/);
    const reply = await scn.run(["post", ...base(), "--reply-to", "109999999999999999", "a reply"]);
    expectFailure(
      reply,
      65,
      /refused the status \(404\): The post you are trying to reply to does not appear to exist\.$/,
    );
    expect(readFileSync(scn.outbox()[0]?.file as string, "utf8")).toContain("a reply");
  });
});

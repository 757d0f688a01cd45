import { describe, expect, it } from "vitest";
import {
  APP_PASSWORD,
  CREATE,
  CREATE_SESSION,
  calls,
  copies,
  entryOf,
  expectCleanStderr,
  fresh,
  GET_RECORD,
  home,
  rkeyOf,
  TID,
  useAtproto,
} from "../helpers/atproto-faults.js";
import { expectFailure, expectNoSecret } from "../helpers/cli.js";
import { HTML_502 } from "../server/atproto.js";

// The AT Protocol's failures that a real PDS will not produce on demand, end to end against the
// look-alike: rate limits (429 with RateLimit-Reset), 503, a proxy's HTML 502, a hang, error bodies that
// are HTML, empty or full of terminal escapes. Each is ONE sanitised line on stderr with its documented
// exit code, and the text is kept in the outbox, marked uncertain exactly when the status may have
// been posted. And --dry-run, which sends nothing.

const h = useAtproto();

/** `RateLimit-Reset` ten minutes from now, as the PDS sends it (epoch seconds). */
const resetIn10Min = () => String(Math.floor(Date.now() / 1000) + 600);

describe("429 RateLimitExceeded", () => {
  it("to createRecord: 75 naming when to retry (from RateLimit-Reset), the text kept, nothing posted", async () => {
    const s = home();
    const text = fresh("rate limited");
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 429,
        body: '{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
        headers: {
          "RateLimit-Limit": "5000",
          "RateLimit-Remaining": "0",
          "RateLimit-Reset": resetIn10Min(),
          "RateLimit-Policy": "5000;w=3600",
        },
      },
      method: CREATE,
      times: 1,
    });
    const r = await s.run(["post", ...h.args, text]);
    const path = expectFailure(
      r,
      75,
      /^identica: 127\.0\.0\.1:\d+ is rate-limiting you \(429 RateLimitExceeded\): Rate Limit Exceeded; nothing was posted \(retry in 10 min\)/,
    ) as string;
    expect(entryOf(path)).toMatchObject({
      text,
      exitCode: 75,
      sent: false,
      uncertainSince: null,
      idempotencyKey: expect.stringMatching(TID),
    });
    expect(copies(h.server, text)).toEqual([]);
  });

  it("the PDS's own 429 (its RateLimit-* headers): 75 with a time to retry", async () => {
    const s = home();
    const text = fresh("rate limited, pds headers");
    h.server.faults.push({ fault: { kind: "status", status: 429 }, method: CREATE, times: 1 });
    const r = await s.run(["post", ...h.args, text]);
    expectFailure(r, 75, /is rate-limiting you \(429 RateLimitExceeded\).*\(retry in \d+ (s|min|h)\)/);
    expect(s.outbox().map((k) => k.entry.text)).toEqual([text]);
    expect(copies(h.server, text)).toEqual([]);
  });

  it("to createSession: 75 naming when to retry, nothing sent to createRecord, the text kept", async () => {
    const s = home();
    const text = fresh("login rate limited");
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 429,
        body: '{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
        headers: { "RateLimit-Limit": "30", "RateLimit-Remaining": "0", "RateLimit-Reset": resetIn10Min() },
      },
      method: CREATE_SESSION,
      times: 1,
    });
    const r = await s.run(["post", ...h.args, text]);
    const path = expectFailure(
      r,
      75,
      /rate-limiting you \(429 RateLimitExceeded\).*\(retry in 10 min\)/,
    ) as string;
    expect(entryOf(path)).toMatchObject({ text, exitCode: 75, sent: false });
    expect(calls(h.server, CREATE)).toEqual([]);
    expectNoSecret(r, APP_PASSWORD, "alice.test");
  });
});

describe("503 and a proxy's 502", () => {
  it("503 to createRecord: 75, kept, not uncertain; outbox send posts it once", async () => {
    const s = home();
    const text = fresh("unavailable");
    h.server.faults.push({ fault: { kind: "status", status: 503 }, method: CREATE, times: 1 });
    const r = await s.run(["post", ...h.args, text]);
    const entry = entryOf(
      expectFailure(r, 75, /is unavailable \(503 NotEnoughResources\).*; nothing was posted/) as string,
    );
    expect(entry).toMatchObject({ text, exitCode: 75, sent: false, uncertainSince: null });
    expect(copies(h.server, text)).toEqual([]);
    h.server.requests.length = 0;
    const sent = await s.run(["outbox", "send", ...h.args]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(calls(h.server, CREATE).map(rkeyOf)).toEqual([entry.idempotencyKey]);
    expect(copies(h.server, text)).toHaveLength(1);
  });

  it("nginx's HTML 502: one clean line with no HTML in it, 69, kept as uncertain (it may have posted)", async () => {
    const s = home();
    const text = fresh("bad gateway");
    h.server.faults.push({ fault: { kind: "html-502" }, method: CREATE, times: 1 });
    const r = await s.run(["post", ...h.args, text]);
    const entry = entryOf(
      expectFailure(
        r,
        69,
        /answered 502 from its gateway; the server behind it may have posted the status/,
      ) as string,
    );
    expect(r.stderr).not.toMatch(/<|>|nginx|Bad Gateway|center/);
    expectCleanStderr(r);
    expect(entry).toMatchObject({ text, exitCode: 69, sent: true });
    expect(entry.uncertainSince).not.toBeNull();
    // An uncertain entry is looked up before it is sent again.
    h.server.requests.length = 0;
    const sent = await s.run(["outbox", "send", ...h.args]);
    expect(sent.code, sent.stderr).toBe(0);
    const methods = h.server.requests.map((q) => q.nsid).filter((m) => m === GET_RECORD || m === CREATE);
    expect(methods).toEqual([GET_RECORD, CREATE]);
    expect(copies(h.server, text)).toHaveLength(1);
  });

  it("a 502 page in front of a PDS that did store the record: identica looks it up, 0, one record", async () => {
    const s = home();
    const text = fresh("gateway but stored");
    h.server.faults.push({
      fault: { kind: "reply-after-work", status: 502, body: HTML_502 },
      method: CREATE,
      times: 1,
    });
    const r = await s.run(["post", ...h.args, "-o", "id", text]);
    expect(r.code, r.stderr).toBe(0);
    expect(calls(h.server, CREATE)).toHaveLength(1);
    expect(copies(h.server, text)).toHaveLength(1);
    expect(r.stdout.trim()).toBe(copies(h.server, text)[0]?.uri);
    expect(s.outbox()).toEqual([]);
  });
});

describe("a hang", () => {
  it("createRecord never answers: --timeout 2 ends it with 76 well within a generous bound, the text kept", async () => {
    const s = home();
    const text = fresh("hang");
    h.server.faults.push({ fault: { kind: "hang" }, method: CREATE });
    const started = Date.now();
    const r = await s.run(["post", ...h.args, "--timeout", "2", text]);
    expect(Date.now() - started).toBeLessThan(15_000);
    const entry = entryOf(expectFailure(r, 76, /within 2 s; the status may have been posted/) as string);
    expect(entry).toMatchObject({
      text,
      exitCode: 76,
      sent: true,
      idempotencyKey: expect.stringMatching(TID),
    });
    expect(rkeyOf(calls(h.server, CREATE)[0])).toBe(entry.idempotencyKey);
  });
});

describe("error bodies, each one sanitised line", () => {
  const post = async (fault: object, code: number, message: RegExp) => {
    const s = home();
    const text = fresh("bodies");
    h.server.faults.push({ fault: fault as never, method: CREATE, times: 1 });
    const r = await s.run(["post", ...h.args, text]);
    const path = expectFailure(r, code, message);
    expectCleanStderr(r);
    expect(path).toBeDefined();
    expect(entryOf(path as string).text).toBe(text);
    return r;
  };

  it("an HTML page with a 500: 69, no markup in the line", async () => {
    const r = await post(
      {
        kind: "reply",
        status: 500,
        contentType: "text/html",
        body: "<!DOCTYPE html><html><head><title>Oops</title><script>alert(1)</script></head><body><h1>Something broke</h1></body></html>",
      },
      69,
      /^identica: server error 500 from 127\.0\.0\.1:\d+; could not post the status$/,
    );
    expect(r.stderr).not.toMatch(/<|script|Oops/);
  });

  it("an empty 500: 69", async () => {
    await post(
      { kind: "reply", status: 500, contentType: "application/json", body: "" },
      69,
      /^identica: server error 500 from 127\.0\.0\.1:\d+; could not post the status$/,
    );
  });

  it("an empty 400: 65 (refused), the text kept refused", async () => {
    await post(
      { kind: "reply", status: 400, contentType: "application/json", body: "" },
      65,
      /^identica: 127\.0\.0\.1:\d+ refused the status \(400\)$/,
    );
  });

  it("a JSON message with ANSI escapes, BEL, CR and newlines: 65, one line, no control character", async () => {
    const message = "bad \u001b[31mred\u001b[0m\u0007 text\r\nsecond line\u001b]0;title\u0007 end";
    const r = await post(
      {
        kind: "reply",
        status: 400,
        body: JSON.stringify({ error: "InvalidRequest", message }),
      },
      65,
      /^identica: 127\.0\.0\.1:\d+ refused the status \(400 InvalidRequest\): bad .*red.* text second line.* end$/,
    );
    expect(r.stderr).not.toContain("\u001b");
    expect(r.stderr).not.toContain("\u0007");
    expect(r.stderr).not.toContain("\r");
  });

  it("an escape in the error's name too, and a very long message: one short line", async () => {
    const r = await post(
      {
        kind: "reply",
        status: 400,
        body: JSON.stringify({ error: "Invalid\u001b[2JRequest", message: `x${"y".repeat(20_000)}` }),
      },
      65,
      /^identica: 127\.0\.0\.1:\d+ refused the status \(400 Invalid.*Request\): xy+/,
    );
    expect(r.stderr.split("\n")[0]?.length).toBeLessThan(500);
  });

  it("a JSON body that is not an XRPC error (an array, a string) with a 503: 75, still one line", async () => {
    await post(
      { kind: "reply", status: 503, body: '["\\u001b[31m", 1, {"error": 5}]' },
      75,
      /^identica: 127\.0\.0\.1:\d+ is unavailable \(503\); nothing was posted/,
    );
  });
});

describe("--dry-run", () => {
  it("prints the createRecord request with the token redacted and the rkey, and sends nothing", async () => {
    const s = home();
    const text = fresh("dry run https://example.com/x");
    const r = await s.run(["post", ...h.args, "--dry-run", text]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.server.requests).toEqual([]);
    expect(r.stdout).toMatch(
      new RegExp(
        `^POST ${h.server.origin.replace(/\./g, "\\.")}/xrpc/com\\.atproto\\.repo\\.createRecord\\n`,
      ),
    );
    expect(r.stdout).toMatch(/^Authorization: Bearer <redacted>/m);
    const body = JSON.parse(r.stdout.slice(r.stdout.indexOf("\n{") + 1, r.stdout.lastIndexOf("}") + 1));
    expect(body).toMatchObject({ collection: "app.bsky.feed.post", record: { text } });
    expect(body.rkey).toMatch(TID);
    expectNoSecret(r, APP_PASSWORD, "alice.test");
    expect(s.outbox()).toEqual([]);
  });

  it("without --api for a server not yet detected: 64, and still nothing sent (no probe)", async () => {
    const s = home();
    const r = await s.run([
      "post",
      "--server",
      h.server.origin,
      "--user",
      "alice.test",
      "--dry-run",
      fresh("dry"),
    ]);
    expectFailure(r, 64, /--dry-run sends nothing, and the API of 127\.0\.0\.1:\d+ is not known yet/);
    expect(h.server.requests).toEqual([]);
  });
});

import { MockAgent } from "undici";
import { describe, expect, it } from "vitest";
import { ConfigError, ExitCode, type HttpError, type IdenticaError } from "../../src/errors.js";
import { HttpSession } from "../../src/http/client.js";
import { classifyNetworkError } from "../../src/http/network-errors.js";
import type { ConnectionConfig } from "../../src/services/options.js";
import { BasicSession } from "../../src/services/statusnet/auth.js";

const CHALLENGE = {
  headers: { "www-authenticate": 'Basic realm="Test API"', "content-type": "application/xml" },
};
const OK = '<?xml version="1.0"?><status><id>1</id><text>hi</text></status>';

/** The transport with StatusNet's Basic flow on it (services/statusnet/auth.ts), as the service has it. */
function session(origin: string, agent: MockAgent, extra: Partial<ConnectionConfig> = {}) {
  const secrets: unknown[] = [];
  const config: ConnectionConfig = {
    timeoutMs: 5000,
    userAgent: "identica/test",
    insecureHttp: false,
    maxResponseBytes: 1024 * 1024,
    dispatcher: agent,
    onSecret: (x) => secrets.push(x),
    ...extra,
  };
  const s = new BasicSession(new HttpSession(origin, config), config);
  return { s, secrets };
}

function mock(origin: string) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  return { agent, pool: agent.get(origin) };
}

async function failure(p: Promise<unknown>): Promise<IdenticaError> {
  try {
    await p;
  } catch (err) {
    return err as IdenticaError;
  }
  throw new Error("expected a failure");
}

const form = "status=hi&source=identica";

describe("HttpSession (undici MockAgent)", () => {
  it("asks for the credential only after a Basic challenge (docs/threats.md A1), then retries once", async () => {
    const { agent, pool } = mock("https://social.example");
    const seen: (string | undefined)[] = [];
    pool.intercept({ path: "/api/statuses/update.xml", method: "POST" }).reply(({ headers }) => {
      seen.push((headers as Record<string, string>).authorization);
      return { statusCode: 401, data: "", responseOptions: CHALLENGE };
    });
    pool.intercept({ path: "/api/statuses/update.xml", method: "POST", body: form }).reply(({ headers }) => {
      seen.push((headers as Record<string, string>).authorization);
      return { statusCode: 200, data: OK };
    });
    let asked = 0;
    const { s, secrets } = session("https://social.example", agent);
    const res = await s.send({
      method: "POST",
      url: new URL("https://social.example/api/statuses/update.xml"),
      form,
      accept: "application/xml",
      credential: async (ch) => {
        asked++;
        expect(ch.params.get("realm")).toBe("Test API");
        return { user: "alice", password: "pw" };
      },
    });
    expect(res.status).toBe(200);
    expect(asked).toBe(1);
    expect(seen).toEqual([undefined, `Basic ${Buffer.from("alice:pw").toString("base64")}`]);
    expect(secrets).toEqual([
      { user: "alice", password: "pw", token68: Buffer.from("alice:pw").toString("base64") },
    ]);
  });

  it("a 200 without a challenge never asks for a credential", async () => {
    const { agent, pool } = mock("https://social.example");
    pool.intercept({ path: "/api/statuses/show/1.xml", method: "GET" }).reply(200, OK);
    let asked = 0;
    const { s } = session("https://social.example", agent);
    await s.send({
      method: "GET",
      url: new URL("https://social.example/api/statuses/show/1.xml"),
      accept: "application/xml",
      credential: async () => {
        asked++;
        return { user: "a", password: "b" };
      },
    });
    expect(asked).toBe(0);
  });

  it("refuses Basic over plain http to a non-loopback host unless --insecure-http (A8)", async () => {
    const { agent, pool } = mock("http://social.example");
    pool.intercept({ path: "/api/statuses/update.xml", method: "POST" }).reply(401, "", CHALLENGE);
    let asked = 0;
    const req = {
      method: "POST" as const,
      url: new URL("http://social.example/api/statuses/update.xml"),
      form,
      accept: "application/xml",
      credential: async () => {
        asked++;
        return { user: "alice", password: "pw" };
      },
    };
    const err = await failure(session("http://social.example", agent).s.send(req));
    expect(err.exitCode).toBe(ExitCode.NoPerm);
    expect(err.message).toMatch(/refusing to send a password over plain http to social\.example/);
    expect(asked).toBe(0);

    pool.intercept({ path: "/api/statuses/update.xml", method: "POST" }).reply(401, "", CHALLENGE);
    pool.intercept({ path: "/api/statuses/update.xml", method: "POST" }).reply(200, OK);
    const ok = await session("http://social.example", agent, { insecureHttp: true }).s.send(req);
    expect(ok.status).toBe(200);
  });

  it("refuses a credential with CR/LF before anything is encoded or sent (B17, C6)", async () => {
    const { agent, pool } = mock("https://social.example");
    pool.intercept({ path: "/api/statuses/update.xml", method: "POST" }).reply(401, "", CHALLENGE);
    const err = await failure(
      session("https://social.example", agent).s.send({
        method: "POST",
        url: new URL("https://social.example/api/statuses/update.xml"),
        form,
        accept: "application/xml",
        credential: async () => ({ user: "alice", password: "a\r\nX-Evil: 1" }),
      }),
    );
    expect(err.exitCode).toBe(ExitCode.Config);
    expect(err.message).toMatch(/control character/);
    expect(err.message).not.toContain("X-Evil");
    const colon = await failure(
      (() => {
        pool.intercept({ path: "/api/statuses/update.xml", method: "POST" }).reply(401, "", CHALLENGE);
        return session("https://social.example", agent).s.send({
          method: "POST",
          url: new URL("https://social.example/api/statuses/update.xml"),
          form,
          accept: "application/xml",
          credential: async () => ({ user: "al:ice", password: "pw" }),
        });
      })(),
    );
    expect(colon.exitCode).toBe(ExitCode.Config);
  });

  it("a session is bound to one origin", async () => {
    const { agent } = mock("https://social.example");
    const err = await failure(
      session("https://social.example", agent).s.send({
        method: "GET",
        url: new URL("https://social.example:8443/api/help/test.xml"),
        accept: "application/xml",
      }),
    );
    expect(err.message).toMatch(/on a session for https:\/\/social\.example/);
  });
});

describe("network failures → exit codes", () => {
  const ctx = { sent: false, deadlineHit: false, timeoutMs: 30_000, host: "h" };
  const code = (err: object, over = {}) =>
    (classifyNetworkError(err, { ...ctx, ...over }) as HttpError).exitCode;
  it("before sending: 75 (DNS, refused, connect timeout)", () => {
    expect(code({ code: "ENOTFOUND" })).toBe(ExitCode.TempFail);
    expect(code({ code: "EAI_AGAIN" })).toBe(ExitCode.TempFail);
    expect(code({ code: "ECONNREFUSED" })).toBe(ExitCode.TempFail);
    expect(code({ code: "UND_ERR_CONNECT_TIMEOUT" })).toBe(ExitCode.TempFail);
    expect(code({ name: "TimeoutError" }, { deadlineHit: true })).toBe(ExitCode.TempFail);
  });
  it("certificate problems: 69", () => {
    expect(code({ code: "CERT_HAS_EXPIRED" })).toBe(ExitCode.Unavailable);
    expect(code({ code: "ERR_TLS_CERT_ALTNAME_INVALID" })).toBe(ExitCode.Unavailable);
  });
  it("after sending: 76", () => {
    for (const c of [
      "UND_ERR_SOCKET",
      "ECONNRESET",
      "UND_ERR_HEADERS_TIMEOUT",
      "UND_ERR_RES_EXCEEDED_MAX_SIZE",
      "",
    ]) {
      expect(code({ code: c }, { sent: true })).toBe(ExitCode.Protocol);
    }
    expect(code({ name: "TimeoutError" }, { sent: true, deadlineHit: true })).toBe(ExitCode.Protocol);
  });
});

describe("failures that cannot have posted", () => {
  const ctx = { sent: true, deadlineHit: false, timeoutMs: 3000, host: "h" };
  const err = (e: object, over = {}) => classifyNetworkError(e, { ...ctx, ...over }) as HttpError;
  it("the first request, without credentials, reset or timed out before a reply: 75, not sent", () => {
    for (const [e, over] of [
      [{ code: "UND_ERR_SOCKET" }, {}],
      [{ code: "ECONNRESET" }, {}],
      [{ code: "UND_ERR_HEADERS_TIMEOUT" }, {}],
      [{ name: "TimeoutError" }, { deadlineHit: true }],
    ] as const) {
      const x = err(e, { harmless: "anonymous", ...over });
      expect(x.exitCode).toBe(ExitCode.TempFail);
      expect(x.details.sent).toBe(false);
      expect(x.message).toMatch(/to the request sent without credentials.*; nothing was posted$/);
    }
  });
  it("a broken reply to the first request is 75 too: without credentials nothing can have been posted", () => {
    const overflow = err({ code: "UND_ERR_HEADERS_OVERFLOW" }, { harmless: "anonymous" });
    expect([overflow.exitCode, overflow.details.sent]).toEqual([ExitCode.TempFail, false]);
    expect(overflow.message).toMatch(
      /to the request sent without credentials could not be read .*; nothing was posted$/,
    );
    const cut = err({ code: "UND_ERR_SOCKET" }, { harmless: "anonymous", answered: true });
    expect([cut.exitCode, cut.details.sent]).toEqual([ExitCode.TempFail, false]);
  });
  it("a read: no reply is 75, a broken reply 76; neither says posted", () => {
    const none = err({ code: "UND_ERR_SOCKET" }, { harmless: "read" });
    expect([none.exitCode, none.message]).toEqual([
      ExitCode.TempFail,
      "no reply from h (the connection was closed); nothing was changed",
    ]);
    const late = err({ name: "TimeoutError" }, { harmless: "read", deadlineHit: true });
    expect([late.exitCode, late.message]).toEqual([
      ExitCode.TempFail,
      "no reply from h within 3 s; nothing was changed",
    ]);
    for (const [e, over] of [
      [{ code: "UND_ERR_SOCKET" }, { answered: true }],
      [{ code: "UND_ERR_RES_EXCEEDED_MAX_SIZE" }, { answered: true }],
      [{ name: "TimeoutError" }, { answered: true, deadlineHit: true }],
      [{ code: "HPE_INVALID_CONSTANT" }, {}],
    ] as const) {
      const x = err(e, { harmless: "read", ...over });
      expect(x.exitCode).toBe(ExitCode.Protocol);
      expect(x.message).not.toMatch(/posted/);
    }
  });
});

describe("HttpSession: deadline and known protection spaces", () => {
  const spaces = {
    covers: () => ({ charset: null }),
    remember: () => {},
    forget: () => {},
  };
  it("a known space without an available credential: the request goes without it (item 13)", async () => {
    const { agent, pool } = mock("https://social.example");
    const seen: (string | undefined)[] = [];
    pool.intercept({ path: "/api/statuses/public_timeline.xml", method: "GET" }).reply(({ headers }) => {
      seen.push((headers as Record<string, string>).authorization);
      return { statusCode: 200, data: "<statuses/>" };
    });
    const asked: (boolean | undefined)[] = [];
    const { s } = session("https://social.example", agent, { spaces });
    const res = await s.send({
      method: "GET",
      url: new URL("https://social.example/api/statuses/public_timeline.xml"),
      accept: "application/xml",
      credential: async (_ch, how) => {
        asked.push(how?.interactive);
        throw new ConfigError("social.example asks for a login, but no user is set");
      },
    });
    expect(res.status).toBe(200);
    expect(seen).toEqual([undefined]);
    expect(asked).toEqual([false]);
  });

  it("a request the library never settles still ends at the deadline", async () => {
    // A dispatcher that accepts the request and never calls back, as undici 7.30.2 after a TLS error.
    const lost = { dispatch: () => true } as unknown as import("undici").Dispatcher;
    const { s } = session("https://social.example", mock("https://social.example").agent, {
      dispatcher: lost,
      timeoutMs: 200,
    });
    const started = Date.now();
    const err = (await failure(
      s.send({
        method: "GET",
        url: new URL("https://social.example/api/statuses/show/1.xml"),
        accept: "application/xml",
      }),
    )) as HttpError;
    expect(err.exitCode).toBe(ExitCode.TempFail);
    expect(err.message).toMatch(/within 0\.2 s; nothing was sent/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

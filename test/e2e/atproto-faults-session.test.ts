import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALICE_DID,
  APP_PASSWORD,
  CREATE,
  CREATE_SESSION,
  calls,
  copies,
  fresh,
  REFRESH,
  rkeyOf,
  useAtproto,
} from "../helpers/atproto-faults.js";
import { expectFailure, expectNoSecret, type RunResult, runCli } from "../helpers/cli.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";

// The AT Protocol's sessions in the real OS keychain (gnome-keyring on a private D-Bus session, through
// the built binary), against the look-alike PDS, which can expire access tokens and revoke sessions on
// demand: an expired access token is refreshed once and the new pair stored; a refused refresh makes a
// new session from the stored app password; a revoked app password as well is 77 with the text kept;
// an InvalidToken on a stored session makes a new one and posts once.

const h = useAtproto();
let keyring: PrivateKeyring;
beforeAll(async () => {
  keyring = await startKeyring();
});
afterAll(() => {
  keyring?.close();
});

interface StoredSession {
  did: string;
  handle: string;
  accessJwt: string;
  refreshJwt: string;
}

const service = () => `identica:${h.server.domain}`;
const run = (args: string[], input?: string): Promise<RunResult> =>
  runCli(args, { env: keyring.env, ...(input === undefined ? {} : { input }) });
const lookup = (account: string) => keyring.secretTool(["lookup", "service", service(), "account", account]);

/** The session the keychain holds for alice.test on this server. */
async function storedSession(): Promise<StoredSession> {
  const found = await lookup("alice.test#session");
  expect(found.code).toBe(0);
  return JSON.parse(found.stdout);
}

/** `identica login` with the app password: the keychain then holds it and a session. */
async function login(): Promise<StoredSession> {
  const r = await run(["login", ...h.args, "--password-stdin"], `${APP_PASSWORD}\n`);
  expect(r.code, r.stderr).toBe(0);
  h.server.requests.length = 0;
  // An access token names no id of its own: one issued in the same second as the login's would be the
  // same string. The server's clock moves on, so every token made later differs from the stored one.
  h.server.clock.advance(2000);
  return storedSession();
}

const post = (text: string, extra: string[] = []) => run(["post", ...h.args, "-o", "id", ...extra, text]);
const methods = () => h.server.requests.map((q) => q.nsid);
const bearer = (token: string) => `Bearer ${token}`;

describe("an expired access token", () => {
  it("one refreshSession, then the post succeeds; the keychain's #session holds the new pair", async () => {
    const before = await login();
    h.server.expireAccessTokens();
    const text = fresh("expired token");
    const r = await post(text);
    expect(r.code, r.stderr).toBe(0);
    expect(methods()).toEqual([CREATE, REFRESH, CREATE]);
    const [first, refresh, second] = h.server.requests;
    expect(first?.headers.authorization).toBe(bearer(before.accessJwt));
    expect(refresh?.headers.authorization).toBe(bearer(before.refreshJwt));
    // The retry is the same request: the same record key.
    expect(rkeyOf(second)).toBe(rkeyOf(first));
    expect(copies(h.server, text)).toHaveLength(1);

    const after = await storedSession();
    expect(after).toMatchObject({ did: ALICE_DID, handle: "alice.test" });
    expect(after.accessJwt).not.toBe(before.accessJwt);
    expect(after.refreshJwt).not.toBe(before.refreshJwt);
    expect(second?.headers.authorization).toBe(bearer(after.accessJwt));
    expectNoSecret(r, after.accessJwt);
    expectNoSecret(r, after.refreshJwt);

    // The next run uses the stored pair at once: one request.
    h.server.requests.length = 0;
    const again = await post(fresh("after refresh"));
    expect(again.code, again.stderr).toBe(0);
    expect(methods()).toEqual([CREATE]);
    expect(h.server.requests[0]?.headers.authorization).toBe(bearer(after.accessJwt));
  });

  it("the refresh refused too: a new createSession from the stored app password, stored, and the post succeeds", async () => {
    const before = await login();
    h.server.expireAccessTokens();
    h.server.revokeSessions();
    const text = fresh("refresh refused");
    const r = await post(text);
    expect(r.code, r.stderr).toBe(0);
    expect(methods()).toEqual([CREATE, REFRESH, CREATE_SESSION, CREATE]);
    const created = calls(h.server, CREATE_SESSION)[0];
    // Asked for by the session's DID: the handle may have changed since the session was made.
    expect(JSON.parse(created?.body.toString("utf8") ?? "{}")).toEqual({
      identifier: ALICE_DID,
      password: APP_PASSWORD,
    });
    const creates = calls(h.server, CREATE);
    expect(rkeyOf(creates[1])).toBe(rkeyOf(creates[0]));
    expect(copies(h.server, text)).toHaveLength(1);

    const after = await storedSession();
    expect(after.accessJwt).not.toBe(before.accessJwt);
    expect(after.refreshJwt).not.toBe(before.refreshJwt);
    expect(creates[1]?.headers.authorization).toBe(bearer(after.accessJwt));
    expectNoSecret(r, APP_PASSWORD, "alice.test");

    // The new session is the one kept: the next run posts with it at once.
    h.server.requests.length = 0;
    const again = await post(fresh("after new session"));
    expect(again.code, again.stderr).toBe(0);
    expect(methods()).toEqual([CREATE]);
  });

  it("the app password revoked as well: 77, the text kept, nothing posted", async () => {
    await login();
    h.server.expireAccessTokens();
    h.server.revokeSessions();
    const alice = h.server.account("alice.test");
    if (alice) alice.appPasswords = [];
    const text = fresh("all revoked");
    const r = await post(text);
    const path = expectFailure(r, 77, /refused|no longer valid/) as string;
    expect(path).toBeDefined();
    expect(methods()).toEqual([CREATE, REFRESH, CREATE_SESSION]);
    expect(copies(h.server, text)).toEqual([]);
    expectNoSecret(r, APP_PASSWORD, "alice.test");
  });
});

describe("InvalidToken on a stored session", () => {
  it("a new session from the app password, then the post is sent once more and made once", async () => {
    const before = await login();
    h.server.faults.push({
      fault: { kind: "status", status: 400, error: "InvalidToken", message: "Token could not be verified" },
      method: CREATE,
      times: 1,
    });
    const text = fresh("invalid token");
    const r = await post(text);
    expect(r.code, r.stderr).toBe(0);
    expect(methods()).toEqual([CREATE, CREATE_SESSION, CREATE]);
    const creates = calls(h.server, CREATE);
    expect(rkeyOf(creates[1])).toBe(rkeyOf(creates[0]));
    expect(copies(h.server, text)).toHaveLength(1);
    const after = await storedSession();
    expect(after.accessJwt).not.toBe(before.accessJwt);
    expect(after.refreshJwt).not.toBe(before.refreshJwt);
    expect(calls(h.server, REFRESH)).toEqual([]);
    expect(creates[0]?.headers.authorization).toBe(bearer(before.accessJwt));
    expect(creates[1]?.headers.authorization).toBe(bearer(after.accessJwt));
  });

  it("refused again with the session just made: 77, not a third attempt; the text kept", async () => {
    await login();
    h.server.faults.push({
      fault: { kind: "status", status: 400, error: "InvalidToken", message: "Token could not be verified" },
      method: CREATE,
      times: 2,
    });
    const text = fresh("invalid twice");
    const r = await post(text);
    expectFailure(r, 77, /did not accept the session \(400 InvalidToken\)/);
    expect(methods()).toEqual([CREATE, CREATE_SESSION, CREATE]);
    expect(copies(h.server, text)).toEqual([]);
  });
});

describe("login rate-limited", () => {
  it("429 to createSession: 75 naming when to retry, nothing stored in the keychain", async () => {
    // A server of its own: no earlier login left entries for it.
    const { startAtproto } = await import("../server/atproto.js");
    const other = await startAtproto();
    try {
      other.faults.push({
        fault: {
          kind: "reply",
          status: 429,
          body: '{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
          headers: { "RateLimit-Reset": String(Math.floor(Date.now() / 1000) + 600) },
        },
        method: CREATE_SESSION,
      });
      const r = await run(
        ["login", "--api", "atproto", "--server", other.origin, "--user", "alice.test", "--password-stdin"],
        `${APP_PASSWORD}\n`,
      );
      expectFailure(r, 75, /rate-limiting you \(429 RateLimitExceeded\).*retry in 10 min/);
      const svc = `identica:${other.domain}`;
      for (const account of ["alice.test", "alice.test#session"]) {
        const found = await keyring.secretTool(["lookup", "service", svc, "account", account]);
        expect(found.stdout).toBe("");
      }
    } finally {
      await other.close();
    }
  });
});

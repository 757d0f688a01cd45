// The AT Protocol session rules (docs/cli.md "A third API"): the stored session is used at once; an
// expired access token is refreshed once and the new pair stored; a refresh that fails, or a stored
// session the server no longer takes, is replaced by a new session from the app password; a session
// made in this run is never remade in a loop; a main password's session works once, with a warning,
// and is never stored.
import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/context.js";
import type { HttpRequest, HttpResponse, HttpSession } from "../../src/http/client.js";
import {
  type AtSession,
  isMainPasswordSession,
  secretForms,
  XrpcSession,
} from "../../src/services/atproto/session.js";

const jwt = (scope: string, n: number) =>
  `${Buffer.from('{"typ":"at+jwt"}').toString("base64url")}.${Buffer.from(JSON.stringify({ scope, n })).toString("base64url")}.sig`;

function session(n: number, scope = "com.atproto.appPass"): AtSession {
  return { did: "did:plc:alice", handle: "alice.test", accessJwt: jwt(scope, n), refreshJwt: `refresh-${n}` };
}

function reply(status: number, body: unknown): HttpResponse {
  return {
    status,
    headers: {},
    contentType: "application/json; charset=utf-8",
    bytes: Buffer.from(JSON.stringify(body)),
    authenticated: true,
  };
}

/** A server that answers each call from a script, and records what was asked with which token. */
function fakeHttp(answer: (nsid: string, auth: string | undefined) => HttpResponse) {
  const calls: { nsid: string; auth: string | undefined; body: string | undefined }[] = [];
  const http = {
    send: async (req: HttpRequest, auth?: string) => {
      const nsid = req.url.pathname.replace("/xrpc/", "");
      calls.push({ nsid, auth, body: req.json });
      return answer(nsid, auth);
    },
    newDeadline() {},
    close: async () => {},
  } as unknown as HttpSession;
  return { http, calls };
}

function make(
  answer: Parameters<typeof fakeHttp>[0],
  stored: AtSession | undefined,
  password = "app-pass-word-xxxx",
) {
  const { http, calls } = fakeHttp(answer);
  const saved: AtSession[] = [];
  const warnings: string[] = [];
  const xrpc = new XrpcSession(http, "http://127.0.0.1:2583", {
    http: { insecureHttp: false } as never,
    password: async () => ({ user: "alice.test", password }),
    store: { load: async () => stored, save: async (s) => void saved.push(s) },
    warn: (l) => warnings.push(l),
  });
  const post = () =>
    xrpc.call({ method: "POST", nsid: "com.atproto.repo.createRecord", auth: true, body: { x: 1 } });
  return { xrpc, calls, saved, warnings, post };
}

const ok = reply(200, { uri: "at://did:plc:alice/app.bsky.feed.post/3abc", cid: "bafy" });
const expired = reply(400, { error: "ExpiredToken", message: "Token has expired" });
const invalid = reply(400, { error: "InvalidToken", message: "Token could not be verified" });

describe("XrpcSession", () => {
  it("a stored session is used at once: one request, no createSession", async () => {
    const t = make(() => ok, session(1));
    expect((await t.post()).res.status).toBe(200);
    expect(t.calls.map((c) => c.nsid)).toEqual(["com.atproto.repo.createRecord"]);
    expect(t.calls[0]?.auth).toBe(`Bearer ${session(1).accessJwt}`);
  });

  it("ExpiredToken: refreshed once with the refresh token, stored, and the request sent again", async () => {
    const t = make((nsid, auth) => {
      if (nsid === "com.atproto.server.refreshSession") return reply(200, session(2));
      return auth === `Bearer ${session(1).accessJwt}` ? expired : ok;
    }, session(1));
    expect((await t.post()).res.status).toBe(200);
    expect(t.calls.map((c) => [c.nsid, c.auth])).toEqual([
      ["com.atproto.repo.createRecord", `Bearer ${session(1).accessJwt}`],
      ["com.atproto.server.refreshSession", "Bearer refresh-1"],
      ["com.atproto.repo.createRecord", `Bearer ${session(2).accessJwt}`],
    ]);
    expect(t.saved).toEqual([session(2)]);
    // The same body both times: a retry is the same record.
    expect(t.calls[0]?.body).toBe(t.calls[2]?.body);
  });

  it("a refresh that fails: a new session from the app password, stored, then the request once more", async () => {
    const t = make((nsid, auth) => {
      if (nsid === "com.atproto.server.refreshSession") return expired;
      if (nsid === "com.atproto.server.createSession") return reply(200, session(3));
      return auth === `Bearer ${session(3).accessJwt}` ? ok : expired;
    }, session(1));
    expect((await t.post()).res.status).toBe(200);
    expect(t.calls.map((c) => c.nsid)).toEqual([
      "com.atproto.repo.createRecord",
      "com.atproto.server.refreshSession",
      "com.atproto.server.createSession",
      "com.atproto.repo.createRecord",
    ]);
    expect(t.saved).toEqual([session(3)]);
  });

  it("InvalidToken on a stored session: a new session, then the request once more", async () => {
    const t = make((nsid, auth) => {
      if (nsid === "com.atproto.server.createSession") return reply(200, session(4));
      return auth === `Bearer ${session(4).accessJwt}` ? ok : invalid;
    }, session(1));
    expect((await t.post()).res.status).toBe(200);
    expect(t.calls.map((c) => c.nsid)).toEqual([
      "com.atproto.repo.createRecord",
      "com.atproto.server.createSession",
      "com.atproto.repo.createRecord",
    ]);
  });

  it("InvalidToken on a session made in this run: returned as it is (77 for the caller), no loop", async () => {
    const t = make(
      (nsid) => (nsid === "com.atproto.server.createSession" ? reply(200, session(5)) : invalid),
      undefined,
    );
    expect((await t.post()).res.status).toBe(400);
    expect(t.calls.map((c) => c.nsid)).toEqual([
      "com.atproto.server.createSession",
      "com.atproto.repo.createRecord",
    ]);
  });

  it("a main password's session: used for this run with one warning, never stored", async () => {
    const t = make(
      (nsid) =>
        nsid === "com.atproto.server.createSession" ? reply(200, session(6, "com.atproto.access")) : ok,
      undefined,
    );
    expect((await t.post()).res.status).toBe(200);
    expect(t.saved).toEqual([]);
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toMatch(/main password, not an app password/);
  });

  it("a password or session is never sent over plain http to a host that is not loopback", async () => {
    const { http, calls } = fakeHttp(() => ok);
    const xrpc = new XrpcSession(http, "http://pds.example", {
      http: { insecureHttp: false } as never,
      password: async () => ({ user: "alice", password: "p" }),
    });
    await expect(
      xrpc.call({ method: "POST", nsid: "com.atproto.repo.createRecord", auth: true }),
    ).rejects.toMatchObject({ exitCode: 77 });
    expect(calls).toEqual([]);
  });

  it("every form of a secret a server might quote is redacted: itself, its base64, a JWT's signature", () => {
    const r = new Redactor();
    const jwt = session(7).accessJwt.replace(/sig$/, "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg");
    for (const secret of ["ykq2-k5ti-lkyt-ym6x", jwt])
      for (const form of secretForms(secret))
        r.addCredential({ user: "alice.test", password: form, token68: form });
    const sig = jwt.split(".")[2] as string;
    const b64 = Buffer.from("ykq2-k5ti-lkyt-ym6x").toString("base64");
    const out = r.redact(`pw b64 ${b64} token ${jwt} sig ${sig}`);
    expect(out).not.toContain(b64);
    expect(out).not.toContain(sig);
    expect(out).toBe("pw b64 <redacted> token <redacted> sig <redacted>");
  });

  it("a retry after the session was remade names the new session's repository", async () => {
    const other = { ...session(1), did: "did:plc:someone-else" };
    const t = make((nsid, auth) => {
      if (nsid === "com.atproto.server.createSession") return reply(200, session(8));
      return auth === `Bearer ${session(8).accessJwt}` ? ok : invalid;
    }, other);
    const res = await t.xrpc.call({
      method: "POST",
      nsid: "com.atproto.repo.createRecord",
      auth: true,
      bodyFor: (s) => ({ repo: s.did }),
    });
    expect(res.res.status).toBe(200);
    expect(
      t.calls.filter((c) => c.nsid.endsWith("createRecord")).map((c) => JSON.parse(c.body ?? "{}").repo),
    ).toEqual(["did:plc:someone-else", "did:plc:alice"]);
  });

  it("a token whose scope cannot be read (not a JWT) is no proof of a main password", () => {
    expect(isMainPasswordSession({ ...session(1), accessJwt: "opaque-token-value" })).toBe(false);
    expect(isMainPasswordSession(session(1, "com.atproto.access"))).toBe(true);
    expect(isMainPasswordSession(session(1))).toBe(false);
  });
});

describe("an AT Protocol app password is never a Mastodon token", () => {
  it("checkToken refuses the xxxx-xxxx-xxxx-xxxx shape before anything is sent (78)", async () => {
    const { checkToken } = await import("../../src/services/mastodon/bearer.js");
    expect(() => checkToken("ykq2-k5ti-lkyt-ym6x", "alice.test")).toThrow(
      /looks like an AT Protocol app password/,
    );
    expect(() => checkToken("ZA-Yf3aVi6dGaaNnEeCgjRtU0Uf4gKQ9Wz3s_0y2Xa8", "alice")).not.toThrow();
  });
});

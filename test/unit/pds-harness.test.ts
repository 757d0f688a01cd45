// The real PDS harness answers as issue 15 relies on: an app password gives an appPass session, a
// client-chosen rkey is honoured, and reusing it is refused (a bare 500), which makes it an idempotency key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PDS_HOOK_TIMEOUT, type Pds, startPds } from "../helpers/pds.js";

// The install is done by the global setup (test/global-setup.ts); this hook only waits for start-up.
let pds: Pds;
beforeAll(async () => {
  pds = await startPds();
}, PDS_HOOK_TIMEOUT);
afterAll(async () => {
  await pds?.close();
});

async function xrpc(method: string, init: { body?: unknown; token?: string; query?: string } = {}) {
  const res = await fetch(`${pds.origin}/xrpc/${method}${init.query ? `?${init.query}` : ""}`, {
    method: init.body === undefined ? "GET" : "POST",
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The JWT's payload (no verification: the test only reads the scope). */
function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString());
}

// A TID: 13 base32-sortable characters from microseconds since 1970 and a clock id.
function tid(): string {
  const chars = "234567abcdefghijklmnopqrstuvwxyz";
  let n = (BigInt(Date.now()) * 1000n) << 10n;
  let s = "";
  for (let i = 0; i < 13; i++) {
    s = chars[Number(n & 31n)] + s;
    n >>= 5n;
  }
  return s;
}

describe("the test PDS", () => {
  it("listens on loopback and describes a .test server with no invites", async () => {
    expect(pds.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await xrpc("com.atproto.server.describeServer");
    expect(r.status).toBe(200);
    expect(r.body.availableUserDomains).toEqual([".test"]);
    expect(r.body.inviteCodeRequired).toBe(false);
    expect(pds.accounts.map((a) => a.handle)).toEqual(["alice.test", "bob.test"]);
  });

  it("runs on its own Node 22, whatever Node runs the tests", () => {
    expect(pds.node).toMatch(/^v22\./);
  });

  it("gives an app password an appPass session, and posts with a chosen rkey only once", async () => {
    const alice = pds.accounts[0];
    if (!alice) throw new Error("no account");
    expect(alice.appPassword).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    const session = await xrpc("com.atproto.server.createSession", {
      body: { identifier: alice.handle, password: alice.appPassword },
    });
    expect(session.status).toBe(200);
    expect(session.body.did).toBe(alice.did);
    expect(claims(session.body.accessJwt).scope).toBe("com.atproto.appPass");

    const rkey = tid();
    const record = {
      $type: "app.bsky.feed.post",
      text: "hello from the harness",
      createdAt: new Date().toISOString(),
    };
    const body = { repo: alice.did, collection: "app.bsky.feed.post", rkey, record };
    const first = await xrpc("com.atproto.repo.createRecord", { body, token: session.body.accessJwt });
    expect(first.status).toBe(200);
    expect(first.body.uri).toBe(`at://${alice.did}/app.bsky.feed.post/${rkey}`);

    const again = await xrpc("com.atproto.repo.createRecord", { body, token: session.body.accessJwt });
    expect(again.status).toBe(500);

    const stored = await xrpc("com.atproto.repo.getRecord", {
      query: `repo=${alice.did}&collection=app.bsky.feed.post&rkey=${rkey}`,
    });
    expect(stored.status).toBe(200);
    expect(stored.body.cid).toBe(first.body.cid);
  });
});

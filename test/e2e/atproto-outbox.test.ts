import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSession,
  fresh,
  POST,
  postsWithText,
  rkeyOf,
  tid,
  traced,
  usePds,
  xrpc,
} from "../helpers/atproto.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";
import { keytarStore } from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";
import { type MastodonServer, startMastodon } from "../server/mastodon.js";

/**
 * The record key as idempotency key on a real PDS (an outbox entry whose record is already there is
 * never posted twice, whether its outcome was known to be uncertain or not), and `post --to` to two
 * accounts of one PDS beside a Mastodon look-alike.
 */

const h = usePds();
const CREATE = "POST /xrpc/com.atproto.repo.createRecord";
const GET = "GET /xrpc/com.atproto.repo.getRecord";

describe("outbox send: the entry's record key is already on the PDS", () => {
  /** A record of alice's under a key the test chose, as if an earlier attempt had made it. */
  async function madeEarlier(text: string): Promise<string> {
    const s = await createSession(h.pds.origin, h.alice);
    const rkey = tid();
    const r = await xrpc(h.pds.origin, "com.atproto.repo.createRecord", {
      token: s.accessJwt,
      body: {
        repo: h.alice.did,
        collection: POST,
        rkey,
        record: { $type: POST, text, createdAt: new Date().toISOString() },
      },
    });
    expect(r.status).toBe(200);
    return rkey;
  }

  /** An outbox entry for that text and key, as a run that failed would have kept it. */
  function keep(sc: Scenario, text: string, rkey: string, uncertain: boolean): void {
    const at = new Date(Date.now() - 60_000).toISOString();
    const entry = {
      text,
      server: h.pds.origin,
      api: "atproto",
      user: "alice.test",
      replyTo: null,
      source: "identica",
      idempotencyKey: rkey,
      attemptedAt: at,
      uncertainSince: uncertain ? at : null,
      sent: uncertain,
      refused: false,
      exitCode: uncertain ? 76 : 75,
      error: uncertain
        ? "the connection was reset after the request was sent"
        : "the server is unavailable (503)",
    };
    writeFileSync(join(sc.ensureOutboxDir(), "20260101-000000000-aaaaaa.json"), JSON.stringify(entry), {
      mode: 0o600,
    });
  }

  const send = (sc: Scenario) =>
    sc.run(["outbox", "send", "-v", "--server", h.pds.origin, "--user", "alice.test", "--api", "atproto"], {
      env: { IDENTICA_PASSWORD: h.alice.appPassword },
    });

  it("uncertainSince set: looked up by its key, reported as already posted, nothing created", async () => {
    const text = fresh("uncertain");
    const rkey = await madeEarlier(text);
    const sc = new Scenario();
    keep(sc, text, rkey, true);
    const r = await send(sc);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/already posted; nothing sent/);
    expect(traced(r)).toContain(GET);
    expect(traced(r)).not.toContain(CREATE);
    const copies = await postsWithText(h.pds.origin, h.alice.did, text);
    expect(copies.map((c) => rkeyOf(c.uri))).toEqual([rkey]);
    expect(sc.outbox()).toEqual([]);
  });

  it("uncertainSince null: the create with the reused key fails (500), the lookup finds it, no second record", async () => {
    const text = fresh("plain retry");
    const rkey = await madeEarlier(text);
    const sc = new Scenario();
    keep(sc, text, rkey, false);
    const r = await send(sc);
    expect(r.code, r.stderr).toBe(0);
    // The path under test: a create answered 500, then the record looked up by its key.
    expect(traced(r).filter((x) => x === CREATE || x === GET)).toEqual([CREATE, GET]);
    expect(r.stderr).toMatch(/^< HTTP\/1\.1 500/m);
    const copies = await postsWithText(h.pds.origin, h.alice.did, text);
    expect(copies.map((c) => rkeyOf(c.uri))).toEqual([rkey]);
    expect(sc.outbox()).toEqual([]);
  });
});

describe("outbox send: the key of the first attempt is the record's", () => {
  it("a post kept after a refused password is posted later under the record key it was kept with", async () => {
    const sc = new Scenario();
    const text = fresh("kept");
    const args = ["--server", h.pds.origin, "--user", "alice.test", "--api", "atproto"];
    const failed = await sc.run(["post", ...args, text], {
      env: { IDENTICA_PASSWORD: "wrong-wrong-wrong-wrong" },
    });
    expect(failed.code, failed.stderr).toBe(77);
    const [kept] = sc.outbox();
    expect(kept?.entry).toMatchObject({
      api: "atproto",
      idempotencyKey: expect.stringMatching(/^[a-z2-7]{13}$/),
    });
    const r = await sc.run(["outbox", "send", ...args], { env: { IDENTICA_PASSWORD: h.alice.appPassword } });
    expect(r.code, r.stderr).toBe(0);
    const copies = await postsWithText(h.pds.origin, h.alice.did, text);
    expect(copies.map((c) => rkeyOf(c.uri))).toEqual([kept?.entry.idempotencyKey]);
    expect(sc.outbox()).toEqual([]);
  });
});

describe("post --to two AT Protocol accounts and a Mastodon one", () => {
  let keyring: PrivateKeyring;
  let md: MastodonServer;
  let sc: Scenario;
  beforeAll(async () => {
    keyring = await startKeyring();
    md = await startMastodon({ mode: "mastodon" });
    sc = new Scenario({ DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS as string });
    for (const a of [h.alice, h.bob]) {
      const r = await sc.run(["login", "--server", h.pds.origin, "--user", a.handle, "--password-stdin"], {
        input: `${a.appPassword}\n`,
      });
      expect(r.code, r.stderr).toBe(0);
    }
    await keytarStore(keyring.env, `identica:${md.domain}`, "alice", md.issueToken("alice"));
    const file = join(sc.env.XDG_CONFIG_HOME as string, "identica/config.json");
    const cfg = JSON.parse(readFileSync(file, "utf8"));
    cfg.servers[md.origin] = { user: "alice", api: "mastodon" };
    writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
  });
  afterAll(async () => {
    keyring?.close();
    await md?.close();
  });

  it("a record in each repository, each with its stored session, and the Mastodon status", async () => {
    const text = fresh("everywhere");
    const targets = [`alice.test@${h.host}`, `bob.test@${h.host}`, `alice@${md.domain}`];
    const r = await sc.run(["post", "-v", "-o", "json", ...targets.flatMap((t) => ["--to", t]), text]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { account: string; ok: boolean; status: { id: string } }[];
    expect(rows.map((x) => [x.account, x.ok])).toEqual(targets.map((t) => [t, true]));

    const alices = await postsWithText(h.pds.origin, h.alice.did, text);
    const bobs = await postsWithText(h.pds.origin, h.bob.did, text);
    expect(alices.map((x) => x.uri)).toEqual([rows[0]?.status.id]);
    expect(bobs.map((x) => x.uri)).toEqual([rows[1]?.status.id]);
    expect(md.statuses.filter((s) => s.text === text && s.username === "alice")).toHaveLength(1);
    // The stored sessions did it: no new session was made, one create per repository.
    expect(traced(r).filter((x) => x.includes("createSession"))).toEqual([]);
    expect(traced(r).filter((x) => x === CREATE)).toHaveLength(2);
  });

  it("accounts lists both handles once each, never a #session entry", async () => {
    const r = await sc.run(["accounts", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const pds = (JSON.parse(r.stdout) as { server: string; accounts: { user: string }[] }[]).find(
      (x) => x.server === h.pds.origin,
    );
    expect(pds?.accounts.map((a) => a.user).sort()).toEqual(["alice.test", "bob.test"]);
    expect(r.stdout).not.toContain("#session");
  });
});

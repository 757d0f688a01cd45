import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  fresh,
  getRecord,
  keychainEntry,
  leaked,
  postsWithText,
  recorder,
  refreshWith,
  rkeyOf,
  type Session,
  storedSession,
  traced,
  usePds,
  xrpc,
} from "../helpers/atproto.js";
import { expectFailure } from "../helpers/cli.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";
import { filesUnder, keytarStore } from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";

/**
 * The AT Protocol's detection, login, stored sessions and logout, end to end: the built binary
 * against a real PDS (@atproto/pds on loopback), the real gnome-keyring on a private D-Bus. What
 * identica says is checked against what the PDS and the keychain hold.
 */

const h = usePds();
const CREATE = "POST /xrpc/com.atproto.repo.createRecord";
const SESSION = "POST /xrpc/com.atproto.server.createSession";
const INSTANCE = "GET /api/v1/instance";
const DESCRIBE = "GET /xrpc/com.atproto.server.describeServer";
const END = "POST /xrpc/com.atproto.server.deleteSession";
const DELETE_SESSION = "com.atproto.server.deleteSession";

const configOf = (sc: Scenario) =>
  JSON.parse(readFileSync(join(sc.env.XDG_CONFIG_HOME as string, "identica/config.json"), "utf8"));

describe("detection", () => {
  const run = (sc: Scenario, args: string[], text: string) =>
    sc.run(["post", "-v", "--server", h.pds.origin, "--user", "alice.test", ...args, text], {
      env: { IDENTICA_PASSWORD: h.alice.appPassword },
    });

  it("first contact asks /api/v1/instance, then describeServer; the answer is remembered", async () => {
    const sc = new Scenario();
    const first = await run(sc, [], fresh("detected"));
    expect(first.code, first.stderr).toBe(0);
    // Without a keychain the session is made for the run and ended after it (it could not be kept).
    expect(traced(first)).toEqual([INSTANCE, DESCRIBE, SESSION, CREATE, END]);
    expect(first.stderr).toMatch(/speaks the AT Protocol \(remembered/);

    const text = fresh("known");
    const second = await run(sc, [], text);
    expect(second.code, second.stderr).toBe(0);
    expect(traced(second)).toEqual([SESSION, CREATE, END]);
    expect(await postsWithText(h.pds.origin, h.alice.did, text)).toHaveLength(1);
  });

  it("--api atproto asks nothing before the session", async () => {
    const sc = new Scenario();
    const text = fresh("forced");
    const r = await run(sc, ["--api", "atproto"], text);
    expect(r.code, r.stderr).toBe(0);
    expect(traced(r)).toEqual([SESSION, CREATE, END]);
    expect(await postsWithText(h.pds.origin, h.alice.did, text)).toHaveLength(1);
  });
});

describe("with the real keychain", () => {
  // A keyring per test: its entries are named after the server, which every test here shares.
  let keyring: PrivateKeyring;
  beforeEach(async () => {
    keyring = await startKeyring();
  });
  afterEach(() => keyring?.close());

  const home = () =>
    new Scenario({ DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS as string });
  const login = (sc: Scenario, password: string, extra: string[] = [], server = h.pds.origin) =>
    sc.run(["login", "--server", server, "--user", "alice.test", "--password-stdin", ...extra], {
      input: `${password}\n`,
    });
  const entry = (account: string, host = h.host) => keychainEntry(keyring, host, account);

  it("login with the app password stores it and the session; config, accounts; post then costs one request", async () => {
    const sc = home();
    const r = await login(sc, h.alice.appPassword);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^Logged in to ${h.host} \\(AT Protocol\\) as @alice\\.test \\(${h.alice.did}\\)`),
    );
    expect(await entry("alice.test")).toBe(h.alice.appPassword);
    const session = await storedSession(keyring, h.host, "alice.test");
    expect(Object.keys(session ?? {}).sort()).toEqual(["accessJwt", "did", "handle", "refreshJwt"]);
    expect(session).toMatchObject({ did: h.alice.did, handle: "alice.test" });
    // A live app-password session, as the PDS sees it.
    const live = await xrpc(h.pds.origin, "com.atproto.server.getSession", { token: session?.accessJwt });
    expect(live).toMatchObject({ status: 200, body: { did: h.alice.did } });
    const claims = JSON.parse(Buffer.from(session?.accessJwt.split(".")[1] ?? "", "base64url").toString());
    expect(claims.scope).toBe("com.atproto.appPass");
    expect(configOf(sc).servers[h.pds.origin]).toEqual({ user: "alice.test", api: "atproto" });

    const accounts = await sc.run(["accounts"]);
    expect(accounts.code).toBe(0);
    expect(accounts.stdout.match(/alice\.test/g)).toHaveLength(1);
    expect(accounts.stdout).not.toMatch(/#session/);
    const aj = await sc.run(["accounts", "-o", "json"]);
    expect(JSON.parse(aj.stdout)).toEqual([
      expect.objectContaining({
        server: h.pds.origin,
        api: "atproto",
        accounts: [expect.objectContaining({ user: "alice.test", handle: `alice.test@${h.host}` })],
      }),
    ]);

    // No password anywhere now: the stored session is used, and the post is one request.
    const text = fresh("hello");
    const post = await sc.run(["post", "-v", "-o", "id", text]);
    expect(post.code, post.stderr).toBe(0);
    expect(traced(post)).toEqual([CREATE]);
    const [rec] = await postsWithText(h.pds.origin, h.alice.did, text);
    expect(post.stdout).toBe(`${rec?.uri}\n`);
    expect((await getRecord(h.pds.origin, h.alice.did, rkeyOf(rec?.uri ?? ""))).status).toBe(200);
  });

  it("login with the MAIN password: 77, nothing stored, config untouched, the session deleted on the server", async () => {
    const sc = home();
    const cfgDir = join(sc.env.XDG_CONFIG_HOME as string, "identica");
    mkdirSync(cfgDir, { recursive: true, mode: 0o700 });
    const before = '{"server":"https://example.org"}\n';
    writeFileSync(join(cfgDir, "config.json"), before, { mode: 0o600 });
    // Through a recording front: the session identica made (and must end) is only seen on the wire.
    const front = await recorder(h.pds.origin);
    try {
      const r = await login(sc, h.alice.password, ["-v"], front.origin);
      const [line] = r.stderr.split("\n").filter((l) => l.startsWith("identica: "));
      expect(r.code, r.stderr).toBe(77);
      expect(line).toMatch(/main password, not an app password/);
      expect(r.stdout).toBe("");
      expect(await entry("alice.test", front.host)).toBeUndefined();
      expect(await entry("alice.test#session", front.host)).toBeUndefined();
      expect(readFileSync(join(cfgDir, "config.json"), "utf8")).toBe(before);

      const made = front.log.find((x) => x.path === "/xrpc/com.atproto.server.createSession");
      expect(made?.status).toBe(200);
      const { accessJwt, refreshJwt } = JSON.parse(made?.responseBody ?? "{}");
      expect(front.log.map((x) => `${x.method} ${x.path} ${x.status}`)).toContain(
        "POST /xrpc/com.atproto.server.deleteSession 200",
      );
      const refresh = await refreshWith(h.pds.origin, refreshJwt);
      expect(refresh.status).toBe(400);
      expect(leaked([r], [h.alice.password, accessJwt, refreshJwt])).toEqual([]);
    } finally {
      await front.close();
    }
  });

  it("a wrong password: 77, nothing stored, no config", async () => {
    const sc = home();
    const r = await login(sc, "wrong-wrong-wrong-wrong");
    expectFailure(r, 77, /refused the password for alice\.test/);
    expect(await entry("alice.test")).toBeUndefined();
    expect(await entry("alice.test#session")).toBeUndefined();
    expect(existsSync(join(sc.env.XDG_CONFIG_HOME as string, "identica/config.json"))).toBe(false);
  });

  it.each([
    ["a garbage access token, the refresh token alive", false],
    ["a garbage access token, the refresh token deleted on the server", true],
  ])(
    "a stored session with %s: a new session from the app password, stored; posted once",
    async (_, kill) => {
      const sc = home();
      expect((await login(sc, h.alice.appPassword)).code).toBe(0);
      const real = (await storedSession(keyring, h.host, "alice.test")) as NonNullable<
        Awaited<ReturnType<typeof storedSession>>
      >;
      if (kill) {
        const del = await xrpc(h.pds.origin, "com.atproto.server.deleteSession", {
          token: real.refreshJwt,
          post: true,
        });
        expect(del.status).toBe(200);
      }
      const broken = { ...real, accessJwt: "garbage.not.a-token" };
      await keytarStore(keyring.env, `identica:${h.host}`, "alice.test#session", JSON.stringify(broken));

      const text = fresh("renewed");
      const r = await sc.run(["post", "-v", text]);
      expect(r.code, r.stderr).toBe(0);
      expect(traced(r)).toEqual([CREATE, SESSION, CREATE]);
      expect(await postsWithText(h.pds.origin, h.alice.did, text)).toHaveLength(1);
      const now = await storedSession(keyring, h.host, "alice.test");
      expect(now?.accessJwt).not.toBe(broken.accessJwt);
      expect(now?.refreshJwt).not.toBe(real.refreshJwt);
      const live = await xrpc(h.pds.origin, "com.atproto.server.getSession", { token: now?.accessJwt });
      expect(live).toMatchObject({ status: 200, body: { did: h.alice.did } });
    },
  );

  it.each([
    ["refreshed once, the new pair stored", false],
    ["the refresh refused (session deleted): a new session from the app password", true],
  ])("an expired access token: %s; posted once", async (_, kill) => {
    // A real access token expires after hours: the front answers the first create as the PDS then would.
    const front = await recorder(h.pds.origin);
    try {
      const sc = home();
      expect((await login(sc, h.alice.appPassword, [], front.origin)).code).toBe(0);
      const real = (await storedSession(keyring, front.host, "alice.test")) as Session;
      if (kill)
        expect(
          (await xrpc(h.pds.origin, DELETE_SESSION, { token: real.refreshJwt, post: true })).status,
        ).toBe(200);
      front.faults.push({
        path: "/xrpc/com.atproto.repo.createRecord",
        status: 400,
        body: { error: "ExpiredToken", message: "Token has expired" },
      });
      front.log.length = 0;
      const text = fresh("expired");
      const r = await sc.run(["post", "-v", text]);
      expect(r.code, r.stderr).toBe(0);
      const refresh = "POST /xrpc/com.atproto.server.refreshSession";
      expect(front.log.map((x) => `${x.method} ${x.path} ${x.status}`)).toEqual(
        kill
          ? [`${CREATE} 400`, `${refresh} 400`, `${SESSION} 200`, `${CREATE} 200`]
          : [`${CREATE} 400`, `${refresh} 200`, `${CREATE} 200`],
      );
      expect(await postsWithText(h.pds.origin, h.alice.did, text)).toHaveLength(1);
      const now = await storedSession(keyring, front.host, "alice.test");
      // (Access tokens made within one second are equal: only the refresh token, with its jti, differs.)
      expect(now?.refreshJwt).not.toBe(real.refreshJwt);
      // What is stored is what the PDS gave last.
      const last = front.log.filter((x) => x.status === 200 && /Session$/.test(x.path)).at(-1);
      expect(JSON.parse(last?.responseBody ?? "{}")).toMatchObject({
        accessJwt: now?.accessJwt,
        refreshJwt: now?.refreshJwt,
      });
      const live = await xrpc(h.pds.origin, "com.atproto.server.getSession", { token: now?.accessJwt });
      expect(live.status).toBe(200);
    } finally {
      await front.close();
    }
  });

  it("logout ends the session on the server and removes both entries", async () => {
    const sc = home();
    expect((await login(sc, h.alice.appPassword)).code).toBe(0);
    const session = await storedSession(keyring, h.host, "alice.test");
    const r = await sc.run(["logout", "-v"]);
    expect(r.code, r.stderr).toBe(0);
    expect(traced(r)).toEqual(["POST /xrpc/com.atproto.server.deleteSession"]);
    expect(r.stdout).toMatch(/^Ended the session and removed the app password for alice\.test/);
    expect(await entry("alice.test")).toBeUndefined();
    expect(await entry("alice.test#session")).toBeUndefined();
    expect((await refreshWith(h.pds.origin, session?.refreshJwt ?? "")).status).toBe(400);
    expect(leaked([r], [h.alice.appPassword, session?.accessJwt ?? "", session?.refreshJwt ?? ""])).toEqual(
      [],
    );
  });

  it("logging in again ends the session it replaces", async () => {
    const sc = home();
    expect((await login(sc, h.alice.appPassword)).code).toBe(0);
    const old = await storedSession(keyring, h.host, "alice.test");
    expect((await login(sc, h.alice.appPassword)).code).toBe(0);
    const now = await storedSession(keyring, h.host, "alice.test");
    expect(now?.refreshJwt).not.toBe(old?.refreshJwt);
    expect((await refreshWith(h.pds.origin, old?.refreshJwt ?? "")).status).toBe(400);
    const live = await xrpc(h.pds.origin, "com.atproto.server.getSession", { token: now?.accessJwt });
    expect(live.status).toBe(200);
  });

  it("-v login and post: no password, access or refresh token (nor their base64) in any output", async () => {
    const sc = home();
    const r = await sc.run(["login", "-v", "--server", h.pds.origin, "--user", "alice.test"], {
      env: { IDENTICA_PASSWORD: h.alice.appPassword },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(traced(r)).toContain(SESSION);
    const session = await storedSession(keyring, h.host, "alice.test");
    const post = await sc.run(["post", "-v", "-o", "json", fresh("secretless")]);
    expect(post.code, post.stderr).toBe(0);
    expect(post.stderr).toMatch(/authorization: Bearer <redacted>/i);
    const secrets = [
      h.alice.appPassword,
      h.alice.password,
      session?.accessJwt ?? "",
      session?.refreshJwt ?? "",
    ];
    expect(secrets.every((s) => s.length > 8)).toBe(true);
    expect(leaked([r, post], secrets)).toEqual([]);
  });
});

describe("a bare environment, as under cron (no D-Bus, a temporary HOME, a minimal PATH)", () => {
  const cron = (password: string, args: string[]) =>
    new Scenario().run(["post", "--server", h.pds.origin, "--user", "alice.test", ...args], {
      env: { IDENTICA_PASSWORD: password, PATH: "/usr/bin:/bin", DBUS_SESSION_BUS_ADDRESS: undefined },
    });

  it("the app password: posts with a session of the run, nothing stored", async () => {
    const text = fresh("cron");
    const sc = new Scenario();
    const r = await sc.run(["post", "--server", h.pds.origin, "--user", "alice.test", "-o", "id", text], {
      env: {
        IDENTICA_PASSWORD: h.alice.appPassword,
        PATH: "/usr/bin:/bin",
        DBUS_SESSION_BUS_ADDRESS: undefined,
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(await postsWithText(h.pds.origin, h.alice.did, text)).toHaveLength(1);
    // Nothing of the session (or the password) was written anywhere in the home (V8's code cache aside).
    for (const f of filesUnder(sc.home).filter((x) => !x.path.includes("/v8/"))) {
      expect(f.text, f.path).not.toMatch(/accessJwt|refreshJwt|eyJ/);
      expect(f.text, f.path).not.toContain(h.alice.appPassword);
    }
    // And the next run makes a session of its own again.
    const again = await cron(h.alice.appPassword, ["-v", fresh("cron again")]);
    expect(again.code, again.stderr).toBe(0);
    expect(traced(again)).toContain(SESSION);
  });

  it("the main password: posts, with exactly one warning line", async () => {
    const text = fresh("cron main");
    const r = await cron(h.alice.password, [text]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^identica: warning: .*main password, not an app password.*\n$/);
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(await postsWithText(h.pds.origin, h.alice.did, text)).toHaveLength(1);
  });
});

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseServer } from "../../src/config/server.js";
import { EnvStore } from "../../src/credentials/env.js";
import { KeychainStore, type KeytarApi, serviceName } from "../../src/credentials/keychain.js";
import { NetrcStore, parseNetrc } from "../../src/credentials/netrc.js";
import { resolveCredential } from "../../src/credentials/resolve.js";
import { type CredentialStore, type Lookup, MemoryStore } from "../../src/credentials/store.js";
import { ExitCode, type IdenticaError } from "../../src/errors.js";

const target = (url: string, user = "alice") => {
  const s = parseServer(url);
  return { origin: s.origin, key: s.key, user };
};

describe("credentials are bound to the exact origin (docs/threats.md A4, A5)", () => {
  const store = new MemoryStore();
  store.set(parseServer("example.org").key, "alice", "pw");
  it.each([
    ["https://example.org/api", true],
    ["https://EXAMPLE.org/api", true],
    ["https://example.org:443/api", true],
    ["https://example.org:8443/api", false],
    ["https://sub.example.org/api", false],
    ["https://example.org.evil.test/api", false],
    ["https://evilexample.org/api", false],
    ["https://example.org\u3002evil.test/api", false],
  ])("%s → %s", async (url, hit) => {
    expect((await store.get(target(url))).kind).toBe(hit ? "found" : "missing");
  });
  it("127.0.0.1 and localhost are different keys", () => {
    expect(parseServer("http://127.0.0.1:8080/api").key).not.toBe(
      parseServer("http://localhost:8080/api").key,
    );
  });
  it("the keychain service is identica:<host[:port]>", () => {
    expect(serviceName(parseServer("Social.Example").key)).toBe("identica:social.example");
    expect(serviceName(parseServer("http://127.0.0.1:8080/api").key)).toBe("identica:127.0.0.1:8080");
  });
});

describe("resolveCredential: first source wins; unavailable is skipped", () => {
  const fixed = (name: string, r: Lookup): CredentialStore & { calls: number } => ({
    name,
    setupHint: `set up ${name}`,
    calls: 0,
    async get() {
      this.calls++;
      return r;
    },
  });
  it("stops at the first hit and says where it came from", async () => {
    const a = fixed("a", { kind: "missing" });
    const b = fixed("b", { kind: "unavailable", reason: "no D-Bus" });
    const c = fixed("c", { kind: "found", password: "pw" });
    const d = fixed("d", { kind: "found", password: "other" });
    const notes: string[] = [];
    const cred = await resolveCredential(target("example.org"), [a, b, c, d], (l) => notes.push(l));
    expect(cred).toEqual({ user: "alice", password: "pw", source: "c" });
    expect(d.calls).toBe(0);
    expect(notes).toEqual(["b is unavailable: no D-Bus", "password for alice at https://example.org from c"]);
    expect(notes.join("\n")).not.toContain("pw");
  });
  it("78 naming every source tried and how to set one up", async () => {
    try {
      await resolveCredential(
        target("example.org"),
        [
          fixed("a", { kind: "missing" }),
          fixed("OS keychain", { kind: "unavailable", reason: "no D-Bus session" }),
        ],
        () => {},
      );
      throw new Error("expected a failure");
    } catch (err) {
      const e = err as IdenticaError;
      expect(e.exitCode).toBe(ExitCode.Config);
      expect(e.message).toBe(
        "no password for alice at example.org; tried a, OS keychain (unavailable: no D-Bus session)",
      );
      expect(e.hint).toBe("set up a; or set up OS keychain");
    }
  });
  it("IDENTICA_PASSWORD", async () => {
    expect(await new EnvStore({ IDENTICA_PASSWORD: "x" }).get()).toEqual({ kind: "found", password: "x" });
    expect(await new EnvStore({ IDENTICA_PASSWORD: "" }).get()).toEqual({ kind: "missing" });
  });
});

describe("KeychainStore with a fake keytar", () => {
  const fake = (over: Partial<KeytarApi>): KeytarApi => ({
    getPassword: async () => null,
    setPassword: async () => {},
    deletePassword: async () => false,
    findCredentials: async () => [],
    ...over,
  });
  const store = (k: KeytarApi | (() => Promise<KeytarApi>), locked?: boolean) =>
    new KeychainStore({
      env: {},
      timeoutMs: 200,
      load: typeof k === "function" ? k : async () => k,
      probeLocked: async () => locked,
    });
  const t = target("https://social.example/api");

  it("looks up service identica:<key>, account <user>", async () => {
    const seen: string[] = [];
    const s = store(
      fake({
        getPassword: async (svc, acct) => {
          seen.push(`${svc}|${acct}`);
          return "pw";
        },
      }),
    );
    expect(await s.get(t)).toEqual({ kind: "found", password: "pw" });
    expect(seen).toEqual(["identica:social.example|alice"]);
  });
  it("a keychain that never answers is unavailable after the timeout (D6)", async () => {
    const s = store(fake({ getPassword: () => new Promise(() => {}) }));
    expect(await s.get(t)).toEqual({ kind: "unavailable", reason: "no answer within 0.2 s" });
  });
  it("a call that never answers is abandoned, and the keychain is not asked again in this run (I8)", async () => {
    let asked = 0;
    let abandoned = 0;
    const env = {};
    const k = fake({
      getPassword: () => {
        asked++;
        return new Promise(() => {});
      },
      abandon: () => abandoned++,
    });
    const s = new KeychainStore({ env, timeoutMs: 200, load: async () => k, probeLocked: async () => false });
    expect(await s.get(t)).toEqual({ kind: "unavailable", reason: "no answer within 0.2 s" });
    expect({ asked, abandoned }).toEqual({ asked: 1, abandoned: 1 });
    // Another store on the same environment (another outbox entry) gets the answer at once.
    const again = new KeychainStore({
      env,
      timeoutMs: 200,
      load: async () => k,
      probeLocked: async () => false,
    });
    await expect(again.set(t, "pw")).rejects.toThrow(
      "the OS keychain is unavailable: no answer within 0.2 s",
    );
    expect(asked).toBe(1);
  });
  it("a lock probe that never answers is killed and counts as no answer (I8)", async () => {
    let aborted = false;
    const s = new KeychainStore({
      env: {},
      timeoutMs: 200,
      load: async () => fake({}),
      probeLocked: (_env, signal) =>
        new Promise(() => signal.addEventListener("abort", () => (aborted = true))),
    });
    await expect(s.accounts("social.example")).rejects.toMatchObject({
      exitCode: ExitCode.Config,
      message: "the OS keychain is unavailable: no answer within 0.2 s",
    });
    expect(aborted).toBe(true);
  });
  it("no D-Bus session is unavailable, not missing (D1)", async () => {
    const s = store(
      fake({
        getPassword: async () => {
          throw new Error("Cannot autolaunch D-Bus without X11 $DISPLAY");
        },
      }),
    );
    expect(await s.get(t)).toEqual({
      kind: "unavailable",
      reason: "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set, as under cron or ssh)",
    });
  });
  it("a locked keyring is unavailable, not missing (D2)", async () => {
    expect(await store(fake({}), true).get(t)).toEqual({
      kind: "unavailable",
      reason: "the keyring is locked",
    });
    expect(await store(fake({}), false).get(t)).toEqual({ kind: "missing" });
  });
  it("a native module that does not load is unavailable (D3)", async () => {
    const s = store(async () => {
      throw Object.assign(new Error("libsecret-1.so.0: cannot open shared object file"), {
        code: "ERR_DLOPEN_FAILED",
      });
    });
    expect((await s.get(t)).kind).toBe("unavailable");
  });
  it("set reads the password back and fails with 78 when the write did not stick (D8)", async () => {
    const s = store(fake({ setPassword: async () => {}, getPassword: async () => null }));
    await expect(s.set(t, "pw")).rejects.toMatchObject({ exitCode: ExitCode.Config });
  });
  it("accounts never calls findCredentials on a locked keyring (it crashes keytar)", async () => {
    let called = false;
    const findCredentials = async () => {
      called = true;
      return [];
    };
    const s = store(fake({ findCredentials }), true);
    await expect(s.accounts("social.example")).rejects.toMatchObject({ exitCode: ExitCode.Config });
    expect(called).toBe(false);
  });
});

describe("netrc, as curl reads it", () => {
  it("parses machine, default, quoted values and macdef", () => {
    expect(
      parseNetrc(
        'machine a.example login alice password "p w\\"x"\nmacdef init\ncd /\nmachine fake\n\nmachine B.example login bob password pw2 default login dflt password dp',
      ),
    ).toEqual([
      { machine: "a.example", login: "alice", password: 'p w"x' },
      { machine: "b.example", login: "bob", password: "pw2" },
      { machine: undefined, login: "dflt", password: "dp" },
    ]);
  });
  const netrcWith = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), "identica-netrc-"));
    writeFileSync(join(dir, "netrc"), text);
    return new NetrcStore({ NETRC: join(dir, "netrc") });
  };
  it("matches the host (not the port) and the login", async () => {
    const s = netrcWith(
      "machine social.example login alice password pw\nmachine other login bob password x\n",
    );
    expect(await s.get(target("https://social.example:8443/api"))).toEqual({ kind: "found", password: "pw" });
    expect(await s.get(target("https://social.example/api", "bob"))).toEqual({ kind: "missing" });
    expect(await s.get(target("https://evil.example/api"))).toEqual({ kind: "missing" });
  });
  it("default applies only to hosts without a machine entry", async () => {
    const s = netrcWith("machine social.example login bob password b\ndefault login alice password d\n");
    expect(await s.get(target("https://elsewhere.example/api"))).toEqual({ kind: "found", password: "d" });
    expect(await s.get(target("https://social.example/api"))).toEqual({ kind: "missing" });
  });
  it("a missing file is missing; an unreadable one is unavailable", async () => {
    expect(await new NetrcStore({ NETRC: "/nonexistent/netrc" }).get(target("x.example"))).toEqual({
      kind: "missing",
    });
    expect((await new NetrcStore({ NETRC: tmpdir() }).get(target("x.example"))).kind).toBe("unavailable");
  });
});

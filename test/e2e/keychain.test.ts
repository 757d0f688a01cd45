import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, expectFailure, expectNoSecret, runCli } from "../helpers/cli.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";
import { keytarStore } from "../helpers/mastodon-post.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * The real OS keychain: gnome-keyring on a private D-Bus session, reached through keytar by the built
 * binary. Nothing here touches the real user's keyring or home.
 */
const h = useHttpsServer();
let keyring: PrivateKeyring;
let locked: PrivateKeyring;
let other: TestServer;
const key = () => new URL(h.server.origin).host;
const service = () => `identica:${key()}`;

beforeAll(async () => {
  keyring = await startKeyring();
  locked = await startKeyring({ locked: true });
  other = await startServer({ tls: testCertificate() });
});
afterAll(async () => {
  keyring?.close();
  locked?.close();
  await other?.close();
});

const withKeyring = (extra: Record<string, string | undefined> = {}) => ({ ...keyring.env, ...extra });
const login = (user: string, password: string, extra: string[] = []) =>
  runCli(
    [
      "login",
      "--server",
      h.server.apiRoot,
      "--user",
      user,
      "--cacert",
      h.certPath,
      "--password-stdin",
      ...extra,
    ],
    {
      env: withKeyring(),
      input: `${password}\n`,
    },
  );
const lookup = (user: string) => keyring.secretTool(["lookup", "service", service(), "account", user]);

describe("login, post, whoami, accounts, logout with the real keychain", () => {
  it("login checks the password with the server, then stores exactly the documented entry", async () => {
    const r = await login("alice", PASSWORD);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Logged in to ${key()} as @alice \\(Alice Example\\)\\.\\n`));
    expect(h.server.requests.map((q) => [q.url, q.headers.authorization !== undefined])).toEqual([
      ["/api/account/verify_credentials.xml", false],
      ["/api/account/verify_credentials.xml", true],
    ]);
    expect(await lookup("alice")).toEqual({ code: 0, stdout: PASSWORD });
    const cfg = JSON.parse(
      readFileSync(join(keyring.env.XDG_CONFIG_HOME as string, "identica/config.json"), "utf8"),
    );
    // The API is recorded, so later runs never probe for it.
    expect(cfg).toEqual({
      server: h.server.apiRoot,
      servers: { [h.server.apiRoot]: { user: "alice", api: "statusnet" } },
    });
    expectNoSecret(r, PASSWORD);
  });

  it("then post works with nothing else set up, the password coming from the keychain", async () => {
    const text = uniqueText("from keychain");
    const r = await runCli(["post", "--cacert", h.certPath, "-v", "-o", "id", text], { env: withKeyring() });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/password for alice at https:\/\/127\.0\.0\.1:\d+ from OS keychain/);
    expect(h.server.requests.at(-1)?.headers.authorization).toBe(
      `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`,
    );
    expect(h.server.store.notices.at(-1)?.text).toBe(text);
    expectNoSecret(r, PASSWORD);
  });

  it("with no --user and no config, the one account stored for the server is used", async () => {
    const r = await runCli(
      ["post", "--server", h.server.apiRoot, "--cacert", h.certPath, "-o", "id", uniqueText("sole")],
      {
        env: withKeyring({ XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "identica-nocfg-")) }),
      },
    );
    expect(r.code).toBe(0);
  });

  it("whoami in every mode", async () => {
    const pretty = await runCli(["whoami", "--cacert", h.certPath], { env: withKeyring() });
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toMatch(
      new RegExp(
        `^Alice Example @alice on ${key()}\\n${h.server.origin}/alice\\nuser id 2 · \\d+ notices?\\nlatest: `,
      ),
    );
    const json = await runCli(["whoami", "--cacert", h.certPath, "-o", "json", "--format", "json"], {
      env: withKeyring(),
    });
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: "2",
      screenName: "alice",
      name: "Alice Example",
      server: h.server.apiRoot,
    });
    const xml = await runCli(["whoami", "--cacert", h.certPath, "-o", "xml"], { env: withKeyring() });
    expect(xml.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<user /);
  });

  it("a wrong password stores nothing and exits 77", async () => {
    const r = await login("bob", "not bob's password");
    expectFailure(r, 77, /rejected the password for bob/);
    expect((await lookup("bob")).code).not.toBe(0);
    expectNoSecret(r, "not bob's password", "bob");
  });

  it("accounts lists the stored accounts by handle, with their API", async () => {
    expect((await login("bob", "battery staple")).code).toBe(0);
    const r = await runCli(["accounts"], { env: withKeyring() });
    expect(r.code).toBe(0);
    // The last login (bob) is now the default; the handles are in a column.
    expect(r.stdout).toBe(`alice@${key()}  StatusNet API\nbob@${key()}    StatusNet API  (default)\n`);
    const j = await runCli(["accounts", "-o", "json"], { env: withKeyring() });
    expect(JSON.parse(j.stdout)).toEqual([
      {
        server: h.server.apiRoot,
        api: "statusnet",
        service: service(),
        accounts: [
          { user: "alice", handle: `alice@${key()}`, default: false },
          { user: "bob", handle: `bob@${key()}`, default: true },
        ],
      },
    ]);
  });

  it("logout removes the entry; a second logout says there was none; both exit 0", async () => {
    const r = await runCli(["logout", "--user", "bob"], { env: withKeyring() });
    expect(r).toMatchObject({
      code: 0,
      stdout: `Removed the password for bob at ${key()} (${service()} / bob).\n`,
    });
    expect((await lookup("bob")).code).not.toBe(0);
    const again = await runCli(["logout", "--user", "bob"], { env: withKeyring() });
    expect(again).toMatchObject({
      code: 0,
      stdout: `No password was stored for bob at ${key()} (${service()} / bob).\n`,
    });
    expect((await lookup("alice")).stdout).toBe(PASSWORD);
  });
});

describe("accounts on a StatusNet and a Mastodon server (issue 14)", () => {
  it("lists each by handle with its API, and post --to takes the handles it lists", async () => {
    const statusnet = await startServer();
    const mastodon = await startMastodon();
    try {
      const sn = new URL(statusnet.origin).host;
      const token = mastodon.issueToken("alice");
      await keytarStore(keyring.env, `identica:${sn}`, "alice", PASSWORD);
      await keytarStore(keyring.env, `identica:${mastodon.domain}`, "alice", token);
      await keytarStore(keyring.env, `identica:${mastodon.domain}`, "bob", mastodon.issueToken("bob"));
      // Written by hand, as a user would: the APIs are known, so nothing is asked of either server.
      const config = mkdtempSync(join(tmpdir(), "identica-two-apis-"));
      mkdirSync(join(config, "identica"));
      writeFileSync(
        join(config, "identica", "config.json"),
        JSON.stringify({
          servers: {
            [mastodon.origin]: { user: "alice", api: "mastodon" },
            [statusnet.apiRoot]: { user: "alice", api: "statusnet" },
          },
        }),
      );
      const env = withKeyring({ XDG_CONFIG_HOME: config });
      const r = await runCli(["accounts"], { env });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const [ma, mb, sa] = [`alice@${mastodon.domain}`, `bob@${mastodon.domain}`, `alice@${sn}`];
      const w = Math.max(ma.length, mb.length, sa.length);
      expect(r.stdout).toBe(
        [
          `${ma.padEnd(w)}  Mastodon API   (default)`,
          `${mb.padEnd(w)}  Mastodon API`,
          `${sa.padEnd(w)}  StatusNet API  (default)`,
          "",
        ].join("\n"),
      );
      const j = await runCli(["accounts", "-o", "json"], { env });
      expect(JSON.parse(j.stdout)).toEqual([
        {
          server: mastodon.origin,
          api: "mastodon",
          service: `identica:${mastodon.domain}`,
          accounts: [
            { user: "alice", handle: ma, default: true },
            { user: "bob", handle: mb, default: false },
          ],
        },
        {
          server: statusnet.apiRoot,
          api: "statusnet",
          service: `identica:${sn}`,
          accounts: [{ user: "alice", handle: sa, default: true }],
        },
      ]);
      expect([...mastodon.requests, ...statusnet.requests]).toEqual([]);

      // The handles as listed are what `post --to` takes: each account gets the text, with its own secret.
      const text = uniqueText("both");
      const posted = await runCli(["post", "--to", sa, "--to", ma, "-o", "json", text], { env });
      expect(posted.stderr).toBe("");
      expect(posted.code).toBe(0);
      expect(JSON.parse(posted.stdout)).toMatchObject([
        { account: sa, ok: true },
        { account: ma, ok: true },
      ]);
      expect(statusnet.store.notices.at(-1)?.text).toBe(text);
      expect(mastodon.statuses.at(-1)).toMatchObject({ text, username: "alice" });
      expect(mastodon.requests.find((q) => q.url === "/api/v1/statuses")?.headers.authorization).toBe(
        `Bearer ${token}`,
      );
      expectNoSecret(posted, PASSWORD);
      expect(`${posted.stdout}${posted.stderr}`).not.toContain(token);
    } finally {
      await statusnet.close();
      await mastodon.close();
    }
  });
});

describe("origin binding with two loopback servers (docs/threats.md A4)", () => {
  it("a credential stored for 127.0.0.1:PORT is never sent to another port, nor to localhost:PORT", async () => {
    other.requests.length = 0;
    const toOther = await runCli(
      ["post", "--server", other.apiRoot, "--user", "alice", "--cacert", h.certPath, uniqueText("other")],
      {
        env: withKeyring(),
      },
    );
    expectFailure(
      toOther,
      78,
      /no password for alice at 127\.0\.0\.1:\d+; tried IDENTICA_PASSWORD, OS keychain, netrc/,
    );
    expect(other.requests.map((q) => q.headers.authorization)).toEqual([undefined, undefined]);

    const localhost = h.server.apiRoot.replace("127.0.0.1", "localhost");
    const toLocalhost = await runCli(
      ["post", "--server", localhost, "--user", "alice", "--cacert", h.certPath, uniqueText("lh")],
      {
        env: withKeyring(),
      },
    );
    expectFailure(toLocalhost, 78, /no password for alice at localhost:\d+/);
    expect(h.server.requests.map((q) => q.headers.authorization)).toEqual([undefined, undefined]);
  });
  it("a server URL with userinfo is refused before anything is sent (A5)", async () => {
    const port = new URL(h.server.origin).port;
    const r = await runCli(["post", "--server", `https://127.0.0.1:${port}@localhost:${port}/api`, "x"], {
      env: withKeyring(),
    });
    expectFailure(r, 64, /must not contain a user name or password/);
    expect(h.server.requests).toHaveLength(0);
  });
});

/** As under cron: no D-Bus session, no display, an empty runtime directory, no password in the environment. */
const headless = () => {
  const runtime = mkdtempSync(join(tmpdir(), "identica-noxdg-"));
  return {
    ...h.env,
    IDENTICA_PASSWORD: undefined,
    XDG_RUNTIME_DIR: runtime,
    DBUS_SESSION_BUS_ADDRESS: undefined,
    DISPLAY: undefined,
  };
};

describe("no keychain: cron, ssh, a locked keyring", () => {
  it("post with no other source exits 78 naming the keychain as unavailable", async () => {
    const r = await runCli(["post", ...h.args, uniqueText("cron")], { env: headless() });
    expectFailure(
      r,
      78,
      /tried IDENTICA_PASSWORD, OS keychain \(unavailable: no D-Bus session \(DBUS_SESSION_BUS_ADDRESS is not set, as under cron or ssh\)\)/,
    );
  });
  it("with IDENTICA_PASSWORD or --password-file it still posts", async () => {
    expect(
      (
        await runCli(["post", ...h.args, "-o", "id", uniqueText("cron env")], {
          env: { ...headless(), IDENTICA_PASSWORD: PASSWORD },
        })
      ).code,
    ).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "identica-pw-"));
    writeFileSync(join(dir, "pw"), `${PASSWORD}\n`, { mode: 0o600 });
    const r = await runCli(
      ["post", ...h.args, "--password-file", join(dir, "pw"), "-o", "id", uniqueText("cron file")],
      {
        env: headless(),
      },
    );
    expect(r.code).toBe(0);
  });
  it("login says the keychain is unavailable and what to use instead, before asking for anything", async () => {
    const r = await runCli(["login", "--server", h.server.apiRoot, "--user", "alice", "--password-stdin"], {
      env: headless(),
      input: `${PASSWORD}\n`,
    });
    expectFailure(
      r,
      78,
      /the OS keychain is unavailable: no D-Bus session .*--password-file FILE \(mode 0600\), IDENTICA_PASSWORD or ~\/\.netrc/,
    );
    expect(h.server.requests).toHaveLength(0);
  });
  it("a locked keyring is reported as locked, for post and for accounts (never a crash)", async () => {
    const env = { ...locked.env, IDENTICA_PASSWORD: undefined };
    const r = await runCli(["post", ...h.args, uniqueText("locked")], { env });
    expectFailure(r, 78, /OS keychain \(unavailable: the keyring is locked\)/);
    const a = await runCli(["accounts", "--server", h.server.apiRoot], { env });
    expectFailure(a, 78, /the keyring is locked/);
  });
});

describe("netrc and the prompt", () => {
  it("~/.netrc supplies the password when the keychain has none", async () => {
    const home = mkdtempSync(join(tmpdir(), "identica-netrc-"));
    writeFileSync(
      join(home, ".netrc"),
      `machine 127.0.0.1 login carol password nope\nmachine 127.0.0.1 login alice password "${PASSWORD}"\n`,
    );
    chmodSync(join(home, ".netrc"), 0o600);
    const r = await runCli(
      [
        "post",
        ...h.args.filter((a) => a !== "alice" && a !== "--user"),
        "--user",
        "alice",
        "-v",
        "-o",
        "id",
        uniqueText("netrc"),
      ],
      {
        env: { ...headless(), HOME: home },
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/OS keychain is unavailable: no D-Bus session/);
    expect(r.stderr).toMatch(
      new RegExp(`password for alice at https://127\\.0\\.0\\.1:\\d+ from netrc \\(${home}/\\.netrc\\)`),
    );
    expectNoSecret(r, PASSWORD);
  });
  it("a terminal gets a no-echo prompt; --no-input never prompts", async () => {
    const runtime = mkdtempSync(join(tmpdir(), "identica-tty-"));
    const env = { PATH: process.env.PATH ?? "", HOME: runtime, XDG_RUNTIME_DIR: runtime, TZ: "UTC" };
    const cmd = (extra: string) =>
      [
        process.execPath,
        BIN,
        "post",
        extra,
        ...h.args,
        "-o",
        "id",
        JSON.stringify(uniqueText("prompted")),
      ].join(" ");
    // The password is typed only once the prompt is on the screen, as a person would.
    const typed = await inTerminal(cmd(""), env, (out) =>
      /Password for alice at 127\.0\.0\.1:\d+: $/.test(out) ? `${PASSWORD}\r` : undefined,
    );
    expect(typed.code).toBe(0);
    expect(typed.out).not.toContain(PASSWORD);
    expect(typed.out).toMatch(/: \r?\n\d+\r?\n$/);
    const never = await inTerminal(cmd("--no-input"), env, () => undefined);
    expect(never.code).toBe(78);
    expect(never.out).toMatch(/terminal prompt \(unavailable: --no-input\)/);
  });
});

/** Runs a command on a pseudo-terminal (util-linux `script`), answering what it prints with `reply`. */
function inTerminal(
  command: string,
  env: Record<string, string>,
  reply: (out: string) => string | undefined,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env,
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      const answer = reply(out);
      if (answer !== undefined) child.stdin.write(answer);
    });
    child.on("close", (code) => {
      child.stdin.destroy();
      resolve({ code, out });
    });
  });
}

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIN, expectFailure, type RunOptions } from "../helpers/cli.js";
import {
  AUTHORIZE_URL,
  afterUrl,
  approve,
  bearer,
  ca,
  cacert,
  configOf,
  driveLogin,
  inTerminal,
  type LoginDriver,
  OOB,
  paths,
  secretsIn,
  sh,
  tls,
  useKeyring,
} from "../helpers/mastodon-login.js";
import type { Scenario } from "../helpers/scenario.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";

/**
 * `identica login` / `logout` / `whoami` / `accounts` on a Mastodon-API server, end to end: the built
 * binary against the look-alike (as Mastodon 4.3 and as snac2), the real gnome-keyring on a private
 * D-Bus, the code typed into the child's stdin once it has printed the authorization URL. This file: the ways
 * people break it (pipes, signals, cron, state between runs) and the desktop (the opener, a terminal).
 */

const { scenario, lookup } = useKeyring();

describe.each<Mode>(["mastodon", "snac"])("login on %s, broken the ways users break it", (mode) => {
  let server: MastodonServer;
  let scn: Scenario;
  beforeEach(async () => {
    server = await startMastodon({ mode, tls });
    scn = scenario();
  });
  afterEach(async () => {
    await server.close();
  });
  const args = () => ["--server", server.domain, ...cacert, "--no-browser"];
  const login = (extra: string[] = [], driver: LoginDriver = {}, opts: RunOptions = {}) =>
    driveLogin(scn, [...args(), ...extra], { server, ca, ...driver }, opts);
  const nothingStored = async () => {
    expect((await lookup(server, "alice")).code).not.toBe(0);
    expect(() => configOf(scn)).toThrow();
  };

  it("the code typed into a pipe that stays open: read up to its line end, no EOF needed", async () => {
    const r = await login([], { keepOpen: true });
    expect(r.code, r.stderr).toBe(0);
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: server.tokens.at(-1)?.token });
  });

  it("a person slower than --timeout: the time spent on the authorization page does not count", async () => {
    const r = await login(["--timeout", "1"], {
      code: async (url) => {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        return approve(server, url, ca);
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect((await lookup(server, "alice")).code).toBe(0);
  });

  it("the code pasted as the address it came in, with spaces and CRLF around it: accepted", async () => {
    const r = await login([], {
      code: async (url) => `  ${OOB}?code=${await approve(server, url, ca)}&state=\r`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(server.tokens.at(-1)?.username).toBe("alice");
  });

  it("a code with an invisible character in it: 64, the code not repeated, nothing stored", async () => {
    let code = "";
    const r = await login([], {
      code: async (url) => {
        code = await approve(server, url, ca);
        return `${code.slice(0, 4)}\u200b${code.slice(4)}`;
      },
    });
    expectFailure({ ...r, stderr: afterUrl(r.stderr) }, 64, /invisible characters/);
    expect(secretsIn(r, [code, code.slice(4)])).toEqual([]);
    expect(server.requests.some((q) => q.url === "/oauth/token")).toBe(false);
    await nothingStored();
  });

  it("under cron (stdin /dev/null, no terminal): the URL is printed, then 64 saying how to give the code", async () => {
    const r = await scn.run(["login", ...args()]);
    expect(r.stderr).toMatch(AUTHORIZE_URL);
    expectFailure({ ...r, stderr: afterUrl(r.stderr) }, 64, /no authorization code on stdin/);
    await nothingStored();
  });

  it("without a keychain (no D-Bus): 78 before the app is registered or anything is asked", async () => {
    const r = await scn.run(["login", ...args()], { env: { DBUS_SESSION_BUS_ADDRESS: undefined } });
    expectFailure(r, 78, /keychain is unavailable/);
    expect(paths(server)).toEqual(["GET /api/v1/instance"]);
    expect(server.apps).toEqual([]);
  });

  it("Ctrl-C while waiting for the code: 130, one line, nothing stored", async () => {
    const r = await login([], { onUrl: (child) => child.kill("SIGINT") });
    expect(r.code).toBe(130);
    expect(afterUrl(r.stderr)).toMatch(/^identica: interrupted \(SIGINT\)[^\n]*\n$/);
    expect(r.stdout).toBe("");
    await nothingStored();
  });

  it("SIGTERM while the token is being checked: 143, nothing stored, no talk of a posted status", async () => {
    server.faults.push({ fault: { kind: "hang" }, path: /verify_credentials/ });
    const r = await login([], {
      afterCode: (child) => {
        const timer = setInterval(() => {
          if (server.requests.some((q) => q.url.includes("verify_credentials"))) {
            clearInterval(timer);
            child.kill("SIGTERM");
          }
        }, 10);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.code).toBe(143);
    expect(afterUrl(r.stderr)).toMatch(/^identica: interrupted \(SIGTERM\)[^\n]*\n$/);
    expect(r.stderr).not.toMatch(/may have been posted/);
    await nothingStored();
  });

  it("stdout closed (| head -c0): the login still completes, stores, and exits 0", async () => {
    const r = await login([], {}, { closeStdout: true });
    expect(r.code, r.stderr).toBe(0);
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: server.tokens.at(-1)?.token });
  });

  it("-o json prints the profile with the API and where the token went", async () => {
    const r = await login(["-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      id: server.accountId("alice"),
      screenName: "alice",
      api: "mastodon",
      stored: { service: `identica:${server.domain}`, account: "alice" },
    });
  });

  it("--user naming someone else: the token's own account wins (said with -v), nothing stored for the name given", async () => {
    const r = await login(["--user", "bob", "-v"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the token belongs to alice, not bob: storing it for alice/);
    expect((await lookup(server, "bob")).code).not.toBe(0);
    expect((await lookup(server, "alice")).code).toBe(0);
    expect(configOf(scn).servers?.[server.origin]?.user).toBe("alice");
  });

  it("the token revoked on the server between runs: post is 77 and keeps the text; a new login, then outbox send posts it once", async () => {
    expect((await login()).code).toBe(0);
    const first = server.tokens.at(-1)?.token as string;
    server.revokeToken(first);
    const r = await scn.run(["post", ...cacert, "kept while logged out"]);
    const path = expectFailure(r, 77, /run identica login/);
    expect(path).toBeDefined();
    expect(scn.outbox().map((e) => e.entry.text)).toEqual(["kept while logged out"]);
    expect(server.statuses).toEqual([]);

    expect((await login()).code).toBe(0);
    const second = server.tokens.at(-1)?.token as string;
    expect(second).not.toBe(first);
    const send = await scn.run(["outbox", "send", ...cacert]);
    expect(send.code, send.stderr).toBe(0);
    expect(server.statuses.map((s) => s.text)).toEqual(["kept while logged out"]);
    expect(scn.outbox()).toEqual([]);
    const posts = server.requests.filter((q) => q.url === "/api/v1/statuses");
    expect(posts.at(-1)?.headers.authorization).toBe(bearer(second));
  });

  it("two accounts: each login keeps its own token, and logout of the first still revokes the first's token", async () => {
    expect((await login()).code).toBe(0);
    const alices = server.tokens.at(-1)?.token as string;
    const bobRun = await login([], { code: (url) => approve(server, url, ca, "bob") });
    expect(bobRun.code, bobRun.stderr).toBe(0);
    const bobs = server.tokens.at(-1)?.token as string;
    expect(configOf(scn).servers?.[server.origin]?.user).toBe("bob");
    const accounts = await scn.run(["accounts"]);
    expect(accounts.stdout).toBe(
      `alice@${server.domain}  Mastodon API\nbob@${server.domain}    Mastodon API  (default)\n`,
    );

    server.requests.length = 0;
    const out = await scn.run(["logout", ...cacert, "--user", "alice"]);
    expect(out.code, out.stderr).toBe(0);
    expect(paths(server)).toEqual(["POST /oauth/revoke"]);
    expect(server.tokens.find((t) => t.token === alices)?.revoked).toBe(true);
    expect(server.tokens.find((t) => t.token === bobs)?.revoked).toBe(false);
    expect((await lookup(server, "alice")).code).not.toBe(0);
    // bob is untouched, and can still log out properly.
    const post = await scn.run(["post", ...cacert, "-o", "id", "bob still here"]);
    expect(post.code, post.stderr).toBe(0);
    expect(server.statuses.at(-1)?.username).toBe("bob");
    const bobOut = await scn.run(["logout", ...cacert]);
    expect(bobOut.code, bobOut.stderr).toBe(0);
    expect(server.tokens.find((t) => t.token === bobs)?.revoked).toBe(true);
  });

  it("a config written by an earlier version (one `app` with its user) still revokes at logout", async () => {
    expect((await login()).code).toBe(0);
    const token = server.tokens.at(-1)?.token as string;
    const cfg = configOf(scn);
    const kept = cfg.servers?.[server.origin] as { apps: Record<string, object> };
    const { apps, ...rest } = kept;
    writeFileSync(
      `${scn.env.XDG_CONFIG_HOME}/identica/config.json`,
      JSON.stringify({
        ...cfg,
        servers: { [server.origin]: { ...rest, app: { ...apps.alice, user: "alice" } } },
      }),
      { mode: 0o600 },
    );
    server.requests.length = 0;
    const r = await scn.run(["logout", ...cacert]);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(server)).toEqual(["POST /oauth/revoke"]);
    expect(server.tokens.find((t) => t.token === token)?.revoked).toBe(true);
    expect(configOf(scn).servers?.[server.origin]).toEqual({ user: "alice", api: "mastodon" });
  });

  it("a bare cron environment after login: post is 78 and keeps the text; IDENTICA_TOKEN then sends it", async () => {
    expect((await login()).code).toBe(0);
    const token = server.tokens.at(-1)?.token as string;
    // cron: HOME, PATH, SHELL, LOGNAME; no D-Bus, no display, stdin /dev/null.
    const cron = { DBUS_SESSION_BUS_ADDRESS: undefined, SHELL: "/bin/sh", LOGNAME: "alice" };
    const r = await scn.run(["post", ...cacert, "from cron"], { env: cron });
    expectFailure(r, 78, /IDENTICA_TOKEN/);
    expect(scn.outbox().map((e) => e.entry.text)).toEqual(["from cron"]);
    const send = await scn.run(["outbox", "send", ...cacert], { env: { ...cron, IDENTICA_TOKEN: token } });
    expect(send.code, send.stderr).toBe(0);
    expect(server.statuses.map((s) => s.text)).toEqual(["from cron"]);
    expect(secretsIn(send, [token])).toEqual([]);
  });
});

describe("login on a desktop: the opener, the terminal prompt (mastodon)", () => {
  let server: MastodonServer;
  let scn: Scenario;
  let dir: string;
  let recorder: string;
  let opened: string;
  beforeEach(async () => {
    server = await startMastodon({ mode: "mastodon", tls });
    scn = scenario();
    dir = mkdtempSync(join(tmpdir(), "identica-browser-"));
    opened = join(dir, "argv");
    recorder = join(dir, "browser");
    // A "browser" that writes the arguments it was given, one a line.
    writeFileSync(recorder, '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"\n', {
      mode: 0o755,
    });
  });
  afterEach(async () => {
    await server.close();
  });

  /** The environment of a run on the terminal of a graphical session, in the scenario's home. */
  const desktop = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    TZ: "UTC",
    LANG: "C.UTF-8",
    ...scn.env,
    DISPLAY: ":0",
    IDENTICA_BROWSER: recorder,
    OUT: opened,
    ...extra,
  });
  const command = (extra: string[] = []) =>
    [process.execPath, BIN, "login", "--server", server.domain, ...cacert, ...extra].map(sh).join(" ");
  /** Types the code once the prompt for it is on the screen, as a person would. */
  const typeCode = () => {
    let typed = false;
    return (out: string) => {
      const url = AUTHORIZE_URL.exec(out)?.[1];
      if (typed || url === undefined || !/Then paste the code it shows: $/.test(out)) return undefined;
      typed = true;
      return `${server.authorize(url)}\r`;
    };
  };
  const browserRan = async () => {
    // The opener is detached and not waited for: give it a moment after the run has ended.
    for (let i = 0; i < 50 && !existsSync(opened); i++) await new Promise((r) => setTimeout(r, 20));
    return existsSync(opened) ? readFileSync(opened, "utf8") : undefined;
  };

  it("on a terminal of a graphical session: IDENTICA_BROWSER gets the URL as its one argument; the code is typed at the prompt", async () => {
    const r = await inTerminal(command(), desktop(), typeCode());
    expect(r.code, r.out).toBe(0);
    const url = AUTHORIZE_URL.exec(r.out)?.[1];
    expect(r.out).toContain("(opened in your browser)");
    expect(await browserRan()).toBe(`${url}\n`);
    expect(r.out).toMatch(/Logged in to .* as \S*@alice/);
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: server.tokens.at(-1)?.token });
  });

  it("--no-browser, IDENTICA_BROWSER=none, no display, or no terminal: nothing is opened, the URL is still printed", async () => {
    const noBrowser = await inTerminal(command(["--no-browser"]), desktop(), typeCode());
    expect(noBrowser.code, noBrowser.out).toBe(0);
    const none = await inTerminal(command(), desktop({ IDENTICA_BROWSER: "none" }), typeCode());
    expect(none.code, none.out).toBe(0);
    const ssh = desktop();
    delete (ssh as Record<string, string | undefined>).DISPLAY;
    const console_ = await inTerminal(command(), ssh, typeCode());
    expect(console_.code, console_.out).toBe(0);
    for (const r of [noBrowser, none, console_]) {
      expect(r.out).toMatch(AUTHORIZE_URL);
      expect(r.out).not.toContain("opened in your browser");
    }
    // A pipe: the code comes from stdin, and a browser would fight nobody for it, but there is no
    // terminal to come back to: not opened either.
    const piped = await driveLogin(
      scn,
      ["--server", server.domain, ...cacert],
      { server, ca },
      {
        env: { DISPLAY: ":0", IDENTICA_BROWSER: recorder, OUT: opened },
      },
    );
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).not.toContain("opened in your browser");
    expect(await browserRan()).toBeUndefined();
  });

  it("Ctrl-D at the code prompt: 64 saying no code was given, nothing stored", async () => {
    let sent = false;
    const r = await inTerminal(command(["--no-browser"]), desktop(), (out) => {
      if (sent || !/Then paste the code it shows: $/.test(out)) return undefined;
      sent = true;
      return "\u0004";
    });
    expect(r.code, r.out).toBe(64);
    expect(r.out).toMatch(/identica: no authorization code was given/);
    expect(r.out).not.toMatch(/password/);
    expect((await lookup(server, "alice")).code).not.toBe(0);
  });

  it("an expired code (typed 11 minutes later): 77, refused, nothing stored", async () => {
    const r = await driveLogin(scn, ["--server", server.domain, ...cacert, "--no-browser"], {
      server,
      ca,
      code: (url) => {
        const code = server.authorize(url);
        server.clock.advance(11 * 60_000);
        return code;
      },
    });
    expectFailure(
      { ...r, stderr: afterUrl(r.stderr) },
      77,
      /authorization code was refused.*run identica login again/,
    );
    expect((await lookup(server, "alice")).code).not.toBe(0);
  });

  it("stderr closed (2>&1 | head -0): the URL cannot be shown, but a code that comes anyway still logs in, exit 0", async () => {
    const r = await scn.run(["login", "--server", server.domain, ...cacert, "--no-browser"], {
      closeStderr: true,
      keepStdinOpen: true,
      onSpawn: (child) => {
        const timer = setInterval(() => {
          const app = server.apps.at(-1);
          if (app === undefined) return;
          clearInterval(timer);
          // Approved without the challenge (its URL was never seen): Doorkeeper then wants no verifier.
          const code = server.authorize({
            response_type: "code",
            client_id: app.clientId,
            redirect_uri: OOB,
            scope: "read write",
          });
          child.stdin?.end(`${code}\n`);
        }, 10);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Logged in to /);
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: server.tokens.at(-1)?.token });
  });
});

import { statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectFailure } from "../helpers/cli.js";
import {
  afterUrl,
  approve,
  bearer,
  ca,
  cacert,
  configOf,
  driveLogin,
  formOf,
  type LoginDriver,
  OOB,
  paths,
  s256,
  secretsIn,
  tls,
  useKeyring,
} from "../helpers/mastodon-login.js";
import type { Scenario } from "../helpers/scenario.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";

/**
 * `identica login` / `logout` / `whoami` / `accounts` on a Mastodon-API server, end to end: the built
 * binary against the look-alike (as Mastodon 4.3 and as snac2), the real gnome-keyring on a private
 * D-Bus, the code typed into the child's stdin once it has printed the authorization URL.
 */

const { scenario, lookup } = useKeyring();

describe.each<Mode>(["mastodon", "snac"])("login on %s (https)", (mode) => {
  let server: MastodonServer;
  let scn: Scenario;
  beforeEach(async () => {
    // A server of its own per test: its port is in the keychain's service name, so no entry leaks.
    server = await startMastodon({ mode, tls });
    scn = scenario();
  });
  afterEach(async () => {
    await server.close();
  });

  const login = (args: string[] = [], driver: LoginDriver = {}) =>
    driveLogin(scn, ["--server", server.domain, ...cacert, "--no-browser", ...args], {
      server,
      ca,
      ...driver,
    });
  /** Logs alice in and forgets the requests it took. */
  const loggedIn = async () => {
    const r = await login();
    expect(r.code, r.stderr).toBe(0);
    server.requests.length = 0;
    return server.tokens.at(-1)?.token as string;
  };

  it("registers the app, sends the user to the authorization page with PKCE S256, exchanges the code, checks and stores the token", async () => {
    const r = await login();
    expect(r.code, r.stderr).toBe(0);
    const key = server.domain;
    expect(r.stdout).toBe(
      `Logged in to ${key} (Mastodon API) as @alice (Alice Example).\nThe token is in the OS keychain as identica:${key} / alice; ${key} is now the default server.\n`,
    );
    // The URL on stderr, and nothing else but its introduction.
    expect(r.stderr).toBe(
      `To let identica post as you on ${key}, open this page, log in and authorize it:\n\n  ${r.url}\n\n`,
    );

    const ours = server.requests.filter((q) => !/x-snac-login|oauth\/authorize/.test(q.url));
    expect(ours.map((q) => `${q.method} ${q.url}`)).toEqual([
      "GET /api/v1/instance",
      "POST /api/v1/apps",
      "POST /oauth/token",
      "GET /api/v1/accounts/verify_credentials",
    ]);
    const [instance, apps, tokenReq, verify] = ours as [
      (typeof ours)[0],
      (typeof ours)[0],
      (typeof ours)[0],
      (typeof ours)[0],
    ];
    // Nothing secret goes with the probe or the registration.
    expect(instance.headers.authorization).toBeUndefined();
    expect(apps.headers.authorization).toBeUndefined();
    expect(formOf(apps)).toMatchObject({ client_name: "identica", redirect_uris: OOB, scopes: "read write" });
    const app = server.apps.at(-1);
    expect(app?.redirectUris).toEqual([OOB]);

    // The authorization URL: this app, the oob redirect, both scopes, an S256 challenge.
    const url = new URL(r.url as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${server.origin}/oauth/authorize`);
    const q = Object.fromEntries(url.searchParams);
    expect(q).toEqual({
      response_type: "code",
      client_id: app?.clientId,
      redirect_uri: OOB,
      scope: "read write",
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: "S256",
    });

    // The exchange: the code the server showed, the app's credentials, the verifier of that challenge.
    const grant = server.grants.at(-1);
    const form = formOf(tokenReq);
    expect(form).toMatchObject({
      grant_type: "authorization_code",
      code: grant?.code,
      client_id: app?.clientId,
      client_secret: app?.clientSecret,
      redirect_uri: OOB,
    });
    expect(form.code_verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(s256(form.code_verifier as string)).toBe(q.code_challenge);
    if (mode === "mastodon") expect(grant?.used).toBe(true);

    // Checked with the new token before it was stored.
    const token = server.tokens.at(-1);
    expect(token?.username).toBe("alice");
    expect(verify.headers.authorization).toBe(bearer(token?.token as string));
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: token?.token });

    // The defaults, the API and the app, in a file only the user can read.
    const cfgFile = `${scn.env.XDG_CONFIG_HOME}/identica/config.json`;
    expect(statSync(cfgFile).mode & 0o077).toBe(0);
    expect(configOf(scn)).toEqual({
      server: server.origin,
      servers: {
        [server.origin]: {
          user: "alice",
          api: "mastodon",
          apps: { alice: { clientId: app?.clientId, clientSecret: app?.clientSecret } },
        },
      },
    });
    expect(secretsIn(r, [token?.token, grant?.code, app?.clientSecret, form.code_verifier])).toEqual([]);
  });

  it("with -v: the whole exchange is traced, and still no token, code, client secret or verifier", async () => {
    const r = await login(["-v"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/POST \/oauth\/token/);
    expect(r.stderr).toMatch(/Authorization: Bearer <redacted>/i);
    const form = formOf(server.requests.find((q) => q.url === "/oauth/token") as { body: Buffer });
    const secrets = [
      server.tokens.at(-1)?.token,
      server.grants.at(-1)?.code,
      server.apps.at(-1)?.clientSecret,
      form.code_verifier,
    ];
    expect(secretsIn(r, secrets)).toEqual([]);
    // config list shows the app, its secret redacted.
    const list = await scn.run(["config", "list", "-o", "json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).servers[server.origin].apps).toEqual({
      alice: { clientId: server.apps.at(-1)?.clientId, clientSecret: "<redacted>" },
    });
    expect(secretsIn(list, secrets)).toEqual([]);
  });

  it("then `post` needs nothing more: the default server and user, the token from the keychain", async () => {
    const token = await loggedIn();
    const r = await scn.run(["post", ...cacert, "-o", "id", "hi"]);
    expect(r.code, r.stderr).toBe(0);
    const posted = server.statuses.at(-1);
    expect(posted?.text).toBe("hi");
    expect(posted?.username).toBe("alice");
    expect(r.stdout).toBe(`${posted?.id}\n`);
    // The API was remembered: a known server costs the post alone (and its limit was cached by login).
    expect(paths(server)).toEqual(["POST /api/v1/statuses"]);
    expect(server.requests[0]?.headers.authorization).toBe(bearer(token));
    expect(r.stderr).toBe("");
  });

  it("whoami (pretty and json) and accounts show the Mastodon account", async () => {
    await loggedIn();
    const pretty = await scn.run(["whoami", ...cacert]);
    expect(pretty.code, pretty.stderr).toBe(0);
    expect(pretty.stdout).toMatch(
      new RegExp(`^Alice Example @alice on ${server.domain.replace(/\./g, "\\.")}\\n`),
    );
    const json = await scn.run(["whoami", ...cacert, "-o", "json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: server.accountId("alice"),
      screenName: "alice",
      name: "Alice Example",
    });
    expect(paths(server)).toEqual([
      "GET /api/v1/accounts/verify_credentials",
      "GET /api/v1/accounts/verify_credentials",
    ]);

    const accounts = await scn.run(["accounts"]);
    expect(accounts.code).toBe(0);
    expect(accounts.stdout).toBe(`alice@${server.domain}  Mastodon API  (default)\n`);
    const aj = await scn.run(["accounts", "-o", "json"]);
    expect(JSON.parse(aj.stdout)).toEqual([
      {
        server: server.origin,
        api: "mastodon",
        service: `identica:${server.domain}`,
        accounts: [{ user: "alice", handle: `alice@${server.domain}`, default: true }],
      },
    ]);
  });

  it("logout revokes the token with the app's credentials, then removes it; the server no longer takes it", async () => {
    const token = await loggedIn();
    const app = server.apps.at(-1);
    const r = await scn.run(["logout", ...cacert, "-v"]);
    expect(r.code, r.stderr).toBe(0);
    // The trace shows the revocation, its form's secrets redacted.
    expect(r.stderr).toMatch(/POST \/oauth\/revoke/);
    expect(secretsIn(r, [token, app?.clientSecret])).toEqual([]);
    expect(r.stdout).toBe(
      `Revoked and removed the token for alice at ${server.domain} (identica:${server.domain} / alice).\n`,
    );
    expect(paths(server)).toEqual(["POST /oauth/revoke"]);
    expect(formOf(server.requests[0] as { body: Buffer })).toEqual({
      client_id: app?.clientId,
      client_secret: app?.clientSecret,
      token,
    });
    expect(server.tokens.find((t) => t.token === token)?.revoked).toBe(true);
    expect((await lookup(server, "alice")).code).not.toBe(0);
    // The app went with its token.
    expect(configOf(scn).servers?.[server.origin]).toEqual({ user: "alice", api: "mastodon" });
    // And the token really is dead: a whoami with it is refused by the server.
    const again = await scn.run(["whoami", ...cacert], { env: { IDENTICA_TOKEN: token } });
    expectFailure(again, 77, /run identica login/);
  });

  it("a wrong code: 77, nothing stored, nothing made the default", async () => {
    const r = await login([], {
      code: () => (mode === "snac" ? "0123456789abcdef0123456789abcdef" : "not-the-code"),
    });
    expectFailure(
      { ...r, stderr: afterUrl(r.stderr) },
      77,
      mode === "mastodon" ? /authorization code was refused/ : /run identica login/,
    );
    expect((await lookup(server, "alice")).code).not.toBe(0);
    expect(() => configOf(scn)).toThrow();
    expect(server.tokens.filter((t) => t.username !== null)).toEqual([]);
  });

  it("--token-stdin: a token made in the web UI is checked with verify_credentials, then stored without an app", async () => {
    const token = server.issueToken("alice");
    const r = await scn.run(["login", "--server", server.domain, ...cacert, "--token-stdin", "-v"], {
      input: `${token}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Authorization: Bearer <redacted>/i);
    expect(paths(server)).toEqual(["GET /api/v1/instance", "GET /api/v1/accounts/verify_credentials"]);
    expect(server.requests[1]?.headers.authorization).toBe(bearer(token));
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: token });
    expect(configOf(scn).servers?.[server.origin]).toEqual({ user: "alice", api: "mastodon" });
    expect(secretsIn(r, [token])).toEqual([]);

    // logout: nothing to revoke it with; removed here, said so, the token left alone on the server.
    server.requests.length = 0;
    const out = await scn.run(["logout", ...cacert, "-v"]);
    expect(out.code, out.stderr).toBe(0);
    expect(server.requests).toEqual([]);
    expect(out.stderr).toMatch(/not issued through identica's app; revoke it in .*settings/);
    expect(out.stdout).toMatch(/^Removed the token for alice/);
    expect((await lookup(server, "alice")).code).not.toBe(0);
    expect(server.tokens.find((t) => t.token === token)?.revoked).toBe(false);
  });

  it("--token-stdin with a bad token: 77 with 'run identica login', nothing stored", async () => {
    const r = await scn.run(["login", "--server", server.domain, ...cacert, "--token-stdin"], {
      input: "not-a-real-token\n",
    });
    // snac: 422 with an empty body (snac/21); Mastodon: 401 with Doorkeeper's message.
    expectFailure(
      r,
      77,
      mode === "snac" ? /\(422\).*\(run identica login\)$/ : /\(401\).*\(run identica login\)$/,
    );
    expect((await lookup(server, "alice")).code).not.toBe(0);
    expect(() => configOf(scn)).toThrow();
    expect(secretsIn(r, ["not-a-real-token"])).toEqual([]);
  });

  it("a revocation the server refuses (403) still removes the token here, with a warning", async () => {
    const token = await loggedIn();
    server.faults.push({
      fault: {
        kind: "reply",
        status: 403,
        body: '{"error":"unauthorized_client","error_description":"You are not authorized to revoke this token"}',
      },
      path: /^\/oauth\/revoke/,
    });
    const r = await scn.run(["logout", ...cacert]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^identica: could not revoke the token at .*not authorized to revoke this token.*removing it here all the same/,
    );
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(r.stdout).toMatch(/^Removed the token for alice/);
    expect((await lookup(server, "alice")).code).not.toBe(0);
    expect(server.tokens.find((t) => t.token === token)?.revoked).toBe(false);
    expect(secretsIn(r, [token, server.apps.at(-1)?.clientSecret])).toEqual([]);
  });
});

describe.each<Mode>(["mastodon", "snac"])("login on %s over plain http loopback", (mode) => {
  let server: MastodonServer;
  beforeEach(async () => {
    server = await startMastodon({ mode });
  });
  afterEach(async () => {
    await server.close();
  });

  it("the whole flow works (snac closes the connection after every reply), and the token goes out as Bearer", async () => {
    const scn = scenario();
    const r = await driveLogin(scn, ["--server", server.origin, "--no-browser"], { server, ca: undefined });
    expect(r.code, r.stderr).toBe(0);
    expect(r.url?.startsWith(`${server.origin}/oauth/authorize?`)).toBe(true);
    const token = server.tokens.at(-1)?.token as string;
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: token });
    server.requests.length = 0;
    const post = await scn.run(["post", "-o", "id", "over plain http"]);
    expect(post.code, post.stderr).toBe(0);
    expect(server.requests.map((q) => [q.url, q.headers.authorization])).toEqual([
      ["/api/v1/statuses", bearer(token)],
    ]);
    expect(server.statuses.at(-1)?.text).toBe("over plain http");
  });
});

describe.each<Mode>(["mastodon", "snac"])("login and logout on %s, more state and timing", (mode) => {
  let server: MastodonServer;
  let scn: Scenario;
  beforeEach(async () => {
    server = await startMastodon({ mode, tls });
    scn = scenario();
  });
  afterEach(async () => {
    await server.close();
  });
  const login = (extra: string[] = [], driver: LoginDriver = {}) =>
    driveLogin(scn, ["--server", server.domain, ...cacert, "--no-browser", ...extra], {
      server,
      ca,
      ...driver,
    });

  it("-q: the URL is still shown (there is no login without it), the result is not", async () => {
    const r = await login(["-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.url).toBeDefined();
    expect(r.stdout).toBe("");
  });

  it("a token pasted with spaces around it (copied from a web page) is stored without them", async () => {
    const token = server.issueToken("alice");
    const r = await scn.run(["login", "--server", server.domain, ...cacert, "--token-stdin"], {
      input: `  ${token} \r\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: token });
  });

  it("the server spells the name its own way (Carol): `--user carol` still finds the token for post and logout", async () => {
    server.addUser({ username: "Carol", password: "pw", displayName: "Carol" });
    const r = await login(["--user", "carol"], { code: (url) => approve(server, url, ca, "Carol") });
    expect(r.code, r.stderr).toBe(0);
    expect((await lookup(server, "Carol")).code).toBe(0);
    const post = await scn.run(["post", ...cacert, "--user", "carol", "-o", "id", "in carol's case"]);
    expect(post.code, post.stderr).toBe(0);
    expect(server.statuses.at(-1)?.username).toBe("Carol");
    const out = await scn.run(["logout", ...cacert, "--user", "carol"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^Revoked and removed the token for/);
    expect((await lookup(server, "Carol")).code).not.toBe(0);
  });

  it("logout when nothing is stored: 0, said so, nothing sent", async () => {
    const r = await scn.run([
      "logout",
      "--server",
      server.origin,
      "--user",
      "alice",
      "--api",
      "mastodon",
      ...cacert,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^No token was stored for alice/);
    expect(server.requests).toEqual([]);
  });

  it("a revocation that gets no answer (--timeout): one line, the token removed all the same, 0", async () => {
    expect((await login()).code).toBe(0);
    server.faults.push({ fault: { kind: "hang" }, path: /^\/oauth\/revoke/ });
    const r = await scn.run(["logout", ...cacert, "--timeout", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^identica: could not revoke the token at [^\n]*removing it here all the same[^\n]*\n$/,
    );
    expect((await lookup(server, "alice")).code).not.toBe(0);
  });

  it("SIGTERM while the revocation hangs: 143, and the token is still stored, so logout can be run again", async () => {
    expect((await login()).code).toBe(0);
    const token = server.tokens.at(-1)?.token as string;
    server.faults.push({ fault: { kind: "hang" }, path: /^\/oauth\/revoke/, times: 1 });
    const r = await scn.run(["logout", ...cacert], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (!server.requests.some((q) => q.url === "/oauth/revoke")) return;
          clearInterval(timer);
          child.kill("SIGTERM");
        }, 10);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/^identica: interrupted \(SIGTERM\)[^\n]*\n$/);
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: token });
    const again = await scn.run(["logout", ...cacert]);
    expect(again.code, again.stderr).toBe(0);
    expect(server.tokens.find((t) => t.token === token)?.revoked).toBe(true);
    expect((await lookup(server, "alice")).code).not.toBe(0);
  });

  it("logging the same account in again revokes the token it replaces (its app would be forgotten)", async () => {
    expect((await login()).code).toBe(0);
    const first = server.tokens.at(-1)?.token as string;
    const firstApp = server.apps.at(-1);
    server.requests.length = 0;
    const again = await login();
    expect(again.code, again.stderr).toBe(0);
    const second = server.tokens.at(-1)?.token as string;
    expect(await lookup(server, "alice")).toEqual({ code: 0, stdout: second });
    const revoke = server.requests.find((q) => q.url === "/oauth/revoke");
    expect(revoke && formOf(revoke)).toEqual({
      client_id: firstApp?.clientId,
      client_secret: firstApp?.clientSecret,
      token: first,
    });
    expect(server.tokens.find((t) => t.token === first)?.revoked).toBe(true);
    expect(server.tokens.find((t) => t.token === second)?.revoked).toBe(false);
    // The new token works, and logout revokes it in turn.
    expect((await scn.run(["post", ...cacert, "-o", "id", "with the new token"])).code).toBe(0);
    expect((await scn.run(["logout", ...cacert])).code).toBe(0);
    expect(server.tokens.find((t) => t.token === second)?.revoked).toBe(true);
  });

  it("logout, then login again: a new app, a new token, and post works", async () => {
    expect((await login()).code).toBe(0);
    expect((await scn.run(["logout", ...cacert])).code).toBe(0);
    // snac deletes the app with its token (snac/46): the next login must not lean on it.
    const again = await login();
    expect(again.code, again.stderr).toBe(0);
    expect(server.apps.length).toBe(2);
    const post = await scn.run(["post", ...cacert, "-o", "id", "back again"]);
    expect(post.code, post.stderr).toBe(0);
  });

  it("SIGHUP while waiting for the code (the terminal went away): 129, nothing stored", async () => {
    const r = await login([], { onUrl: (child) => child.kill("SIGHUP") });
    expect(r.code).toBe(129);
    expect(afterUrl(r.stderr)).toMatch(/^identica: interrupted \(SIGHUP\)[^\n]*\n$/);
    expect((await lookup(server, "alice")).code).not.toBe(0);
  });
});

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFailure, type RunResult } from "../helpers/cli.js";
import { type PrivateKeyring, startKeyring } from "../helpers/keyring.js";
import {
  expectNoToken,
  fresh,
  keytarStore,
  onlyEntry,
  secretFile,
  statusPosts,
  tunnelTo,
  useMastodon,
} from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";
import { type MastodonServer, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * Issue 13, part post: where the Mastodon token comes from (--token-file, IDENTICA_TOKEN, the keychain,
 * first match wins; never a password source) and where it may go (Bearer on the POST, only to its own
 * server, never over plain http to another host, in no output, file or argv). End to end: the built
 * binary against the Mastodon look-alike (test/server/mastodon.ts) in its Mastodon and snac modes.
 * Detection is in mastodon-post-detect.test.ts.
 */

const MODES = ["mastodon", "snac"] as const;

describe.each(MODES)("tokens (%s)", (mode) => {
  const h = useMastodon(mode);
  let keyring: PrivateKeyring;
  beforeAll(async () => {
    keyring = await startKeyring();
  });
  afterAll(() => keyring?.close());
  const bus = () => ({ DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS as string });
  const args = (extra: string[] = []) => [
    "post",
    "--server",
    h.host,
    "--api",
    "mastodon",
    "--cacert",
    h.certPath,
    "-o",
    "id",
    ...extra,
  ];
  const sentTokens = () => statusPosts(h.server).map((r) => r.headers.authorization);

  it("--token-file, then IDENTICA_TOKEN, then the keychain: the first that has one wins, sent as Bearer on the POST", async () => {
    const [inFile, inEnv, inKeychain] = [0, 1, 2].map(() => h.server.issueToken("alice")) as [
      string,
      string,
      string,
    ];
    await keytarStore(keyring.env, `identica:${h.host}`, "alice", inKeychain);
    const file = secretFile(`${inFile}\n`);
    const sc = new Scenario(bus());
    const runs: RunResult[] = [];
    runs.push(
      await sc.run(args(["--user", "alice", "--token-file", file, fresh("file")]), {
        env: { IDENTICA_TOKEN: inEnv },
      }),
    );
    runs.push(await sc.run(args(["--user", "alice", fresh("env")]), { env: { IDENTICA_TOKEN: inEnv } }));
    runs.push(await sc.run(args(["--user", "alice", "-v", fresh("keychain")])));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(sentTokens()).toEqual([`Bearer ${inFile}`, `Bearer ${inEnv}`, `Bearer ${inKeychain}`]);
    // The limit lookups carry no token.
    for (const q of h.server.requests.filter((r) => r.method === "GET"))
      expect(q.headers.authorization).toBeUndefined();
    const verbose = runs[2] as RunResult;
    expect(verbose.stderr).toMatch(/token for alice at https:\/\/127\.0\.0\.1:\d+ from OS keychain/);
    expect(verbose.stderr).toContain("authorization: Bearer <redacted>");
    for (const t of [inFile, inEnv, inKeychain]) expectNoToken(t, runs, sc);
  });

  it("the keychain's one account for the server is the user when none is named", async () => {
    const token = h.server.issueToken("bob");
    const other = await startKeyring();
    try {
      await keytarStore(other.env, `identica:${h.host}`, "bob", token);
      const sc = new Scenario({ DBUS_SESSION_BUS_ADDRESS: other.env.DBUS_SESSION_BUS_ADDRESS as string });
      const r = await sc.run(args([fresh("sole account")]));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(sentTokens()).toEqual([`Bearer ${token}`]);
      expect(h.server.statuses.at(-1)?.username).toBe("bob");
    } finally {
      other.close();
    }
  });

  it("a locked keyring is said to be locked (78), at once; the text is kept", async () => {
    const locked = await startKeyring({ locked: true });
    try {
      const sc = new Scenario({ DBUS_SESSION_BUS_ADDRESS: locked.env.DBUS_SESSION_BUS_ADDRESS as string });
      const text = fresh("locked");
      const r = await sc.run(args(["--user", "alice", text]));
      expectFailure(r, 78, /no token for alice at .*OS keychain \(unavailable: the keyring is locked\)/);
      expect(statusPosts(h.server)).toEqual([]);
      expect(onlyEntry(sc).entry).toMatchObject({ text, exitCode: 78 });
    } finally {
      locked.close();
    }
  });

  it("a --token-file group or others can read is refused (78), even with IDENTICA_TOKEN set; the text is kept", async () => {
    const file = secretFile(`${h.token}\n`, 0o644);
    const sc = new Scenario({ IDENTICA_TOKEN: h.token });
    const text = fresh("0644");
    const r = await sc.run(args(["--token-file", file, text]));
    const kept = expectFailure(
      r,
      78,
      /the token file .* is accessible by group or others \(mode 0644\) \(run: chmod 600 /,
    );
    expect(kept).toBeDefined();
    expect(statusPosts(h.server)).toEqual([]);
    expect(h.server.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    expect(onlyEntry(sc).entry).toMatchObject({ text, api: "mastodon", exitCode: 78 });
    expectNoToken(h.token, [r], sc);
  });

  it("a --token-file that is a FIFO is refused at once (78), never waited on", async () => {
    const fifo = join(secretFile("").replace(/token$/, ""), "fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const sc = new Scenario();
    const r = await sc.run(args(["--token-file", fifo, fresh("fifo")]));
    expectFailure(r, 78, /the token file .*fifo is a FIFO/i);
    expect(statusPosts(h.server)).toEqual([]);
  });

  it("--password-file, IDENTICA_PASSWORD and netrc are not token sources: 78 naming the token sources, nothing sent", async () => {
    // Each holds a working token, which is exactly what must not be picked up.
    const sc = new Scenario({ IDENTICA_PASSWORD: h.token });
    writeFileSync(join(sc.home, ".netrc"), `machine 127.0.0.1 login alice password ${h.token}\n`, {
      mode: 0o600,
    });
    const text = fresh("no token source");
    const r = await sc.run(args(["--user", "alice", "--password-file", secretFile(`${h.token}\n`), text]));
    expectFailure(r, 78, /no token for alice at 127\.0\.0\.1:\d+; tried IDENTICA_TOKEN, OS keychain/);
    // Named only to say that it holds a password, which this API does not take.
    expect(r.stderr).not.toMatch(/tried[^;]*(IDENTICA_PASSWORD|netrc|--password-file)/);
    expect(r.stderr).toMatch(/pass --token-file FILE \(mode 0600\), set IDENTICA_TOKEN/);
    expect(statusPosts(h.server)).toEqual([]);
    expect(h.server.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    expect(onlyEntry(sc).entry).toMatchObject({ text });
    expectNoToken(h.token, [r], sc);
  });

  it("a token with CR/LF or a space is refused (78) before anything is encoded or sent", async () => {
    for (const bad of [`${h.token}\r\nX-Evil: 1`, `${h.token}\n`, `Bearer ${h.token}`]) {
      const sc = new Scenario({ IDENTICA_TOKEN: bad });
      const r = await sc.run(args(["--user", "alice", fresh("crlf")]));
      expectFailure(r, 78, /the token for alice contains a space or a control character; nothing was sent/);
      expectNoToken(h.token, [r], sc);
    }
    expect(statusPosts(h.server)).toEqual([]);
    expect(h.server.requests.every((q) => q.headers["x-evil"] === undefined)).toBe(true);
  });

  it("a server that echoes the token in its error: the message and the outbox entry show it redacted", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 422,
        body: JSON.stringify({ error: `Validation failed: token ${h.token} may not post` }),
      },
      path: /^\/api\/v1\/statuses/,
    });
    const sc = new Scenario({ IDENTICA_TOKEN: h.token });
    const r = await sc.run(args([fresh("echo")]));
    expectFailure(r, 65, /refused the status \(422\): Validation failed: token <redacted> may not post/);
    expect(onlyEntry(sc).entry.error).toContain("token <redacted> may not post");
    expectNoToken(h.token, [r], sc);
  });

  it("a redirect of the POST is not followed: 69, the token never reaches the other server", async () => {
    const other = await startMastodon({ mode, tls: testCertificate() });
    try {
      h.server.faults.push({
        fault: { kind: "redirect", status: 307, location: `${other.origin}/api/v1/statuses` },
        path: /^\/api\/v1\/statuses/,
      });
      const sc = new Scenario({ IDENTICA_TOKEN: h.token });
      const text = fresh("redirected");
      const r = await sc.run(args([text]));
      expectFailure(
        r,
        69,
        /redirected \(307\) to https:\/\/127\.0\.0\.1:\d+\/api\/v1\/statuses; redirects are not followed/,
      );
      expect(other.requests).toEqual([]);
      expect(onlyEntry(sc).entry).toMatchObject({ text });
    } finally {
      await other.close();
    }
  });

  it("the token is in no argv: not identica's, not its keychain helper's", async () => {
    const token = h.server.issueToken("alice");
    await keytarStore(keyring.env, `identica:${h.host}`, "alice", token);
    h.server.faults.push({ fault: { kind: "delay", ms: 300 }, path: /^\/api\/v1\/statuses/ });
    const seen: string[] = [];
    const r = await new Scenario(bus()).run(args(["--user", "alice", fresh("argv")]), {
      onSpawn: (child) => {
        const timer = setInterval(() => seen.push(...cmdlinesHolding(token)), 5);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.code).toBe(0);
    expect(sentTokens()).toEqual([`Bearer ${token}`]);
    expect(seen).toEqual([]);
  });
});

/** The command lines of running processes that hold `secret`. */
function cmdlinesHolding(secret: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (cmd.includes(secret)) found.push(`${pid}: ${cmd.replace(/\0/g, " ")}`);
    } catch {
      // Gone already.
    }
  }
  return found;
}

describe.each(MODES)("a token stays with its server (%s)", (mode) => {
  const h = useMastodon(mode);
  let b: MastodonServer;
  beforeAll(async () => {
    b = await startMastodon({ mode, tls: testCertificate() });
  });
  afterAll(() => b?.close());

  it("IDENTICA_TOKEN is never sent to another server: outbox send skips the other server's entry with the hint", async () => {
    const sc = new Scenario();
    const bToken = b.issueToken("alice");
    const post = (host: string, token: string, text: string) =>
      sc.run(["post", "--server", host, "--cacert", h.certPath, text], { env: { IDENTICA_TOKEN: token } });
    // Entries for each server: B's first kept before its API was known (its probe failed), then
    // one left by a 503 to the post; A's by a 503 to the post.
    const fault = { kind: "reply", status: 503, body: "", contentType: "text/plain" } as const;
    b.faults.push({ fault, path: /^\/api\/v1\/instance/, times: 1 });
    const textB0 = fresh("for b, undetected");
    expectFailure(await post(b.domain, bToken, textB0), 75, /when asked which API it speaks/);
    b.faults.push({ fault, path: /^\/api\/v1\/statuses/, times: 1 });
    const textB = fresh("for b");
    expectFailure(await post(b.domain, bToken, textB), 75, /unavailable \(503\)/);
    h.server.faults.push({ fault, path: /^\/api\/v1\/statuses/, times: 1 });
    const textA = fresh("for a");
    expectFailure(await post(h.host, h.token, textA), 75, /unavailable \(503\)/);
    expect(sc.outbox().map((e) => [e.entry.text, e.entry.api ?? e.entry.serverSpec])).toEqual([
      [textB0, b.domain],
      [textB, "mastodon"],
      [textA, "mastodon"],
    ]);

    b.requests.length = 0;
    h.server.requests.length = 0;
    const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"], {
      env: { IDENTICA_TOKEN: h.token },
    });
    expect(send.code).toBe(78);
    const hint = `--token-file and IDENTICA_TOKEN apply only to ${h.host}; send it with: identica --server ${b.origin} outbox send`;
    expect(send.stderr.split("\n").filter((l) => l.includes(hint))).toHaveLength(2);
    expect(b.requests.filter((q) => q.headers.authorization !== undefined)).toEqual([]);
    expect(statusPosts(b)).toEqual([]);
    expect(statusPosts(h.server).map((q) => q.headers.authorization)).toEqual([`Bearer ${h.token}`]);
    expect(sc.outbox().map((e) => e.entry.text)).toEqual([textB0, textB]);

    // Named as its own server, with its own token, they go.
    const own = await sc.run(["outbox", "send", "--server", b.domain, "--cacert", h.certPath, "-o", "none"], {
      env: { IDENTICA_TOKEN: bToken },
    });
    expect(own.code).toBe(0);
    expect(statusPosts(b).map((q) => q.headers.authorization)).toEqual([
      `Bearer ${bToken}`,
      `Bearer ${bToken}`,
    ]);
    expect(sc.outbox()).toEqual([]);
    expectNoToken(h.token, [send, own], sc);
    expectNoToken(bToken, [send, own], sc);
  });
});

describe("a token over plain http", () => {
  let plain: MastodonServer;
  beforeAll(async () => {
    plain = await startMastodon({ mode: "mastodon" });
  });
  afterAll(() => plain?.close());

  it("to a host that is not loopback is refused (77, nothing sent) unless --insecure-http", async () => {
    const tunnel = await tunnelTo(Number(new URL(plain.origin).port));
    try {
      const token = plain.issueToken("alice");
      const sc = new Scenario({ IDENTICA_TOKEN: token, HTTP_PROXY: tunnel.url, NO_PROXY: "" });
      const server = ["--server", "http://mastodon.example:8080", "--api", "mastodon"];
      const text = fresh("plain http");
      const r = await sc.run(["post", ...server, text]);
      expectFailure(
        r,
        77,
        /refusing to send a token over plain http to mastodon\.example:8080; nothing was sent/,
      );
      // The request went through the tunnel (the limit lookup), but the token did not.
      expect(tunnel.seen.length).toBeGreaterThan(0);
      expect(statusPosts(plain)).toEqual([]);
      expect(plain.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
      expect(onlyEntry(sc).entry).toMatchObject({ text, sent: false });

      const ok = await sc.run(["post", ...server, "--insecure-http", "-o", "id", fresh("accepted risk")]);
      expect(ok.code).toBe(0);
      expect(statusPosts(plain).map((q) => q.headers.authorization)).toEqual([`Bearer ${token}`]);
      expectNoToken(token, [r, ok], sc);
    } finally {
      tunnel.close();
    }
  });
});

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, expectFailure, type RunResult, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { makeCertificate, type TlsFiles } from "../server/tls.js";

/**
 * Issue 10, items 5, 11 and 13: every exchange ends within its deadline with the documented code, a
 * failure that cannot have posted never says it may have, and a remembered protection space never
 * stops a read that needs no login. Several runs share one HOME where an item is about state.
 */
const h = useHttpsServer();

/** A HOME (config, cache, state) that several runs share, as one user's runs do. */
function sharedHome(): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), "identica-home-"));
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local/state"),
  };
}

function outboxEntries(env: Record<string, string>): Record<string, unknown>[] {
  const dir = join(env.XDG_STATE_HOME as string, "identica", "outbox");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
}

const savedEntry = (r: RunResult) => {
  const path = /^identica: the status is saved in the outbox: (\S+) /m.exec(r.stderr)?.[1];
  expect(path, r.stderr).toBeDefined();
  return JSON.parse(readFileSync(path as string, "utf8"));
};

describe("item 5: a certificate for another name ends with 69, and the status is kept", () => {
  let other: TestServer;
  let cert: TlsFiles;
  beforeAll(async () => {
    cert = makeCertificate("DNS:other.example", "other.example");
    other = await startServer({ tls: cert });
  });
  afterAll(async () => {
    await other.close();
  });
  const args = () => ["--server", other.apiRoot, "--user", "alice", "--cacert", cert.certPath];
  const mismatch =
    /certificate problem with 127\.0\.0\.1:\d+: ERR_TLS_CERT_ALTNAME_INVALID \(the certificate is for DNS:other\.example, which does not include 127\.0\.0\.1\); nothing was sent/;

  it("post (the limit lookup first, then the post): 69 with the message, the status in the outbox", async () => {
    const env = { ...sharedHome(), IDENTICA_PASSWORD: PASSWORD };
    const text = uniqueText("altname");
    const r = await runCli(["post", ...args(), "-v", text], { env });
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(new RegExp(`^identica: ${mismatch.source}`, "m"));
    expect(savedEntry(r)).toMatchObject({ text, sent: false, exitCode: 69 });
    expect(other.requests).toHaveLength(0);
  });

  it("post --lines: 69, every line in the outbox", async () => {
    const env = { ...sharedHome(), IDENTICA_PASSWORD: PASSWORD };
    const lines = [uniqueText("altname line"), uniqueText("altname line")];
    const r = await runCli(["post", "--lines", ...args()], { env, input: `${lines.join("\n")}\n` });
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(new RegExp(`^identica: line 1: ${mismatch.source}`, "m"));
    expect(r.stderr).toMatch(new RegExp(`^identica: line 2: ${mismatch.source}`, "m"));
    expect(outboxEntries(env).map((e) => e.text)).toEqual(lines);
  });

  it("outbox send: 69, the entry kept with the new attempt", async () => {
    const env = { ...sharedHome(), IDENTICA_PASSWORD: PASSWORD };
    const text = uniqueText("altname outbox");
    // First run: the post fails and the status goes to the outbox (of this HOME).
    expect((await runCli(["post", ...args(), text], { env })).code).toBe(69);
    const r = await runCli(["outbox", "send", ...args()], { env });
    expectFailure(r, 69, mismatch);
    expect(outboxEntries(env)).toEqual([expect.objectContaining({ text, sent: false, exitCode: 69 })]);
  });
});

describe("item 11a: only the request without credentials failed: nothing was posted (75)", () => {
  it("a reset of the first, anonymous post: 75, the outbox entry says not sent", async () => {
    h.server.faults.push({
      fault: { kind: "reset-after-read" },
      when: "anonymous",
      path: /^\/api\/statuses\/update\./,
    });
    const text = uniqueText("anon reset");
    const r = await runCli(["post", ...h.args, text], { env: { ...sharedHome(), ...h.env } });
    expectFailure(
      r,
      75,
      /^identica: no reply from 127\.0\.0\.1:\d+ to the request sent without credentials \(the connection was closed\); nothing was posted/,
    );
    expect(savedEntry(r)).toMatchObject({ text, sent: false, exitCode: 75 });
    expect(h.posts().filter((q) => q.headers.authorization !== undefined)).toHaveLength(0);
  });

  it("a timeout of the first, anonymous post: 75, not sent", async () => {
    h.server.faults.push({ fault: { kind: "hang" }, when: "anonymous", path: /^\/api\/statuses\/update\./ });
    const text = uniqueText("anon hang");
    const r = await runCli(["post", ...h.args, "--timeout", "2", text], { env: h.env });
    expectFailure(
      r,
      75,
      /no reply from 127\.0\.0\.1:\d+ to the request sent without credentials within 2 s; nothing was posted/,
    );
    expect(savedEntry(r)).toMatchObject({ text, sent: false, exitCode: 75 });
  });

  it("delete: a reset of the anonymous request is 75 too", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" }, when: "anonymous" });
    const r = await runCli(["delete", ...h.args, "1"], { env: h.env });
    expectFailure(r, 75, /without credentials .*; nothing was deleted/);
  });

  it("a reset of the authenticated post is still 76", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" }, when: "authenticated" });
    const r = await runCli(["post", ...h.args, uniqueText("auth reset")], { env: h.env });
    expectFailure(r, 76, /the status may have been posted/);
  });
});

describe("item 11b: reads never say 'may have been posted'", () => {
  const notPosted = (r: RunResult) => expect(r.stderr).not.toMatch(/posted/);

  it("show with the connection reset: 75, nothing was changed", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" } });
    const r = await runCli(["show", ...h.args, "1"], { env: h.env });
    expectFailure(
      r,
      75,
      /^identica: no reply from 127\.0\.0\.1:\d+ \(the connection was closed\); nothing was changed/,
    );
    notPosted(r);
  });

  it("timeline with no answer: 75 at the deadline", async () => {
    h.server.faults.push({ fault: { kind: "hang" } });
    const r = await runCli(["timeline", "public", ...h.args, "--timeout", "1"], { env: h.env });
    expectFailure(r, 75, /^identica: no reply from 127\.0\.0\.1:\d+ within 1 s; nothing was changed/);
    notPosted(r);
  });

  it("whoami whose authenticated request is reset: 75", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" }, when: "authenticated" });
    const r = await runCli(["whoami", ...h.args], { env: h.env });
    expectFailure(r, 75, /no reply from .*; nothing was changed/);
    notPosted(r);
  });

  it("a truncated reply to show: 76, worded without 'posted'", async () => {
    h.server.faults.push({ fault: { kind: "truncate" } });
    const r = await runCli(["show", ...h.args, "1"], { env: h.env });
    expectFailure(r, 76, /^identica: the reply from 127\.0\.0\.1:\d+ was cut off/);
    notPosted(r);
  });

  it("an HTML page with 200 to timeline: 76, worded without 'posted'", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 200,
        body: "<html><body>Wi-Fi login</body></html>",
        contentType: "text/html",
      },
    });
    const r = await runCli(["timeline", "public", ...h.args], { env: h.env });
    expectFailure(r, 76, /answered 200 but the reply is an HTML page; nothing was changed/);
    notPosted(r);
  });

  it("the --if-absent timeline check reset: 75, the status kept as not sent", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" }, path: /user_timeline/ });
    const text = uniqueText("if absent reset");
    const r = await runCli(["post", ...h.args, "--if-absent", text], { env: h.env });
    expectFailure(r, 75, /nothing was changed/);
    expect(r.stderr).not.toMatch(/may have been posted/);
    expect(savedEntry(r)).toMatchObject({ text, sent: false, exitCode: 75 });
    expect(h.posts()).toHaveLength(0);
  });

  it("the limit lookup reset: the post goes on, and -v does not say 'may have been posted'", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" }, path: /statusnet\/config/ });
    const r = await runCli(["post", ...h.args, "-v", uniqueText("limit reset")], { env: h.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/could not read the text limit of .*nothing was changed; posting anyway/);
    expect(r.stderr).not.toMatch(/may have been posted/);
  });
});

describe("item 11c: one --timeout for the whole run", () => {
  it("limit lookup and post both unanswered: over within the one deadline", async () => {
    h.server.faults.push({ fault: { kind: "hang" } });
    const started = Date.now();
    const r = await runCli(["post", ...h.args, "--timeout", "3", uniqueText("one deadline")], { env: h.env });
    const elapsed = Date.now() - started;
    expectFailure(r, 75, /within 3 s; nothing was posted/);
    // One deadline of 3 s, plus start-up; a deadline per request took 6 s and more.
    expect(elapsed).toBeLessThan(5500);
  });

  it("time at the password prompt does not count", async () => {
    // A terminal (script gives the CLI one); the password is typed 3 s into a 2 s --timeout.
    const env: Record<string, string> = { ...sharedHome(), PATH: process.env.PATH ?? "", TZ: "UTC" };
    const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const text = uniqueText("prompted");
    const cmd = [process.execPath, BIN, "post", ...h.args, "--timeout", "2", "-o", "id", text]
      .map(quote)
      .join(" ");
    const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn("script", ["-qec", cmd, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let typed = false;
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString("utf8");
        if (!typed && out.includes("Password for alice")) {
          typed = true;
          setTimeout(() => child.stdin.write(`${PASSWORD}\r`), 3000);
        }
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, out }));
    });
    expect(result.out).toContain("Password for alice");
    expect(result.code, result.out).toBe(0);
    expect(h.posts().filter((q) => q.headers.authorization !== undefined)).toHaveLength(1);
  });
});

describe("item 13: a remembered protection space never stops a read that needs no login", () => {
  it("after one post in this HOME, show and public timelines work with no user or no password", async () => {
    const home = sharedHome();
    const posted = await runCli(["post", ...h.args, "-o", "id", uniqueText("remember the space")], {
      env: { ...home, ...h.env },
    });
    expect(posted.code, posted.stderr).toBe(0);
    const id = posted.stdout.trim();
    expect(existsSync(join(home.XDG_CACHE_HOME as string, "identica", "spaces.json"))).toBe(true);

    // No password anywhere (and no terminal), and for some runs no user either.
    const server = ["--server", h.server.apiRoot, "--cacert", h.certPath];
    h.server.requests.length = 0;
    const show = await runCli(["show", ...server, "-o", "id", id], { env: home });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout.trim()).toBe(id);
    const pub = await runCli(["timeline", "public", ...server, "-o", "id"], { env: home });
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stdout.split("\n")).toContain(id);
    const bob = await runCli(["timeline", "user", "--of", "bob", ...server, "--user", "alice", "-o", "id"], {
      env: home,
    });
    expect(bob.code, bob.stderr).toBe(0);
    expect(h.server.requests.map((q) => q.headers.authorization)).toEqual([undefined, undefined, undefined]);

    // A read that does need the login still gets the server's challenge, and then the 78.
    const home2 = await runCli(["timeline", "home", ...server, "--user", "alice"], { env: home });
    expectFailure(home2, 78, /no password for alice at 127\.0\.0\.1:\d+/);
    expect(h.server.requests).toHaveLength(4);

    // With the password, the space is still used: Basic at once, one request.
    h.server.requests.length = 0;
    const mine = await runCli(["timeline", "home", ...server, "--user", "alice", "-o", "id"], {
      env: { ...home, ...h.env },
    });
    expect(mine.code, mine.stderr).toBe(0);
    expect(h.server.requests).toHaveLength(1);
    expect(h.server.requests[0]?.headers.authorization).toMatch(/^Basic /);
  });
});

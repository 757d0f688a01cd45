import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, expectFailure, expectNoSecret, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";

const h = useHttpsServer();
let other: TestServer;
beforeAll(async () => {
  other = await startServer();
});
afterAll(async () => {
  await other.close();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const post = (extra: string[], env: Record<string, string | undefined> = h.env, input?: string | Buffer) =>
  runCli(["post", ...h.args, ...extra], { env, ...(input === undefined ? {} : { input }) });

describe("64 usage: nothing is sent", () => {
  it.each([
    [["", ""], /the status text is empty/],
    [["--bogus", "x"], /unknown option '--bogus'/],
    [["--reply-to", "abc", "x"], /--reply-to takes a numeric status id/],
    [["-o", "bogus", "x"], /unknown output mode "bogus"/],
    [["--timeout", "soon", "x"], /--timeout must be a number/],
    [["-o", "xml", "--format", "json", "x"], /cannot be combined with --format json/],
    [
      ["--max-length", "5", "too long"],
      /the status is 8 characters long, over the --max-length limit of 5; nothing was sent/,
    ],
  ])("%j", async (args, message) => {
    const r = await post(args);
    expectFailure(r, 64, message);
    expect(h.server.requests).toHaveLength(0);
  });
  it("--max-length counts code points and 0 means no limit", async () => {
    expect((await post(["--max-length", "2", "-o", "id", "👍🏽"])).code).toBe(0);
    expect((await post(["--max-length", "0", "-o", "id", uniqueText("unlimited")])).code).toBe(0);
  });
  it("no text with a terminal on stdin prints usage and exits 64, without waiting", () => {
    const cmd = `${process.execPath} ${BIN} post --server ${h.server.apiRoot}`;
    let code = 0;
    let out = "";
    try {
      out = execFileSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", timeout: 20_000 });
    } catch (err) {
      code = (err as { status: number }).status;
      out = (err as { stdout: string }).stdout;
    }
    expect(code).toBe(64);
    expect(out).toMatch(
      /identica: no status text given \(usage: identica post "text", or pipe the text in\)/,
    );
  });
  it("stdin over 1 MiB is refused", async () => {
    const r = await post([], h.env, Buffer.alloc(1024 * 1024 + 1, 0x61));
    expectFailure(r, 64, /larger than 1 MiB/);
  });
});

describe("65 data", () => {
  it("stdin that is not UTF-8, or holds NUL", async () => {
    expectFailure(await post([], h.env, Buffer.from([0x68, 0x69, 0xff, 0x0a])), 65, /not valid UTF-8/);
    expectFailure(await post([], h.env, "a\0b"), 65, /NUL/);
    expect(h.server.requests).toHaveLength(0);
  });
  it("a duplicate (400) gives the server's message", async () => {
    const text = uniqueText("dupe");
    expect((await post(["-o", "none", text])).code).toBe(0);
    const r = await post([text]);
    expectFailure(r, 65, /refused the request \(400\): Too many duplicate messages too quickly/);
    expectNoSecret(r, PASSWORD);
  });
  it.each(["xml", "json"])("a missing parent (404 API error, %s)", async (format) => {
    expectFailure(
      await post(["--format", format, "--reply-to", "99999999", uniqueText("orphan")]),
      65,
      /\(404\): Parent notice not found\./,
    );
  });
  it("over the server's limit: 64 before the post, with the count and the limit", async () => {
    h.server.site.textlimit = 10;
    const r = await post([uniqueText("much too long")]);
    expectFailure(
      r,
      64,
      /the status is \d+ characters long, over 127\.0\.0\.1:\d+'s limit of 10; nothing was sent/,
    );
    expect(h.posts()).toHaveLength(0);
  });
  it("too long for the server after all (413, a stale cached limit), in XML and JSON; then the cache is refreshed", async () => {
    const cache = mkdtempSync(join(tmpdir(), "identica-cache-"));
    const env = { ...h.env, XDG_CACHE_HOME: cache };
    expect((await post(["-o", "none", uniqueText("warm")], env)).code).toBe(0);
    h.server.site.textlimit = 10;
    const msg = /too long \(413\): Maximum notice size is 10 characters, including attachment URL\./;
    expectFailure(await post([uniqueText("much too long")], env), 65, msg);
    h.server.requests.length = 0;
    const again = await post(["--format", "json", uniqueText("much too long")], env);
    expectFailure(again, 64, /over 127\.0\.0\.1:\d+'s limit of 10; nothing was sent/);
    expect(h.server.requests).toHaveLength(0);
    h.server.site.textlimit = 1000;
    const dir = mkdtempSync(join(tmpdir(), "identica-cache-"));
    await post(["-o", "none", uniqueText("warm2")], { ...h.env, XDG_CACHE_HOME: dir });
    h.server.site.textlimit = 10;
    const json = await post(["--format", "json", uniqueText("much too long")], {
      ...h.env,
      XDG_CACHE_HOME: dir,
    });
    expectFailure(json, 65, msg);
  });
  it("a status swallowed as a server command is not a success", async () => {
    expect((await post(["-o", "none", uniqueText("latest")])).code).toBe(0);
    const r = await post(["whois bob"]);
    expectFailure(
      r,
      65,
      /the server treated the text as its "whois" command and posted nothing \(it answered with your latest notice, #\d+\)/,
    );
    const j = await post(["--format", "json", "d bob a secret"]);
    expectFailure(j, 65, /its "d" command/);
  });
});

describe("69 unavailable", () => {
  it("a 500 HTML page", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 500,
        body: "<html><body>Internal Server Error</body></html>",
        contentType: "text/html",
      },
      when: "authenticated",
    });
    expectFailure(
      await post([uniqueText("500")]),
      69,
      /server error 500 from 127\.0\.0\.1:\d+; could not post the status/,
    );
  });
  it.each([301, 302, 303, 307, 308])("a %i redirect to another origin is not followed", async (status) => {
    h.server.faults.push({
      fault: { kind: "redirect", status, location: `${other.apiRoot}/statuses/update.xml` },
    });
    other.requests.length = 0;
    const r = await post([uniqueText("redirect")]);
    expectFailure(
      r,
      69,
      new RegExp(`redirected \\(${status}\\) to ${other.origin}/api/statuses/update\\.xml`),
    );
    expect(other.requests).toHaveLength(0);
    expect(h.posts()).toHaveLength(1);
  });
  it("a redirect of the authenticated retry is not followed either, and the credential goes nowhere else", async () => {
    h.server.faults.push({
      fault: { kind: "redirect", status: 307, location: `${other.apiRoot}/statuses/update.xml` },
      when: "authenticated",
    });
    other.requests.length = 0;
    expectFailure(await post([uniqueText("redirect2")]), 69, /redirected \(307\)/);
    expect(other.requests).toHaveLength(0);
  });
  it("a wrong API root (404 HTML page)", async () => {
    const r = await runCli(
      ["post", "--server", `${h.server.origin}/nope/api`, "--cacert", h.certPath, "--user", "alice", "x"],
      {
        env: h.env,
      },
    );
    expectFailure(r, 69, /has no such API endpoint \(404\)/);
  });
  it("an untrusted certificate, even with NODE_TLS_REJECT_UNAUTHORIZED=0", async () => {
    const args = ["post", "--server", h.server.apiRoot, "--user", "alice", uniqueText("tls")];
    const msg = /certificate problem with 127\.0\.0\.1:\d+: DEPTH_ZERO_SELF_SIGNED_CERT; nothing was sent/;
    expectFailure(await runCli(args, { env: h.env }), 69, msg);
    // Node itself warns about the variable on stderr; identica still verifies the certificate.
    const insecure = await runCli(args, { env: { ...h.env, NODE_TLS_REJECT_UNAUTHORIZED: "0" } });
    expect({ code: insecure.code, stdout: insecure.stdout }).toEqual({ code: 69, stdout: "" });
    expect(insecure.stderr).toMatch(msg);
    expect(h.server.requests).toHaveLength(0);
  });
  it("https to a plain-http port", async () => {
    const r = await runCli(
      ["post", "--server", `https://127.0.0.1:${new URL(other.origin).port}/api`, "--user", "alice", "x"],
      {
        env: h.env,
      },
    );
    expectFailure(r, 69, /TLS handshake with 127\.0\.0\.1:\d+ failed/);
  });
});

describe("75 temporary, nothing posted", () => {
  it("connection refused", async () => {
    const port = await freePort();
    const r = await runCli(["post", "--server", `http://127.0.0.1:${port}/api`, "--user", "alice", "x"], {
      env: h.env,
    });
    expectFailure(r, 75, /cannot connect to 127\.0\.0\.1:\d+ \(connection refused\); nothing was sent/);
  });
  it("503 with Retry-After, and 429", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 503,
        body: "down for maintenance",
        contentType: "text/plain",
        headers: { "retry-after": "120" },
      },
    });
    expectFailure(
      await post([uniqueText("503")]),
      75,
      /is unavailable \(503\): down for maintenance; nothing was posted \(Retry-After: 120\)/,
    );
    h.server.faults.length = 0;
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 429,
        body: '{"error":"Daily posting limit of 10 posts reached."}',
        contentType: "application/json",
      },
      when: "authenticated",
    });
    expectFailure(await post([uniqueText("429")]), 75, /rate-limiting you \(429\): Daily posting limit/);
  });
});

describe("76 outcome unknown: sent, but no valid reply", () => {
  const unknown = /the status may have been posted/;
  it("reset after the authenticated request was read", async () => {
    h.server.faults.push({ fault: { kind: "reset-after-read" }, when: "authenticated" });
    const r = await post([uniqueText("reset")]);
    expectFailure(r, 76, unknown);
    expect(h.posts()).toHaveLength(2);
    expectNoSecret(r, PASSWORD);
  });
  it("a truncated reply", async () => {
    h.server.faults.push({ fault: { kind: "truncate" }, when: "authenticated" });
    expectFailure(await post([uniqueText("truncated")]), 76, unknown);
  });
  it.each([
    [
      "an HTML page with 200",
      "<!DOCTYPE html><html><body>Welcome to the hotel Wi-Fi</body></html>",
      "text/html",
    ],
    ["an empty 200", "", "application/xml"],
    [
      "a 200 with a DOCTYPE",
      '<?xml version="1.0"?><!DOCTYPE status><status><id>1</id></status>',
      "application/xml",
    ],
    ["a 200 that is not a status", '<?xml version="1.0"?><ok>true</ok>', "application/xml"],
  ])("%s", async (_name, body, contentType) => {
    h.server.faults.push({ fault: { kind: "reply", status: 200, body, contentType }, when: "authenticated" });
    expectFailure(await post([uniqueText("bad 200")]), 76, unknown);
  });
  it("a reply over the 4 MiB cap", async () => {
    const huge = `<?xml version="1.0"?><status><id>1</id><text>${"x".repeat(5 * 1024 * 1024)}</text></status>`;
    h.server.faults.push({ fault: { kind: "reply", status: 200, body: huge }, when: "authenticated" });
    expectFailure(await post([uniqueText("huge")]), 76, /larger than the 4 MiB limit/);
  });
  it("a server that never answers, and one that drips bytes, hit the --timeout deadline", async () => {
    h.server.faults.push({ fault: { kind: "hang" }, when: "authenticated" });
    expectFailure(
      await post(["--timeout", "1", uniqueText("hang")]),
      76,
      /no complete reply from 127\.0\.0\.1:\d+ within 1 s/,
    );
    h.server.faults.length = 0;
    h.server.faults.push({ fault: { kind: "drip", intervalMs: 100 }, when: "authenticated" });
    expectFailure(
      await post(["--timeout", "1", uniqueText("drip")]),
      76,
      /within 1 s; the status may have been posted/,
    );
  });
});

describe("77 permission", () => {
  it("a wrong password: exactly two requests, then stop", async () => {
    const r = await post([uniqueText("wrong")], { IDENTICA_PASSWORD: "Correct Horse" });
    expectFailure(
      r,
      77,
      /the server at 127\.0\.0\.1:\d+ rejected the password for alice; nothing was posted/,
    );
    expect(h.posts()).toHaveLength(2);
    expectNoSecret(r, "Correct Horse");
  });
  it.each([
    [
      "only a Bearer challenge",
      ['Bearer realm="api", error="invalid_token"'],
      /requires bearer authentication/,
    ],
    ["no challenge at all", [], /401 without an authentication challenge/],
    ["a malformed challenge", ['Basic realm="unterminated'], /malformed WWW-Authenticate header/],
  ])("%s: the credential is never sent", async (_name, values, message) => {
    h.server.faults.push({ fault: { kind: "challenge", values } });
    const r = await post([uniqueText("nochallenge")]);
    expectFailure(r, 77, message);
    expect(h.posts()).toHaveLength(1);
    expect(h.posts()[0]?.headers.authorization).toBeUndefined();
  });
  it("403 forbidden gives the server's message", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 403,
        body: '<?xml version="1.0"?><hash><error>You are banned from posting notices on this site.</error></hash>',
      },
      when: "authenticated",
    });
    expectFailure(
      await post([uniqueText("banned")]),
      77,
      /forbids this \(403\): You are banned from posting notices/,
    );
  });
});

describe("78 configuration", () => {
  it("no server", async () => {
    const r = await runCli(["post", "hello"], { env: h.env });
    expectFailure(
      r,
      78,
      /no server configured \(pass --server HOST, set IDENTICA_SERVER, or run: identica login --server HOST\)/,
    );
  });
  it("no credential: one unauthenticated request, then 78 naming what was tried", async () => {
    const r = await post([uniqueText("nocred")], {});
    expectFailure(r, 78, /no password for alice at 127\.0\.0\.1:\d+; tried IDENTICA_PASSWORD/);
    expect(h.posts()).toHaveLength(1);
  });
  it("no user", async () => {
    const r = await runCli(
      ["post", "--server", h.server.apiRoot, "--cacert", h.certPath, uniqueText("nouser")],
      { env: h.env },
    );
    expectFailure(r, 78, /asks for a login, but no user is set/);
  });
  it("a password file others can read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-pw-"));
    const file = join(dir, "pw");
    writeFileSync(file, PASSWORD);
    chmodSync(file, 0o644);
    const r = await post(["--password-file", file, uniqueText("open file")]);
    expectFailure(
      r,
      78,
      /the password file .* is accessible by group or others \(mode 0644\) \(run: chmod 600 /,
    );
    expectNoSecret(r, PASSWORD);
  });
  it("a config file that is not JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    writeFileSync(join(dir, "config.json"), "{ not json");
    const r = await runCli(["post", "hi"], { env: { ...h.env, IDENTICA_CONFIG: join(dir, "config.json") } });
    expectFailure(r, 78, /the config file .* is not valid JSON/);
  });
});

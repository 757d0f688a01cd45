import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { expectFailure, expectNoSecret, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

const h = useHttpsServer();
const asBob = () => ["--server", h.server.apiRoot, "--user", "bob", "--cacert", h.certPath];
const bobEnv = { IDENTICA_PASSWORD: "battery staple" };
const noCredentials = () => ["--server", h.server.apiRoot, "--cacert", h.certPath];

let aliceId = "";
let replyId = "";
beforeAll(async () => {
  aliceId = (
    await runCli(["post", ...h.args, "-o", "id", uniqueText("alice says @bob")], { env: h.env })
  ).stdout.trim();
  replyId = (
    await runCli(["post", ...asBob(), "-o", "id", "--reply-to", aliceId, uniqueText("bob answers")], {
      env: bobEnv,
    })
  ).stdout.trim();
});

const json = (args: string[], env: Record<string, string> = h.env) =>
  runCli(args, { env }).then((r) => {
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  });

describe("show", () => {
  it("the same status in XML and JSON, with no login needed", async () => {
    const x = await json(["show", aliceId, ...noCredentials(), "-o", "json"], {});
    const j = await json(["show", aliceId, ...noCredentials(), "-o", "json", "--format", "json"], {});
    expect(x).toEqual(j);
    expect(x).toMatchObject({
      id: aliceId,
      user: { screenName: "alice" },
      url: `${h.server.origin}/notice/${aliceId}`,
    });
    expect(h.server.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    const reply = await json(["show", replyId, ...noCredentials(), "-o", "json", "--format", "json"], {});
    expect(reply).toMatchObject({
      inReplyToId: aliceId,
      inReplyToScreenName: "alice",
      user: { screenName: "bob" },
    });
  });
  it("pretty shows what a status replies to", async () => {
    const r = await runCli(["show", replyId, ...noCredentials()], {});
    expect(r.stdout).toMatch(
      new RegExp(
        `^Bob Example @bob\\nbob answers .*\\n.* · via identica · in reply to #${aliceId} by @alice\\n`,
      ),
    );
  });
  it.each(["xml", "json"])("404 and 410 are 65 with the server's message (%s)", async (format) => {
    expectFailure(
      await runCli(["show", "99999999", ...noCredentials(), "--format", format], {}),
      65,
      /\(404\): No such notice\./,
    );
    const gone = (
      await runCli(["post", ...h.args, "-o", "id", uniqueText("to delete")], { env: h.env })
    ).stdout.trim();
    expect((await runCli(["delete", gone, ...h.args, "-o", "none"], { env: h.env })).code).toBe(0);
    expectFailure(
      await runCli(["show", gone, ...noCredentials(), "--format", format], {}),
      65,
      /gone \(410\): Notice deleted\./,
    );
  });
  it("an id that is not a number is a usage error", async () => {
    expectFailure(
      await runCli(["show", "abc", ...noCredentials()], {}),
      64,
      /a status id is a number, not "abc"/,
    );
  });
});

describe("delete", () => {
  it.each(["xml", "json"])("deletes your own status and prints it (%s)", async (format) => {
    const id = (
      await runCli(["post", ...h.args, "-o", "id", uniqueText("delete me")], { env: h.env })
    ).stdout.trim();
    const r = await runCli(["delete", id, ...h.args, "--format", format], { env: h.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Deleted:\nAlice Example @alice\ndelete me /);
    const destroy = h.server.requests.filter((q) => q.url.startsWith("/api/statuses/destroy/"));
    expect(destroy.map((q) => [q.method, q.url])).toEqual([
      ["POST", `/api/statuses/destroy/${id}.${format}`],
      ["POST", `/api/statuses/destroy/${id}.${format}`],
    ]);
    expect(h.server.store.notice(Number(id))?.deleted).toBe(true);
    expectNoSecret(r, PASSWORD);
  });
  it.each(["xml", "json"])("someone else's status is 77; an unknown one 65 (%s)", async (format) => {
    const r = await runCli(["delete", aliceId, ...asBob(), "--format", format], { env: bobEnv });
    expectFailure(r, 77, /forbids this \(403\): You may not delete another user's status\./);
    expectFailure(
      await runCli(["delete", "99999999", ...h.args, "--format", format], { env: h.env }),
      65,
      /\(404\): No status found with that ID\./,
    );
  });
});

describe("timeline", () => {
  it("public and user --of need no credentials, in both formats", async () => {
    const pub = await json(["timeline", "public", ...noCredentials(), "-o", "json"], {});
    const pubJ = await json(["timeline", "public", ...noCredentials(), "-o", "json", "--format", "json"], {});
    expect(pub).toEqual(pubJ);
    expect(pub.length).toBeGreaterThanOrEqual(2);
    const ofBob = await json(["timeline", "user", "--of", "bob", ...noCredentials(), "-o", "json"], {});
    expect(ofBob.every((s: { user: { screenName: string } }) => s.user.screenName === "bob")).toBe(true);
    expect(h.server.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    expect(h.server.requests.at(-1)?.url).toBe("/api/statuses/user_timeline.xml?screen_name=bob");
  });
  it("home and mentions log in through the challenge; paging goes to the server", async () => {
    const home = await json(["timeline", ...h.args, "-o", "json", "--count", "2"]);
    expect(home).toHaveLength(2);
    expect(h.server.requests.map((q) => q.url)).toEqual([
      "/api/statuses/home_timeline.xml?count=2",
      "/api/statuses/home_timeline.xml?count=2",
    ]);
    const mentions = await json(["timeline", "mentions", ...h.args, "-o", "json", "--format", "json"]);
    expect(mentions.map((s: { id: string }) => s.id)).toContain(replyId);
    const ids = await runCli(
      ["timeline", "public", ...noCredentials(), "-o", "id", "--since-id", aliceId, "--max-id", replyId],
      {},
    );
    expect(ids.stdout).toBe(`${replyId}\n`);
    expect(h.server.requests.at(-1)?.url).toBe(
      `/api/statuses/public_timeline.xml?since_id=${aliceId}&max_id=${replyId}`,
    );
  });
  it("pretty: one block per status, names aligned, reply markers", async () => {
    const when = "(?:just now|\\d+ (?:second|minute)s? ago)";
    const r = await runCli(
      [
        "timeline",
        "public",
        ...noCredentials(),
        "--since-id",
        String(Number(aliceId) - 1),
        "--max-id",
        replyId,
      ],
      {},
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `^@bob    Bob Example · ${when} · #${replyId}\\n        bob answers [^\\n]+\\n        ↳ in reply to #${aliceId} by @alice\\n\\n@alice  Alice Example · ${when} · #${aliceId}\\n        alice says @bob [^\\n]+\\n$`,
      ),
    );
  });
  it("an empty timeline", async () => {
    const r = await runCli(["timeline", "public", ...noCredentials(), "--since-id", "99999999"], {});
    expect(r.stdout).toBe("No statuses.\n");
    const j = await json(
      ["timeline", "public", ...noCredentials(), "--since-id", "99999999", "-o", "json", "--format", "json"],
      {},
    );
    expect(j).toEqual([]);
  });
  it.each([
    [["timeline", "friends"], /unknown timeline "friends"/],
    [["timeline", "--count", "0"], /--count takes a number from 1 to 200/],
    [["timeline", "--count", "201"], /--count takes a number from 1 to 200/],
    [["timeline", "home", "--of", "bob"], /--of goes with the user timeline/],
    [["timeline", "--since-id", "x"], /a status id is a number/],
  ])("%j is a usage error", async (args, message) => {
    expectFailure(await runCli([...args, ...h.args], { env: h.env }), 64, message);
    expect(h.server.requests).toHaveLength(0);
  });
  it("home without credentials is 78 after the server's challenge", async () => {
    expectFailure(await runCli(["timeline", ...h.args], {}), 78, /no password for alice/);
  });
});

describe("config", () => {
  it("set, get, list, unset; validated; written atomically; used as defaults", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    const env = { ...h.env, XDG_CONFIG_HOME: dir };
    const cli = (...args: string[]) => runCli(["config", ...args], { env });
    expect((await cli("set", "server", h.server.apiRoot)).code).toBe(0);
    expect((await cli("set", "user", "alice")).code).toBe(0);
    expect((await cli("set", "output", "id")).code).toBe(0);
    expect((await cli("set", "timeout", "12.5")).code).toBe(0);
    expect((await cli("get", "server")).stdout).toBe(`${h.server.apiRoot}\n`);
    expect((await cli("list")).stdout).toBe(
      `server = ${h.server.apiRoot}\nuser = alice\noutput = id\ntimeout = 12.5\n`,
    );
    const file = JSON.parse(readFileSync(join(dir, "identica/config.json"), "utf8"));
    expect(file).toEqual({ server: h.server.apiRoot, user: "alice", output: "id", timeout: 12.5 });

    const posted = await runCli(["post", "--cacert", h.certPath, uniqueText("configured")], { env });
    expect(posted.stdout).toMatch(/^\d+\n$/);

    expect((await cli("unset", "output")).code).toBe(0);
    expect((await cli("get", "output")).stdout).toBe("");
    expect(JSON.parse((await cli("list", "-o", "json")).stdout)).toMatchObject({
      server: h.server.apiRoot,
      user: "alice",
    });
  });
  it.each([
    [["set", "output", "yaml"], /invalid output: use one of pretty, json, xml, raw, id, url, none/],
    [["set", "timeout", "-1"], /invalid timeout/],
    [
      ["set", "server", "https://a@b.example/api"],
      /invalid server: the server URL must not contain a user name/,
    ],
    [["set", "color", "sometimes"], /invalid color: use auto, always or never/],
    [["set", "password", "hunter2"], /passwords never go in the config file/],
    [["set", "nonsense", "1"], /unknown setting "nonsense"/],
    [["frobnicate"], /unknown config action "frobnicate"/],
  ])("%j is refused with 64", async (args, message) => {
    const dir = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    expectFailure(await runCli(["config", ...args], { env: { XDG_CONFIG_HOME: dir } }), 64, message);
  });
  it("config --help and the unknown-setting message name every setting, api, preemptive and targets too", async () => {
    const help = await runCli(["config", "--help"]);
    expect(help.code).toBe(0);
    for (const k of ["server", "user", "output", "color", "preemptive", "targets", "timeout", "api"])
      expect(help.stdout).toMatch(new RegExp(`^  ${k} +\\S`, "m"));
    const dir = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    expectFailure(
      await runCli(["config", "get", "nonsense"], { env: { XDG_CONFIG_HOME: dir } }),
      64,
      /\(settings: server, user, output, color, preemptive, targets, timeout, api\)/,
    );
  });
  it("an invalid value in the file is 78 and names it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ output: "yaml" }));
    const r = await runCli(["config", "list"], { env: { IDENTICA_CONFIG: join(dir, "config.json") } });
    expectFailure(r, 78, /the config file .* is invalid: "output": use one of/);
  });
});

import { spawn } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import stringWidth from "string-width";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, expectFailure, runCli } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";
import { PASSWORD, postsTo, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";

/**
 * Issue 11, "Bad state and config never become 70, never block": config values of the wrong type, a
 * symlinked or unwritable config file, a state folder that is a file, an API at the site root, the
 * whitespace the server trims, a refused password without a challenge, and wide characters in a
 * timeline. Each failed on the code before the fix.
 */
const h = useHttpsServer();
const scenario = () => new Scenario({ IDENTICA_PASSWORD: PASSWORD });

/** A text of exactly `n` characters that no other test posts (the server refuses duplicates). */
const shortUnique = (n: number) =>
  `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`.slice(-n).padStart(n, "u");

/** Writes the scenario's config file byte for byte. */
function writeConfig(s: Scenario, text: string): string {
  const dir = join(s.env.XDG_CONFIG_HOME as string, "identica");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "config.json");
  writeFileSync(file, text);
  return file;
}

describe("config values are checked as they are, not as strings", () => {
  it.each([
    ['{"server": null}', /"server" must be a string, not null/],
    ['{"server": 42}', /"server" must be a string, not the number 42/],
    ['{"server": ["social.example"]}', /"server" must be a string, not an array/],
    ['{"user": {"name": "alice"}}', /"user" must be a string, not an object/],
    ['{"timeout": [30]}', /"timeout" must be a number or a string, not an array/],
    ['{"timeout": true}', /"timeout" must be a number or a string, not true/],
    ['{"output": 1}', /"output" must be a string, not the number 1/],
    [
      '{"servers": {"https://social.example/api": null}}',
      /"servers\.https:\/\/social\.example\/api" must be/,
    ],
    ['{"servers": {"https://social.example/api": {"user": 7}}}', /"servers\..*\.user" must be a string/],
  ])("%s: 78 naming the key and the file, nothing sent", async (json, message) => {
    const s = scenario();
    const file = writeConfig(s, json);
    const r = await s.run(["post", "--dry-run", "hi"]);
    expectFailure(r, 78, message);
    expect(r.stderr).toContain(`the config file ${file} is invalid`);
  });

  it("what the message quotes from the file is one short, sanitised line", async () => {
    const s = scenario();
    writeConfig(s, JSON.stringify({ user: `\u001b]0;pwned\u0007${"x".repeat(5000)}` }));
    const r = await s.run(["config", "get", "user"]);
    expectFailure(r, 78, /"user": "\^\[\]0;pwned\^Gx+…/);
    expect(r.stderr).not.toContain("\u001b");
    expect(r.stderr.length).toBeLessThan(600);
  });

  it("a UTF-8 byte order mark (as Windows editors write) is accepted, and kept out of what is written", async () => {
    const s = scenario();
    const file = writeConfig(s, `\uFEFF${JSON.stringify({ server: h.server.apiRoot, future: 1 })}`);
    const r = await s.run(["config", "get", "server"]);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: `${h.server.apiRoot}\n` });
    expect((await s.run(["config", "set", "user", "alice"])).code).toBe(0);
    // The key this version does not know survived the rewrite.
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      server: h.server.apiRoot,
      user: "alice",
      future: 1,
    });
  });
});

describe("config set writes through a symlink, and an unwritable folder is 78", () => {
  it("a config.json that links into a dotfiles folder stays a link; the file it points to changes", async () => {
    const s = scenario();
    const dotfiles = join(s.home, "dotfiles");
    mkdirSync(dotfiles);
    writeFileSync(join(dotfiles, "identica.json"), '{"user": "bob", "future": true}\n');
    const dir = join(s.env.XDG_CONFIG_HOME as string, "identica");
    mkdirSync(dir, { recursive: true });
    const link = join(dir, "config.json");
    symlinkSync("../../dotfiles/identica.json", link);

    const r = await s.run(["config", "set", "server", "social.example"]);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("../../dotfiles/identica.json");
    expect(JSON.parse(readFileSync(join(dotfiles, "identica.json"), "utf8"))).toEqual({
      user: "bob",
      future: true,
      // Kept as named, so that its API is detected (docs/cli.md "Two APIs").
      server: "social.example",
    });
    expect((await s.run(["config", "get", "server"])).stdout).toBe("social.example\n");
  });

  it("a link to a file not made yet: the file is made where it points", async () => {
    const s = scenario();
    const dotfiles = join(s.home, "dotfiles");
    mkdirSync(dotfiles);
    const dir = join(s.env.XDG_CONFIG_HOME as string, "identica");
    mkdirSync(dir, { recursive: true });
    symlinkSync(join(dotfiles, "identica.json"), join(dir, "config.json"));
    expect((await s.run(["config", "set", "user", "alice"])).code).toBe(0);
    expect(lstatSync(join(dir, "config.json")).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(dotfiles, "identica.json"), "utf8"))).toEqual({ user: "alice" });
  });

  it("a config folder that cannot be made (its path runs through a dangling link): 78, not 70", async () => {
    const s = scenario();
    // Root cannot write there either: the folder the link names does not exist, nor can be made.
    const gone = join(s.home, "gone");
    symlinkSync(join(s.home, "missing", "deeper"), gone);
    const r = await s.run(["config", "set", "server", "social.example"], { env: { XDG_CONFIG_HOME: gone } });
    expectFailure(r, 78, /cannot write the config file .*gone\/identica\/config\.json: /);
  });
});

describe("XDG_STATE_HOME naming a file", () => {
  const fileAsState = (s: Scenario) => {
    const file = join(s.home, "not-a-folder");
    writeFileSync(file, "");
    return file;
  };
  it.each([[["list"]], [["send"]], [["drop", "20260101-000000000-abcdef"]]])(
    "outbox %j: 78 naming the folder, not 70 (nor an empty outbox)",
    async (args) => {
      const s = scenario();
      const state = fileAsState(s);
      const r = await s.run(["outbox", ...args, ...h.args], { env: { XDG_STATE_HOME: state } });
      expectFailure(
        r,
        78,
        /cannot use the state folder .*not-a-folder\/identica: .*not-a-folder is not a folder/,
      );
    },
  );

  it("a failed post still prints the whole text and keeps its own exit code", async () => {
    const s = scenario();
    const state = fileAsState(s);
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "busy" } });
    const text = uniqueText("kept on stderr");
    const r = await s.run(["post", ...h.args, text], { env: { XDG_STATE_HOME: state } });
    expect(r.code).toBe(75);
    expect(r.stderr).toContain(text);
  });
});

describe("an API root at the site root", () => {
  let atRoot: TestServer;
  beforeAll(async () => {
    atRoot = await startServer({ apiPath: "" });
  });
  afterAll(async () => {
    await atRoot.close();
  });
  it("--server http://host:port/ posts to /statuses/update.xml, not //statuses/update.xml", async () => {
    const r = await runCli(
      ["post", "--server", `${atRoot.origin}/`, "--user", "alice", "-o", "url", "root"],
      {
        env: { IDENTICA_PASSWORD: PASSWORD },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${atRoot.origin}/notice/\\d+\\n$`));
    // The anonymous request, then the one with the password after the challenge.
    expect(atRoot.requests.filter((q) => q.url.includes("update")).map((q) => q.url)).toEqual([
      "/statuses/update.xml",
      "/statuses/update.xml",
    ]);
    expect(atRoot.requests.filter((q) => q.url.startsWith("//"))).toEqual([]);
  });
  it("config set server keeps it a site root", async () => {
    const s = scenario();
    expect((await s.run(["config", "set", "server", `${atRoot.origin}//`])).code).toBe(0);
    expect((await s.run(["config", "get", "server"])).stdout).toBe(`${atRoot.origin}\n`);
  });
});

describe("the length that counts is what the server stores (PHP trim)", () => {
  it("whitespace at either end does not count against the server's limit", async () => {
    h.server.site.textlimit = 20;
    const body = shortUnique(20);
    const r = await runCli(["post", ...h.args, "-o", "none", "-"], {
      env: h.env,
      input: ` \t${body} \t \n\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(h.server.store.notices.at(-1)?.text).toBe(body);
  });
  it("--max-length counts the same way; the text itself still counts", async () => {
    const body = shortUnique(10);
    expect(
      (await runCli(["post", ...h.args, "--max-length", "10", "-o", "none", `${body}   `], { env: h.env }))
        .code,
    ).toBe(0);
    expectFailure(
      await runCli(["post", ...h.args, "--max-length", "10", `${body}z  `], { env: h.env }),
      64,
      /the status is 11 characters long, over the --max-length limit of 10/,
    );
  });
  it("a non-breaking space is not trimmed by the server, so it counts", async () => {
    h.server.site.textlimit = 5;
    const r = await runCli(["post", ...h.args, "abcde\u00a0"], { env: h.env });
    expectFailure(r, 64, /the status is 6 characters long, over 127\.0\.0\.1:\d+'s limit of 5/);
    expect(postsTo(h.server)).toHaveLength(0);
  });
});

describe("a remembered protection space and a 401 without a challenge", () => {
  it("the password sent at once is refused with no challenge: 'rejected the password', one request", async () => {
    const s = scenario();
    expect((await s.run(["post", ...h.args, "-o", "none", uniqueText("warm")])).code).toBe(0);
    h.server.faults.push({
      fault: { kind: "reply", status: 401, body: "<hash><error>Could not authenticate you.</error></hash>" },
      when: "authenticated",
    });
    h.server.requests.length = 0;
    const r = await s.run(["post", ...h.args, uniqueText("wrong")], { env: { IDENTICA_PASSWORD: "wrong" } });
    expectFailure(r, 77, /the server at 127\.0\.0\.1:\d+ rejected the password for alice/);
    expect(postsTo(h.server).map((q) => q.headers.authorization !== undefined)).toEqual([true]);
  });
  it("without a remembered space, a 401 without a challenge still says so", async () => {
    h.server.faults.push({ fault: { kind: "challenge", values: [] } });
    expectFailure(
      await runCli(["post", ...h.args, uniqueText("none")], { env: h.env }),
      77,
      /401 without an authentication challenge/,
    );
  });
});

describe("timeline wrapping by terminal columns", () => {
  /** The command in a pseudo-terminal 40 columns wide; its lines with colour and carriage returns removed. */
  const at40Columns = (args: string[]) =>
    new Promise<{ code: number | null; lines: string[] }>((resolve) => {
      const cmd = `stty cols 40 rows 50 && ${[process.execPath, BIN, ...args].join(" ")}`;
      const child = spawn("script", ["-qec", cmd, "/dev/null"], {
        env: { PATH: process.env.PATH ?? "", HOME: new Scenario().home, NO_COLOR: "1", TZ: "UTC" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
      child.on("close", (code) => {
        const plain = out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
        resolve({ code, lines: plain.split(/\r?\n/).map((l) => l.slice(l.lastIndexOf("\r") + 1)) });
      });
    });
  it("CJK and emoji lines fit the terminal (two columns a character)", async () => {
    const cjk = `${"日本語のテキスト".repeat(4)} ${uniqueText("w")}`;
    const emoji = `${"👍🏽🎉".repeat(10)} done`;
    for (const text of [cjk, emoji]) {
      expect((await runCli(["post", ...h.args, "-o", "none", text], { env: h.env })).code).toBe(0);
    }
    const r = await at40Columns(["timeline", "public", "--count", "2", ...h.args]);
    expect(r.code).toBe(0);
    // The status texts, indented under the names (the heading line is not wrapped).
    const body = r.lines.filter((l) => /^ +\S/.test(l));
    expect(body.filter((l) => /[日本👍🎉]/u.test(l)).length).toBeGreaterThan(3);
    for (const line of body) expect(stringWidth(line), line).toBeLessThanOrEqual(40);
  });
  it("string-width is loaded only to print a timeline in pretty mode", async () => {
    const dist = new URL("../../dist/", import.meta.url);
    // The chunk that holds it: esbuild marks the package each part came from.
    const chunks = readdirSync(dist).filter((f) =>
      readFileSync(new URL(f, dist), "utf8").includes("node_modules/get-east-asian-width/"),
    );
    expect(chunks.length).toBeGreaterThan(0);
    const hooks = fileURLToPath(new URL("../helpers/trace-loads.mjs", import.meta.url));
    const loads = async (args: string[]) => {
      const log = join(new Scenario().home, "loads.txt");
      const env = { ...h.env, NODE_OPTIONS: `--import ${hooks}`, IDENTICA_TRACE_LOADS: log };
      expect((await runCli(args, { env })).code).toBe(0);
      const loaded = readFileSync(log, "utf8");
      return chunks.some((f) => loaded.includes(`dist/${f}`));
    };
    expect(await loads(["post", ...h.args, "-o", "none", uniqueText("no width")])).toBe(false);
    expect(await loads(["timeline", "public", "--count", "1", ...h.args, "-o", "json"])).toBe(false);
    expect(await loads(["timeline", "public", "--count", "1", ...h.args])).toBe(true);
  });
});

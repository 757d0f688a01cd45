import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFailure, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";

/**
 * Issue 6's counts, asserted on the wire (the times are measured by npm run bench, not here): one
 * connection per post, one request per post once the protection space is known.
 */
const h = useHttpsServer();
let plain: TestServer;
beforeAll(async () => {
  plain = await startServer();
});
afterAll(async () => {
  await plain.close();
});
const b64 = Buffer.from(`alice:${PASSWORD}`).toString("base64");
const cacheEnv = () => ({ ...h.env, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "identica-cache-")) });

describe.each([
  ["https", () => h.server, () => h.args],
  ["http", () => plain, () => ["--server", plain.apiRoot, "--user", "alice"]],
])("over %s", (_scheme, server, args) => {
  it("first contact: the limit lookup, the challenge and the retry on one connection; then one request", async () => {
    const env = cacheEnv();
    const s = server();
    s.requests.length = 0;
    const before = s.connections();
    expect((await runCli(["post", ...args(), "-o", "none", uniqueText("first")], { env })).code).toBe(0);
    expect(s.requests.map((q) => q.headers.authorization === undefined)).toEqual([true, true, false]);
    expect(s.connections() - before).toBe(1);

    s.requests.length = 0;
    const again = s.connections();
    expect((await runCli(["post", ...args(), "-o", "none", uniqueText("known")], { env })).code).toBe(0);
    expect(s.requests.map((q) => [q.method, q.url, q.headers.authorization])).toEqual([
      ["POST", "/api/statuses/update.xml", `Basic ${b64}`],
    ]);
    expect(s.connections() - again).toBe(1);
  });
});

describe("the remembered protection space", () => {
  it("holds the origin, realm and API root path, never the credential", async () => {
    const env = cacheEnv();
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("space")], { env })).code).toBe(0);
    const file = readFileSync(join(env.XDG_CACHE_HOME, "identica", "spaces.json"), "utf8");
    expect(JSON.parse(file)).toEqual({
      spaces: [
        {
          origin: h.server.origin,
          path: "/api",
          realm: "Realserver Test API",
          charset: null,
          savedAt: expect.any(String),
        },
      ],
    });
    expect(file).not.toContain(PASSWORD);
    expect(file).not.toContain(b64);
  });
  it("is not used for another origin: its first request carries no credentials", async () => {
    const env = cacheEnv();
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("a")], { env })).code).toBe(0);
    plain.requests.length = 0;
    expect(
      (
        await runCli(["post", "--server", plain.apiRoot, "--user", "alice", "-o", "none", uniqueText("b")], {
          env,
        })
      ).code,
    ).toBe(0);
    expect(plain.requests.filter((q) => q.url.includes("update"))[0]?.headers.authorization).toBeUndefined();
  });
  it("a 401 all the same: forgotten, then the challenge once (two requests), then remembered again", async () => {
    const env = cacheEnv();
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("warm")], { env })).code).toBe(0);
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 401,
        body: "<hash><error>Could not authenticate you.</error></hash>",
        headers: { "www-authenticate": 'Basic realm="Realserver Test API"' },
      },
      when: "authenticated",
      times: 1,
    });
    h.server.requests.length = 0;
    const r = await runCli(["post", ...h.args, "-o", "none", "-v", uniqueText("refused once")], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/refused the credential sent at once; going through its challenge/);
    expect(h.server.requests.map((q) => q.headers.authorization !== undefined)).toEqual([true, true]);
    h.server.requests.length = 0;
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("again")], { env })).code).toBe(0);
    expect(h.server.requests).toHaveLength(1);
  });
  it("a wrong password sent at once: forgotten, challenged once more, then 77 — never a third request", async () => {
    const env = cacheEnv();
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("warm2")], { env })).code).toBe(0);
    h.server.requests.length = 0;
    const r = await runCli(["post", ...h.args, uniqueText("wrong now")], {
      env: { ...env, IDENTICA_PASSWORD: "changed" },
    });
    expectFailure(r, 77, /rejected the password/);
    expect(h.server.requests.map((q) => q.headers.authorization !== undefined)).toEqual([true, true]);
  });
  it("--no-preemptive and `config set preemptive false` always wait for the challenge", async () => {
    const env = cacheEnv();
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("warm3")], { env })).code).toBe(0);
    h.server.requests.length = 0;
    expect(
      (await runCli(["post", ...h.args, "--no-preemptive", "-o", "none", uniqueText("np")], { env })).code,
    ).toBe(0);
    expect(h.server.requests.map((q) => q.headers.authorization !== undefined)).toEqual([false, true]);
    const cfg = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    expect(
      (await runCli(["config", "set", "preemptive", "false"], { env: { XDG_CONFIG_HOME: cfg } })).code,
    ).toBe(0);
    h.server.requests.length = 0;
    expect(
      (
        await runCli(["post", ...h.args, "-o", "none", uniqueText("np2")], {
          env: { ...env, XDG_CONFIG_HOME: cfg },
        })
      ).code,
    ).toBe(0);
    expect(h.server.requests.map((q) => q.headers.authorization !== undefined)).toEqual([false, true]);
  });
  it("--help, --version and --dry-run load neither undici, the XML parser, keytar nor chalk", async () => {
    // The bundles that hold them (esbuild marks the package each part came from), which must exist.
    const dist = new URL("../../dist/", import.meta.url);
    const bundles = readdirSync(dist).filter((f) => /\.c?js$/.test(f));
    const heavy = ["undici", "fast-xml-parser", "chalk"].flatMap((pkg) => {
      const found = bundles.filter((f) =>
        readFileSync(new URL(f, dist), "utf8").includes(`// node_modules/${pkg}/`),
      );
      expect(found, pkg).not.toEqual([]);
      return found;
    });
    const hooks = fileURLToPath(new URL("../helpers/trace-loads.mjs", import.meta.url));
    for (const args of [
      ["--help"],
      ["--version"],
      ["post", "--help"],
      // A bare host's API is detected on first use; a dry run sends nothing, so it is named.
      ["post", "--server", "x.example", "--api", "statusnet", "--dry-run", "hi"],
      ["post", "--server", "x.example", "--api", "mastodon", "--dry-run", "--cw", "cw", "hi"],
    ]) {
      const log = join(mkdtempSync(join(tmpdir(), "identica-loads-")), "loads.txt");
      const r = await runCli(args, { env: { NODE_OPTIONS: `--import ${hooks}`, IDENTICA_TRACE_LOADS: log } });
      expect(r.code).toBe(0);
      const loaded = readFileSync(log, "utf8");
      expect(loaded).toMatch(/dist\/run\.cjs/);
      for (const f of heavy) expect(loaded, args.join(" ")).not.toContain(`dist/${f}`);
      expect(loaded).not.toMatch(/undici|keytar|fast-xml-parser|chalk/);
      // The prebuilt answers do not even load the program (commander).
      if (!args.includes("--dry-run")) expect(loaded, args.join(" ")).not.toContain("dist/start.cjs");
    }
  });
});

describe("prebuilt help", () => {
  it.each([["--help"], ["-h"], ["help"], ["post", "--help"], ["help", "timeline"], ["outbox", "-h"]])(
    "%j is the very text commander prints",
    async (...args) => {
      const fast = await runCli(args);
      // With a second flag the prebuilt texts do not apply and commander renders the help itself.
      const slow = await runCli([...args, "--debug"]);
      expect(fast.code).toBe(0);
      expect(fast.stdout).not.toBe("");
      expect(fast.stdout).toBe(slow.stdout);
    },
  );
});

describe("IPv6", () => {
  it("a server at an IPv6 literal ([::1]) works, challenge and all", async () => {
    const v6 = await startServer({ host: "::1" });
    try {
      expect(v6.apiRoot).toMatch(/^http:\/\/\[::1\]:\d+\/api$/);
      const r = await runCli(
        ["post", "--server", v6.apiRoot, "--user", "alice", "-o", "url", uniqueText("v6")],
        {
          env: h.env,
        },
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^http:\/\/\[::1\]:\d+\/notice\/\d+\n$/);
      expect(
        v6.requests.filter((q) => q.url.includes("update")).map((q) => q.headers.authorization !== undefined),
      ).toEqual([false, true]);
    } finally {
      await v6.close();
    }
  });
});

describe("progress", () => {
  const inTerminal = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const cmd = [
        process.execPath,
        fileURLToPath(new URL("../../bin/identica.js", import.meta.url)),
        ...args,
      ].join(" ");
      const child = spawn("script", ["-qec", cmd, "/dev/null"], {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: mkdtempSync(join(tmpdir(), "identica-spin-")),
          IDENTICA_PASSWORD: PASSWORD,
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
      child.on("close", (code) => resolve({ code, out }));
    });
  it("a spinner on a terminal while a request takes over ~300 ms; none with -q or -o json", async () => {
    h.server.faults.push({ fault: { kind: "delay", ms: 900 }, path: /update/ });
    const slow = await inTerminal(["post", ...h.args, "-o", "id", JSON.stringify(uniqueText("slow"))]);
    expect(slow.code).toBe(0);
    expect(slow.out).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] posting to 127\.0\.0\.1:\d+/);
    expect(slow.out).toMatch(/\r\u001b\[2K\d+\r?\n$/);
    for (const extra of [["-q"], ["-o", "json"]]) {
      const quiet = await inTerminal(["post", ...h.args, ...extra, JSON.stringify(uniqueText("slow quiet"))]);
      expect(quiet.code).toBe(0);
      expect(quiet.out).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    }
  });
});

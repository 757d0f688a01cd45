import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { V8_FLAGS } from "../../src/v8-flags.js";
import { runCli } from "../helpers/cli.js";
import { uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer } from "../server/gnusocial.js";

/**
 * How a run starts (README "Performance"): what it loads, the V8 flags it sets, and the code cache
 * (src/bundles.ts). Timings are the bench's business (test/bench.ts); these check what makes them.
 */
const exec = promisify(execFile);
const h = useHttpsServer();
const hooks = fileURLToPath(new URL("../helpers/trace-loads.mjs", import.meta.url));

async function loads(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const log = join(mkdtempSync(join(tmpdir(), "identica-loads-")), "loads.txt");
  const r = await runCli(args, {
    env: { ...h.env, ...env, NODE_OPTIONS: `--import ${hooks}`, IDENTICA_TRACE_LOADS: log },
  });
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(log, "utf8").split("\n");
}
const bundlesIn = (lines: string[]) =>
  lines.map((l) => /\/dist\/([\w-]+\.c?js)$/.exec(l)?.[1]).filter((f) => f !== undefined);

describe("what a post loads", () => {
  it("over http: the program and one bundle of libraries; no proxy agents, HTTP/2, TLS or perf_hooks", async () => {
    const server = await startServer();
    try {
      const loaded = await loads([
        "post",
        "--server",
        server.apiRoot,
        "--user",
        "alice",
        "-o",
        "none",
        uniqueText("loads"),
      ]);
      expect(bundlesIn(loaded).sort()).toEqual(["net-libs.cjs", "run.cjs", "start.cjs"]);
      for (const m of ["node:http2", "node:tls", "node:perf_hooks"]) expect(loaded).not.toContain(m);
      // Nothing from node_modules: undici and the XML parser are in the bundle.
      expect(loaded.filter((l) => l.includes("node_modules"))).toEqual([]);
    } finally {
      await server.close();
    }
  });
  it("over https: TLS, still no HTTP/2", async () => {
    const loaded = await loads(["post", ...h.args, "-o", "none", uniqueText("loads https")]);
    expect(bundlesIn(loaded).sort()).toEqual(["net-libs.cjs", "run.cjs", "start.cjs"]);
    expect(loaded).toContain("node:tls");
    expect(loaded).not.toContain("node:http2");
  });
});

describe("the HTML parser (dist/html-libs.cjs)", () => {
  const dist = fileURLToPath(new URL("../../dist/", import.meta.url));
  const bundle = (f: string) => readFileSync(join(dist, f), "utf8");
  // esbuild marks where each bundled file starts (`// node_modules/htmlparser2/dist/Parser.js`).
  const parserCode = /\/\/ node_modules\/(htmlparser2|entities)\//;
  it("is a bundle of its own: the program and the request libraries hold none of it", () => {
    expect(bundle("html-libs.cjs")).toMatch(parserCode);
    for (const f of ["run.cjs", "start.cjs", "net-libs.cjs"]) expect(bundle(f), f).not.toMatch(parserCode);
  });
  it("loads by itself and parses", () => {
    const { Parser } = createRequire(import.meta.url)(join(dist, "html-libs.cjs")) as {
      Parser: new (cbs: { ontext(t: string): void }) => { end(html: string): void };
    };
    let text = "";
    new Parser({ ontext: (t) => (text += t) }).end("<p>a &amp; b</p>");
    expect(text).toBe("a & b");
  });
});

describe("V8 flags (src/v8-flags.ts)", () => {
  it("this Node's V8 accepts every flag identica sets: nothing on stderr", async () => {
    const set = (flags: string) =>
      exec(process.execPath, ["-e", "require('node:v8').setFlagsFromString(process.env.FLAGS)"], {
        env: { FLAGS: flags },
      });
    const r = await set(V8_FLAGS);
    expect(r.stderr).toBe("");
    // An unknown flag is reported there, which is what the assertion above would catch.
    const bogus = await set("--no-such-flag-for-identica");
    expect(bogus.stderr).toMatch(/no-such-flag-for-identica/);
  });
  it("a post sets them without a word on stderr", async () => {
    const r = await runCli(["post", ...h.args, "-o", "none", uniqueText("flags")], { env: h.env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("the code cache (src/bundles.ts)", () => {
  const v8Dir = (cache: string) => join(cache, "identica", "v8");
  const snapshot = (dir: string) =>
    Object.fromEntries(
      readdirSync(dir).map((f) => [
        f,
        `${statSync(join(dir, f)).mtimeMs} ${readFileSync(join(dir, f)).length}`,
      ]),
    );
  const post = (cache: string, extra: Record<string, string> = {}) =>
    runCli(["post", ...h.args, "-o", "none", uniqueText("cache")], {
      env: { ...h.env, XDG_CACHE_HOME: cache, ...extra },
    });

  it("the first post writes one for each bundle it ran; the next post uses them as they are", async () => {
    const cache = mkdtempSync(join(tmpdir(), "identica-cache-"));
    // A cache of another build for this Node is replaced; one for another Node is left alone.
    mkdirSync(v8Dir(cache), { recursive: true });
    const older = `start.cjs-0123456789abcdef-1-${process.arch}-${process.version}.bin`;
    const otherNode = `start.cjs-0123456789abcdef-1-${process.arch}-v99.0.0.bin`;
    for (const f of [older, otherNode]) writeFileSync(join(v8Dir(cache), f), "old");
    expect((await post(cache)).code).toBe(0);
    expect(readdirSync(v8Dir(cache))).not.toContain(older);
    rmSync(join(v8Dir(cache), otherNode));
    const first = snapshot(v8Dir(cache));
    expect(
      Object.keys(first)
        .map((f) => f.replace(/\.cjs-.*/, ".cjs"))
        .sort(),
    ).toEqual(["net-libs.cjs", "start.cjs"]);
    // V8 rejects a cache made with other flags; one taken after the V8 flags were set would be
    // rejected, and so rewritten, by every run.
    const r = await post(cache);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(snapshot(v8Dir(cache))).toEqual(first);
  });
  it("a damaged cache file is ignored and replaced", async () => {
    const cache = mkdtempSync(join(tmpdir(), "identica-cache-"));
    expect((await post(cache)).code).toBe(0);
    for (const f of readdirSync(v8Dir(cache))) writeFileSync(join(v8Dir(cache), f), "not a code cache");
    const r = await post(cache);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const f of readdirSync(v8Dir(cache))) {
      expect(readFileSync(join(v8Dir(cache), f)).length).toBeGreaterThan(1000);
    }
    // Replaced by caches taken before the V8 flags were set (a rejected cache makes the run careful):
    // the next run uses them as they are.
    const repaired = snapshot(v8Dir(cache));
    expect((await post(cache)).code).toBe(0);
    expect(snapshot(v8Dir(cache))).toEqual(repaired);
  });
  it("a cache folder that cannot be made costs nothing but the cache", async () => {
    const cache = mkdtempSync(join(tmpdir(), "identica-cache-"));
    mkdirSync(join(cache, "identica"));
    writeFileSync(v8Dir(cache), "a file where the folder would be");
    const r = await post(cache);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
  it("NODE_DISABLE_COMPILE_CACHE=1 (Node's own switch) writes none", async () => {
    const cache = mkdtempSync(join(tmpdir(), "identica-cache-"));
    expect((await post(cache, { NODE_DISABLE_COMPILE_CACHE: "1" })).code).toBe(0);
    expect(readdirSync(join(cache, "identica"))).not.toContain("v8");
  });
});

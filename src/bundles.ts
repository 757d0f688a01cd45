import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { BEFORE_V8_FLAGS, V8_FLAGS_UNDONE } from "./v8-flags.js";

/**
 * Loads the program's bundles (dist/*.cjs, made by scripts/build.mjs) with V8's code cache.
 *
 * A run is mostly start-up: compiling a few hundred kB of JavaScript is a fifth of a post. V8 can
 * save what it compiled and load it again instead of parsing; Node ≥ 22 offers that for modules
 * (module.enableCompileCache), Node 20 only for vm.Script. So the bundles are CommonJS, loaded here
 * as scripts: the first run of a build writes each bundle's cache to the cache folder
 * ($XDG_CACHE_HOME/identica/v8/), later runs hand it to V8. V8 rejects a cache made by another V8
 * version, other flags or a source of another length (it does not compare the text), so the file name
 * also holds the bundle's content hash (from the build), its size and time, Node's version and the
 * machine's architecture: a cache never outlives its source. A cache that cannot be read or written is
 * simply not used; NODE_DISABLE_COMPILE_CACHE=1 (Node's own switch) turns it off.
 *
 * The V8 flags (v8-flags.ts) change the hash V8 checks a cache against, so a cache taken while they
 * are set would be rejected by the next run. The caches are taken at exit, with the flags set back to
 * V8's defaults (V8_FLAGS_UNDONE), so that they hold everything the run compiled. Should a cache we
 * wrote that way be rejected all the same (a V8 whose flags imply others), the run takes its caches
 * just before the flags are set instead: less in them, but accepted.
 */

/** Content hashes of the bundles, filled in by the build (scripts/build.mjs). */
declare const IDENTICA_BUNDLE_HASHES: Record<string, string> | undefined;

interface Loaded {
  module: { exports: unknown };
  /** Set when the bundle's cache is to be (re)written: the script, then the data taken from it. */
  write?: { script: Script; file: string; data?: Buffer };
}

const loaded = new Map<string, Loaded>();
const dist = __dirname;
let exitHooked = false;
/** True once the V8 flags are set (net-libs.ts calls the hook below just before). */
let flagsSet = false;
/**
 * True when a cache of this build was rejected (undoing the flags did not give V8's hash back, or the
 * file was damaged): the caches are then taken before the flags are set, and none after.
 */
let early = false;

(globalThis as Record<symbol, unknown>)[BEFORE_V8_FLAGS] = () => {
  if (early) takeCaches();
  flagsSet = true;
};

function cacheFolder(env: NodeJS.ProcessEnv): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE === "1") return undefined;
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
  return join(base, "identica", "v8");
}

/** Loads dist/<name>.cjs once and returns its exports. Its `require` of a sibling bundle comes back here. */
export function loadBundle(name: string): unknown {
  const known = loaded.get(name);
  if (known) return known.module.exports;
  const path = join(dist, name);
  // By path, not by descriptor: Node reads a UTF-8 file named by its path in one native call.
  const st = statSync(path);
  const stamp = `${st.size.toString(36)}${Math.trunc(st.mtimeMs).toString(36)}`;
  const source = readFileSync(path, "utf8");
  const hash = typeof IDENTICA_BUNDLE_HASHES === "object" ? (IDENTICA_BUNDLE_HASHES[name] ?? "") : "";
  const folder = cacheFolder(process.env);
  const cacheFile = folder && join(folder, `${name}-${hash}-${stamp}-${process.arch}-${process.version}.bin`);
  const cachedData = cacheFile ? readCache(cacheFile) : undefined;
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: path,
    ...(cachedData ? { cachedData } : {}),
  });
  const entry: Loaded = { module: { exports: {} } };
  if (cachedData !== undefined && script.cachedDataRejected) early = true;
  if (cacheFile && !(early && flagsSet) && (cachedData === undefined || script.cachedDataRejected)) {
    entry.write = { script, file: cacheFile };
    hookExit();
  }
  loaded.set(name, entry);
  const nodeRequire = createRequire(path);
  const bundleRequire = Object.assign(
    (id: string) => (/^\.\/[\w-]+\.cjs$/.test(id) ? loadBundle(id.slice(2)) : nodeRequire(id)),
    nodeRequire,
  );
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(entry.module.exports, entry.module.exports, bundleRequire, entry.module, path, dirname(path));
  return entry.module.exports;
}

/** Takes the code caches still to be written, with what V8 has compiled so far. */
function takeCaches(): void {
  for (const { write } of loaded.values()) {
    if (write && write.data === undefined) write.data = write.script.createCachedData();
  }
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", () => {
    if (flagsSet) {
      // node:v8 is loaded already: net-libs.ts set the flags with it.
      (require("node:v8") as typeof import("node:v8")).setFlagsFromString(V8_FLAGS_UNDONE);
    }
    takeCaches();
    for (const { write } of loaded.values()) {
      if (write?.data) save(write.file, write.data);
    }
  });
}

/**
 * V8 checks a code cache only against its source's length, its own version and flags: it runs
 * whatever else the bytes say. A cache damaged on disk (a power loss leaves zeros) crashed every later
 * run with SIGSEGV, and one written by someone else would run as identica's code. So a cache file is
 * used only when it is a regular file in a folder of ours that no one else may write to, and when its
 * payload matches the SHA-256 written before it; anything else is not a cache (and is replaced). It is
 * opened without waiting, so a FIFO in its place cannot hang the run.
 */
const MAGIC = Buffer.from("identica-v8-cache-1\n");
const DIGEST_BYTES = 32;
const MAX_CACHE_BYTES = 32 * 1024 * 1024;

function ours(st: { uid: number; mode: number }): boolean {
  const uid = process.getuid?.();
  return (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

function readCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    if (!ours(lstatSync(dirname(file)))) return undefined;
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0));
    const st = fstatSync(fd);
    if (!st.isFile() || !ours(st) || st.size > MAX_CACHE_BYTES) return undefined;
    const bytes = readFileSync(fd);
    const head = MAGIC.length + DIGEST_BYTES;
    if (bytes.length <= head || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const payload = bytes.subarray(head);
    const digest = createHash("sha256").update(payload).digest();
    return digest.equals(bytes.subarray(MAGIC.length, head)) ? payload : undefined;
  } catch {
    // None yet, or not one we can trust: this run compiles, and writes one.
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes one cache file (atomically: a reader never sees half of one) and drops the bundle's older ones. */
function save(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const folder = dirname(file);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (!ours(lstatSync(folder))) return;
    const digest = createHash("sha256").update(data).digest();
    writeFileSync(tmp, Buffer.concat([MAGIC, digest, data]), { mode: 0o600 });
    renameSync(tmp, file);
    // Older caches of this bundle for this Node (another build of identica); another Node's may be in use.
    const name = file.slice(folder.length + 1);
    const bundle = name.slice(0, name.indexOf(".cjs-") + 4);
    const suffix = `-${process.arch}-${process.version}.bin`;
    for (const old of readdirSync(folder)) {
      if (old !== name && old.startsWith(`${bundle}-`) && old.endsWith(suffix))
        rmSync(join(folder, old), { force: true });
    }
  } catch {
    // A cache folder that cannot be written (read-only home, a folder in the way): run without a cache,
    // and leave no half-written file behind.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // There is no such file where the folder is not one.
    }
  }
}

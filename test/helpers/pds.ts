// A real AT Protocol PDS for the tests: test/pds/ is a small package (@atproto/pds, @did-plc/server),
// installed once into a cache folder OUTSIDE the repository by vitest's globalSetup
// (test/global-setup.ts, through ./pds-install.ts) and reused afterwards, then started by
// test/pds/serve.mjs with its own Node 22 (the PDS needs it) whatever Node runs vitest (20 or 24).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { inject } from "vitest";
import { PDS_PACKAGE_DIR, type PdsInstall, pdsInstallPlan } from "./pds-install.js";

export type { PdsInstall } from "./pds-install.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The finished install, provided by test/global-setup.ts. */
    identicaTestPds: PdsInstall;
  }
}

/** How long serve.mjs may take to print its ready line (it takes ~3 s; a busy 2-core machine is slower). */
export const PDS_START_TIMEOUT = 120_000;
/** A `beforeAll` that calls startPds() needs this much, so that startPds's own error (with the PDS's
 * last lines) is what a slow start reports, not vitest's bare hook timeout. */
export const PDS_HOOK_TIMEOUT = PDS_START_TIMEOUT + 10_000;

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
  /** The Node version the PDS runs on (`v22.…`, whatever runs vitest). */
  node: string;
  accounts: PdsAccount[];
  /** serve.mjs's process id. */
  pid: number;
  close(): Promise<void>;
}

/** The install the global setup made; never installs here, where a test's hook would wait for it. */
function installed(): PdsInstall {
  const install = inject("identicaTestPds");
  if (install) return install;
  throw new Error(
    `test PDS: not installed in ${pdsInstallPlan().install.dir} (vitest's globalSetup, test/global-setup.ts, installs it before the tests)`,
  );
}

/** The command that runs serve.mjs: for startPds, and for tests that spawn it their own way. */
export function pdsCommand(opts: { handles?: string[]; env?: Record<string, string> } = {}): {
  node: string;
  args: string[];
  env: NodeJS.ProcessEnv;
} {
  const install = installed();
  return {
    node: install.node,
    args: [join(PDS_PACKAGE_DIR, "serve.mjs"), ...(opts.handles ?? [])],
    env: {
      ...process.env,
      IDENTICA_PDS_MODULES: install.modules,
      // This worker's parent: vitest's main process (serve.mjs already watches its own parent).
      IDENTICA_PDS_WATCH: String(process.ppid),
      LOG_ENABLED: "false",
      ...opts.env,
    },
  };
}

/**
 * Starts a PDS and a mock PLC on 127.0.0.1 with fresh accounts (default alice.test and bob.test),
 * resolving once serve.mjs prints its ready line. `close()` ends it by closing its stdin; serve.mjs
 * also exits when this process dies (its stdin closes, its parent pid changes).
 */
export async function startPds(
  opts: { handles?: string[]; env?: Record<string, string> } = {},
): Promise<Pds> {
  const cmd = pdsCommand(opts);
  const child = spawn(cmd.node, cmd.args, { env: cmd.env, stdio: ["pipe", "pipe", "pipe"] });
  // A worker that exits without its afterAll (vitest tearing it down) takes its PDS along.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const info = await new Promise<Omit<Pds, "close" | "pid">>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `test PDS: not ready after ${PDS_START_TIMEOUT / 1000} s: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
        ),
      );
    }, PDS_START_TIMEOUT);
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
  return { ...info, pid: child.pid ?? 0, close: () => stop(child) };
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

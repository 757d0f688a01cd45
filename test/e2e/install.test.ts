import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

/**
 * What people get from npm: the packed tarball holds only what runs, installs globally into an empty
 * prefix, and the installed `identica` works; the completion script completes in a real bash.
 */
const exec = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const h = useHttpsServer();

describe("the npm package", () => {
  it("packs only what runs, installs into an empty prefix, and posts", { timeout: 240_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), "identica-pack-"));
    // --ignore-scripts: `npm test` has just built dist/, and rebuilding it here (prepack) would pull it
    // from under the tests running beside this one.
    const { stdout } = await exec("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", out], {
      cwd: root,
    });
    const packed = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = (packed[0]?.files ?? []).map((f) => f.path).sort();
    for (const f of [
      "bin/identica.js",
      "bin/package.json",
      "dist/run.cjs",
      "dist/start.cjs",
      "dist/net-libs.cjs",
      "dist/html-libs.cjs",
      "dist/proxy.cjs",
      "dist/THIRD-PARTY-NOTICES.txt",
      "dist/keychain-helper.js",
      "dist/help.json",
      "dist/identica.1",
      "README.md",
      "LICENSE",
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => !/^(bin\/|dist\/|README\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);

    const prefix = mkdtempSync(join(tmpdir(), "identica-prefix-"));
    const tarball = join(out, packed[0]?.filename as string);
    await exec(
      "npm",
      ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball],
      {
        cwd: out,
      },
    );
    const bin = join(prefix, "bin", "identica");
    expect(existsSync(bin)).toBe(true);
    // undici is bundled (a release that moves its files cannot break an install): the installed
    // package must post with no undici anywhere on its module path, whatever npm put there.
    const installed = join(prefix, "lib", "node_modules", "identica");
    // Every library is in the bundle: npm installs none of them (only keytar, the optional native one).
    for (const lib of ["commander", "chalk", "fast-xml-parser", "htmlparser2", "string-width", "tab"]) {
      expect(findDirs(prefix, lib), lib).toEqual([]);
    }
    for (const dir of findDirs(prefix, "undici")) rmSync(dir, { recursive: true, force: true });
    expect(() => createRequire(join(installed, "package.json")).resolve("undici")).toThrow();
    // Its licence (MIT: the notice goes with every copy) is shipped with the bundle.
    const notices = readFileSync(join(installed, "dist", "THIRD-PARTY-NOTICES.txt"), "utf8");
    const undiciLicence = readFileSync(join(root, "node_modules", "undici", "LICENSE"), "utf8").trim();
    expect(notices).toContain(undiciLicence);
    expect(readdirSync(join(prefix, "share", "man", "man1"))).toContain("identica.1");
    const env = {
      PATH: `${join(prefix, "bin")}:${process.env.PATH}`,
      HOME: mkdtempSync(join(tmpdir(), "identica-home-")),
      IDENTICA_PASSWORD: PASSWORD,
    };
    expect((await exec(bin, ["--version"], { env })).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect((await exec(bin, ["--help"], { env })).stdout).toMatch(/^Usage: identica /);
    const text = uniqueText("installed");
    const posted = await exec(bin, ["post", ...h.args, "-o", "id", text], { env });
    expect(posted.stdout).toMatch(/^\d+\n$/);
    expect(h.server.store.notices.at(-1)?.text).toBe(text);

    // The keychain runs in the installed helper process: with no D-Bus session it is keytar (or its
    // loader) that says why, not a helper that could not be started.
    const keychain = await exec(bin, ["accounts", "--server", h.server.apiRoot], { env }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(keychain).toMatchObject({ code: 78 });
    expect(keychain.stderr).toMatch(
      /the OS keychain is unavailable: (no D-Bus session|the keytar module (is not installed|could not be loaded))/,
    );
  });
});

/** Every folder called `name` below `root`. */
function findDirs(root: string, name: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name === name)
    .map((e) => join(e.parentPath, e.name));
}

describe("shell completion", () => {
  it("bash: sourcing the script completes `identica po` to post, and timeline kinds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-complete-"));
    mkdirSync(join(dir, "bin"));
    symlinkSync(join(root, "bin", "identica.js"), join(dir, "bin", "identica"));
    const complete = async (line: string) => {
      const words = line.split(" ");
      const script = [
        "source /usr/share/bash-completion/bash_completion",
        "source <(identica completion bash)",
        `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
        `COMP_CWORD=${words.length - 1}`,
        `COMP_LINE='${line}'`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
        "COMP_POINT=${#COMP_LINE}",
        "__identica_complete 2>/dev/null",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join("\n");
      const env = { PATH: `${join(dir, "bin")}:${process.env.PATH}`, HOME: dir };
      return (await exec("bash", ["-c", script], { env })).stdout.split("\n").filter((l) => l !== "");
    };
    expect(await complete("identica po")).toEqual(["post"]);
    expect(await complete("identica timeline ")).toEqual(["home", "user", "mentions", "public"]);
    expect(await complete("identica post --out")).toEqual(["--output"]);
    expect(await complete("identica -o ")).toEqual(["pretty", "json", "xml", "raw", "id", "url", "none"]);

    // Issue 14: `post --to` offers the accounts the config knows, by handle, and "all"; `config`
    // offers every setting (api, preemptive and targets too) and the values of the few that have some.
    mkdirSync(join(dir, ".config", "identica"), { recursive: true });
    writeFileSync(
      join(dir, ".config", "identica", "config.json"),
      JSON.stringify({
        server: "http://127.0.0.1:6000/api",
        targets: "carol@far.example:8443",
        servers: {
          "http://127.0.0.1:5000": { user: "alice", api: "mastodon" },
          "http://127.0.0.1:6000/api": { user: "bob", api: "statusnet" },
        },
      }),
    );
    expect(await complete("identica post --to ")).toEqual([
      "bob@127.0.0.1:6000",
      "alice@127.0.0.1:5000",
      "carol@far.example:8443",
      "all",
    ]);
    expect(await complete("identica post --to al")).toEqual(["alice@127.0.0.1:5000", "all"]);
    expect(await complete("identica config set ")).toEqual([
      "server",
      "user",
      "output",
      "color",
      "preemptive",
      "targets",
      "timeout",
      "api",
    ]);
    expect(await complete("identica config get t")).toEqual(["targets", "timeout"]);
    expect(await complete("identica config set api ")).toEqual(["statusnet", "mastodon", "atproto"]);
    expect(await complete("identica config set preemptive ")).toEqual(["true", "false"]);
  });
  it("zsh and fish scripts are printed", async () => {
    for (const shell of ["zsh", "fish"]) {
      const { stdout } = await exec(process.execPath, [
        join(root, "bin", "identica.js"),
        "completion",
        shell,
      ]);
      expect(stdout).toMatch(/identica complete --/);
    }
  });
});

// `npm run build`, the bundling step. src/ and every library the tool runs (undici included) become
// bundles in dist/, so an installed identica resolves nothing from node_modules but keytar (an optional
// native module, used by the keychain helper process). Then dist/help.json (every help text, rendered
// by the real program), dist/identica.1 (the man page, its options from the same program) and
// dist/THIRD-PARTY-NOTICES.txt (the licences of the bundled libraries).
//
// Each file a run loads and compiles costs start-up time, so the bundles follow what a run needs:
//   run.cjs            --version and --help alone; loads the others (src/bundles.ts, with V8's code cache)
//   start.cjs          the program: the command line, every command, config, credentials, outbox
//   net-libs.cjs       what the first request needs: undici's Client and request(), fast-xml-parser
//   html-libs.cjs      htmlparser2, only when a Mastodon status's HTML content is turned into text
//   proxy.cjs          undici's proxy agents, only for a run through a proxy
//   chalk.cjs, string-width.cjs: colour, display width, when needed
//   keychain-helper.js the keychain's helper process (src/credentials/keytar-child.ts starts it)
// They are CommonJS, so that bundles.ts can load them as scripts with a code cache, and so that Node
// starts without its ES module loader. A dynamic import() of a bundled module becomes a require() of
// its bundle; no two bundles share a module that has state (proxy.cjs has its own copy of undici).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  logLevel: "warning",
  metafile: true,
  legalComments: "eof",
};
const cjs = {
  ...common,
  format: "cjs",
  // import() of another bundle becomes require(), which bundles.ts answers (and Node, for its modules).
  supported: { "dynamic-import": false },
  // import.meta.url (help.json, package.json and the keychain helper are found next to the bundle).
  define: { "import.meta.url": "__identicaUrl" },
  banner: { js: "var __identicaUrl = require('node:url').pathToFileURL(__filename).href;" },
};

/** These imports, from src/, are other bundles at run time. */
const separate = {
  "net-libs.js": "net-libs.cjs",
  "html-libs.js": "html-libs.cjs",
  "./proxy.js": "proxy.cjs",
  chalk: "chalk.cjs",
  "string-width": "string-width.cjs",
};
const otherBundles = {
  name: "other-bundles",
  setup(b) {
    // net-libs.js and html-libs.js from any depth of src/ (http/, services/statusnet/, services/mastodon/).
    b.onResolve({ filter: /^((\.\.\/)+(net|html)-libs\.js|\.\/proxy\.js|chalk|string-width)$/ }, (args) =>
      args.importer.includes("node_modules")
        ? undefined
        : { path: `./${separate[args.path.replace(/^(\.\.\/)+/, "")]}`, external: true },
    );
  },
};

// Two of undici's modules are never reached by identica, yet their top-level requires would load much
// at every start: client-h2.js loads node:http2 (and with it TLS and perf_hooks, even for http://),
// used only when ALPN picks h2, which identica never offers (undici offers it only with allowH2);
// web/fetch/body.js brings fetch's FormData and WebIDL code, used only for FormData request bodies,
// while identica sends its forms as strings. In the bundle they are stubs that fail loudly if reached.
const unreached = {
  name: "undici-unreached",
  setup(b) {
    b.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/ }, () => ({
      loader: "js",
      contents:
        "module.exports = function connectH2 () { throw new Error('identica does not speak HTTP/2, yet the server chose it') }",
    }));
    b.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]web[\\/]fetch[\\/]body\.js$/ }, () => ({
      loader: "js",
      contents:
        "module.exports = { extractBody () { throw new Error('identica sends no FormData or Blob bodies') } }",
    }));
  },
};

const inputs = new Set();
const bundle = async (options) => {
  const result = await build(options);
  // What ended up in the bundle: a package's files that tree shaking dropped entirely (htmlparser2's
  // index names domhandler and domutils, of which html-libs.cjs holds nothing) are read, not shipped.
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput > 0) inputs.add(input);
    }
  }
};
const hash = (file) => createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16);

// What src/ imports from each library bundle. A default export is the bundle's module.exports: that is
// what import() of a CommonJS module gives as its default (esbuild's node mode, as Node does).
const libraries = [
  ["net-libs.cjs", { entryPoints: ["src/net-libs.ts"] }],
  ["html-libs.cjs", { entryPoints: ["src/html-libs.ts"] }],
  ["proxy.cjs", { entryPoints: ["src/http/proxy.ts"] }],
  ["chalk.cjs", { stdin: { contents: 'export { Chalk } from "chalk";', resolveDir: "." } }],
  [
    "string-width.cjs",
    { stdin: { contents: 'module.exports = require("string-width").default;', resolveDir: "." } },
  ],
];
for (const [out, entry] of libraries) {
  await bundle({ ...cjs, ...entry, outfile: `dist/${out}`, plugins: [unreached] });
}
await bundle({ ...cjs, entryPoints: ["src/start.ts"], outfile: "dist/start.cjs", plugins: [otherBundles] });
// The code caches are named after the bundles' contents (src/bundles.ts).
const hashes = Object.fromEntries(
  ["start.cjs", ...libraries.map(([out]) => out)].map((f) => [f, hash(`dist/${f}`)]),
);
await bundle({
  ...cjs,
  entryPoints: ["src/run.ts"],
  outfile: "dist/run.cjs",
  define: { ...cjs.define, IDENTICA_BUNDLE_HASHES: JSON.stringify(hashes) },
});
// A process of its own, started by the keychain code; ESM, as it imports keytar with import().
await bundle({
  ...common,
  format: "esm",
  entryPoints: ["src/credentials/keychain-helper.ts"],
  outfile: "dist/keychain-helper.js",
  external: ["keytar"],
});

// The help texts, rendered by the real program from a bundle of its own (not shipped).
mkdirSync(".tmp", { recursive: true });
await build({
  ...cjs,
  metafile: false,
  entryPoints: ["src/build-help.ts"],
  outfile: ".tmp/build-help.cjs",
  plugins: [otherBundles],
});
writeFileSync("dist/help.json", execFileSync(process.execPath, [".tmp/build-help.cjs"]));
rmSync(".tmp/build-help.cjs");

// The man page's synopsis, commands and options, from the same program (src/docs.ts): the template
// src/identica.1.md filled in, then turned into roff by marked-man.
await build({
  ...cjs,
  metafile: false,
  entryPoints: ["src/build-docs.ts"],
  outfile: ".tmp/build-docs.cjs",
  plugins: [otherBundles],
});
execFileSync(process.execPath, [".tmp/build-docs.cjs", "man", ".tmp/identica.1.md"]);
writeFileSync("dist/identica.1", execFileSync("node_modules/.bin/marked-man", [".tmp/identica.1.md"]));
rmSync(".tmp/build-docs.cjs");
rmSync(".tmp/identica.1.md");

// Every package with a file in the bundles, and its licence text (MIT and BSD ask that the notice go
// with the copies; the bundles are copies).
const packages = new Map();
for (const input of inputs) {
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m?.[1] && !packages.has(m[1])) packages.set(m[1], join("node_modules", m[1]));
}
const notices = [...packages].sort().map(([name, dir]) => {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^(licen[sc]e|copying)(\.(md|txt))?$/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : undefined;
  if (text === undefined && typeof pkg.license !== "string") {
    throw new Error(`build: no licence found for the bundled package ${name}`);
  }
  const author = typeof pkg.author === "string" ? pkg.author : pkg.author?.name;
  const body =
    text ?? `${pkg.license} licence${author ? `, copyright ${author}` : ""} (no licence file in the package)`;
  return `${name} ${pkg.version} (${pkg.license})\n\n${body}\n`;
});
writeFileSync(
  "dist/THIRD-PARTY-NOTICES.txt",
  `identica's dist/ bundles code from these packages; their licences follow.\n\n${notices.join(`\n${"-".repeat(78)}\n\n`)}`,
);

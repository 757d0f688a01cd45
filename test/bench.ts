/**
 * `npm run bench`: start-up and round trips, measured against baselines in the same run (issue 6).
 * Starts the GNU social look-alike on loopback (http and https), runs each command many times, and
 * prints medians, ratios to `node -e 0` and to curl, peak RSS, requests and connections per post.
 * Writes everything to bench-results.json. No assertion here: `npm test` asserts the counts.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, type TestServer } from "./server/gnusocial.js";
import { testCertificate } from "./server/tls.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const LINES = 200;
const LINE_RUNS = Number(process.env.BENCH_LINE_RUNS ?? 3);
const BIN = fileURLToPath(new URL("../bin/identica.js", import.meta.url));
const PASSWORD = "correct horse";
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

// The baseline and the tool see the same environment: no extra CA file, no colour, no proxy.
const baseEnv: Record<string, string> = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: mkdtempSync(join(tmpdir(), "identica-bench-")),
  LANG: "C.UTF-8",
  IDENTICA_PASSWORD: PASSWORD,
};

let seq = 0;
const text = (label: string) => `bench ${label} ${process.pid}-${++seq}`;

interface Run {
  ms: number;
  code: number | null;
}

function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      env,
      stdio: [input === undefined ? "ignore" : "pipe", "ignore", "ignore"],
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Peak RSS in KiB of one run, from GNU time. */
function peakRss(cmd: string, args: string[], env: Record<string, string>): Promise<number | undefined> {
  if (!TIME) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const child = spawn(TIME, ["-f", "%M", cmd, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", () => resolve(Number(err.trim().split("\n").at(-1)) || undefined));
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

interface Row {
  name: string;
  median_ms: number;
  ratio?: number;
  peak_rss_kib?: number | undefined;
  failures: number;
  requests_per_post?: number;
  connections_per_post?: number;
}
const rows: Row[] = [];

type Case = {
  name: string;
  make: () => { cmd: string; args: string[]; env?: Record<string, string>; input?: string };
};

/** Runs the cases round-robin (so drift in the machine's load hits them all alike); one row each. */
async function measureGroup(cases: Case[], runs = RUNS): Promise<Row[]> {
  const times = cases.map(() => [] as number[]);
  const failures = cases.map(() => 0);
  for (let i = 0; i < runs; i++) {
    for (const [k, c] of cases.entries()) {
      const m = c.make();
      const r = await run(m.cmd, m.args, m.env ?? baseEnv, m.input);
      if (r.code !== 0) failures[k] = (failures[k] ?? 0) + 1;
      times[k]?.push(r.ms);
    }
  }
  return cases.map((c, k) => {
    const row: Row = {
      name: c.name,
      median_ms: Math.round(median(times[k] ?? []) * 10) / 10,
      failures: failures[k] ?? 0,
    };
    rows.push(row);
    return row;
  });
}

const measure = async (name: string, make: Case["make"], runs = RUNS) =>
  (await measureGroup([{ name, make }], runs))[0] as Row;

function countOnePost(server: TestServer, before: number, beforeConns: number) {
  const reqs = server.requests.slice(before);
  return {
    requests_per_post: reqs.length,
    connections_per_post: server.connections() - beforeConns,
  };
}

const tls = testCertificate();
const servers = { http: await startServer(), https: await startServer({ tls }) };
const node = process.execPath;

const [nodeRow, versionRow, helpRow] = (await measureGroup([
  { name: "node -e 0", make: () => ({ cmd: node, args: ["-e", "0"] }) },
  { name: "identica --version", make: () => ({ cmd: node, args: [BIN, "--version"] }) },
  { name: "identica --help", make: () => ({ cmd: node, args: [BIN, "--help"] }) },
])) as [Row, Row, Row];
const base = nodeRow.median_ms;
nodeRow.peak_rss_kib = await peakRss(node, ["-e", "0"], baseEnv);
versionRow.peak_rss_kib = await peakRss(node, [BIN, "--version"], baseEnv);
helpRow.peak_rss_kib = await peakRss(node, [BIN, "--help"], baseEnv);

for (const [scheme, server] of Object.entries(servers)) {
  const extra = scheme === "https" ? ["--cacert", tls.certPath] : [];
  const common = ["--server", server.apiRoot, "--user", "alice", ...extra, "-o", "none"];
  const fresh = () => ({ ...baseEnv, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "identica-bench-cache-")) });

  const url = `${server.apiRoot}/statuses/update.xml`;
  const curlTls = scheme === "https" ? ["--cacert", tls.certPath] : [];
  const curl = (auth: string[]) => () => ({
    cmd: "curl",
    args: [
      "-sS",
      "-o",
      "/dev/null",
      "--fail",
      ...auth,
      ...curlTls,
      "-u",
      `alice:${PASSWORD}`,
      "--data-urlencode",
      `status=${text("curl")}`,
      url,
    ],
  });
  // Known protection space: one earlier post filled the cache.
  const warm = fresh();
  await run(node, [BIN, "post", ...common, text("warm up")], warm);
  const [first, known] = (await measureGroup([
    // First contact: an empty cache, so the limit lookup and the challenge both happen.
    {
      name: `identica post, first contact (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("first")], env: fresh() }),
    },
    {
      name: `identica post, known protection space (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("known")], env: warm }),
    },
    { name: `curl --anyauth, one post (${scheme})`, make: curl(["--anyauth"]) },
    { name: `curl -u, one post (${scheme})`, make: curl([]) },
  ])) as [Row, Row];
  let before = server.requests.length;
  let conns = server.connections();
  await run(node, [BIN, "post", ...common, text("count first")], fresh());
  Object.assign(first, countOnePost(server, before, conns));
  before = server.requests.length;
  conns = server.connections();
  await run(node, [BIN, "post", ...common, text("count known")], warm);
  Object.assign(known, countOnePost(server, before, conns));
  known.peak_rss_kib = await peakRss(node, [BIN, "post", ...common, text("rss")], warm);

  const lines = () => Array.from({ length: LINES }, () => text("line")).join("\n");
  const stream = await measure(
    `identica post --lines, ${LINES} lines (${scheme})`,
    () => ({ cmd: node, args: [BIN, "post", "--lines", ...common], env: warm, input: `${lines()}\n` }),
    LINE_RUNS,
  );
  const curls = await measure(
    `${LINES} curl -u processes (${scheme})`,
    () => ({
      cmd: "bash",
      args: [
        "-c",
        `for i in $(seq ${LINES}); do curl -sS -o /dev/null --fail ${curlTls.join(" ")} -u 'alice:${PASSWORD}' --data-urlencode "status=bench curl line $RANDOM$RANDOM-$i-${++seq}" '${url}' || exit 1; done`,
      ],
    }),
    LINE_RUNS,
  );
  stream.ratio = Math.round((curls.median_ms / stream.median_ms) * 10) / 10;

  if (existsSync("/usr/bin/bti")) {
    await measure(`bti, one post (${scheme})`, () => ({
      cmd: "bti",
      args: ["--host", `${server.apiRoot}/statuses`, "--account", "alice", "--password", PASSWORD],
      input: text("bti"),
    }));
  }
}

for (const r of rows) if (r.ratio === undefined) r.ratio = Math.round((r.median_ms / base) * 100) / 100;
await servers.http.close();
await servers.https.close();

const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  `identica bench: ${RUNS} runs per row (${LINE_RUNS} for the ${LINES}-line rows), node ${process.version}, NODE_EXTRA_CA_CERTS unset`,
);
console.log(`${pad("", 52)}${pad("median", 11)}${pad("ratio", 9)}${pad("peak RSS", 11)}req/post  conn/post`);
for (const r of rows) {
  const ratio = r.name.includes("--lines") ? `${r.ratio}× curl` : `${r.ratio}×`;
  const rss = r.peak_rss_kib === undefined ? "" : `${(r.peak_rss_kib / 1024).toFixed(1)} MiB`;
  const counts =
    r.requests_per_post === undefined ? "" : `${r.requests_per_post}         ${r.connections_per_post}`;
  const failed = r.failures > 0 ? `  (${r.failures} failed)` : "";
  console.log(
    `${pad(r.name, 52)}${pad(`${r.median_ms} ms`, 11)}${pad(ratio, 9)}${pad(rss, 11)}${counts}${failed}`,
  );
}
const out = { date: new Date().toISOString(), node: process.version, runs: RUNS, rows };
writeFileSync("bench-results.json", `${JSON.stringify(out, null, 2)}\n`);
console.log("written to bench-results.json");

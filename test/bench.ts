/**
 * `npm run bench`: start-up and round trips, measured against `node -e 0` and curl in the same run.
 * Starts the GNU social look-alike on loopback (http and https) and runs each command many times,
 * every run of it right after a run of `node -e 0` (pair by pair, so that a change in the machine's
 * load hits both alike): a row's ratio is the median of its pairs' ratios, with their spread. Warns
 * when the machine is visibly busy (`node -e 0` itself varying by more than 25 %), where every ratio
 * shrinks toward 1. Also peak RSS, requests and connections per post. Writes bench-results.json.
 * No assertion here: `npm test` asserts the counts.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startKeyring } from "./helpers/keyring.js";
import { type AtprotoServer, DEFAULT_ACCOUNTS, startAtproto } from "./server/atproto.js";
import { startServer, type TestServer } from "./server/gnusocial.js";
import { type MastodonServer, startMastodon } from "./server/mastodon.js";
import { testCertificate } from "./server/tls.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const LINES = 200;
const LINE_RUNS = Number(process.env.BENCH_LINE_RUNS ?? 3);
const BIN = fileURLToPath(new URL("../bin/identica.js", import.meta.url));
const PASSWORD = "correct horse";
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

// The baseline and the tool see the same environment: no extra CA file (Node would parse it at every
// start), no colour, no proxy.
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

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.round((s.length - 1) * q)] as number;
};
const median = (xs: number[]) => quantile(xs, 0.5);
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Row {
  name: string;
  median_ms: number;
  /** The median of (this run / the `node -e 0` run just before it). */
  ratio?: number;
  /** The middle half of those pair ratios. */
  ratio_p25?: number;
  ratio_p75?: number;
  /** For the --lines rows: how many times the throughput of as many curl processes. */
  times_curl?: number;
  /** For the two-target row: its median over the slower one-target row's (about 1: concurrent). */
  times_one?: number;
  /** And over the sum of both one-target rows (about 0.5 when concurrent, 1 when one after the other). */
  times_sum?: number;
  peak_rss_kib?: number | undefined;
  failures: number;
  requests_per_post?: number;
  connections_per_post?: number;
}
const rows: Row[] = [];
const baseline: number[] = [];

type Case = {
  name: string;
  make: () => { cmd: string; args: string[]; env?: Record<string, string>; input?: string };
};

/**
 * curl sending one request with a bearer token (`body` made anew for each run, so no text repeats): the
 * floor an API's post with a token is measured against.
 */
function curlWithToken(
  name: string,
  token: string,
  tlsArgs: string[],
  body: () => string[],
  url: string,
): Case {
  return {
    name,
    make: () => ({
      cmd: "curl",
      args: [
        "-sS",
        "-o",
        "/dev/null",
        "--fail",
        ...tlsArgs,
        "-H",
        `Authorization: Bearer ${token}`,
        ...body(),
        url,
      ],
    }),
  };
}

const node = process.execPath;
const nodeE0 = () => run(node, ["-e", "0"], baseEnv);

/**
 * Runs the cases in turn, `runs` times, each run right after a run of `node -e 0`; one row each. The
 * baselines also go into the overall `node -e 0` row.
 */
async function measurePaired(cases: Case[], runs = RUNS): Promise<Row[]> {
  const times = cases.map(() => [] as number[]);
  const ratios = cases.map(() => [] as number[]);
  const failures = cases.map(() => 0);
  for (let i = 0; i < runs; i++) {
    for (const [k, c] of cases.entries()) {
      const base = await nodeE0();
      baseline.push(base.ms);
      const m = c.make();
      const r = await run(m.cmd, m.args, m.env ?? baseEnv, m.input);
      if (r.code !== 0) failures[k] = (failures[k] ?? 0) + 1;
      times[k]?.push(r.ms);
      ratios[k]?.push(r.ms / base.ms);
    }
  }
  return cases.map((c, k) => {
    const row: Row = {
      name: c.name,
      median_ms: round(median(times[k] ?? []), 1),
      ratio: round(median(ratios[k] ?? []), 2),
      ratio_p25: round(quantile(ratios[k] ?? [], 0.25), 2),
      ratio_p75: round(quantile(ratios[k] ?? [], 0.75), 2),
      failures: failures[k] ?? 0,
    };
    rows.push(row);
    return row;
  });
}

/** Long runs (--lines, 200 curls): no pairing with `node -e 0`, their ratio is to each other. */
async function measureLong(name: string, make: Case["make"], runs: number): Promise<Row> {
  const times: number[] = [];
  let failures = 0;
  for (let i = 0; i < runs; i++) {
    const m = make();
    const r = await run(m.cmd, m.args, m.env ?? baseEnv, m.input);
    if (r.code !== 0) failures++;
    times.push(r.ms);
  }
  const row: Row = { name, median_ms: round(median(times), 1), failures };
  rows.push(row);
  return row;
}

/** Runs one `identica post ARGS` and records on `row` how many requests and connections it cost the server. */
async function countOnePost(
  server: TestServer | MastodonServer | AtprotoServer,
  row: Row,
  args: string[],
  env: Record<string, string>,
): Promise<void> {
  const before = server.requests.length;
  const conns = server.connections();
  await run(node, [BIN, "post", ...args], env);
  row.requests_per_post = server.requests.length - before;
  row.connections_per_post = server.connections() - conns;
}

const load = loadavg()[0] ?? 0;
const tls = testCertificate();
const servers = { http: await startServer(), https: await startServer({ tls }) };

// A few runs first, so that the file cache is warm and identica's code cache is written (src/bundles.ts).
const codeCache = mkdtempSync(join(tmpdir(), "identica-bench-cache-"));
for (let i = 0; i < 3; i++) {
  await nodeE0();
  await run(node, [BIN, "--version"], baseEnv);
  await run(
    node,
    [BIN, "post", "--server", servers.http.apiRoot, "--user", "alice", "-o", "none", text("w")],
    {
      ...baseEnv,
      XDG_CACHE_HOME: codeCache,
    },
  );
}

const nodeRow: Row = { name: "node -e 0", median_ms: 0, ratio: 1, failures: 0 };
rows.push(nodeRow);
const [versionRow, helpRow] = (await measurePaired([
  { name: "identica --version", make: () => ({ cmd: node, args: [BIN, "--version"] }) },
  { name: "identica --help", make: () => ({ cmd: node, args: [BIN, "--help"] }) },
])) as [Row, Row];
nodeRow.peak_rss_kib = await peakRss(node, ["-e", "0"], baseEnv);
versionRow.peak_rss_kib = await peakRss(node, [BIN, "--version"], baseEnv);
helpRow.peak_rss_kib = await peakRss(node, [BIN, "--help"], baseEnv);

for (const [scheme, server] of Object.entries(servers)) {
  const extra = scheme === "https" ? ["--cacert", tls.certPath] : [];
  const common = ["--server", server.apiRoot, "--user", "alice", ...extra, "-o", "none"];
  // A cache folder with the code cache but no protection space or length limit yet.
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-bench-cache-"));
    cpSync(join(codeCache, "identica", "v8"), join(dir, "identica", "v8"), { recursive: true });
    return { ...baseEnv, XDG_CACHE_HOME: dir };
  };

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
  const cold = { ...warm, NODE_DISABLE_COMPILE_CACHE: "1" };
  const [first, known] = (await measurePaired([
    // First contact: an empty cache, so the limit lookup and the challenge both happen.
    {
      name: `identica post, first contact (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("first")], env: fresh() }),
    },
    {
      name: `identica post, known protection space (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("known")], env: warm }),
    },
    {
      name: `  the same without the code cache (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("cold")], env: cold }),
    },
    { name: `curl --anyauth, one post (${scheme})`, make: curl(["--anyauth"]) },
    { name: `curl -u, one post (${scheme})`, make: curl([]) },
  ])) as [Row, Row];
  await countOnePost(server, first, [...common, text("count first")], fresh());
  await countOnePost(server, known, [...common, text("count known")], warm);
  known.peak_rss_kib = await peakRss(node, [BIN, "post", ...common, text("rss")], warm);

  const lines = () => Array.from({ length: LINES }, () => text("line")).join("\n");
  const stream = await measureLong(
    `identica post --lines, ${LINES} lines (${scheme})`,
    () => ({ cmd: node, args: [BIN, "post", "--lines", ...common], env: warm, input: `${lines()}\n` }),
    LINE_RUNS,
  );
  const curls = await measureLong(
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
  stream.times_curl = round(curls.median_ms / stream.median_ms, 1);

  if (existsSync("/usr/bin/bti")) {
    await measurePaired([
      {
        name: `bti, one post (${scheme})`,
        make: () => ({
          cmd: "bti",
          args: ["--host", `${server.apiRoot}/statuses`, "--account", "alice", "--password", PASSWORD],
          input: text("bti"),
        }),
      },
    ]);
  }
}
await servers.http.close();
await servers.https.close();

// The Mastodon client API: the same measures against the Mastodon look-alike (its mastodon mode, which
// keeps connections alive as Mastodon behind its proxy does), with a token from the environment.
const mservers = {
  http: await startMastodon({ mode: "mastodon" }),
  https: await startMastodon({ mode: "mastodon", tls }),
};
for (const [scheme, server] of Object.entries(mservers)) {
  const token = server.issueToken("alice");
  const extra = scheme === "https" ? ["--cacert", tls.certPath] : [];
  const common = ["--server", server.origin, ...extra, "-o", "none"];
  const env = (dir: string) => ({ ...baseEnv, IDENTICA_TOKEN: token, XDG_CACHE_HOME: dir });
  // A cache folder with the code cache but nothing known of this server: its API is probed first.
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-bench-cache-"));
    cpSync(join(codeCache, "identica", "v8"), join(dir, "identica", "v8"), { recursive: true });
    return env(dir);
  };
  const warm = fresh();
  await run(node, [BIN, "post", ...common, text("warm up")], warm);
  const curlTls = scheme === "https" ? ["--cacert", tls.certPath] : [];
  const [first, known] = (await measurePaired([
    {
      name: `identica post, Mastodon, first contact (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("m first")], env: fresh() }),
    },
    {
      name: `identica post, Mastodon, known server (${scheme})`,
      make: () => ({ cmd: node, args: [BIN, "post", ...common, text("m known")], env: warm }),
    },
    curlWithToken(
      `curl -H 'Authorization: Bearer', one post (${scheme})`,
      token,
      curlTls,
      () => ["--data-urlencode", `status=${text("m curl")}`],
      `${server.origin}/api/v1/statuses`,
    ),
  ])) as [Row, Row];
  await countOnePost(server, first, [...common, text("m count first")], fresh());
  await countOnePost(server, known, [...common, text("m count known")], warm);
  known.peak_rss_kib = await peakRss(node, [BIN, "post", ...common, text("m rss")], warm);
  const lines = () => Array.from({ length: LINES }, () => text("m line")).join("\n");
  await measureLong(
    `identica post --lines, Mastodon, ${LINES} lines (${scheme})`,
    () => ({ cmd: node, args: [BIN, "post", "--lines", ...common], env: warm, input: `${lines()}\n` }),
    LINE_RUNS,
  );
}
await mservers.http.close();
await mservers.https.close();

// The AT Protocol (issue 15): the same measures against the PDS look-alike, the session in the real OS
// keychain (gnome-keyring on a private D-Bus) as `identica login` leaves it: a post is then one
// createRecord on one connection. Beside it, a run without a keychain (cron), which makes a session
// first (createSession, then createRecord), and curl sending one createRecord with a token.
{
  const keyring = await startKeyring();
  const aservers = { http: await startAtproto({}), https: await startAtproto({ tls }) };
  try {
    for (const [scheme, server] of Object.entries(aservers)) {
      const alice = DEFAULT_ACCOUNTS[0] as (typeof DEFAULT_ACCOUNTS)[number];
      const appPassword = alice.appPasswords?.[0] as string;
      const extra = scheme === "https" ? ["--cacert", tls.certPath] : [];
      const common = ["--server", server.origin, "--user", alice.handle, ...extra, "-o", "none"];
      const dirs = mkdtempSync(join(tmpdir(), "identica-bench-at-"));
      cpSync(join(codeCache, "identica", "v8"), join(dirs, "cache", "identica", "v8"), { recursive: true });
      const { IDENTICA_PASSWORD: _pw, ...noPassword } = baseEnv;
      const withKeychain: Record<string, string> = {
        ...noPassword,
        ...keyring.env,
        XDG_CONFIG_HOME: join(dirs, "config"),
        XDG_CACHE_HOME: join(dirs, "cache"),
        XDG_STATE_HOME: join(dirs, "state"),
      };
      const login = await run(
        node,
        [BIN, "login", "--password-stdin", ...common],
        withKeychain,
        `${appPassword}\n`,
      );
      if (login.code !== 0)
        throw new Error(`bench: identica login to the PDS look-alike failed (${login.code})`);
      // Cron: no session bus, the app password in the environment, the API given.
      const { DBUS_SESSION_BUS_ADDRESS: _bus, ...noBus } = withKeychain;
      const cron = { ...noBus, IDENTICA_PASSWORD: appPassword };
      await run(node, [BIN, "post", ...common, text("a warm up")], withKeychain);
      const token = server.createSession(alice.handle).accessJwt;
      const curlTls = scheme === "https" ? ["--cacert", tls.certPath] : [];
      const [known, perRun] = (await measurePaired([
        {
          name: `identica post, AT Protocol, stored session (${scheme})`,
          make: () => ({ cmd: node, args: [BIN, "post", ...common, text("a known")], env: withKeychain }),
        },
        {
          name: `identica post, AT Protocol, a session per run, no keychain (${scheme})`,
          make: () => ({
            cmd: node,
            args: [BIN, "post", "--api", "atproto", ...common, text("a cron")],
            env: cron,
          }),
        },
        curlWithToken(
          `curl -H 'Authorization: Bearer', one createRecord (${scheme})`,
          token,
          curlTls,
          () => [
            "-H",
            "Content-Type: application/json",
            "--data",
            JSON.stringify({
              repo: alice.did,
              collection: "app.bsky.feed.post",
              record: {
                $type: "app.bsky.feed.post",
                text: text("a curl"),
                createdAt: new Date().toISOString(),
              },
            }),
          ],
          `${server.origin}/xrpc/com.atproto.repo.createRecord`,
        ),
      ])) as [Row, Row];
      await countOnePost(server, known, [...common, text("a count known")], withKeychain);
      await countOnePost(server, perRun, ["--api", "atproto", ...common, text("a count cron")], cron);
      known.peak_rss_kib = await peakRss(node, [BIN, "post", ...common, text("a rss")], withKeychain);
      const lines = () => Array.from({ length: LINES }, () => text("a line")).join("\n");
      await measureLong(
        `identica post --lines, AT Protocol, ${LINES} lines (${scheme})`,
        () => ({
          cmd: node,
          args: [BIN, "post", "--lines", ...common],
          env: withKeychain,
          input: `${lines()}\n`,
        }),
        LINE_RUNS,
      );
    }
  } finally {
    await aservers.http.close();
    await aservers.https.close();
    keyring.close();
  }
}

// Several accounts (issue 14): one `post --to A --to B` to a GNU social and a Mastodon look-alike
// (http), next to `post --to` each alone. The two are posted to concurrently, each on its own
// connection, so two should take about as long as the slower one, not as long as both together.
// Credentials as a user would set them up: the config names both servers and makes the Mastodon one
// the run's own (so IDENTICA_TOKEN applies to it, and to it only); the GNU social password comes from
// a netrc `machine` entry, the origin-bound source another target may use.
{
  const gs = await startServer();
  const md = await startMastodon({ mode: "mastodon" });
  const token = md.issueToken("alice");
  const home = mkdtempSync(join(tmpdir(), "identica-bench-multi-"));
  writeFileSync(join(home, ".netrc"), `machine 127.0.0.1 login alice password "${PASSWORD}"\n`, {
    mode: 0o600,
  });
  mkdirSync(join(home, ".config", "identica"), { recursive: true });
  writeFileSync(
    join(home, ".config", "identica", "config.json"),
    JSON.stringify({
      server: md.origin,
      servers: {
        [md.origin]: { user: "alice", api: "mastodon" },
        [gs.apiRoot]: { user: "alice", api: "statusnet" },
      },
    }),
  );
  const cache = mkdtempSync(join(tmpdir(), "identica-bench-cache-"));
  cpSync(join(codeCache, "identica", "v8"), join(cache, "identica", "v8"), { recursive: true });
  const { IDENTICA_PASSWORD: _none, ...noPassword } = baseEnv;
  const env = { ...noPassword, HOME: home, IDENTICA_TOKEN: token, XDG_CACHE_HOME: cache };
  const a = `alice@${new URL(gs.origin).host}`;
  const b = `alice@${md.domain}`;
  const post = (label: string, to: string[]) => () => ({
    cmd: node,
    args: [BIN, "post", ...to.flatMap((h) => ["--to", h]), "-o", "none", text(label)],
    env,
  });
  // Both limits cached and the GNU social protection space known, as on any later day.
  await run(node, post("multi warm up", [a, b])().args, env);
  const [gsOne, mdOne, two] = (await measurePaired([
    { name: "identica post --to, GNU social alone (http)", make: post("to gs", [a]) },
    { name: "identica post --to, Mastodon alone (http)", make: post("to m", [b]) },
    { name: "identica post --to both at once (http)", make: post("to both", [a, b]) },
  ])) as [Row, Row, Row];
  const before = gs.requests.length + md.requests.length;
  const conns = gs.connections() + md.connections();
  await run(node, post("multi count", [a, b])().args, env);
  two.requests_per_post = gs.requests.length + md.requests.length - before;
  two.connections_per_post = gs.connections() + md.connections() - conns;
  two.peak_rss_kib = await peakRss(node, post("multi rss", [a, b])().args, env);
  // How long two take next to one: about 1 when they are posted concurrently, about 2 in turn.
  two.times_one = round(two.median_ms / Math.max(gsOne.median_ms, mdOne.median_ms), 2);
  two.times_sum = round(two.median_ms / (gsOne.median_ms + mdOne.median_ms), 2);
  await gs.close();
  await md.close();
}

nodeRow.median_ms = round(median(baseline), 1);
// How much `node -e 0` itself varied: on a quiet machine its runs stay within a few percent.
const spread = (quantile(baseline, 0.9) - quantile(baseline, 0.1)) / median(baseline);
const busy = spread > 0.25;

const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  `identica bench: ${RUNS} pairs per row (${LINE_RUNS} runs for the ${LINES}-line rows), node ${process.version}, ${cpus().length} CPUs, load average ${load.toFixed(2)} at the start, NODE_EXTRA_CA_CERTS unset`,
);
console.log(`node -e 0: median ${nodeRow.median_ms} ms, p10–p90 spread ${Math.round(spread * 100)} %`);
if (busy) {
  console.log(
    `WARNING: the machine is busy (node -e 0 varies by ${Math.round(spread * 100)} %, more than 25 %): every ratio below is smaller than on a quiet machine. Measure again when it is quiet.`,
  );
}
console.log(
  `${pad("", 48)}${pad("median", 10)}${pad("ratio (middle half)", 22)}${pad("peak RSS", 11)}req/post  conn/post`,
);
for (const r of rows) {
  const ratio =
    r.times_curl !== undefined
      ? `${r.times_curl}× curl's`
      : r.ratio === undefined
        ? ""
        : r.ratio_p25 === undefined
          ? `${r.ratio}×`
          : `${r.ratio}× (${r.ratio_p25}–${r.ratio_p75})`;
  const rss = r.peak_rss_kib === undefined ? "" : `${(r.peak_rss_kib / 1024).toFixed(1)} MiB`;
  const counts =
    r.requests_per_post === undefined ? "" : `${r.requests_per_post}         ${r.connections_per_post}`;
  const failed = r.failures > 0 ? `  (${r.failures} failed)` : "";
  const vsOne =
    r.times_one === undefined
      ? ""
      : `  = ${r.times_one}× the slower one alone, ${r.times_sum}× both one after the other`;
  console.log(
    `${pad(r.name, 48)}${pad(`${r.median_ms} ms`, 10)}${pad(ratio, 22)}${pad(rss, 11)}${counts}${failed}${vsOne}`,
  );
}
const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  load_average: load,
  runs: RUNS,
  node_e0_spread: round(spread, 3),
  busy,
  rows,
};
writeFileSync("bench-results.json", `${JSON.stringify(out, null, 2)}\n`);
console.log("written to bench-results.json");

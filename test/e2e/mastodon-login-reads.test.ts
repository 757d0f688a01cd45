import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectFailure, type RunOptions } from "../helpers/cli.js";
import { Scenario } from "../helpers/scenario.js";
import { type MastodonServer, type Mode, startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * The reads on a Mastodon-API server (show, delete, timeline, whoami), end to end against the
 * look-alike as Mastodon and as snac: the requests they make, ids as opaque strings, `-o json`. The
 * token comes from IDENTICA_TOKEN (the keychain is mastodon-login.test.ts's business).
 */

const tls = testCertificate();

const paths = (server: MastodonServer) => server.requests.map((q) => `${q.method} ${q.url}`);

/** Both servers over https, and over plain http (snac then closes after every reply, and ends a body
 * it did not measure, such as its empty 401 and 422, by closing the connection). */
const TRANSPORTS: [Mode, "https" | "http"][] = [
  ["mastodon", "https"],
  ["snac", "https"],
  ["mastodon", "http"],
  ["snac", "http"],
];

describe.each(TRANSPORTS)("reads on %s over %s", (mode, transport) => {
  let server: MastodonServer;
  let scn: Scenario;
  let token: string;
  beforeEach(async () => {
    server = await startMastodon(transport === "https" ? { mode, tls } : { mode });
    token = server.issueToken("alice");
    scn = new Scenario({ IDENTICA_TOKEN: token });
    // The API is found once and remembered, as on a real machine; the tests look at what follows.
    const first = await scn.run(["whoami", ...base(), "-o", "none"]);
    expect(first.code, first.stderr).toBe(0);
    server.requests.length = 0;
  });
  afterEach(async () => {
    await server.close();
  });
  const base = () =>
    transport === "https"
      ? ["--server", server.domain, "--user", "alice", "--cacert", tls.certPath]
      : ["--server", server.origin, "--user", "alice"];
  const run = (args: string[], opts: RunOptions = {}) => scn.run([...args, ...base()], opts);
  const auth = (i = 0) => server.requests[i]?.headers.authorization;

  it("show ID: the status as JSON, its id the server's string; the token sent", async () => {
    const s = server.addStatus({ text: "hello from the server" });
    const r = await run(["show", s.id, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(server)).toEqual([`GET /api/v1/statuses/${s.id}`]);
    expect(auth()).toBe(`Bearer ${token}`);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      id: s.id,
      text: "hello from the server",
      url: s.url,
      visibility: "public",
      user: { id: server.accountId("alice"), screenName: "alice" },
    });
    // An id is a string as the server gave it: snac's are epoch + hex, Mastodon's beyond 2^53.
    expect(typeof doc.id).toBe("string");
    if (mode === "snac") expect(s.id).toMatch(/^\d{10}[0-9a-f]{32}$/);
    else expect(BigInt(s.id) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });

  it("show without any token: Mastodon serves a public status, snac wants a token (77, run identica login)", async () => {
    const s = server.addStatus({ text: "public for all" });
    const r = await run(["show", s.id, "-o", "id"], { env: { IDENTICA_TOKEN: undefined } });
    expect(auth()).toBeUndefined();
    if (mode === "mastodon") {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${s.id}\n`);
    } else {
      expectFailure(r, 77, /wants a token for this \(401\).*\(run identica login\)$/);
    }
  });

  it("show of an unknown id: 65, whatever the body (Mastodon's JSON, snac's 404 page)", async () => {
    const unknown = mode === "snac" ? `1700000000${"ab".repeat(16)}` : "109999999999999999";
    const r = await run(["show", unknown]);
    expectFailure(
      r,
      65,
      mode === "mastodon" ? /has no such status \(404\): Record not found/ : /has no such status \(404\); /,
    );
    expect(r.stderr).not.toMatch(/snac\/2\.94|<h1>/);
  });

  it("delete ID of one's own: gone from the server; someone else's: 65, and theirs stays", async () => {
    const mine = server.addStatus({ text: "delete me" });
    const r = await run(["delete", mine.id, "-o", "id"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${mine.id}\n`);
    expect(paths(server)).toEqual([`DELETE /api/v1/statuses/${mine.id}`]);
    expect(auth()).toBe(`Bearer ${token}`);
    expect(server.status(mine.id)?.deleted).toBe(true);

    const bobs = server.addStatus({ text: "bob's own", username: "bob" });
    const other = await run(["delete", bobs.id]);
    expectFailure(
      other,
      65,
      mode === "mastodon" ? /\(404\): Record not found/ : /has no such status \(404\)/,
    );
    expect(server.status(bobs.id)?.deleted).toBe(false);
    // Deleting it again: 65 too (snac: its 404 page, snac/41c).
    const again = await run(["delete", mine.id]);
    expectFailure(again, 65, /has no such status \(404\)/);
  });

  it("delete with its outcome unknown says the status may have been deleted, never 'posted' nor 'nothing was changed'", async () => {
    const ids = ["lost", "page", "signal"].map((text) => server.addStatus({ text }).id) as [
      string,
      string,
      string,
    ];
    // The server deletes it, then drops the connection instead of answering.
    server.faults.push({ fault: { kind: "lose-reply" }, path: /^\/api\/v1\/statuses\//, times: 1 });
    const lost = await run(["delete", ids[0]]);
    expectFailure(
      lost,
      76,
      /the status may have been deleted \(see whether it is still there before deleting again\)$/,
    );
    expect(server.status(ids[0])?.deleted).toBe(true);
    // A portal's page with 200 instead of the deleted status: it may well be gone.
    server.faults.push({
      fault: {
        kind: "reply",
        status: 200,
        body: "<html><body>portal</body></html>",
        contentType: "text/html",
      },
      path: /^\/api\/v1\/statuses\//,
      times: 1,
    });
    const page = await run(["delete", ids[1]]);
    expectFailure(page, 76, /reply is an HTML page; the status may have been deleted/);
    // Interrupted while the DELETE is on the wire.
    server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/statuses\//, times: 1 });
    const signal = await run(["delete", ids[2]], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (!server.requests.some((q) => q.url.endsWith(ids[2]))) return;
          clearInterval(timer);
          child.kill("SIGTERM");
        }, 10);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(signal.code).toBe(143);
    expect(signal.stderr).toBe(
      "identica: interrupted (SIGTERM); after the request was sent; the status may have been deleted (see whether it is still there)\n",
    );
    for (const r of [lost, page, signal]) expect(r.stderr).not.toMatch(/posted|nothing was changed/);
    expect(scn.outbox()).toEqual([]);
  });

  it("a reader that stops early (| head -1, stdout closed): the timeline still exits 0, nothing on stderr", async () => {
    for (let i = 0; i < 30; i++) server.addStatus({ text: `line ${i} ${"x".repeat(200)}` });
    const r = await run(["timeline", "public", "--count", "30"], { closeStdout: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("timeline home --count: the newest first, as a JSON array; the limit passed as the server's `limit`", async () => {
    const made = ["one", "two", "three"].map((text) => server.addStatus({ text }));
    const r = await run(["timeline", "home", "--count", "2", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(paths(server)).toEqual(["GET /api/v1/timelines/home?limit=2"]);
    expect(auth()).toBe(`Bearer ${token}`);
    const list = JSON.parse(r.stdout);
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((s: { id: string; text: string }) => [s.id, s.text])).toEqual([
      [made[2]?.id, "three"],
      [made[1]?.id, "two"],
    ]);
  });

  it("--since-id and --max-id go out exactly as given: opaque strings, never 'a status id is a number'", async () => {
    const made = ["a", "b", "c", "d"].map((text) => server.addStatus({ text }));
    const [a, b, c, d] = made.map((s) => s.id) as [string, string, string, string];
    const r = await run(["timeline", "home", "--since-id", a, "--max-id", d, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const url = new URL(server.requests[0]?.url as string, "https://x");
    expect(url.pathname).toBe("/api/v1/timelines/home");
    // The ids as given; the page size asked by name (snac gives a single item otherwise).
    expect(Object.fromEntries(url.searchParams)).toEqual({ limit: "20", since_id: a, max_id: d });
    expect(JSON.parse(r.stdout).map((s: { id: string }) => s.id)).toEqual([c, b]);

    // An id of letters, dots and tildes (GoToSocial's are ULIDs, others hashes) is fine too.
    const odd = await run(["timeline", "public", "--max-id", "01HZX.ab~c_D-9", "-o", "json"]);
    expect(odd.code, odd.stderr).toBe(0);
    expect(server.requests.at(-1)?.url).toBe("/api/v1/timelines/public?limit=20&max_id=01HZX.ab%7Ec_D-9");
    expect(JSON.parse(odd.stdout)).toEqual(expect.any(Array));
    // Only what cannot be an id is refused, before anything is sent.
    const n = server.requests.length;
    const bad = await run(["timeline", "home", "--since-id", "12/34"]);
    expectFailure(bad, 64, /"12\/34" is not a status id/);
    expect(server.requests.length).toBe(n);
  });

  it("timeline public, user --of bob, user (one's own), mentions: each on its own endpoint", async () => {
    const pub = server.addStatus({ text: "alice in public" });
    const bobs = server.addStatus({ text: "bob writes", username: "bob" });
    const mention = server.addStatus({ text: `hello @alice@${server.domain}`, username: "bob" });

    const p = await run(["timeline", "public", "-o", "json"]);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).map((s: { id: string }) => s.id)).toEqual([mention.id, bobs.id, pub.id]);

    server.requests.length = 0;
    const u = await run(["timeline", "user", "--of", "bob", "--count", "5", "-o", "json"]);
    expect(u.code, u.stderr).toBe(0);
    const bobId = server.accountId("bob");
    expect(paths(server)).toEqual([
      "GET /api/v1/accounts/lookup?acct=bob",
      `GET /api/v1/accounts/${bobId}/statuses?limit=5`,
    ]);
    expect(JSON.parse(u.stdout).map((s: { user: { screenName: string } }) => s.user.screenName)).toEqual([
      "bob",
      "bob",
    ]);

    server.requests.length = 0;
    const own = await run(["timeline", "user", "-o", "json"]);
    expect(own.code, own.stderr).toBe(0);
    expect(paths(server)).toEqual([
      "GET /api/v1/accounts/verify_credentials",
      `GET /api/v1/accounts/${server.accountId("alice")}/statuses?limit=20`,
    ]);
    expect(JSON.parse(own.stdout).map((s: { id: string }) => s.id)).toEqual([pub.id]);

    server.requests.length = 0;
    const m = await run(["timeline", "mentions", "--count", "10", "-o", "json"]);
    expect(m.code, m.stderr).toBe(0);
    expect(paths(server)).toEqual([
      `GET /api/v1/notifications?limit=10&${encodeURIComponent("types[]")}=mention`,
    ]);
    expect(JSON.parse(m.stdout).map((s: { id: string }) => s.id)).toEqual([mention.id]);

    // An unknown account: 65, said so.
    // An unknown account: 65, said so (snac's answer is its 404 page for anything).
    const nobody = await run(["timeline", "user", "--of", "nobody"]);
    expectFailure(nobody, 65, /has no such account \(404\)/);
  });

  it("what the server wrote is shown, never obeyed: markup and escapes in a name and a status", async () => {
    server.addUser({ username: "mallory", displayName: "Mal\u001b[2J<b>lory</b>\u202e" });
    const s = server.addStatus({
      username: "mallory",
      text: "look\u001b]0;pwned\u0007 <script>alert(1)</script> 5<6 & 7>3",
    });
    const pretty = await run(["show", s.id]);
    expect(pretty.code, pretty.stderr).toBe(0);
    // Escapes and bidi overrides are made visible, not sent to the terminal.
    expect(pretty.stdout).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(pretty.stdout).toMatch(/^Mal\^\[\[2J<b>lory<\/b><U\+202E> @mallory\nlook\^\[\]0;pwned\^G /);
    // The content is HTML: Mastodon escaped what was typed (shown as typed); snac passed the markup
    // through raw (snac/31b), and markup is never printed: the script is gone, the text stays.
    expect(pretty.stdout).toContain(
      mode === "snac" ? "pwned^G  5<6 & 7>3\n" : "pwned^G <script>alert(1)</script> 5<6 & 7>3\n",
    );
    const json = await run(["show", s.id, "-o", "json"]);
    // JSON keeps the server's strings exactly, escaped.
    expect(JSON.parse(json.stdout).user.name).toBe("Mal\u001b[2J<b>lory</b>\u202e");
    expect(json.stdout).not.toMatch(/[\u001b\u0007\u202e]/);
  });
});

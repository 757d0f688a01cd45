import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectFailure } from "../helpers/cli.js";
import {
  apisJson,
  form,
  fresh,
  onlyEntry,
  probes,
  statusPosts,
  switchable,
  UUID,
  useMastodon,
} from "../helpers/mastodon-post.js";
import { Scenario } from "../helpers/scenario.js";
import { PASSWORD } from "../helpers/setup.js";
import { startServer } from "../server/gnusocial.js";
import { startMastodon } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";

/**
 * Issue 13, part post: which API a server speaks, found out once and remembered — and forgotten when
 * the site moves to the other API. End to end: the built binary against the Mastodon look-alike
 * (test/server/mastodon.ts) in its Mastodon and snac modes and the GNU social one, over HTTPS and
 * plain http. Tokens are in mastodon-post.test.ts, what is sent in mastodon-post-text.test.ts, what is
 * printed in mastodon-post-output.test.ts.
 */

const MODES = ["mastodon", "snac"] as const;
const line = (r: { method: string; url: string }) => `${r.method} ${r.url}`;

describe.each(MODES)("detection (%s)", (mode) => {
  const h = useMastodon(mode);
  const post = (sc: Scenario, server: string, text: string, extra: string[] = []) =>
    sc.run(["post", "--server", server, "--cacert", h.certPath, "-o", "id", ...extra, text]);

  it("first use of a bare host:port costs exactly one GET /api/v1/instance, without a token; a second run makes none", async () => {
    const sc = new Scenario({ IDENTICA_TOKEN: h.token });
    const first = await post(sc, h.host, fresh("first"));
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`${h.server.statuses.at(-1)?.id}\n`);
    // The limit came with the instance document: nothing else is asked before the post.
    expect(h.server.requests.map(line)).toEqual(["GET /api/v1/instance", "POST /api/v1/statuses"]);
    expect(probes(h.server)[0]?.headers.authorization).toBeUndefined();
    expect(statusPosts(h.server)[0]?.headers.authorization).toBe(`Bearer ${h.token}`);
    expect(apisJson(sc)).toEqual({ [h.host]: "mastodon" });

    h.server.requests.length = 0;
    const second = await post(sc, h.host, fresh("second"));
    expect(second.code).toBe(0);
    expect(h.server.requests.map(line)).toEqual(["POST /api/v1/statuses"]);
  });

  it("-v says what was found, once", async () => {
    const sc = new Scenario({ IDENTICA_TOKEN: h.token });
    const first = await post(sc, h.host, fresh("verbose"), ["-v"]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`* ${h.host} speaks the Mastodon API (remembered; --api overrides)`);
    const second = await post(sc, h.host, fresh("verbose again"), ["-v"]);
    expect(second.stderr).not.toContain("speaks the");
  });

  it("plain http loopback: a URL with an empty path (or just /) is probed like a bare host; the API base is its origin", async () => {
    const plain = await startMastodon({ mode });
    try {
      const token = plain.issueToken("alice");
      for (const server of [plain.origin, `${plain.origin}/`]) {
        const sc = new Scenario({ IDENTICA_TOKEN: token });
        plain.requests.length = 0;
        const r = await sc.run(["post", "--server", server, "-o", "id", fresh("plain")]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(plain.requests.map(line)).toEqual(["GET /api/v1/instance", "POST /api/v1/statuses"]);
        // Loopback: the token goes over plain http.
        expect(statusPosts(plain)[0]?.headers.authorization).toBe(`Bearer ${token}`);
        expect(apisJson(sc)).toEqual({ [plain.origin]: "mastodon" });
        plain.requests.length = 0;
        expect((await sc.run(["post", "--server", server, "-o", "none", fresh("plain 2")])).code).toBe(0);
        expect(plain.requests.map(line)).toEqual(["POST /api/v1/statuses"]);
      }
    } finally {
      await plain.close();
    }
  });

  it("--api mastodon and IDENTICA_API=mastodon force it: no probe, nothing remembered, also for a URL with a path", async () => {
    // Without a probe the limit is read from the instance documents (v2, else v1) without a token.
    const limitLookup =
      mode === "mastodon" ? ["GET /api/v2/instance"] : ["GET /api/v2/instance", "GET /api/v1/instance"];
    for (const [server, extra, env] of [
      [h.host, ["--api", "mastodon"], {}],
      [h.host, [], { IDENTICA_API: "mastodon" }],
      [`https://${h.host}/api`, ["--api", "mastodon"], {}],
    ] as const) {
      const sc = new Scenario({ IDENTICA_TOKEN: h.token, ...env });
      h.server.requests.length = 0;
      const r = await post(sc, server, fresh("forced"), [...extra, "-v"]);
      expect(r.code, r.stderr).toBe(0);
      expect(h.server.requests.map(line)).toEqual([...limitLookup, "POST /api/v1/statuses"]);
      expect(r.stderr).not.toContain("speaks the");
      expect(apisJson(sc)).toEqual({});
    }
    const bogus = await new Scenario({ IDENTICA_TOKEN: h.token, IDENTICA_API: "activitypub" }).run([
      "post",
      "--server",
      h.host,
      "x",
    ]);
    expectFailure(bogus, 64, /IDENTICA_API takes statusnet, mastodon or atproto, not "activitypub"/);
  });

  it("a URL with a path is a StatusNet API root: never probed, even on a Mastodon server", async () => {
    const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD, IDENTICA_TOKEN: h.token });
    const r = await post(sc, `https://${h.host}/api`, fresh("path"), ["--user", "alice"]);
    // The StatusNet routes are not there: 69, with the hint that names --api.
    expectFailure(r, 69, /no such API endpoint|--api/);
    expect(probes(h.server)).toEqual([]);
    expect(h.server.requests.every((q) => !q.url.startsWith("/api/v1/"))).toBe(true);
    expect(apisJson(sc)).toEqual({});
  });

  it.each([
    ["503", { kind: "reply", status: 503, body: "<h1>down for maintenance</h1>", contentType: "text/html" }],
    [
      "429",
      {
        kind: "reply",
        status: 429,
        body: '{"error":"Too many requests"}',
        headers: { "retry-after": "30" },
      },
    ],
    ["a reset", { kind: "reset-after-read" }],
    ["a truncated body", { kind: "truncate" }],
    ["nothing (a hang)", { kind: "hang" }],
    ["a body that never ends", { kind: "drip", intervalMs: 100 }],
  ] as const)(
    "a probe answered with %s: 75, the text kept with serverSpec, nothing remembered; outbox send detects and posts it",
    async (_what, fault) => {
      const sc = new Scenario({ IDENTICA_TOKEN: h.token });
      h.server.faults.push({ fault, path: /^\/api\/v1\/instance/, times: 1 });
      const text = fresh("probe failed");
      const r = await post(sc, h.host, text, ["--visibility", "unlisted", "--timeout", "2"]);
      // A GET without credentials: whatever became of it, nothing was posted (never 76).
      expectFailure(r, 75, /when asked which API it speaks; nothing was posted/);
      expect(r.stderr).not.toMatch(/may have been posted/);
      expect(statusPosts(h.server)).toEqual([]);
      expect(apisJson(sc)).toEqual({});
      const { entry } = onlyEntry(sc);
      expect(entry).toMatchObject({ text, serverSpec: h.host, visibility: "unlisted", refused: false });
      expect(entry.api).toBeUndefined();
      expect(entry.idempotencyKey).toMatch(UUID);

      h.server.requests.length = 0;
      const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "id"]);
      expect(send.stderr).toBe("");
      expect(send.code).toBe(0);
      expect(h.server.requests.map(line)).toEqual(["GET /api/v1/instance", "POST /api/v1/statuses"]);
      const sent = statusPosts(h.server)[0];
      expect(sent?.headers.authorization).toBe(`Bearer ${h.token}`);
      expect(sent?.headers["idempotency-key"]).toBe(entry.idempotencyKey);
      expect(Object.fromEntries(form(sent as never))).toEqual({ status: text, visibility: "unlisted" });
      expect(h.server.statuses.at(-1)).toMatchObject({ text, visibility: "unlisted" });
      expect(sc.outbox()).toEqual([]);
      expect(apisJson(sc)).toEqual({ [h.host]: "mastodon" });
    },
  );

  it("SIGINT while the probe hangs: 130, nothing posted, the text kept to be detected later", async () => {
    const sc = new Scenario({ IDENTICA_TOKEN: h.token });
    h.server.faults.push({ fault: { kind: "hang" }, path: /^\/api\/v1\/instance/, times: 1 });
    const text = fresh("interrupted probe");
    const r = await sc.run(["post", "--server", h.host, "--cacert", h.certPath, text], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          if (probes(h.server).length > 0) {
            clearInterval(timer);
            child.kill("SIGINT");
          }
        }, 10);
        child.on("close", () => clearInterval(timer));
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^identica: interrupted/);
    expect(r.stderr).not.toMatch(/may have been posted/);
    expect(statusPosts(h.server)).toEqual([]);
    expect(onlyEntry(sc).entry).toMatchObject({ text, serverSpec: h.host });
    expect(apisJson(sc)).toEqual({});
    const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"]);
    expect(send.code).toBe(0);
    expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
  });
});

describe("detection: what is remembered, and where it is kept", () => {
  const h = useMastodon("mastodon");
  const post = (sc: Scenario, text: string) =>
    sc.run(["post", "--server", h.host, "--cacert", h.certPath, "-o", "none", text]);

  it("a probe redirected elsewhere is not followed and not remembered: StatusNet this once, and the text kept to be detected again", async () => {
    const other = await startMastodon({ tls: testCertificate() });
    try {
      h.server.faults.push({
        fault: { kind: "redirect", status: 302, location: `${other.origin}/api/v1/instance` },
        path: /^\/api\/v1\/instance/,
        times: 1,
      });
      const sc = new Scenario({ IDENTICA_TOKEN: h.token, IDENTICA_PASSWORD: PASSWORD });
      const text = fresh("redirected probe");
      const first = await post(sc, text);
      // Taken for StatusNet, which this server is not: its routes are not there.
      expectFailure(first, 69, /no such API endpoint \(404\)/);
      expect(other.requests).toEqual([]);
      expect(apisJson(sc)).toEqual({});
      // A guess is not pinned to the entry: outbox send asks the server again.
      const { entry } = onlyEntry(sc);
      expect(entry).toMatchObject({ text, serverSpec: h.host });
      expect(entry.api).toBeUndefined();

      const second = await post(sc, fresh("probed again"));
      expect(second.code, second.stderr).toBe(0);
      expect(probes(h.server)).toHaveLength(2);
      expect(apisJson(sc)).toEqual({ [h.host]: "mastodon" });
      const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"]);
      expect(send.code, send.stderr).toBe(0);
      expect(h.server.statuses.filter((s) => s.text === text)).toHaveLength(1);
      expect(statusPosts(h.server).at(-1)?.headers["idempotency-key"]).toBe(entry.idempotencyKey);
    } finally {
      await other.close();
    }
  });

  it("--lines after a redirected probe: the lines kept are not pinned to the guess either", async () => {
    h.server.faults.push({
      fault: { kind: "redirect", status: 302, location: "https://elsewhere.example/" },
      path: /^\/api\/v1\/instance/,
      times: 1,
    });
    const sc = new Scenario({ IDENTICA_TOKEN: h.token, IDENTICA_PASSWORD: PASSWORD });
    const texts = [fresh("guessed line"), fresh("guessed line")];
    const r = await sc.run(["post", "--server", h.host, "--cacert", h.certPath, "--lines"], {
      input: `${texts.join("\n")}\n`,
    });
    expect(r.code).toBe(69);
    expect(sc.outbox().map((e) => [e.entry.text, e.entry.serverSpec, e.entry.api])).toEqual(
      texts.map((t) => [t, h.host, undefined]),
    );
    const send = await sc.run(["outbox", "send", "--server", h.host, "--cacert", h.certPath, "-o", "none"]);
    expect(send.code, send.stderr).toBe(0);
    expect(statusPosts(h.server).map((p) => form(p).get("status"))).toEqual(texts);
    expect(sc.outbox()).toEqual([]);
  });

  it("a damaged apis.json (or one that is a FIFO) is ignored: probed again, never waited on, rewritten", async () => {
    for (const damage of ["garbage", '{"apis":{"HOST":"activitypub"}}', '{"apis":["mastodon"]}', "fifo"]) {
      const sc = new Scenario({ IDENTICA_TOKEN: h.token });
      const dir = join(sc.env.XDG_CACHE_HOME as string, "identica");
      mkdirSync(dir, { recursive: true });
      const file = join(dir, "apis.json");
      if (damage === "fifo") execFileSync("mkfifo", [file]);
      else writeFileSync(file, damage.replace("HOST", h.host));
      h.server.requests.length = 0;
      const r = await post(sc, fresh(`damaged ${damage}`));
      expect(r.code, r.stderr).toBe(0);
      expect(probes(h.server)).toHaveLength(1);
      expect(apisJson(sc)).toEqual({ [h.host]: "mastodon" });
    }
  });
});

describe("detection: a site that moves to the other API after it was detected", () => {
  it("the post that finds the remembered API gone (69) keeps its text to be detected again, and the next run probes again", async () => {
    const tls = testCertificate();
    const gs = await startServer({ tls });
    const md = await startMastodon({ mode: "mastodon", tls });
    const site = await switchable(Number(new URL(gs.origin).port));
    try {
      const token = md.issueToken("alice");
      const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD, IDENTICA_TOKEN: token });
      const post = (text: string, extra: string[] = []) =>
        sc.run([
          "post",
          "--server",
          site.host,
          "--user",
          "alice",
          "--cacert",
          tls.certPath,
          "-o",
          "none",
          ...extra,
          text,
        ]);
      expect((await post(fresh("on gnu social"))).code).toBe(0);
      expect(apisJson(sc)).toEqual({ [site.host]: "statusnet" });

      // The site now runs a Mastodon-API server: the remembered StatusNet routes are gone.
      site.to = Number(new URL(md.origin).port);
      const text = fresh("after the move");
      const moved = await post(text);
      expectFailure(moved, 69, /no such API endpoint \(404\)/);
      expect(moved.stderr).toMatch(/the next run will ask again which API it speaks\)/);
      expect(apisJson(sc)).toEqual({});
      const { entry } = onlyEntry(sc);
      expect(entry).toMatchObject({ text, serverSpec: site.host });
      expect(entry.api).toBeUndefined();

      // The next run finds the Mastodon API, and outbox send sends the kept text there.
      expect((await post(fresh("detected again"))).code).toBe(0);
      expect(apisJson(sc)).toEqual({ [site.host]: "mastodon" });
      const send = await sc.run([
        "outbox",
        "send",
        "--server",
        site.host,
        "--cacert",
        tls.certPath,
        "-o",
        "none",
      ]);
      expect(send.code, send.stderr).toBe(0);
      expect(md.statuses.map((s) => s.text)).toContain(text);
      expect(sc.outbox()).toEqual([]);

      // And back: the remembered Mastodon API gone, --lines too keeps its lines to be detected again.
      site.to = Number(new URL(gs.origin).port);
      const lines = await sc.run(
        ["post", "--server", site.host, "--user", "alice", "--cacert", tls.certPath, "--lines"],
        {
          input: "back one\nback two\n",
        },
      );
      expect(lines.code).toBe(69);
      expect(apisJson(sc)).toEqual({});
      expect(sc.outbox().map((e) => [e.entry.text, e.entry.serverSpec, e.entry.api])).toEqual([
        ["back one", site.host, undefined],
        ["back two", site.host, undefined],
      ]);
      const back = await sc.run([
        "outbox",
        "send",
        "--server",
        site.host,
        "--user",
        "alice",
        "--cacert",
        tls.certPath,
      ]);
      expect(back.code, back.stderr).toBe(0);
      expect(gs.store.notices.slice(-2).map((n) => n.text)).toEqual(["back one", "back two"]);
    } finally {
      site.close();
      await gs.close();
      await md.close();
    }
  });

  it("outbox send: an entry to be detected whose remembered API is gone waits (69) and goes once the site is probed again", async () => {
    const tls = testCertificate();
    const gs = await startServer({ tls });
    const md = await startMastodon({ mode: "mastodon", tls });
    const site = await switchable(Number(new URL(gs.origin).port));
    try {
      const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD, IDENTICA_TOKEN: md.issueToken("alice") });
      const post = (text: string) =>
        sc.run([
          "post",
          "--server",
          site.host,
          "--user",
          "alice",
          "--cacert",
          tls.certPath,
          "-o",
          "none",
          text,
        ]);
      const send = () =>
        sc.run([
          "outbox",
          "send",
          "--server",
          site.host,
          "--user",
          "alice",
          "--cacert",
          tls.certPath,
          "-o",
          "none",
        ]);
      gs.faults.push({
        fault: { kind: "reply", status: 503, body: "" },
        path: /^\/api\/v1\/instance/,
        times: 1,
      });
      const text = fresh("kept undetected");
      expectFailure(await post(text), 75, /when asked which API it speaks/);
      expect((await post(fresh("detected as statusnet"))).code).toBe(0);
      expect(apisJson(sc)).toEqual({ [site.host]: "statusnet" });

      site.to = Number(new URL(md.origin).port);
      const stale = await send();
      expect(stale.code).toBe(69);
      expect(stale.stderr).toMatch(
        /no such API endpoint \(404\).*the next run will ask again which API it speaks/,
      );
      expect(apisJson(sc)).toEqual({});
      expect(onlyEntry(sc).entry).toMatchObject({ text, serverSpec: site.host });

      const fresh2 = await send();
      expect(fresh2.code, fresh2.stderr).toBe(0);
      expect(md.statuses.map((s) => s.text)).toEqual([text]);
      expect(sc.outbox()).toEqual([]);
    } finally {
      site.close();
      await gs.close();
      await md.close();
    }
  });
});

describe("detection: a server that answers as StatusNet is never probed again", () => {
  it("GNU social with its API at the site root: probed once, then posted to at the root as written", async () => {
    const gs = await startServer({ apiPath: "" });
    try {
      const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD });
      const args = ["post", "--server", gs.origin, "--user", "alice", "-o", "id"];
      const first = await sc.run([...args, fresh("gnu social root")]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(gs.requests.filter((r) => r.url === "/api/v1/instance")).toHaveLength(1);
      expect(gs.requests.some((r) => r.url.startsWith("/statuses/update."))).toBe(true);
      expect(apisJson(sc)).toEqual({ [gs.origin]: "statusnet" });
      gs.requests.length = 0;
      expect((await sc.run([...args, fresh("gnu social root 2")])).code).toBe(0);
      expect(gs.requests.filter((r) => r.url.startsWith("/api/"))).toEqual([]);
    } finally {
      await gs.close();
    }
  });

  it("GNU social named by host:port (https, /api): one probe, then StatusNet at /api, remembered", async () => {
    const tls = testCertificate();
    const gs = await startServer({ tls });
    try {
      const host = new URL(gs.origin).host;
      const sc = new Scenario({ IDENTICA_PASSWORD: PASSWORD });
      const args = ["post", "--server", host, "--user", "alice", "--cacert", tls.certPath, "-o", "id"];
      expect((await sc.run([...args, fresh("gnu social host")])).code).toBe(0);
      expect(gs.requests.filter((r) => r.url === "/api/v1/instance")).toHaveLength(1);
      expect(gs.requests.some((r) => r.url.startsWith("/api/statuses/update."))).toBe(true);
      expect(apisJson(sc)).toEqual({ [host]: "statusnet" });
      gs.requests.length = 0;
      expect((await sc.run([...args, fresh("gnu social host 2")])).code).toBe(0);
      expect(gs.requests.filter((r) => r.url === "/api/v1/instance")).toEqual([]);
      // A StatusNet server and a Mastodon-only option: 64 before anything is sent, now that it is known.
      gs.requests.length = 0;
      const cw = await sc.run([...args, "--cw", "spoilers", fresh("cw on statusnet")]);
      expectFailure(cw, 64, /--cw needs a Mastodon-API server/);
      expect(gs.requests).toEqual([]);
    } finally {
      await gs.close();
    }
  });
});

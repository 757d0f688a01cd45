import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectNoSecret, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

const h = useHttpsServer();
const b64 = Buffer.from(`alice:${PASSWORD}`).toString("base64");

describe("identica post over HTTPS against the GNU social look-alike", () => {
  it("limit lookup, challenge, one retry with Basic, same bytes, one connection; pretty output", async () => {
    const text = uniqueText("hello");
    const cache = mkdtempSync(join(tmpdir(), "identica-cache-"));
    const r = await runCli(["post", ...h.args, text], { env: { ...h.env, XDG_CACHE_HOME: cache } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const reqs = h.server.requests;
    expect(reqs.map((q) => [q.method, q.url, q.headers.authorization === undefined ? "-" : "auth"])).toEqual([
      ["GET", "/api/statusnet/config.xml", "-"],
      ["POST", "/api/statuses/update.xml", "-"],
      ["POST", "/api/statuses/update.xml", "auth"],
    ]);
    const [, first, second] = reqs as [(typeof reqs)[0], (typeof reqs)[0], (typeof reqs)[0]];
    expect(second.headers.authorization).toBe(`Basic ${b64}`);
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.headers["content-length"]).toBe(first.headers["content-length"]);
    expect(first.headers["content-type"]).toBe("application/x-www-form-urlencoded; charset=utf-8");
    expect(first.headers["user-agent"]).toMatch(/^identica\/\d+\.\d+\.\d+ /);
    expect(first.headers["accept-encoding"]).toBeUndefined();
    expect(new URLSearchParams(first.body.toString()).get("status")).toBe(text);
    expect(new URLSearchParams(first.body.toString()).get("source")).toBe("identica");
    expect(new Set(reqs.map((q) => q.connection)).size).toBe(1);

    // The limit is cached for a day and the protection space remembered: the next post is one request.
    h.server.requests.length = 0;
    const again = await runCli(["post", ...h.args, "-o", "none", uniqueText("cached")], {
      env: { ...h.env, XDG_CACHE_HOME: cache },
    });
    expect(again.code).toBe(0);
    expect(h.server.requests.map((q) => [q.url, q.headers.authorization])).toEqual([
      ["/api/statuses/update.xml", `Basic ${b64}`],
    ]);
    h.server.requests.length = 0;
    h.server.requests.push(first, second);
    const notice = h.server.store.notices.at(-2);
    expect(notice?.text).toBe(text);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("Alice Example @alice");
    expect(lines[1]).toBe(text);
    expect(lines[2]).toMatch(/^just now \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) · via identica$/);
    expect(lines[3]).toBe(`${h.server.origin}/notice/${notice?.id}`);
    expect(lines.slice(4)).toEqual([""]);
    expectNoSecret(r, PASSWORD);
  });

  it("global options work after the command name and before it", async () => {
    const before = await runCli([...h.args, "-o", "id", "post", uniqueText("before")], { env: h.env });
    const after = await runCli(["post", "-o", "id", ...h.args, uniqueText("after")], { env: h.env });
    expect(before.code).toBe(0);
    expect(after.code).toBe(0);
    expect(before.stdout).toMatch(/^\d+\n$/);
    expect(after.stdout).toMatch(/^\d+\n$/);
  });

  it("server and user from IDENTICA_SERVER / IDENTICA_USER, and from the config file", async () => {
    const env = { ...h.env, IDENTICA_SERVER: h.server.apiRoot, IDENTICA_USER: "alice" };
    const r = await runCli(["post", "--cacert", h.certPath, "-o", "id", uniqueText("env")], { env });
    expect(r.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "identica-cfg-"));
    const cfg = join(dir, "config.json");
    writeFileSync(
      cfg,
      JSON.stringify({ server: h.server.apiRoot, servers: { [h.server.apiRoot]: { user: "alice" } } }),
    );
    const c = await runCli(["post", "--cacert", h.certPath, "-o", "id", uniqueText("cfg")], {
      env: { ...h.env, IDENTICA_CONFIG: cfg },
    });
    expect(c.code).toBe(0);
    expect(h.server.requests.at(-1)?.headers.authorization).toBe(`Basic ${b64}`);
  });

  describe("-o modes", () => {
    it("json: the stable shape", async () => {
      const text = uniqueText("json");
      const r = await runCli(["post", ...h.args, "-o", "json", text], { env: h.env });
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      const id = String(h.server.store.notices.at(-1)?.id);
      expect(doc).toEqual({
        id,
        text,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        url: `${h.server.origin}/notice/${id}`,
        inReplyToId: null,
        inReplyToScreenName: null,
        conversationId: id,
        source: "identica",
        user: { id: "2", screenName: "alice", name: "Alice Example" },
      });
    });
    it("xml: the server's reply body as received", async () => {
      const r = await runCli(["post", ...h.args, "-o", "xml", uniqueText("xml")], { env: h.env });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<status xmlns:statusnet=/);
      expect(r.stdout).toContain(`<id>${h.server.store.notices.at(-1)?.id}</id>`);
    });
    it("id, url, none", async () => {
      const id = await runCli(["post", ...h.args, "-o", "id", uniqueText("id")], { env: h.env });
      expect(id.stdout).toBe(`${h.server.store.notices.at(-1)?.id}\n`);
      const url = await runCli(["post", ...h.args, "-o", "url", uniqueText("url")], { env: h.env });
      expect(url.stdout).toBe(`${h.server.origin}/notice/${h.server.store.notices.at(-1)?.id}\n`);
      const none = await runCli(["post", ...h.args, "-o", "none", uniqueText("none")], { env: h.env });
      expect({ code: none.code, stdout: none.stdout, stderr: none.stderr }).toEqual({
        code: 0,
        stdout: "",
        stderr: "",
      });
    });
    it("-q prints nothing but still posts", async () => {
      const text = uniqueText("quiet");
      const r = await runCli(["post", ...h.args, "-q", text], { env: h.env });
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
        code: 0,
        stdout: "",
        stderr: "",
      });
      expect(h.server.store.notices.at(-1)?.text).toBe(text);
    });
    it("--format json asks for .json and prints the same", async () => {
      const text = uniqueText("wire json");
      const r = await runCli(["post", ...h.args, "--format", "json", "-o", "json", text], { env: h.env });
      expect(r.code).toBe(0);
      expect(h.server.requests.map((q) => q.url)).toEqual([
        "/api/statusnet/config.json",
        "/api/statuses/update.json",
        "/api/statuses/update.json",
      ]);
      expect(JSON.parse(r.stdout)).toMatchObject({ text, user: { screenName: "alice" }, source: "identica" });
    });
    it("--reply-to sends in_reply_to_status_id and shows what it answers", async () => {
      const parent = await runCli(["post", ...h.args, "-o", "id", uniqueText("parent")], { env: h.env });
      const pid = parent.stdout.trim();
      const r = await runCli(["post", ...h.args, "--reply-to", pid, uniqueText("child")], { env: h.env });
      expect(r.code).toBe(0);
      expect(
        new URLSearchParams(h.server.requests.at(-1)?.body.toString()).get("in_reply_to_status_id"),
      ).toBe(pid);
      expect(r.stdout).toContain(`in reply to #${pid} by @alice`);
      const j = await runCli(
        ["post", ...h.args, "--format", "json", "-o", "json", "--reply-to", pid, uniqueText("c2")],
        {
          env: h.env,
        },
      );
      expect(JSON.parse(j.stdout)).toMatchObject({ inReplyToId: pid, inReplyToScreenName: "alice" });
    });
  });

  describe("colour", () => {
    const ansi = /\u001b\[/;
    it("none on a pipe; FORCE_COLOR and --color turn it on; NO_COLOR and --no-color win", async () => {
      expect((await runCli(["post", ...h.args, uniqueText("c1")], { env: h.env })).stdout).not.toMatch(ansi);
      expect(
        (await runCli(["post", ...h.args, uniqueText("c2")], { env: { ...h.env, FORCE_COLOR: "1" } })).stdout,
      ).toMatch(ansi);
      expect((await runCli(["post", ...h.args, "--color", uniqueText("c3")], { env: h.env })).stdout).toMatch(
        ansi,
      );
      const both = await runCli(["post", ...h.args, uniqueText("c4")], {
        env: { ...h.env, FORCE_COLOR: "1", NO_COLOR: "1" },
      });
      expect(both.stdout).not.toMatch(ansi);
      const no = await runCli(["post", ...h.args, "--no-color", uniqueText("c5")], {
        env: { ...h.env, FORCE_COLOR: "1" },
      });
      expect(no.stdout).not.toMatch(ansi);
      const json = await runCli(["post", ...h.args, "-o", "json", uniqueText("c6")], {
        env: { ...h.env, FORCE_COLOR: "1" },
      });
      expect(json.stdout).not.toMatch(ansi);
    });
  });

  describe("stdin", () => {
    it("reads a piped multi-line text, drops one trailing newline", async () => {
      const text = `${uniqueText("line one")}\nline two`;
      const r = await runCli(["post", ...h.args, "-o", "id"], { env: h.env, input: `${text}\n` });
      expect(r.code).toBe(0);
      expect(h.server.store.notices.at(-1)?.text).toBe(text);
    });
    it("'-' reads stdin too", async () => {
      const text = uniqueText("dash");
      const r = await runCli(["post", ...h.args, "-o", "id", "-"], { env: h.env, input: `${text}\n\n` });
      expect(r.code).toBe(0);
      expect(h.server.store.notices.at(-1)?.text).toBe(`${text}\n`.trim());
    });
    it("form encoding round-trips + & = % newlines and emoji exactly (docs/threats.md E9)", async () => {
      const text = `${uniqueText("a+b c&d=e%")} 1+1=2 naïve 日本語 😀🎉\tend`;
      const r = await runCli(["post", ...h.args, "-o", "json", text], { env: h.env });
      expect(r.code).toBe(0);
      expect(h.server.store.notices.at(-1)?.text).toBe(text);
      // The XML reply turns tabs and newlines into spaces (common_xml_safe_str, docs/statusnet-api.md §2.5).
      expect(JSON.parse(r.stdout).text).toBe(text.replace("\t", " "));
    });
  });

  it("--password-file (mode 0600) supplies the password", async () => {
    const dir = mkdtempSync(join(tmpdir(), "identica-pw-"));
    const file = join(dir, "pw");
    writeFileSync(file, `${PASSWORD}\nsecond line ignored\n`);
    chmodSync(file, 0o600);
    const r = await runCli(["post", ...h.args, "--password-file", file, "-o", "id", uniqueText("pwfile")], {
      env: { IDENTICA_PASSWORD: "wrong, and the file comes first" },
    });
    expect(r.code).toBe(0);
    expect(h.server.requests.at(-1)?.headers.authorization).toBe(`Basic ${b64}`);
  });

  it("-v writes the exchange to stderr with Authorization redacted", async () => {
    const r = await runCli(["post", ...h.args, "-v", "-o", "id", uniqueText("verbose")], { env: h.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^> POST \/api\/statuses\/update\.xml HTTP\/1\.1$/m);
    expect(r.stderr).toMatch(/^< HTTP\/1\.1 401$/m);
    expect(r.stderr).toMatch(/^< www-authenticate: Basic realm="Realserver Test API"$/m);
    expect(r.stderr).toMatch(/^> authorization: Basic <redacted>$/m);
    expect(r.stderr).toMatch(/^< HTTP\/1\.1 200$/m);
    expect(r.stderr).toMatch(/password for alice at https:\/\/127\.0\.0\.1:\d+ from IDENTICA_PASSWORD/);
    expect(r.stderr).toMatch(/re-using connection #1/);
    expect(r.stdout).toMatch(/^\d+\n$/);
    expectNoSecret(r, PASSWORD);
  });

  it("--dry-run prints the request and sends nothing", async () => {
    const r = await runCli(["post", ...h.args, "--dry-run", "--reply-to", "7", "dry & run"], { env: h.env });
    expect(r.code).toBe(0);
    expect(h.server.requests).toHaveLength(0);
    const lines = r.stdout.split("\n");
    expect(lines[1]).toMatch(/^User-Agent: identica\/\d+\.\d+\.\d+ /);
    expect([lines[0], ...lines.slice(2)]).toEqual([
      `POST ${h.server.apiRoot}/statuses/update.xml`,
      "Accept: application/xml",
      "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
      "Content-Length: 58",
      "Authorization: Basic <redacted> (only after the server's challenge, as alice)",
      "",
      "status=dry+%26+run&source=identica&in_reply_to_status_id=7",
      "",
    ]);
    expectNoSecret(r, PASSWORD);
  });

  it("a closed stdout after a successful post still exits 0 (docs/threats.md H1)", async () => {
    const text = uniqueText("epipe");
    const r = await runCli(["post", ...h.args, text], { env: h.env, closeStdout: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(h.server.store.notices.at(-1)?.text).toBe(text);
  });

  it("several challenges in one header, or in several header lines, still find Basic (B7, B8)", async () => {
    const realm = 'Basic realm="Realserver Test API"';
    h.server.faults.push({
      fault: { kind: "challenge", values: [`Newauth realm="apps", type=1, title="x, y", ${realm}`] },
    });
    expect((await runCli(["post", ...h.args, "-o", "id", uniqueText("multi")], { env: h.env })).code).toBe(0);
    h.server.faults.length = 0;
    h.server.faults.push({ fault: { kind: "challenge", values: ['Newauth realm="newauth"', realm] } });
    expect((await runCli(["post", ...h.args, "-o", "id", uniqueText("lines")], { env: h.env })).code).toBe(0);
  });

  it("a server that closes the connection after each reply still gets its retry (on a new connection)", async () => {
    h.server.faults.push({ fault: { kind: "no-keep-alive" } });
    const before = h.server.connections();
    const r = await runCli(["post", ...h.args, "-o", "id", uniqueText("close")], { env: h.env });
    expect(r.code).toBe(0);
    // The limit lookup, the challenged post and the retry: three requests, three connections.
    expect(h.server.connections() - before).toBe(3);
  });

  it("NODE_EXTRA_CA_CERTS works in place of --cacert", async () => {
    const r = await runCli(
      ["post", "--server", h.server.apiRoot, "--user", "alice", "-o", "id", uniqueText("extra ca")],
      {
        env: { ...h.env, NODE_EXTRA_CA_CERTS: h.certPath },
      },
    );
    expect(r.code).toBe(0);
  });
});

import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectFailure, expectNoSecret, type RunResult, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { expiredCertificate, makeCertificate } from "../server/tls.js";

/**
 * The fault suite: one test per row of docs/threats.md §A, C, E, F, G, H that applies to a poster and is
 * not already pinned in exit-codes, outbox, signals or keychain tests. Each asserts the exit code, that
 * no secret was printed, and where the status went.
 */
const h = useHttpsServer();
let plain: TestServer;
const rawServers: Server[] = [];
beforeAll(async () => {
  plain = await startServer();
});
afterAll(async () => {
  await plain.close();
  for (const s of rawServers) s.close();
});

function outboxOf(r: RunResult): { sent: boolean; exitCode: number; text: string } {
  const path = /^identica: the status is saved in the outbox: (\S+) /m.exec(r.stderr)?.[1];
  expect(path, r.stderr).toBeDefined();
  return JSON.parse(readFileSync(path as string, "utf8"));
}

/** A raw TCP server on loopback, for replies a well-behaved HTTP server cannot produce. */
/** A post of `text` to a raw server on `port` (no limit lookup: --max-length 0). */
function postToRaw(port: number, text: string) {
  return post(["--server", `http://127.0.0.1:${port}/api`, "--user", "alice", "--max-length", "0", text]);
}

async function raw(onConnection: (sock: import("node:net").Socket) => void): Promise<number> {
  const s = createServer(onConnection);
  rawServers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as { port: number }).port;
}

const post = (args: string[], env: Record<string, string | undefined> = h.env) =>
  runCli(["post", ...args], { env });
const posts = (s: TestServer) => s.requests.filter((q) => q.url.startsWith("/api/statuses/update."));

describe("A: credentials go nowhere but their origin", () => {
  it.each([
    [
      "another scheme on the same port",
      () => `http://127.0.0.1:${new URL(h.server.origin).port}/api/statuses/update.xml`,
    ],
    ["another port", () => `${plain.apiRoot}/statuses/update.xml`],
  ])("A6 a redirect to %s is not followed", async (_name, target) => {
    h.server.faults.push({ fault: { kind: "redirect", status: 307, location: target() } });
    plain.requests.length = 0;
    const text = uniqueText("redirected");
    const r = await post([...h.args, text]);
    expectFailure(r, 69, /redirected \(307\)/);
    expect(plain.requests).toHaveLength(0);
    expect(outboxOf(r)).toMatchObject({ text, sent: false });
    expectNoSecret(r, PASSWORD);
  });
  it("A7/G9 a CONNECT proxy (HTTPS_PROXY or --proxy) never sees the site's credentials; --cacert works through it", async () => {
    const seen: string[] = [];
    const proxy: HttpServer = createHttpServer();
    proxy.on("connect", (req, socket, head) => {
      seen.push(JSON.stringify(req.headers));
      const [host, port] = (req.url ?? "").split(":");
      const upstream = connect(Number(port), host, () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const r = await post([...h.args, "-o", "id", uniqueText("via proxy")], {
      ...h.env,
      HTTPS_PROXY: proxyUrl,
      NO_PROXY: "",
    });
    expect(r.code).toBe(0);
    // One tunnel for the whole post (limit lookup, challenge, retry), and no site credential in it.
    expect(seen).toHaveLength(1);
    for (const headers of seen) expect(headers.toLowerCase()).not.toContain("authorization");
    expectNoSecret(r, PASSWORD);
    // --proxy says the same without the environment; --no-proxy goes direct.
    const viaFlag = await post(
      [...h.args, "--proxy", proxyUrl, "-o", "id", uniqueText("via --proxy")],
      h.env,
    );
    expect(viaFlag.code).toBe(0);
    expect(seen).toHaveLength(2);
    const direct = await post([...h.args, "--no-proxy", "-o", "id", uniqueText("direct")], {
      ...h.env,
      HTTPS_PROXY: proxyUrl,
    });
    expect(direct.code).toBe(0);
    expect(seen).toHaveLength(2);
    const bypass = await post([...h.args, "-o", "id", uniqueText("no_proxy")], {
      ...h.env,
      HTTPS_PROXY: proxyUrl,
      NO_PROXY: "127.0.0.1",
    });
    expect(bypass.code).toBe(0);
    expect(seen).toHaveLength(2);
    proxy.close();
  });
  it("G9 a proxy that refuses the tunnel (407): nothing reached the site, so 75 and the entry not sent", async () => {
    const proxy: HttpServer = createHttpServer();
    proxy.on("connect", (_req, socket) => {
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\n\r\n',
      );
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const text = uniqueText("refused tunnel");
    const r = await post([...h.args, "--proxy", proxyUrl, "--max-length", "0", text], h.env);
    expectFailure(r, 75, /nothing was sent/);
    expect(outboxOf(r)).toMatchObject({ text, sent: false });
    proxy.close();
  });
  it("A9 NODE_DEBUG=undici,net, DEBUG=* and -v print no secret", async () => {
    const r = await post([...h.args, "-v", uniqueText("debug")], {
      ...h.env,
      NODE_DEBUG: "undici,net,tls,http",
      DEBUG: "*",
    });
    expect(r.code).toBe(0);
    expectNoSecret(r, PASSWORD);
  });
  it("B17/C6 a password with CR/LF is refused before anything is encoded or sent", async () => {
    const r = await post([...h.args, uniqueText("crlf")], { IDENTICA_PASSWORD: "a\r\nX-Evil: 1" });
    expectFailure(r, 78, /contains a control character/);
    expect(posts(h.server)).toHaveLength(1);
    expect(h.server.requests.every((q) => q.headers["x-evil"] === undefined)).toBe(true);
  });
});

describe("C and G: the network misbehaves", () => {
  it("G: a reset before the request is written (TLS handshake): 75, nothing was sent", async () => {
    const port = await raw((sock) => sock.destroy());
    const text = uniqueText("reset early");
    const r = await post([
      "--server",
      `https://127.0.0.1:${port}/api`,
      "--user",
      "alice",
      "--max-length",
      "0",
      text,
    ]);
    expectFailure(r, 75, /nothing was sent/);
    expect(outboxOf(r)).toMatchObject({ text, sent: false, exitCode: 75 });
  });
  it("C: huge response headers to the authenticated post: 76", async () => {
    const port = await raw((sock) => {
      sock.on("data", (d: Buffer) => {
        if (!/\r\nauthorization:/i.test(d.toString("latin1"))) {
          sock.write(
            'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n',
          );
        } else sock.end(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`);
      });
      sock.on("error", () => {});
    });
    const text = uniqueText("big headers");
    const r = await postToRaw(port, text);
    expectFailure(r, 76, /may have been posted/);
    expect(outboxOf(r)).toMatchObject({ text, sent: true, exitCode: 76 });
  });
  it("C: a malformed reply to the request without credentials (a broken 401): 75, nothing was posted", async () => {
    const port = await raw((sock) => {
      sock.once("data", () =>
        sock.end('HTTP/1.1 401 Unauthorized\r\nWWW-Au\x01thenticate: Basic realm="x"\r\n\r\n'),
      );
      sock.on("error", () => {});
    });
    const text = uniqueText("broken 401");
    const r = await postToRaw(port, text);
    expectFailure(r, 75, /to the request sent without credentials could not be read .*; nothing was posted/);
    expect(outboxOf(r)).toMatchObject({ text, sent: false, exitCode: 75 });
  });
  it("C3 a gzip bomb is not decompressed: 76", async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 200,
        body: bomb as unknown as string,
        headers: { "content-encoding": "gzip" },
      },
      when: "authenticated",
    });
    const r = await post([...h.args, uniqueText("gzip")]);
    expectFailure(r, 76, /the reply is compressed \(gzip\)/);
  });
  it.each([502, 504, 500])("G7 a %i is not retried (one authenticated request): 69", async (status) => {
    h.server.faults.push({
      fault: { kind: "reply", status, body: "gateway", contentType: "text/plain" },
      when: "authenticated",
    });
    const r = await post([...h.args, uniqueText(`g${status}`)]);
    // 502 and 504 come from a gateway: the server behind it may have posted, so it is kept uncertain.
    expectFailure(
      r,
      69,
      status === 500
        ? /server error 500/
        : new RegExp(`answered ${status} from its gateway.*may have posted`),
    );
    expect(outboxOf(r).sent).toBe(status !== 500);
    expect(posts(h.server).filter((q) => q.headers.authorization)).toHaveLength(1);
  });
  it("G4 an expired certificate: 69, nothing sent, the status kept", async () => {
    const expired = expiredCertificate();
    const server = await startServer({ tls: expired });
    const text = uniqueText("expired");
    const r = await post([
      "--server",
      server.apiRoot,
      "--user",
      "alice",
      "--cacert",
      expired.certPath,
      "--max-length",
      "0",
      text,
    ]);
    await server.close();
    expectFailure(r, 69, /certificate problem with 127\.0\.0\.1:\d+: CERT_HAS_EXPIRED; nothing was sent/);
    expect(server.requests).toHaveLength(0);
    expect(outboxOf(r)).toMatchObject({ text, sent: false, exitCode: 69 });
  });
  it("G4 a certificate for another name: 69", async () => {
    const otherName = makeCertificate("DNS:other.example", "other.example");
    const other = await startServer({ tls: otherName });
    const r = await post([
      "--server",
      other.apiRoot,
      "--user",
      "alice",
      "--cacert",
      otherName.certPath,
      "--max-length",
      "0",
      uniqueText("altname"),
    ]);
    await other.close();
    expectFailure(r, 69, /certificate problem with 127\.0\.0\.1:\d+: ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(other.requests).toHaveLength(0);
  });
});

describe("F: replies", () => {
  it("F5 an XML bomb is refused without expanding it: 76", async () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><status><id>1</id><text>&lol3;</text></status>`;
    h.server.faults.push({ fault: { kind: "reply", status: 200, body: bomb }, when: "authenticated" });
    expectFailure(await post([...h.args, uniqueText("bomb")]), 76, /DOCTYPE/);
  });
  it("F6 a reply in ISO-8859-1 is decoded as declared", async () => {
    const xml =
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n<status><text>caf\u00e9</text><id>77</id><user><id>2</id><name>Alice</name><screen_name>alice</screen_name></user></status>';
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 200,
        body: Buffer.from(xml, "latin1") as unknown as string,
        contentType: "application/xml; charset=ISO-8859-1",
      },
      when: "authenticated",
    });
    const r = await post([...h.args, "-o", "json", "café"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: "77", text: "café" });
  });
});

describe("H: the terminal and the process", () => {
  it("H3 escape sequences in a server message are shown, not obeyed", async () => {
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 400,
        body: '{"error":"bad \\u001b]0;pwned\\u0007\\u001b[2J thing"}',
        contentType: "application/json",
      },
      when: "authenticated",
    });
    const r = await post([...h.args, "--format", "json", uniqueText("escapes")]);
    expectFailure(r, 65, /bad \^\[\]0;pwned\^G\^\[\[2J thing/);
    expect(r.stderr).not.toMatch(/\u001b/);
  });
  it("H4 a cron-like environment (no TTY, stdin /dev/null, minimal env) fails fast with a clear message", async () => {
    const r = await runCli(["post"], { env: { ...h.env, LANG: undefined, TZ: undefined } });
    expectFailure(r, 78, /no server configured/);
    const empty = await runCli(["post", "--server", h.server.apiRoot], { env: h.env });
    expectFailure(empty, 64, /the status text is empty/);
  });
});

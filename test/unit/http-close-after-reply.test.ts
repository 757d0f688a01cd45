// A server that says nothing about its connection and closes it a moment after each reply (snac over
// plain http writes its answer and closes): a write sent on that connection in the meantime dies with
// its outcome unknown (76), which made every few `post --lines` to snac keep a line it had not posted.
// A write after such a reply goes on a new connection; a keep-alive server's connection is reused.

import type { AddressInfo } from "node:net";
import { createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HttpSession } from "../../src/http/client.js";

interface Raw {
  origin: string;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

/** One request per connection, answered `200 ok`; `keepAlive` adds the header, else it closes 50 ms later. */
async function rawServer(keepAlive: boolean): Promise<Raw> {
  const sockets = new Set<Socket>();
  const raw = { connections: 0, requests: [] as string[] } as Raw;
  const server = createServer((socket) => {
    raw.connections++;
    sockets.add(socket);
    let buf = "";
    socket.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.slice(0, end);
        const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.slice(end + 4 + length);
        raw.requests.push(head.split("\r\n")[0] as string);
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n${keepAlive ? "Connection: keep-alive\r\n" : ""}\r\nok`,
        );
        // snac's way: nothing more on this connection, and it is closed after the reply.
        if (!keepAlive) setTimeout(() => socket.destroy(), 50);
      }
    });
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  raw.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  raw.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return raw;
}

const config = { timeoutMs: 5000, userAgent: "identica/test", maxResponseBytes: 1 << 20 };
let open: Raw | undefined;
afterEach(async () => {
  await open?.close();
});

describe("a write after a reply that did not say keep-alive", () => {
  it("goes on a new connection, and is answered", async () => {
    open = await rawServer(false);
    const s = new HttpSession(open.origin, config);
    try {
      const get = await s.send({ method: "GET", url: new URL("/a", open.origin), accept: "*/*" });
      expect(get.status).toBe(200);
      const post = await s.send({
        method: "POST",
        url: new URL("/b", open.origin),
        accept: "*/*",
        form: "x=1",
      });
      expect(post.status).toBe(200);
      expect(open.connections).toBe(2);
    } finally {
      await s.close();
    }
  });

  it("a keep-alive server's connection is reused for the write", async () => {
    open = await rawServer(true);
    const s = new HttpSession(open.origin, config);
    try {
      await s.send({ method: "GET", url: new URL("/a", open.origin), accept: "*/*" });
      const post = await s.send({
        method: "POST",
        url: new URL("/b", open.origin),
        accept: "*/*",
        form: "x=1",
      });
      expect(post.status).toBe(200);
      expect(open.connections).toBe(1);
    } finally {
      await s.close();
    }
  });
});

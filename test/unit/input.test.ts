import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseServer } from "../../src/config/server.js";
import { codePointLength, MAX_STDIN_BYTES, readStatusText } from "../../src/core/text.js";
import { ExitCode, type IdenticaError } from "../../src/errors.js";

function stdin(data: string | Buffer, isTTY = false) {
  const s = Readable.from(typeof data === "string" ? [Buffer.from(data)] : [data]) as Readable & {
    isTTY?: boolean;
  };
  s.isTTY = isTTY;
  return s;
}

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (err) {
    return (err as IdenticaError).exitCode;
  }
}

describe("status text (docs/cli.md 'Status text', docs/threats.md E)", () => {
  it("joins words with single spaces", async () => {
    expect(await readStatusText({ args: ["hello", "big  world"], stdin: stdin("") })).toBe(
      "hello big  world",
    );
  });
  it("reads stdin for '-' or no argument, keeps lines, drops one trailing newline", async () => {
    expect(await readStatusText({ args: ["-"], stdin: stdin("a\nb\n\n") })).toBe("a\nb\n");
    expect(await readStatusText({ args: [], stdin: stdin("x\r\n") })).toBe("x");
  });
  it("drops one leading BOM (E5)", async () => {
    expect(await readStatusText({ args: [], stdin: stdin("\uFEFFhi") })).toBe("hi");
  });
  it("empty, whitespace-only and zero-width-only text is a usage error (E1, E2)", async () => {
    for (const t of ["", "\n", " \t\n ", "\u00A0\u3000", "\u200B\u2060"]) {
      expect(await codeOf(readStatusText({ args: [], stdin: stdin(t) }))).toBe(ExitCode.Usage);
    }
    expect(await codeOf(readStatusText({ args: ["  "], stdin: stdin("") }))).toBe(ExitCode.Usage);
  });
  it("refuses invalid UTF-8, NUL and other control characters (E4, E6) with 65", async () => {
    expect(await codeOf(readStatusText({ args: [], stdin: stdin(Buffer.from([0x68, 0x69, 0xff])) }))).toBe(
      ExitCode.Data,
    );
    expect(await codeOf(readStatusText({ args: [], stdin: stdin("a\0b") }))).toBe(ExitCode.Data);
    expect(await codeOf(readStatusText({ args: ["a\u001b[2Jb"], stdin: stdin("") }))).toBe(ExitCode.Data);
    expect(await codeOf(readStatusText({ args: ["bad\uFFFD"], stdin: stdin("") }))).toBe(ExitCode.Data);
  });
  it("keeps tabs and newlines", async () => {
    expect(await readStatusText({ args: ["a\tb\nc"], stdin: stdin("") })).toBe("a\tb\nc");
  });
  it("refuses stdin over 1 MiB without reading it all (E7)", async () => {
    let served = 0;
    const endless = new Readable({
      read() {
        served += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x61));
      },
    }) as Readable & { isTTY?: boolean };
    expect(await codeOf(readStatusText({ args: [], stdin: endless }))).toBe(ExitCode.Usage);
    expect(served).toBeLessThan(MAX_STDIN_BYTES + 256 * 1024);
  });
  it("no text and a terminal on stdin is a usage error, without reading (E8)", async () => {
    expect(await codeOf(readStatusText({ args: [], stdin: stdin("never read", true) }))).toBe(ExitCode.Usage);
  });
  it("counts code points as the server does (E3)", () => {
    expect(codePointLength("👍🏽")).toBe(2);
    expect(codePointLength("👨‍👩‍👧‍👦")).toBe(7);
    expect(codePointLength("é".repeat(1000))).toBe(1000);
  });
});

describe("server URLs (docs/cli.md 'Servers and accounts', docs/threats.md A5)", () => {
  it("a bare host or host:port means https://…/api", () => {
    expect(parseServer("social.example")).toMatchObject({
      root: "https://social.example/api",
      key: "social.example",
      webRoot: "https://social.example",
    });
    expect(parseServer("Social.Example:8443")).toMatchObject({
      root: "https://social.example:8443/api",
      key: "social.example:8443",
      origin: "https://social.example:8443",
    });
    expect(parseServer("[::1]:8443").key).toBe("[::1]:8443");
  });
  it("a URL is the API root as written; the web root drops the last /api", () => {
    expect(parseServer("https://s.example/index.php/api/")).toMatchObject({
      root: "https://s.example/index.php/api",
      webRoot: "https://s.example/index.php",
    });
    expect(parseServer("http://127.0.0.1:8080/api").key).toBe("127.0.0.1:8080");
    expect(parseServer("https://s.example:443/api").key).toBe("s.example");
    expect(parseServer("EXAMPLE.ORG.").key).toBe("example.org.");
  });
  it("refuses userinfo, other schemes, queries and fragments", () => {
    for (const bad of [
      "https://example.org@evil.test/",
      "https://example.org:x@evil.test/api",
      "https://@evil.test/api",
      "ftp://example.org/api",
      "https://example.org/api?x=1",
      "https://example.org/api#f",
      "example.org/api",
      "user@example.org",
      "https://exa%2Fmple.org/api",
      "",
    ]) {
      expect(() => parseServer(bad), bad).toThrow();
    }
  });
  it("normalises confusable hosts the way the connection will see them", () => {
    expect(parseServer("https://example.org\u3002evil.test/api").key).toBe("example.org.evil.test");
    expect(parseServer("https://0x7f.1/api").key).toBe("127.0.0.1");
  });
});

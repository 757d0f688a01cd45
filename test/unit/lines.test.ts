import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  type Line,
  LineSplitter,
  lineText,
  MAX_LINE_BYTES,
  QUOTE_WHOLE_MAX_CHARS,
  quoteLine,
  splitLines,
} from "../../src/core/lines.js";
import { ExitCode, type IdenticaError } from "../../src/errors.js";

async function collect(chunks: (string | Buffer)[], maxBytes?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of splitLines(Readable.from(chunks), maxBytes)) out.push(line);
  return out;
}

/** The lines as strings ("!n" for a line refused as too long, n its size). */
async function texts(chunks: (string | Buffer)[], maxBytes?: number): Promise<string[]> {
  return (await collect(chunks, maxBytes)).map((l) => (l.tooLong ? `!${l.size}` : l.bytes.toString("utf8")));
}

/** The same input cut at every byte, and in one piece, must give the same lines. */
async function everySplit(input: string, maxBytes?: number): Promise<string[]> {
  const whole = await texts([input], maxBytes);
  const bytes = Buffer.from(input);
  expect(
    await texts(
      [...bytes].map((b) => Buffer.from([b])),
      maxBytes,
    ),
  ).toEqual(whole);
  for (let i = 0; i <= bytes.length; i++) {
    expect(await texts([bytes.subarray(0, i), bytes.subarray(i)], maxBytes)).toEqual(whole);
  }
  return whole;
}

function codeOf(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (err) {
    return (err as IdenticaError).exitCode;
  }
}

describe("splitLines (post --lines)", () => {
  it("ends lines at LF, CRLF and a lone CR, as readline did, wherever the chunks are cut", async () => {
    expect(await everySplit("a\nb\r\nc\rd\n")).toEqual(["a", "b", "c", "d"]);
    expect(await everySplit("a\n\nb\r\n\r\nc\r\rd")).toEqual(["a", "", "b", "", "c", "", "d"]);
    expect(await everySplit("\r\n\n")).toEqual(["", ""]);
    expect(await everySplit("")).toEqual([]);
  });

  it("a last line without an end counts; a final line end adds no empty line", async () => {
    expect(await everySplit("a\nlast")).toEqual(["a", "last"]);
    expect(await everySplit("a\nlast\r")).toEqual(["a", "last"]);
    expect(await everySplit("a\nlast\r\n")).toEqual(["a", "last"]);
  });

  it("numbers every line, empty ones too", async () => {
    expect((await collect(["x\n\ny\n"])).map((l) => l.lineNo)).toEqual([1, 2, 3]);
  });

  it("keeps UTF-8 split across chunks as bytes, whole", async () => {
    const lines = await collect([
      Buffer.from([0xc3]),
      Buffer.from([0xa9, 0x0a, 0xf0, 0x9f]),
      Buffer.from([0x98, 0x80]),
    ]);
    expect(lines.map((l) => lineText(l))).toEqual(["é", "😀"]);
  });

  it("yields a line as soon as its end arrives, before the stream ends", async () => {
    const input = new PassThrough();
    const it = splitLines(input)[Symbol.asyncIterator]();
    input.write("first\nsec");
    const first = await it.next();
    expect(first.done).toBe(false);
    expect((first.value as Line & { tooLong: false }).bytes.toString()).toBe("first");
    const second = it.next();
    input.write("ond\r");
    // A CR ends the line at once; the LF that may follow is not waited for.
    expect(((await second).value as Line & { tooLong: false }).bytes.toString()).toBe("second");
    input.end("\nthird");
    expect(((await it.next()).value as Line & { tooLong: false }).bytes.toString()).toBe("third");
    expect((await it.next()).done).toBe(true);
  });

  it("allows exactly maxBytes before the line end (LF or CRLF); one more byte is too long", async () => {
    expect(await everySplit("abcd\nabcd\r\nabcde\nab\n", 4)).toEqual(["abcd", "abcd", "!5", "ab"]);
    expect(await everySplit("abcd\rabcdef\r\nx", 4)).toEqual(["abcd", "!6", "x"]);
  });

  it("is 1 MiB by default, like post", async () => {
    const ok = "x".repeat(MAX_LINE_BYTES);
    expect(await texts([`${ok}\r\n${ok}y\nz`])).toEqual([ok, `!${MAX_LINE_BYTES + 1}`, "z"]);
  });

  it("drops the bytes of a long line as they stream by, keeping only its start", async () => {
    const chunk = Buffer.alloc(64 * 1024, "é");
    let given = 0;
    async function* huge() {
      yield Buffer.from("short\n");
      // 64 MiB without a line end: far more than any buffer the splitter may hold.
      for (let i = 0; i < 1024; i++) {
        given += chunk.length;
        yield chunk;
      }
      yield Buffer.from("\nafter");
    }
    const seen: Line[] = [];
    for await (const line of splitLines(huge())) seen.push(line);
    expect(given).toBe(64 * 1024 * 1024);
    expect(seen).toHaveLength(3);
    const long = seen[1] as Line & { tooLong: true };
    expect(long).toMatchObject({ lineNo: 2, tooLong: true, size: 64 * 1024 * 1024 });
    expect(long.head.length).toBeLessThanOrEqual(320);
    expect(lineText(seen[2] as Line)).toBe("after");
  });
});

describe("lineText", () => {
  const line = (bytes: number[] | string, lineNo = 2): Line => ({
    lineNo,
    tooLong: false,
    bytes: Buffer.from(bytes as never),
  });

  it("is strict UTF-8 on the bytes: invalid sequences are 65, a real U+FFFD is text", () => {
    expect(codeOf(() => lineText(line([0x61, 0xff, 0x62])))).toBe(ExitCode.Data);
    expect(codeOf(() => lineText(line([0xc3])))).toBe(ExitCode.Data); // cut inside a character
    expect(codeOf(() => lineText(line([0xed, 0xa0, 0x80])))).toBe(ExitCode.Data); // a lone surrogate
    expect(codeOf(() => lineText(line([0xc0, 0xaf])))).toBe(ExitCode.Data); // overlong "/"
    expect(lineText(line("a \uFFFD b"))).toBe("a \uFFFD b");
  });

  it("drops a BOM at the start of the stream only", () => {
    expect(lineText(line("\uFEFFhi", 1))).toBe("hi");
    expect(lineText(line("\uFEFFhi", 2))).toBe("\uFEFFhi");
  });

  it("refuses a too-long line in one short message quoting at most 80 characters, made safe", () => {
    const head = Buffer.from(`\u001b[2J${"é".repeat(200)}`).subarray(0, 320);
    let message = "";
    try {
      lineText({ lineNo: 3, tooLong: true, size: 5_000_000, head });
    } catch (err) {
      expect((err as IdenticaError).exitCode).toBe(ExitCode.Usage);
      message = (err as Error).message;
    }
    expect(message).toBe(
      `the line is 5000000 bytes long, over the limit of 1 MiB for a line; nothing was sent: ^[[2J${"é".repeat(76)}…`,
    );
    expect(message).not.toContain("\u001b");
  });
});

describe("quoteLine (a line over the server's limit)", () => {
  it("quotes a line that could be a status whole, keeping tabs, making controls visible", () => {
    expect(quoteLine("a\tb \u009b c")).toBe("a\tb \\x9b c");
    const long = "y".repeat(QUOTE_WHOLE_MAX_CHARS);
    expect(quoteLine(long)).toBe(long);
  });
  it("quotes only the first 80 characters of anything longer", () => {
    expect(quoteLine(`${"😀".repeat(80)}${"z".repeat(QUOTE_WHOLE_MAX_CHARS)}`)).toBe(`${"😀".repeat(80)}…`);
  });
});

describe("LineSplitter.unread (post --lines interrupted)", () => {
  const str = (l: Line | undefined) =>
    l === undefined ? undefined : l.tooLong ? `!${l.size}` : l.bytes.toString();

  it("hands over the rest of the chunk and what the stream still buffers, then the line without its end", () => {
    const s = new LineSplitter();
    s.push(Buffer.from("one\ntwo\r"));
    expect(str(s.next())).toBe("one");
    const { lines, partial } = s.unread([Buffer.from("\nthree\nfo"), Buffer.from("ur")], false);
    expect(lines.map(str)).toEqual(["two", "three"]);
    expect(lines.map((l) => l.lineNo)).toEqual([2, 3]);
    expect(str(partial)).toBe("four");
    expect(partial?.lineNo).toBe(4);
  });

  it("at the end of the input the last line is complete, and nothing is left over", () => {
    const s = new LineSplitter();
    s.push(Buffer.from("a\nb"));
    expect(str(s.next())).toBe("a");
    expect(str(s.next())).toBeUndefined();
    const { lines, partial } = s.unread([], true);
    expect(lines.map(str)).toEqual(["b"]);
    expect(partial).toBeUndefined();
    expect(new LineSplitter().unread([], false)).toEqual({ lines: [], partial: undefined });
  });

  it("a line over the limit stays too long", () => {
    const s = new LineSplitter(4);
    s.push(Buffer.from("ok\n123456"));
    expect(str(s.next())).toBe("ok");
    expect(str(s.unread([Buffer.from("78")], false).partial)).toBe("!8");
  });
});

describe("lineText keeps what it refuses", () => {
  it("bytes that are not UTF-8: the text with U+FFFD and the bytes, on the error", () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62]);
    try {
      lineText({ lineNo: 2, tooLong: false, bytes });
      expect.unreachable();
    } catch (err) {
      expect((err as { input: unknown }).input).toEqual({ text: "a\uFFFDb", bytes });
    }
  });
});

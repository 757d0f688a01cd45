import { writeFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { expectFailure } from "../helpers/cli.js";
import { whenIdle } from "../helpers/idle.js";
import { Scenario } from "../helpers/scenario.js";
import { killOnAuthenticatedPost, PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

/**
 * docs/cli.md "The outbox's promises": after any failure other than 0 and 64 the text is in the outbox —
 * also when identica itself refused it (65), when a signal came while stdin was still being read, and,
 * for `post --lines`, for every line already read but not yet sent. Each of these lost the text before.
 */
const h = useHttpsServer();
beforeEach(() => {
  h.server.clock.offsetMs = 0;
});
const scenario = () => new Scenario({ IDENTICA_PASSWORD: PASSWORD });
const copies = (text: string) => h.server.store.notices.filter((n) => n.text === text && !n.deleted).length;
const updates = () => h.server.requests.filter((r) => r.url.startsWith("/api/statuses/update."));

const KEPT_REFUSED =
  /^identica: the status is kept in the outbox, marked refused: (\S+\.json) \(outbox send skips it; fix its "text" in that file, then: identica outbox send --retry-refused (\S+); or remove it: identica outbox drop \2\)$/;

describe("a text identica refuses (65) is kept, marked refused", () => {
  it.each([
    ["a control character", (m: string) => Buffer.from(`beep\x07 ${m}\n`), /the control character U\+0007/],
    ["a NUL byte", (m: string) => Buffer.from(`nul\0 ${m}`), /contains a NUL byte/],
  ])(
    "%s on stdin: 65, kept as typed, never sent as is; fixed, --retry-refused posts it",
    async (_, input, why) => {
      const s = scenario();
      const marker = uniqueText("m");
      const bytes = input(marker);
      const r = await s.run(["post", ...h.args], { input: bytes });
      const path = expectFailure(r, 65, why);
      expect(r.stderr.split("\n")[1]).toMatch(KEPT_REFUSED);
      const [saved] = s.outbox();
      expect(saved?.file).toBe(path);
      expect(saved?.entry).toMatchObject({
        text: bytes.toString("utf8").replace(/\n$/, ""),
        server: h.server.apiRoot,
        user: "alice",
        refused: true,
        sent: false,
        exitCode: 65,
      });
      expect(saved?.entry.error).toMatch(why);
      // A plain send skips it; asked for as is, it is refused again: never sent with the character.
      expect((await s.run(["outbox", "send", ...h.args])).code).toBe(0);
      const again = await s.run(["outbox", "send", ...h.args, "--retry-refused", saved?.id as string]);
      expect(again.code).toBe(65);
      expect(again.stderr).toMatch(why);
      expect(updates()).toEqual([]);
      expect(s.outbox()[0]?.entry).toMatchObject({ refused: true, text: saved?.entry.text });
      // The user fixes the text in the file, then asks for it.
      const fixed = `fixed ${marker}`;
      writeFileSync(saved?.file as string, JSON.stringify({ ...saved?.entry, text: fixed }));
      const retry = await s.run(["outbox", "send", ...h.args, "--retry-refused", saved?.id as string]);
      expect(retry.code, retry.stderr).toBe(0);
      expect(copies(fixed)).toBe(1);
      expect(s.outbox()).toEqual([]);
    },
  );

  it("a control character in the arguments is kept too", async () => {
    const s = scenario();
    const text = `esc\x1b[2J ${uniqueText("m")}`;
    const r = await s.run(["post", ...h.args, text]);
    expectFailure(r, 65, /the control character U\+001B/);
    expect(s.outbox().map((e) => e.entry)).toMatchObject([{ text, refused: true, exitCode: 65 }]);
  });

  it("invalid UTF-8 on stdin: kept as U+FFFD text plus the exact bytes (base64); never sent until fixed", async () => {
    const s = scenario();
    const marker = uniqueText("m");
    const bytes = Buffer.concat([Buffer.from(`caf`), Buffer.from([0xe9]), Buffer.from(` ${marker}\n`)]);
    const r = await s.run(["post", ...h.args], { input: bytes });
    expectFailure(r, 65, /the text on stdin is not valid UTF-8/);
    expect(r.stderr.split("\n")[1]).toMatch(KEPT_REFUSED);
    const [saved] = s.outbox();
    expect(saved?.entry).toMatchObject({
      text: `caf\uFFFD ${marker}`,
      bytesBase64: bytes.toString("base64"),
      refused: true,
      exitCode: 65,
    });
    expect(Buffer.from(saved?.entry.bytesBase64 as string, "base64").equals(bytes)).toBe(true);
    // Asked for as is, it is refused again: the U+FFFD stand for bytes the user has not seen yet.
    const again = await s.run(["outbox", "send", ...h.args, "--retry-refused", saved?.id as string]);
    expect(again.code).toBe(65);
    expect(again.stderr).toMatch(/U\+FFFD/);
    expect(updates()).toEqual([]);
    const fixed = `café ${marker}`;
    writeFileSync(saved?.file as string, JSON.stringify({ ...saved?.entry, text: fixed }));
    const retry = await s.run(["outbox", "send", ...h.args, "--retry-refused", saved?.id as string]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(copies(fixed)).toBe(1);
  });

  it("post --lines: a line with a control character, NUL or invalid UTF-8 is kept refused; the others are posted", async () => {
    const s = scenario();
    const ok1 = uniqueText("ok1");
    const ok2 = uniqueText("ok2");
    const input = Buffer.concat([
      Buffer.from(`${ok1}\nbell\x07 line\nnul\0 line\nbad `),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(` line\n${ok2}\n`),
    ]);
    const r = await s.run(["post", ...h.args, "--lines", "-o", "none"], { input });
    expect(r.code).toBe(65);
    expect([copies(ok1), copies(ok2)]).toEqual([1, 1]);
    const lines = r.stderr.split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(
      /^identica: line 2: the text contains the control character U\+0007; nothing was sent$/,
    );
    expect(lines[1]).toMatch(
      /^identica: line 2 is kept in the outbox, marked refused: \S+\.json \(outbox send skips it; fix its "text"/,
    );
    expect(lines[2]).toMatch(/^identica: line 3: the text contains a NUL byte; nothing was sent$/);
    expect(lines[3]).toMatch(/^identica: line 3 is kept in the outbox, marked refused: /);
    expect(lines[4]).toMatch(/^identica: line 4: the line is not valid UTF-8; nothing was sent$/);
    expect(lines[5]).toMatch(/^identica: line 4 is kept in the outbox, marked refused: /);
    const kept = s.outbox().map((e) => e.entry);
    expect(kept).toHaveLength(3);
    expect(kept.map((e) => e.text).sort()).toEqual(["bad \uFFFD\uFFFD line", "bell\x07 line", "nul\0 line"]);
    for (const e of kept) expect(e).toMatchObject({ refused: true, sent: false, exitCode: 65 });
    const bad = kept.find((e) => e.text.startsWith("bad"));
    expect(Buffer.from(bad?.bytesBase64 as string, "base64")).toEqual(
      Buffer.concat([Buffer.from("bad "), Buffer.from([0xff, 0xfe]), Buffer.from(" line")]),
    );
  });
});

describe("a signal while stdin is still being read keeps what was read, marked refused", () => {
  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
    ["SIGHUP", 129],
  ] as const)("%s", async (signal, code) => {
    const s = scenario();
    const part1 = uniqueText("part1");
    const r = await s.run(["post", ...h.args], {
      keepStdinOpen: true,
      onSpawn: (child) => {
        child.stdin?.write(`${part1}\n`);
        // `{ echo part1; sleep 4; echo part2; } | identica post`, signalled during the sleep.
        whenIdle(child.pid).then(
          () => child.kill(signal),
          () => {},
        );
      },
    });
    expect(r.code).toBe(code);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe(`identica: interrupted (${signal}); nothing was posted`);
    expect(lines[1]).toMatch(
      /^identica: the status is kept in the outbox, marked refused: \S+\.json \(outbox send skips it; check and complete its "text" in that file, then: identica outbox send --retry-refused /,
    );
    const kept = s.outbox().map((e) => e.entry);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ text: part1, refused: true, sent: false, exitCode: code });
    expect(kept[0]?.error).toMatch(
      new RegExp(`interrupted \\(${signal}\\) while the text was being read.*may be incomplete`),
    );
    // Never sent on its own.
    expect((await s.run(["outbox", "send", ...h.args])).code).toBe(0);
    expect(updates()).toEqual([]);
  });
});

describe("post --lines: a signal keeps every line read but not yet sent", () => {
  it("SIGINT during line 1's post: line 1 kept as maybe posted, lines 2-3 kept to send, and a send posts each once", async () => {
    const s = scenario();
    const [l1, l2, l3] = [uniqueText("l1"), uniqueText("l2"), uniqueText("l3")];
    h.server.faults.push({ fault: { kind: "hang" }, when: "authenticated", path: /statuses\/update/ });
    // All of it at once and then the end, as from a file.
    const r = await s.run(["post", ...h.args, "--lines"], {
      input: `${l1}\n${l2}\n${l3}\n`,
      onSpawn: killOnAuthenticatedPost(h.server, "SIGINT"),
    });
    expect(r.code).toBe(130);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe(
      "identica: interrupted (SIGINT); after the status was sent; it may have been posted (check before posting again)",
    );
    expect(lines[1]).toMatch(
      /^identica: line 1 is saved in the outbox: \S+\.json \(send it with: identica outbox send\)$/,
    );
    expect(lines[2]).toBe(
      "identica: 2 lines read but not yet sent (lines 2-3) are saved in the outbox, one entry each (send them with: identica outbox send)",
    );
    expect(lines[3]).toBe("identica: the whole input was read; nothing is left to resume");
    const kept = s.outbox().map((e) => e.entry);
    expect(kept.map((e) => e.text)).toEqual([l1, l2, l3]);
    expect(kept[0]).toMatchObject({ sent: true, refused: false, exitCode: 130 });
    for (const e of kept.slice(1)) expect(e).toMatchObject({ sent: false, refused: false, exitCode: 130 });

    h.server.faults.length = 0;
    const send = await s.run(["outbox", "send", ...h.args]);
    expect(send.code, send.stderr).toBe(0);
    expect([copies(l1), copies(l2), copies(l3)]).toEqual([1, 1, 1]);
    // In the order they were read.
    const order = h.server.store.notices.filter((n) => [l1, l2, l3].includes(n.text)).map((n) => n.text);
    expect(order).toEqual([l1, l2, l3]);
    expect(s.outbox()).toEqual([]);
  });

  it("a line whose end has not arrived is kept refused, and stderr says where to resume", async () => {
    const s = scenario();
    const [l1, l2] = [uniqueText("l1"), uniqueText("l2")];
    const part = uniqueText("part");
    h.server.faults.push({ fault: { kind: "hang" }, when: "authenticated", path: /statuses\/update/ });
    const r = await s.run(["post", ...h.args, "--lines"], {
      keepStdinOpen: true,
      onSpawn: (child) => {
        child.stdin?.write(`${l1}\n${l2}\n${part}`);
        killOnAuthenticatedPost(h.server, "SIGTERM")(child);
      },
    });
    expect(r.code).toBe(143);
    const lines = r.stderr.split("\n");
    expect(lines[2]).toBe(
      "identica: 1 line read but not yet sent (line 2) is saved in the outbox (send it with: identica outbox send)",
    );
    expect(lines[3]).toMatch(
      /^identica: line 3, read only in part, is kept in the outbox, marked refused: \S+\.json \(outbox send skips it; check and complete its "text" in that file/,
    );
    expect(lines[4]).toBe("identica: the input was read up to part of line 3: resume from line 3");
    const kept = s.outbox().map((e) => e.entry);
    expect(kept.map((e) => e.text)).toEqual([l1, l2, part]);
    expect(kept[1]).toMatchObject({ sent: false, refused: false });
    expect(kept[2]).toMatchObject({ sent: false, refused: true, exitCode: 143 });
    expect(kept[2]?.error).toMatch(/may be incomplete/);
  });
});

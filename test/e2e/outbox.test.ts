import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectFailure, expectNoSecret, runCli } from "../helpers/cli.js";
import { PASSWORD, uniqueText, useHttpsServer } from "../helpers/setup.js";

const h = useHttpsServer();

/** A private state (outbox) and cache directory shared by the runs of one test. */
function dirs() {
  const base = mkdtempSync(join(tmpdir(), "identica-state-"));
  const env = { ...h.env, XDG_STATE_HOME: join(base, "state"), XDG_CACHE_HOME: join(base, "cache") };
  const outboxDir = join(base, "state", "identica", "outbox");
  const entries = () => {
    try {
      return readdirSync(outboxDir).filter((f) => f.endsWith(".json"));
    } catch {
      return [];
    }
  };
  return { env, outboxDir, entries };
}
const copies = (text: string) => h.server.store.notices.filter((n) => n.text === text && !n.deleted).length;

describe("the outbox", () => {
  it("a failed post is saved (0600, atomically), listed, then sent by outbox send and removed", async () => {
    const d = dirs();
    const text = uniqueText("kept");
    h.server.faults.push({
      fault: { kind: "reply", status: 503, body: "maintenance", contentType: "text/plain" },
    });
    const r = await runCli(["post", ...h.args, text], { env: d.env });
    const path = expectFailure(r, 75, /is unavailable \(503\)/) as string;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({
      text,
      server: h.server.apiRoot,
      user: "alice",
      replyTo: null,
      source: "identica",
      sent: false,
      exitCode: 75,
      attemptedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(d.entries()).toHaveLength(1);

    const list = await runCli(["outbox", "list"], { env: d.env });
    expect(list.stdout).toMatch(
      new RegExp(
        `^\\d{8}-\\d+-[0-9a-f]{6}  .* alice at ${h.server.apiRoot}  \\(exit 75, not posted\\)\\n    ${text}\\n$`,
      ),
    );
    const json = JSON.parse((await runCli(["outbox", "list", "-o", "json"], { env: d.env })).stdout);
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ text, exitCode: 75 });

    h.server.faults.length = 0;
    const send = await runCli(["outbox", "send", ...h.args, "-o", "id"], { env: d.env });
    expect(send.code).toBe(0);
    expect(send.stdout).toMatch(/^\d+\n$/);
    expect(copies(text)).toBe(1);
    expect(d.entries()).toHaveLength(0);
    expect((await runCli(["outbox", "list"], { env: d.env })).stdout).toBe("The outbox is empty.\n");
    expectNoSecret(send, PASSWORD);
  });

  it("usage errors keep nothing; other failures keep the text (77, 78, 65)", async () => {
    const d = dirs();
    expectFailure(
      await runCli(["post", ...h.args, "--reply-to", "x", "t"], { env: d.env }),
      64,
      /--reply-to/,
    );
    expect(d.entries()).toHaveLength(0);
    expectFailure(
      await runCli(["post", ...h.args, uniqueText("wrong")], {
        env: { ...d.env, IDENTICA_PASSWORD: "nope" },
      }),
      77,
      /rejected/,
    );
    expectFailure(
      await runCli(["post", ...h.args, uniqueText("nocred")], { env: { ...d.env, IDENTICA_PASSWORD: "" } }),
      78,
      /no password/,
    );
    expectFailure(
      await runCli(["post", ...h.args, "--reply-to", "99999999", uniqueText("orphan")], { env: d.env }),
      65,
      /Parent/,
    );
    expect(d.entries()).toHaveLength(3);
  });

  it("killed mid-post: the server has it, the outcome is unknown (76); outbox send finds it and posts nothing twice", async () => {
    const d = dirs();
    const text = uniqueText("lost reply");
    h.server.faults.push({ fault: { kind: "lose-reply" }, when: "authenticated", times: 1 });
    const r = await runCli(["post", ...h.args, text], { env: d.env });
    const path = expectFailure(r, 76, /the status may have been posted/) as string;
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ text, sent: true, exitCode: 76 });
    expect(copies(text)).toBe(1);

    h.server.requests.length = 0;
    const send = await runCli(["outbox", "send", ...h.args], { env: d.env });
    expect(send.code).toBe(0);
    expect(send.stdout).toMatch(/^\(already posted; nothing sent\)\nAlice Example @alice\n/);
    expect(copies(text)).toBe(1);
    expect(h.server.requests.filter((q) => q.url.startsWith("/api/statuses/update."))).toHaveLength(0);
    expect(d.entries()).toHaveLength(0);
  });

  it("an unknown outcome where the server did not post: outbox send checks, then posts exactly once", async () => {
    const d = dirs();
    const text = uniqueText("reset");
    h.server.faults.push({ fault: { kind: "reset-after-read" }, when: "authenticated", times: 1 });
    expectFailure(await runCli(["post", ...h.args, text], { env: d.env }), 76, /may have been posted/);
    expect(copies(text)).toBe(0);
    const send = await runCli(["outbox", "send", ...h.args, "-o", "none"], { env: d.env });
    expect(send.code).toBe(0);
    expect(copies(text)).toBe(1);
    expect(
      h.server.requests.some((q) => /^\/api\/statuses\/user_timeline\.xml\?.*screen_name=alice/.test(q.url)),
    ).toBe(true);
  });

  it("send goes oldest first and goes on after a failure, keeping what failed; the code is the worst", async () => {
    const d = dirs();
    const texts = [uniqueText("one"), uniqueText("two"), uniqueText("three")];
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    for (const t of texts) await runCli(["post", ...h.args, t], { env: d.env });
    expect(d.entries()).toHaveLength(3);
    h.server.faults.length = 0;
    // The first entry goes through, the second fails, the third goes through.
    h.server.faults.push(
      { fault: { kind: "delay", ms: 0 }, when: "authenticated", path: /update/, times: 1 },
      {
        fault: { kind: "reply", status: 502, body: "bad gateway", contentType: "text/plain" },
        when: "authenticated",
        path: /update/,
        times: 1,
      },
    );
    const r = await runCli(["outbox", "send", ...h.args, "-o", "id"], { env: d.env });
    expect(r.code).toBe(69);
    expect(r.stdout).toMatch(/^\d+\n\d+\n$/);
    expect(texts.map(copies)).toEqual([1, 0, 1]);
    expect(d.entries()).toHaveLength(1);
    // A gateway's 502 says nothing of the server behind it: kept as uncertain, to be checked first.
    expect(r.stderr).toMatch(
      /^identica: \d{8}-\d+-[0-9a-f]{6}: .* answered 502 from its gateway.*may have posted.*\n$/,
    );
  });

  it("drop removes one entry; an unknown id is a usage error", async () => {
    const d = dirs();
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    await runCli(["post", ...h.args, uniqueText("drop me")], { env: d.env });
    const id = (d.entries()[0] as string).replace(/\.json$/, "");
    const r = await runCli(["outbox", "drop", id], { env: d.env });
    expect(r).toMatchObject({ code: 0, stdout: `Dropped ${id}.\n` });
    expect(d.entries()).toHaveLength(0);
    expectFailure(await runCli(["outbox", "drop", id], { env: d.env }), 64, /no entry/);
  });

  it("two outbox send runs at once never send an entry twice; a stale lock is broken", async () => {
    const d = dirs();
    const texts = Array.from({ length: 4 }, (_, i) => uniqueText(`race ${i}`));
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    for (const t of texts) await runCli(["post", ...h.args, t], { env: d.env });
    h.server.faults.length = 0;
    h.server.faults.push({ fault: { kind: "delay", ms: 150 }, path: /update/ });
    const [a, b] = await Promise.all([
      runCli(["outbox", "send", ...h.args, "-o", "none"], { env: d.env }),
      runCli(["outbox", "send", ...h.args, "-o", "none"], { env: d.env }),
    ]);
    expect(texts.map(copies)).toEqual([1, 1, 1, 1]);
    expect([a.code, b.code].sort()).toEqual([0, 75]);
    expect(a.stderr + b.stderr).toMatch(/another identica is sending the outbox \(pid \d+\)/);

    // A lock left by a process that is gone.
    const dead = spawnSync(process.execPath, ["-e", "process.exit(0)"]).pid;
    mkdirSync(join(d.outboxDir, ".."), { recursive: true });
    writeFileSync(join(d.outboxDir, "..", "outbox.lock"), `${dead}\n`);
    h.server.faults.length = 0;
    h.server.faults.push({ fault: { kind: "reply", status: 503, body: "down", contentType: "text/plain" } });
    await runCli(["post", ...h.args, uniqueText("after stale")], { env: d.env });
    h.server.faults.length = 0;
    expect((await runCli(["outbox", "send", ...h.args, "-o", "none"], { env: d.env })).code).toBe(0);
    expect(d.entries()).toHaveLength(0);
  });
});

describe("post --if-absent", () => {
  it("posts nothing (exit 0) when the recent statuses already hold exactly this text, and prints that one", async () => {
    const text = uniqueText("once");
    const first = await runCli(["post", ...h.args, "-o", "id", "--if-absent", text], { env: h.env });
    expect(first.code).toBe(0);
    h.server.requests.length = 0;
    const again = await runCli(["post", ...h.args, "-o", "id", "--if-absent", text], { env: h.env });
    expect(again).toMatchObject({ code: 0, stdout: first.stdout });
    expect(copies(text)).toBe(1);
    expect(h.server.requests.filter((q) => q.url.startsWith("/api/statuses/update."))).toHaveLength(0);
  });
});

describe("post --lines", () => {
  it("posts each line as it arrives on one connection, answering the challenge once", async () => {
    const lines = [uniqueText("l1"), uniqueText("l2"), uniqueText("l3")];
    const before = h.server.connections();
    const r = await runCli(["post", ...h.args, "--lines", "-o", "id"], {
      env: h.env,
      input: `${lines.join("\n")}\n\n`,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\n\d+\n\d+\n$/);
    expect(lines.map(copies)).toEqual([1, 1, 1]);
    const posts = h.server.requests.filter((q) => q.url.startsWith("/api/statuses/update."));
    expect(posts.map((q) => q.headers.authorization !== undefined)).toEqual([false, true, true, true]);
    expect(h.server.connections() - before).toBe(1);
    expect(new Set(h.server.requests.map((q) => q.connection)).size).toBe(1);
  });

  it("with a known protection space: every line one request, the credential looked up once", async () => {
    const d = dirs();
    expect((await runCli(["post", ...h.args, "-o", "none", uniqueText("warm")], { env: d.env })).code).toBe(
      0,
    );
    h.server.requests.length = 0;
    const lines = [uniqueText("k1"), uniqueText("k2"), uniqueText("k3")];
    const r = await runCli(["post", ...h.args, "--lines", "-v", "-o", "none"], {
      env: d.env,
      input: `${lines.join("\n")}\n`,
    });
    expect(r.code).toBe(0);
    expect(h.server.requests.map((q) => q.headers.authorization !== undefined)).toEqual([true, true, true]);
    expect(r.stderr.match(/password for alice at /g)).toHaveLength(1);
    expectNoSecret(r, PASSWORD);
  });

  it("posts a line before stdin ends (journalctl -f | identica post --lines)", async () => {
    const first = uniqueText("streamed");
    let sent = false;
    const r = await runCli(["post", ...h.args, "--lines", "-o", "none"], {
      env: h.env,
      onSpawn: (child) => {
        child.stdin?.write(`${first}\n`);
        const timer = setInterval(() => {
          if (copies(first) === 1 && !sent) {
            sent = true;
            clearInterval(timer);
            child.stdin?.end(`${uniqueText("streamed later")}\n`);
          }
        }, 20);
      },
      keepStdinOpen: true,
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(0);
  });

  it("a failing line is kept or reported and the stream goes on; the exit code is the worst seen", async () => {
    const d = dirs();
    const dup = uniqueText("dup");
    const tooLong = `${uniqueText("long")} ${"x".repeat(30)}`;
    const input = [dup, dup, tooLong, uniqueText("after")].join("\n");
    const r = await runCli(["post", ...h.args, "--lines", "--max-length", "40", "-o", "id"], {
      env: d.env,
      input,
    });
    expect(r.code).toBe(65);
    expect(r.stdout).toMatch(/^\d+\n\d+\n$/);
    expect(r.stderr).toMatch(
      /^identica: line 2: .*Too many duplicate messages.*\nidentica: line 2 is already on the server; nothing was kept\nidentica: line 3: the status is \d+ characters long, over the --max-length limit of 40; nothing was sent: long /,
    );
    // A refused duplicate is already posted: keeping it would post it again later (docs/threats.md I2).
    expect(d.entries()).toHaveLength(0);
  });

  it("honours Retry-After on 503: waits, then sends the same line once", async () => {
    const text = uniqueText("retry");
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 503,
        body: "busy",
        contentType: "text/plain",
        headers: { "retry-after": "1" },
      },
      when: "authenticated",
      path: /update/,
      times: 1,
    });
    const r = await runCli(["post", ...h.args, "--lines", "-o", "id", "-v"], {
      env: h.env,
      input: `${text}\n`,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/trying again in 1 s/);
    expect(copies(text)).toBe(1);
  });
});

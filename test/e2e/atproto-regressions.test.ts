// Regression tests for what the hostile round found in the AT Protocol support (each failed before its
// fix), against the PDS look-alike.
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  APP_PASSWORD,
  CREATE,
  CREATE_SESSION,
  calls,
  copies,
  fresh,
  GET_RECORD,
  home,
  useAtproto,
} from "../helpers/atproto-faults.js";
import { expectFailure, runCli } from "../helpers/cli.js";
import { startKeyring } from "../helpers/keyring.js";
import { Scenario } from "../helpers/scenario.js";

const h = useAtproto();

describe("a record that is not a well-formed post (a PDS stores what validate:false sends)", () => {
  it("timeline user leaves it out and shows the rest; show of it is one line, 76, never 70", async () => {
    const good = fresh("good neighbour");
    h.server.addPost({ text: good, handle: "bob.test" });
    const bad = h.server.addPost({ text: "x", handle: "bob.test", extra: { text: 123 } });
    const s = home();
    const tl = await s.run(["timeline", "user", "--of", "bob.test", ...h.args, "-o", "json"]);
    expect(tl.code, tl.stderr).toBe(0);
    const texts = (JSON.parse(tl.stdout) as { text: string }[]).map((x) => x.text);
    expect(texts).toContain(good);
    expect(texts).not.toContain(123);
    const shown = await s.run(["show", `at://bob.test/app.bsky.feed.post/${bad.rkey}`, ...h.args]);
    expectFailure(shown, 76, /not a well-formed post/);
    expect(shown.stderr).not.toMatch(/bug/i);
  });

  it("--user @handle is the handle", async () => {
    const text = fresh("user at");
    const args = h.args.map((a) => (a === "alice.test" ? "@alice.test" : a));
    const r = await home().run(["post", ...args, text]);
    expect(r.code, r.stderr).toBe(0);
    expect(copies(h.server, text)).toHaveLength(1);
  });

  it("--of @handle is the handle", async () => {
    const text = fresh("of at");
    h.server.addPost({ text, handle: "bob.test" });
    const r = await home().run(["timeline", "user", "--of", "@bob.test", ...h.args, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { text: string }[]).map((x) => x.text)).toContain(text);
  });
});

describe("an uncertain entry whose text was edited before it was sent again", () => {
  it("the record under its first key is found: no second record, whatever the edit", async () => {
    const s = home();
    const text = fresh("typo teh");
    h.server.faults.push(
      { fault: { kind: "reset-after-store" }, method: CREATE, times: 1 },
      { fault: { kind: "reset-before" }, method: GET_RECORD, times: 1 },
    );
    const r = await s.run(["post", ...h.args, text]);
    expect(r.code, r.stderr).toBe(76);
    const [kept] = s.outbox();
    expect(kept?.entry.uncertainSince).not.toBeNull();
    // The user fixes the typo in the file.
    const entry = JSON.parse(readFileSync(kept?.file as string, "utf8"));
    writeFileSync(kept?.file as string, JSON.stringify({ ...entry, text: text.replace("teh", "the") }));
    h.server.requests.length = 0;
    const sent = await s.run(["outbox", "send", ...h.args]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(calls(h.server, CREATE)).toEqual([]);
    expect(copies(h.server, text)).toHaveLength(1);
    expect(copies(h.server, text.replace("teh", "the"))).toHaveLength(0);
    expect(s.outbox()).toEqual([]);
  });
});

describe("secrets a server quotes back", () => {
  it("neither the app password's base64 nor an access token's signature reaches stderr or the outbox", async () => {
    const s = home();
    const b64 = Buffer.from(APP_PASSWORD).toString("base64");
    h.server.faults.push({
      fault: {
        kind: "reply",
        status: 401,
        body: JSON.stringify({ error: "AuthenticationRequired", message: `pw ${APP_PASSWORD} b64 ${b64}` }),
      },
      method: "com.atproto.server.createSession",
      times: 1,
    });
    const r = await s.run(["post", ...h.args, fresh("echo")]);
    expectFailure(r, 77, /refused the password/);
    expect(r.stderr).not.toContain(b64);
    expect(r.stderr).not.toContain(b64.replace(/=+$/, ""));
    expect(r.stderr).not.toContain(APP_PASSWORD);
    const [kept] = s.outbox();
    const file = readFileSync(kept?.file as string, "utf8");
    expect(file).not.toContain(b64.replace(/=+$/, ""));
    expect(file).not.toContain(APP_PASSWORD);
  });
});

describe("the second round", () => {
  it("a handle changed on the server, then a login under the new one: one account, posted to once by --to all", async () => {
    const keyring = await startKeyring();
    try {
      const bobPassword = h.server.account("bob.test")?.appPasswords[0] as string;
      const server = ["--api", "atproto", "--server", h.server.origin];
      const run = (args: string[], input?: string) =>
        runCli(args, { env: keyring.env, ...(input === undefined ? {} : { input }) });
      expect(
        (await run(["login", ...server, "--user", "bob.test", "--password-stdin"], `${bobPassword}\n`)).code,
      ).toBe(0);
      const bob = h.server.account("bob.test");
      if (bob === undefined) throw new Error("no bob");
      bob.handle = "robert.test";
      try {
        const again = await run(
          ["login", ...server, "--user", "robert.test", "--password-stdin"],
          `${bobPassword}\n`,
        );
        expect(again.code, again.stderr).toBe(0);
        const accounts = await run(["accounts"]);
        expect(accounts.stdout).toMatch(/robert\.test@/);
        expect(accounts.stdout).not.toMatch(/bob\.test@/);
        const text = fresh("one account, once");
        const r = await run(["post", "--to", "all", text]);
        expect(r.code, r.stderr).toBe(0);
        const made = h.server.records.filter((x) => !x.deleted && x.value.text === text);
        expect(made).toHaveLength(1);
      } finally {
        bob.handle = "bob.test";
      }
    } finally {
      keyring.close();
    }
  });

  it("outbox send without a keychain logs in once for all of an account's entries, and ends that session", async () => {
    const s = new Scenario({ IDENTICA_PASSWORD: APP_PASSWORD });
    const texts = [fresh("backlog a"), fresh("backlog b"), fresh("backlog c")];
    h.server.faults.push({ fault: { kind: "status", status: 503 }, method: CREATE, times: 3 });
    for (const t of texts) expect((await s.run(["post", ...h.args, t])).code).toBe(75);
    expect(s.outbox()).toHaveLength(3);
    h.server.requests.length = 0;
    const sent = await s.run(["outbox", "send", ...h.args]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(calls(h.server, CREATE_SESSION)).toHaveLength(1);
    expect(calls(h.server, "com.atproto.server.deleteSession")).toHaveLength(1);
    for (const t of texts) expect(copies(h.server, t)).toHaveLength(1);
  });
});

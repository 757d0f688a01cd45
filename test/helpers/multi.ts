import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { type MastodonServer, startMastodon } from "../server/mastodon.js";
import type { RunOptions, RunResult } from "./cli.js";
import { type PrivateKeyring, startKeyring } from "./keyring.js";
import { keytarStore } from "./mastodon-post.js";
import { Scenario } from "./scenario.js";
import { PASSWORD } from "./setup.js";

/**
 * What the `post --to` tests (test/e2e/multi*.test.ts) share: a StatusNet and a Mastodon look-alike on
 * loopback (plain http), a private keyring holding alice's password for the first and alice's and
 * bob's tokens for the second, homes whose config knows both servers, and the check that every
 * request's Authorization stayed with its own server.
 */
export interface TwoServers {
  keyring: PrivateKeyring;
  sn: TestServer;
  md: MastodonServer;
  token: string;
  bobToken: string;
  /** alice on the Mastodon look-alike. */
  M(): string;
  /** bob on the Mastodon look-alike (a second Mastodon account, with a token of his own). */
  B(): string;
  /** alice on the StatusNet look-alike. */
  S(): string;
  /** A home whose config knows both servers (as two logins would have written it). */
  home(extra?: Record<string, unknown>, env?: Record<string, string>): Scenario;
  /** How many statuses with this text each server holds. */
  landed(text: string): { mastodon: number; statusnet: number };
  /** No request to either server carried the other's credential (or a credential of a foreign kind). */
  expectCredentialsHome(): void;
  post(sc: Scenario, args: string[], opts?: RunOptions): Promise<RunResult>;
}

export function useTwoServers(): TwoServers {
  const h = {
    M: () => `alice@${h.md.domain}`,
    B: () => `bob@${h.md.domain}`,
    S: () => `alice@${new URL(h.sn.origin).host}`,
    home(extra: Record<string, unknown> = {}, env: Record<string, string> = {}) {
      const sc = new Scenario({
        DBUS_SESSION_BUS_ADDRESS: h.keyring.env.DBUS_SESSION_BUS_ADDRESS as string,
        ...env,
      });
      const dir = join(sc.env.XDG_CONFIG_HOME as string, "identica");
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(
        join(dir, "config.json"),
        JSON.stringify({
          servers: {
            [h.md.origin]: { user: "alice", api: "mastodon" },
            [h.sn.apiRoot]: { user: "alice", api: "statusnet" },
          },
          ...extra,
        }),
        { mode: 0o600 },
      );
      return sc;
    },
    landed: (text: string) => ({
      mastodon: h.md.statuses.filter((s) => s.text === text && !s.deleted).length,
      statusnet: h.sn.store.notices.filter((x) => x.text === text).length,
    }),
    expectCredentialsHome() {
      for (const r of h.md.requests) {
        const a = r.headers.authorization;
        if (a !== undefined) expect(a).toMatch(/^Bearer /);
        expect(JSON.stringify(r.headers) + r.body.toString()).not.toContain(PASSWORD);
      }
      for (const r of h.sn.requests) {
        const a = r.headers.authorization;
        if (a !== undefined) expect(a).toMatch(/^Basic /);
        for (const t of [h.token, h.bobToken])
          expect(JSON.stringify(r.headers) + r.body.toString()).not.toContain(t);
      }
    },
    post: (sc: Scenario, args: string[], opts: RunOptions = {}) => sc.run(["post", ...args], opts),
  } as TwoServers;
  beforeAll(async () => {
    h.keyring = await startKeyring();
    h.sn = await startServer();
    h.md = await startMastodon({ mode: "mastodon" });
    h.token = h.md.issueToken("alice");
    h.bobToken = h.md.issueToken("bob");
    await keytarStore(h.keyring.env, `identica:${h.md.domain}`, "alice", h.token);
    await keytarStore(h.keyring.env, `identica:${h.md.domain}`, "bob", h.bobToken);
    await keytarStore(h.keyring.env, `identica:${new URL(h.sn.origin).host}`, "alice", PASSWORD);
  });
  afterAll(async () => {
    h.keyring?.close();
    await h.sn?.close();
    await h.md?.close();
  });
  beforeEach(() => {
    for (const s of [h.sn, h.md]) {
      s.requests.length = 0;
      s.faults.length = 0;
    }
    h.sn.site.textlimit = 1000;
    h.md.site.maxCharacters = 500;
  });
  return h;
}

/** The Mastodon status POST, and StatusNet's statuses/update. */
export const MPOST = /^\/api\/v1\/statuses$/;
export const SPOST = /^\/api\/statuses\/update/;
export const unavailable = { kind: "reply" as const, status: 503, body: "busy" };

let n = 0;
/** A status text no earlier test has posted. */
export const fresh = (p = "multi") => `${p} ${process.pid}-${++n}`;

/** For `onSpawn`: sends `signal` once `ready()` holds (checked every 10 ms). */
export function killWhen(ready: () => boolean, signal: NodeJS.Signals) {
  return (child: import("node:child_process").ChildProcess) => {
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 10);
    child.on("close", () => clearInterval(timer));
  };
}

/**
 * The exit status as a shell sees it: a run that ends by the signal itself (start.ts endProcess, when
 * a thread-pool call is pending) shows as 128 + n, the documented 130/143/129.
 */
export function shellCode(r: { code: number | null; signal: NodeJS.Signals | null }): number | null {
  const n: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  return r.code ?? (r.signal && n[r.signal] !== undefined ? 128 + (n[r.signal] as number) : null);
}

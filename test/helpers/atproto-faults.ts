import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import {
  type AtprotoRequest,
  type AtprotoServer,
  DEFAULT_ACCOUNTS,
  startAtproto,
} from "../server/atproto.js";
import type { RunResult } from "./cli.js";
import { Scenario } from "./scenario.js";

/**
 * What the AT Protocol fault tests (test/e2e/atproto-faults*.test.ts) share: the look-alike PDS on
 * loopback (test/server/atproto.ts), for the failures a real PDS will not produce on demand, and the
 * questions the tests ask of it (which createRecord calls came, which records it holds).
 */

/** alice.test's app password on the look-alike. */
export const APP_PASSWORD = DEFAULT_ACCOUNTS[0]?.appPasswords[0] as string;
export const ALICE_DID = DEFAULT_ACCOUNTS[0]?.did as string;
/** A record key as identica picks it: a TID, 13 characters of base32-sortable. */
export const TID = /^[234567abcdefghij][234567a-z]{12}$/;

export const CREATE = "com.atproto.repo.createRecord";
export const GET_RECORD = "com.atproto.repo.getRecord";
export const CREATE_SESSION = "com.atproto.server.createSession";
export const REFRESH = "com.atproto.server.refreshSession";

export interface AtHarness {
  server: AtprotoServer;
  /** `--api atproto --server http://127.0.0.1:PORT --user alice.test` */
  args: string[];
}

/**
 * One look-alike per file, plain http on loopback (a token may go there); before each test its request
 * log and faults are cleared and alice's app password restored (a test may revoke it).
 */
export function useAtproto(): AtHarness {
  const h = {} as AtHarness;
  beforeAll(async () => {
    h.server = await startAtproto();
    h.args = ["--api", "atproto", "--server", h.server.origin, "--user", "alice.test"];
  });
  beforeEach(() => {
    h.server.requests.length = 0;
    h.server.faults.length = 0;
    const alice = h.server.account("alice.test");
    if (alice) alice.appPasswords = [APP_PASSWORD];
  });
  afterAll(async () => {
    await h.server?.close();
  });
  return h;
}

/** A home of its own whose runs have alice's app password in IDENTICA_PASSWORD (no keychain). */
export function home(): Scenario {
  return new Scenario({ IDENTICA_PASSWORD: APP_PASSWORD });
}

/** The requests for one XRPC method. */
export const calls = (server: AtprotoServer, nsid: string): AtprotoRequest[] =>
  server.requests.filter((r) => r.nsid === nsid);

/** The rkey a createRecord request asked for. */
export function rkeyOf(r: AtprotoRequest | undefined): unknown {
  return r === undefined ? undefined : JSON.parse(r.body.toString("utf8")).rkey;
}

/** alice's live posts holding exactly this text. */
export const copies = (server: AtprotoServer, text: string) =>
  server.records.filter(
    (r) =>
      !r.deleted && r.did === ALICE_DID && r.collection === "app.bsky.feed.post" && r.value.text === text,
  );

export const entryOf = (path: string) => JSON.parse(readFileSync(path, "utf8"));

/** For `onSpawn`: sends `signal` once `ready()` holds (polled), e.g. once the server has the create. */
export function killWhen(ready: () => boolean, signal: NodeJS.Signals) {
  return (child: ChildProcess) => {
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 10);
    child.on("close", () => clearInterval(timer));
  };
}

/** stderr holds no terminal control character but the line ends (no ESC, BEL, CR…). */
export function expectCleanStderr(r: RunResult): void {
  expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
}

let counter = 0;
/** A status text no earlier test has posted. */
export function fresh(prefix = "skeet"): string {
  return `${prefix} ${process.pid}-${++counter}`;
}

import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type MastodonServer, OOB } from "../server/mastodon.js";
import { testCertificate } from "../server/tls.js";
import type { RunOptions, RunResult } from "./cli.js";
import { type PrivateKeyring, startKeyring } from "./keyring.js";
import { Scenario } from "./scenario.js";

/**
 * What the Mastodon login tests share (mastodon-login*.test.ts): driving `identica login` the way a
 * person does — read the authorization URL off the child's stderr as it streams, "open" it, and type
 * the code the server shows into the child's stdin — and reading back what the run left behind.
 */

export const ALICE_PASSWORD = "correct horse";

/** The authorization URL `login` prints on stderr (an indented line of its own). */
export const AUTHORIZE_URL = /^ {2}(https?:\/\/\S+\/oauth\/authorize\?\S+)$/m;

/** A plain HTTP(S) request from the test, trusting the test certificate. */
export function fetchText(
  url: string,
  opts: { method?: string; form?: Record<string, string>; ca?: string | undefined } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  const body = opts.form === undefined ? undefined : new URLSearchParams(opts.form).toString();
  const make = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(
      u,
      {
        method: opts.method ?? (body === undefined ? "GET" : "POST"),
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        headers: body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * What a person does with the authorization URL, as each server has it: Mastodon's page (the
 * look-alike's `authorize`, which runs Doorkeeper's checks); snac's login form, opened (the server
 * sees the PKCE challenge then) and posted with alice's password, whose answer is the bare code.
 */
export async function approve(
  server: MastodonServer,
  url: string,
  ca: string | undefined,
  user = "alice",
): Promise<string> {
  if (server.mode !== "snac") return server.authorize(url, user);
  const page = await fetchText(url, { ca });
  if (page.status !== 200 || !page.body.includes("x-snac-login"))
    throw new Error(`snac's authorize page: ${page.status}`);
  const q = new URL(url).searchParams;
  const res = await fetchText(`${server.origin}/oauth/x-snac-login`, {
    ca,
    form: {
      login: user,
      passwd: server.user(user)?.password ?? "",
      redir: q.get("redirect_uri") ?? "",
      cid: q.get("client_id") ?? "",
      state: q.get("state") ?? "",
    },
  });
  if (res.status !== 200 || !/^[0-9a-f]{32}$/.test(res.body)) throw new Error(`snac's login: ${res.body}`);
  return res.body;
}

export interface LoginRun extends RunResult {
  /** The authorization URL the run printed, if it did. */
  url: string | undefined;
}

export interface LoginDriver {
  /** Turns the URL into what is typed (default: the code, approved as alice); undefined types nothing. */
  code?: (url: string) => Promise<string | undefined> | string | undefined;
  /** Leave stdin open after the code's line, as a person at a pipe would (default: end it). */
  keepOpen?: boolean;
  /** Also called with the child, once the code was typed (to signal it, say). */
  afterCode?: (child: ChildProcess) => void;
  /** Called with the child once the URL is seen, instead of typing anything. */
  onUrl?: (child: ChildProcess, url: string) => void;
}

/**
 * Runs `identica login …` in the scenario's home with stdin a pipe (not a TTY: the code is read from
 * it), watches stderr for the URL, and types the code as the driver says.
 */
export function driveLogin(
  scn: Scenario,
  args: string[],
  driver: LoginDriver & { server: MastodonServer; ca: string | undefined },
  opts: RunOptions = {},
): Promise<LoginRun> {
  let url: string | undefined;
  const p = scn.run(["login", ...args], {
    ...opts,
    keepStdinOpen: true,
    onSpawn: (child) => {
      let err = "";
      let seen = false;
      child.stderr?.on("data", async (d: Buffer) => {
        err += d.toString("utf8");
        const m = AUTHORIZE_URL.exec(err);
        if (seen || !m) return;
        seen = true;
        url = m[1] as string;
        if (driver.onUrl) return driver.onUrl(child, url);
        try {
          const code = driver.code ? await driver.code(url) : await approve(driver.server, url, driver.ca);
          if (code !== undefined) child.stdin?.write(`${code}\n`);
          if (!driver.keepOpen) child.stdin?.end();
          driver.afterCode?.(child);
        } catch (e) {
          child.stdin?.end();
          child.kill("SIGKILL");
          throw e;
        }
      });
      child.on("close", () => child.stdin?.destroy());
      opts.onSpawn?.(child);
    },
  });
  return p.then((r) => ({ ...r, url }));
}

/** `BASE64URL(SHA-256(verifier))`, as the server checks it. */
export const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");

/** The scenario's config file, parsed. */
export function configOf(scn: Scenario): Record<string, unknown> & {
  server?: string;
  servers?: Record<string, Record<string, unknown>>;
} {
  return JSON.parse(readFileSync(join(scn.env.XDG_CONFIG_HOME as string, "identica/config.json"), "utf8"));
}

/** Asserts that none of these secrets is anywhere in the run's output. */
export function secretsIn(r: RunResult, secrets: (string | undefined)[]): string[] {
  return secrets.filter(
    (s): s is string => s !== undefined && s !== "" && (r.stdout.includes(s) || r.stderr.includes(s)),
  );
}

/** The form a request carried, as a plain object. */
export function formOf(rec: { body: Buffer }): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(rec.body.toString("utf8")));
}

export { OOB };

/** The lines `login` prints around the authorization URL, left out to check what follows them. */
export function afterUrl(stderr: string): string {
  return stderr.replace(/^To let identica post as you on .*\n\n {2}\S+\n\n/, "");
}

/**
 * Runs a command line on a pseudo-terminal (util-linux `script`): stdin, stdout and stderr are all the
 * terminal, as for a person at a desktop. `reply` sees everything printed so far, each time more comes,
 * and returns what to type then (undefined: nothing yet); it keeps its own count of what it answered.
 */
export function inTerminal(
  command: string,
  env: Record<string, string>,
  reply: (out: string) => Promise<string | undefined> | string | undefined,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env,
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", async (d: Buffer) => {
      out += d.toString("utf8");
      const answer = await reply(out);
      if (answer !== undefined) child.stdin.write(answer);
    });
    child.on("close", (code) => {
      child.stdin.destroy();
      resolve({ code, out });
    });
  });
}

/** A single-quoted shell word. */
export const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const tls = testCertificate();
export const ca = readFileSync(tls.certPath, "utf8");
export const cacert = ["--cacert", tls.certPath];

export const paths = (server: MastodonServer) =>
  server.requests.map((q) => `${q.method} ${q.url.split("?")[0]}`);
export const bearer = (token: string) => `Bearer ${token}`;

/**
 * A private gnome-keyring for the test file (started before, stopped after); `scenario()` is a home
 * of its own on that keyring's bus and nothing else of the test machine's; `lookup` reads an entry
 * back with secret-tool.
 */
export function useKeyring() {
  let keyring: PrivateKeyring;
  beforeAll(async () => {
    keyring = await startKeyring();
  });
  afterAll(() => keyring?.close());
  return {
    scenario: (extra: Record<string, string> = {}) =>
      new Scenario({ DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS as string, ...extra }),
    lookup: (server: MastodonServer, user: string) =>
      keyring.secretTool(["lookup", "service", `identica:${server.domain}`, "account", user]),
  };
}

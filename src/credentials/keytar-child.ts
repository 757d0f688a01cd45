import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Env } from "../io.js";
import type { KeytarApi } from "./keytar-api.js";

/** keytar could not be loaded in the helper (not installed, libsecret missing); `code` as Node gave it. */
export class KeytarLoadError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = "KeytarLoadError";
    this.code = code;
  }
}

type Helper = ChildProcessByStdio<Writable, Readable, null>;

interface Answer {
  id?: unknown;
  value?: unknown;
  error?: { message?: unknown; code?: unknown; load?: unknown };
}

let shared: KeytarChild | undefined;

/**
 * The run's keytar, in a child process (dist/keychain-helper.js) started on the first call and reused
 * by every later one, whichever KeychainStore asks. A call blocked in keytar blocks only the helper,
 * which `abandon` kills, so the CLI's own exit and signals never wait for it (docs/threats.md I8).
 */
export function keytarInChild(env: Env): KeytarApi {
  shared ??= new KeytarChild(env);
  return shared;
}

class KeytarChild implements KeytarApi {
  readonly #env: Env;
  #helper: Helper | undefined;
  #abandoned = false;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(env: Env) {
    this.#env = env;
  }

  getPassword(service: string, account: string): Promise<string | null> {
    return this.#ask("getPassword", [service, account]) as Promise<string | null>;
  }
  async setPassword(service: string, account: string, password: string): Promise<void> {
    await this.#ask("setPassword", [service, account, password]);
  }
  deletePassword(service: string, account: string): Promise<boolean> {
    return this.#ask("deletePassword", [service, account]) as Promise<boolean>;
  }
  findCredentials(service: string): Promise<{ account: string; password: string }[]> {
    return this.#ask("findCredentials", [service]) as Promise<{ account: string; password: string }[]>;
  }

  /** The keychain did not answer in time: end the helper now; later calls fail at once. */
  abandon(): void {
    this.#abandoned = true;
    this.#helper?.kill("SIGKILL");
    this.#failAll(new Error("the keychain helper was stopped"));
  }

  #ask(op: string, args: string[]): Promise<unknown> {
    if (this.#abandoned) return Promise.reject(new Error("the keychain helper was stopped"));
    const helper = this.#helper ?? this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#keepAlive();
      helper.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  #start(): Helper {
    const path = fileURLToPath(new URL("./keychain-helper.js", import.meta.url));
    const helper = spawn(process.execPath, [path], {
      env: helperEnv(this.#env),
      stdio: ["pipe", "pipe", "ignore"],
      windowsHide: true,
    });
    this.#helper = helper;
    // At our exit: a helper still in a call may be blocked in keytar, so it is killed, not waited for.
    const atExit = () => {
      if (this.#waiting.size > 0) helper.kill("SIGKILL");
      else helper.stdin.destroy();
    };
    process.on("exit", atExit);
    const ended = (err: Error) => {
      process.removeListener("exit", atExit);
      if (this.#helper === helper) this.#helper = undefined;
      this.#failAll(err);
    };
    helper.on("error", ended);
    helper.on("exit", (code, signal) =>
      ended(new Error(`the keychain helper ended (${signal ?? `exit code ${code}`})`)),
    );
    // A write to a helper that has just died: the exit above reports it.
    helper.stdin.on("error", () => {});
    let buffered = "";
    helper.stdout.setEncoding("utf8");
    helper.stdout.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.#settle(line);
      }
    });
    this.#keepAlive();
    return helper;
  }

  #settle(line: string): void {
    let answer: Answer;
    try {
      answer = JSON.parse(line) as Answer;
    } catch {
      return; // not an answer (a native library writing to stdout): ignored
    }
    const id = typeof answer.id === "number" ? answer.id : -1;
    const waiter = this.#waiting.get(id);
    if (!waiter) return;
    this.#waiting.delete(id);
    this.#keepAlive();
    const e = answer.error;
    if (e === undefined) {
      waiter.resolve(answer.value);
      return;
    }
    const message = typeof e.message === "string" ? e.message : "unknown error";
    const code = typeof e.code === "string" ? e.code : undefined;
    waiter.reject(
      e.load === true ? new KeytarLoadError(message, code) : Object.assign(new Error(message), { code }),
    );
  }

  #failAll(err: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(err);
  }

  /** The helper keeps this process alive only while a call waits for it (docs/threats.md I8). */
  #keepAlive(): void {
    const helper = this.#helper;
    if (!helper) return;
    const on = this.#waiting.size > 0;
    for (const handle of [helper, helper.stdin as unknown as Socket, helper.stdout as unknown as Socket]) {
      if (on) handle.ref?.();
      else handle.unref?.();
    }
  }
}

/** The CLI's environment (the D-Bus session, HOME, DISPLAY) without the one secret identica reads from it. */
function helperEnv(env: Env): NodeJS.ProcessEnv {
  const { IDENTICA_PASSWORD: _, ...rest } = env;
  return rest;
}

/**
 * The keychain helper: keytar in a process of its own (dist/keychain-helper.js, started by
 * keytar-child.ts). A keytar call that never returns (a wedged D-Bus session, an unlock prompt nobody
 * answers) blocks a libuv thread that cannot be cancelled, and Node waits for that thread at exit, so
 * in the CLI's own process it made the CLI immune to SIGTERM (docs/threats.md I8). Here it blocks only this
 * process, which the CLI can SIGKILL.
 *
 * Protocol: one JSON request per line on stdin, `{"id":1,"op":"getPassword","args":["identica:host","alice"]}`,
 * one JSON answer per line on stdout, `{"id":1,"value":…}` or `{"id":1,"error":{"message":…,"code":…,"load":true}}`
 * (`load` when keytar itself could not be loaded). Secrets travel only on these pipes, never in argv or
 * the environment. It imports nothing of the CLI, so it stays a few lines of bundle.
 */

const OPS = new Set(["getPassword", "setPassword", "deletePassword", "findCredentials"]);

type Keytar = Record<string, (...args: string[]) => Promise<unknown>>;

const keytar: Promise<Keytar> = import("keytar").then((mod) => {
  const m = mod as unknown as { default?: Keytar } & Keytar;
  return m.default ?? m;
});
// Answered per request; an unhandled rejection must not end the helper before it can say why.
keytar.catch(() => {});

let pending = 0;
let buffered = "";

process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  buffered += chunk;
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim() !== "") void answer(line);
  }
});
process.stdin.on("end", () => {
  // The CLI is gone (or done). A call still blocked in a libuv thread would hold a normal exit forever.
  if (pending > 0) process.kill(process.pid, "SIGKILL");
});
// The CLI closed the pipe while an answer was being written: nothing left to tell it.
process.stdout.on("error", () => process.kill(process.pid, "SIGKILL"));

async function answer(line: string): Promise<void> {
  pending++;
  let id: unknown;
  try {
    const req = JSON.parse(line) as { id?: unknown; op?: unknown; args?: unknown };
    id = req.id;
    if (typeof req.op !== "string" || !OPS.has(req.op)) throw new Error(`unknown keychain call ${req.op}`);
    if (!Array.isArray(req.args) || !req.args.every((a) => typeof a === "string"))
      throw new Error("keychain call arguments must be strings");
    let k: Keytar;
    try {
      k = await keytar;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      reply({ id, error: { message: firstLine(e), code: e.code, load: true } });
      return;
    }
    const fn = k[req.op];
    if (typeof fn !== "function") throw new Error(`keytar has no ${req.op}`);
    const value = await fn(...(req.args as string[]));
    reply({ id, value: value ?? null });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply({ id, error: { message: firstLine(e), code: e?.code } });
  } finally {
    pending--;
  }
}

function reply(msg: unknown): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

function firstLine(err: Error | undefined): string {
  return String(err?.message ?? err).split("\n")[0] ?? "";
}

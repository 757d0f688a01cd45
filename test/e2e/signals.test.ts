import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { uniqueText, useHttpsServer } from "../helpers/setup.js";

const h = useHttpsServer();

/** Sends `signal` once the server has received `requests` requests. */
function killAfter(requests: number, signal: NodeJS.Signals) {
  return (child: import("node:child_process").ChildProcess) => {
    const timer = setInterval(() => {
      if (h.server.requests.length >= requests) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 20);
    child.on("close", () => clearInterval(timer));
  };
}

const saved = (stderr: string) => {
  const path =
    /^identica: the status is saved in the outbox: (\S+) \(send it with: identica outbox send\)$/m.exec(
      stderr,
    )?.[1];
  expect(path, stderr).toBeDefined();
  return JSON.parse(readFileSync(path as string, "utf8"));
};

describe("Ctrl-C and SIGTERM (docs/cli.md 130; docs/threats.md H2)", () => {
  it("SIGINT while the authenticated post is in flight: 130, may have been posted, and the text is in the outbox", async () => {
    h.server.faults.push({ fault: { kind: "hang" }, when: "authenticated" });
    const text = uniqueText("sigint");
    const r = await runCli(["post", ...h.args, "--max-length", "0", text], {
      env: h.env,
      onSpawn: killAfter(2, "SIGINT"),
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toBe(
      "identica: interrupted (SIGINT); after the status was sent; it may have been posted (check before posting again)",
    );
    expect(saved(r.stderr)).toMatchObject({
      text,
      sent: true,
      exitCode: 130,
      user: "alice",
      server: h.server.apiRoot,
    });
  });
  it("SIGTERM before any credential went out: 143, nothing was posted, the text is in the outbox", async () => {
    h.server.faults.push({ fault: { kind: "hang" } });
    const text = uniqueText("sigterm");
    const r = await runCli(["post", ...h.args, "--max-length", "0", text], {
      env: h.env,
      onSpawn: killAfter(1, "SIGTERM"),
    });
    expect(r.code).toBe(143);
    expect(r.stderr.split("\n")[0]).toBe("identica: interrupted (SIGTERM); nothing was posted");
    expect(saved(r.stderr)).toMatchObject({ text, sent: false, exitCode: 143 });
  });
});

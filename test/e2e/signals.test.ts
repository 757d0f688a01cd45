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

describe("Ctrl-C and SIGTERM (CLI.md 130)", () => {
  it("SIGINT while the authenticated post is in flight: 130, and says it may have been posted", async () => {
    h.server.faults.push({ fault: { kind: "hang" }, when: "authenticated" });
    const r = await runCli(["post", ...h.args, uniqueText("sigint")], {
      env: h.env,
      onSpawn: killAfter(2, "SIGINT"),
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "identica: interrupted (SIGINT); after the status was sent; it may have been posted (check before posting again)\n",
    );
  });
  it("SIGTERM before any credential went out: 143, nothing was posted", async () => {
    h.server.faults.push({ fault: { kind: "hang" } });
    const r = await runCli(["post", ...h.args, uniqueText("sigterm")], {
      env: h.env,
      onSpawn: killAfter(1, "SIGTERM"),
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toBe("identica: interrupted (SIGTERM); nothing was posted\n");
  });
});

import { afterAll, beforeAll, beforeEach } from "vitest";
import { startServer, type TestServer } from "../server/gnusocial.js";
import { testCertificate } from "../server/tls.js";

export const PASSWORD = "correct horse";

export interface Harness {
  server: TestServer;
  /** The requests to statuses/update (the limit lookup and other reads left out). */
  posts(): TestServer["requests"];
  certPath: string;
  /** `--server <api root> --user alice --cacert <cert>` */
  args: string[];
  env: Record<string, string>;
}

/**
 * One GNU social-like HTTPS server per test file, with a clean request log and no faults before each
 * test. Texts must differ between tests: the server refuses duplicates, as the real one does.
 */
export function useHttpsServer(): Harness {
  const h = { posts: () => postsTo(h.server) } as Harness;
  beforeAll(async () => {
    const tls = testCertificate();
    h.server = await startServer({ tls });
    h.certPath = tls.certPath;
    h.args = ["--server", h.server.apiRoot, "--user", "alice", "--cacert", tls.certPath];
    h.env = { IDENTICA_PASSWORD: PASSWORD };
  });
  beforeEach(() => {
    h.server.requests.length = 0;
    h.server.faults.length = 0;
    h.server.site.textlimit = 1000;
  });
  afterAll(async () => {
    await h.server?.close();
  });
  return h;
}

let counter = 0;
/** A status text no earlier test has posted. */
export function uniqueText(prefix = "status"): string {
  return `${prefix} ${process.pid}-${Date.now()}-${++counter}`;
}

/** The requests a server got for statuses/update. */
export function postsTo(server: TestServer): TestServer["requests"] {
  return server.requests.filter((r) => r.url.startsWith("/api/statuses/update."));
}

/** For `onSpawn`: sends `signal` to the CLI once `server` has received an authenticated update. */
export function killOnAuthenticatedPost(server: TestServer, signal: NodeJS.Signals) {
  return (child: import("node:child_process").ChildProcess) => {
    const timer = setInterval(() => {
      if (postsTo(server).some((r) => r.headers.authorization !== undefined)) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 10);
    child.on("close", () => clearInterval(timer));
  };
}

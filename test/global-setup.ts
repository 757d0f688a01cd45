// Vitest's globalSetup: installs the test PDS (test/helpers/pds-install.ts) once, before any test file
// runs, so that no test's hookTimeout has to cover a first install of a few minutes. An install that
// fails fails the run, with the install log's path: the AT Protocol tests are never skipped.
import type { TestProject } from "vitest/node";
import { installPds } from "./helpers/pds-install.js";

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  let installed = false;
  const install = await installPds({
    onInstall: (dir) => {
      installed = true;
      process.stderr.write(`installing the test PDS into ${dir} (first run only, about 2–3 minutes)\n`);
    },
    onWait: (lock) => process.stderr.write(`waiting for another run's install of the test PDS (${lock})\n`),
  });
  if (installed)
    process.stderr.write(`test PDS installed in ${Math.round((Date.now() - started) / 1000)} s\n`);
  project.provide("identicaTestPds", install);
}

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Installs the AT Protocol tests' PDS once, before any test (first run only, a few minutes).
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // End-to-end tests spawn the CLI; two workers suit the 2-core CI machine.
    maxWorkers: 2,
  },
});

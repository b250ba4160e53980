import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "clients/typescript/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // One test file per core. Vitest's default, one fewer, suits tests that keep the CPU busy; these
    // mostly wait on the servers, Redis, and the Go and Python programs they start, and on a 2-core
    // machine the default ran the files one at a time. Every file runs in a process of its own
    // (chDB binds one data dir per process); VITEST_MAX_WORKERS or --maxWorkers overrides this.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});

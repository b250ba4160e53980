/**
 * The Python and Go clients' own unit tests (no server: names, argument checks), run as part of
 * `npm test` with the toolchains the client suites use.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { goMissing, python, pythonClientMissing, pythonEnv, repositoryRoot, skipWithoutToolchain } from "../support/client-toolchains.js";

const run = promisify(execFile);

describe.skipIf(skipWithoutToolchain("Python client unit tests", pythonClientMissing()))("Python client unit tests", () => {
  it("pass", async () => {
    const { stderr } = await run(python, ["-m", "unittest", "discover", "-s", "clients/python/tests"], {
      cwd: repositoryRoot,
      env: pythonEnv,
      timeout: 60_000,
    });
    expect(stderr).toMatch(/\nOK\b/);
  });
});

describe.skipIf(skipWithoutToolchain("Go client unit tests", goMissing()))("Go client unit tests", () => {
  it("pass", async () => {
    const { stdout } = await run("go", ["test", "./sluice/"], { cwd: join(repositoryRoot, "clients/go"), timeout: 120_000 });
    expect(stdout).toMatch(/^ok\s/m);
  });
});

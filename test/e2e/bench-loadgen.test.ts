/**
 * The serving benchmark's Go load generator (bench/loadgen): its own Go tests, and a run from the
 * benchmark's side (bench/go-load.ts) against the echo floor, the way `npm run bench -- serving` runs it.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ECHO_PATH } from "../../bench/echo-server.js";
import { startEcho } from "../../bench/floors.js";
import { GoLoadGenerator } from "../../bench/go-load.js";
import { alternatingRounds } from "../../bench/support.js";
import { goMissing, repositoryRoot, skipWithoutToolchain } from "../support/client-toolchains.js";

const run = promisify(execFile);

// Skipped only on a developer's machine without Go 1.24+, saying so in one line, as the Go client's suites are.
// CI never skips it: .ci/run stops when Go is missing and sets REQUIRE_CLIENT_TESTS=1, under which a missing
// toolchain fails this suite instead.
describe.skipIf(skipWithoutToolchain("Go load generator", goMissing()))("Go load generator", () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let generator: GoLoadGenerator;

  beforeAll(async () => {
    echo = await startEcho(100);
    generator = await GoLoadGenerator.build();
  }, 120_000);

  afterAll(() => {
    generator?.close();
    echo?.close();
  });

  it("passes its Go tests", async () => {
    const { stdout } = await run("go", ["test", "./..."], { cwd: join(repositoryRoot, "bench/loadgen"), timeout: 120_000 });
    expect(stdout).toMatch(/^ok\s/m);
  }, 120_000);

  it("measures calls/s, and its own CPU per call over the measured window only", async () => {
    const target = { address: echo.address, method: ECHO_PATH, payloads: [Buffer.from("a"), Buffer.from("bc")] };
    const { cold, warmed } = await alternatingRounds(
      { cold: () => generator.measure(target, 4, 300, 0), warmed: () => generator.measure(target, 4, 300, 1500) },
      2,
    );
    for (const figures of [...cold, ...warmed]) {
      expect(figures.callsPerSecond).toBeGreaterThan(0);
      expect(figures.cpuMicrosPerCall).toBeGreaterThan(0);
    }
    // Counting the 1.5 s of warm-up calls' CPU against the 0.3 s window's calls would make the warmed
    // runs' CPU per call several times the cold ones'.
    expect(Math.min(...warmed.map((r) => r.cpuMicrosPerCall))).toBeLessThan(3 * Math.max(...cold.map((r) => r.cpuMicrosPerCall)));
  });

  it("fails with the server's error instead of reporting a throughput", async () => {
    const target = { address: echo.address, method: "/bench.Echo/Missing", payloads: [Buffer.from("a")] };
    await expect(generator.measure(target, 2, 200)).rejects.toThrow(/Unimplemented|UNIMPLEMENTED|unimplemented/);
  });
});

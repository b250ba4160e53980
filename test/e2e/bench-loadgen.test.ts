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
import { goMissing, repositoryRoot, skipWithoutToolchain } from "../support/client-toolchains.js";

const run = promisify(execFile);

describe.skipIf(skipWithoutToolchain("Go load generator", goMissing()))("Go load generator", () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let generator: GoLoadGenerator;

  beforeAll(async () => {
    echo = await startEcho(100);
    const built = await GoLoadGenerator.build();
    if (typeof built === "string") throw new Error(built);
    generator = built;
  }, 120_000);

  afterAll(() => {
    generator?.close();
    echo?.close();
  });

  it("passes its Go tests", async () => {
    const { stdout } = await run("go", ["test", "./..."], { cwd: join(repositoryRoot, "bench/loadgen"), timeout: 120_000 });
    expect(stdout).toMatch(/^ok\s/m);
  }, 120_000);

  it("measures calls/s and its own CPU per call against a live server", async () => {
    const target = { address: echo.address, method: ECHO_PATH, payloads: [Buffer.from("a"), Buffer.from("bc")] };
    const [first, second] = await generator.alternating([target, target], 4, 2, 200);
    for (const figures of [first, second]) {
      expect(figures.callsPerSecond).toBeGreaterThan(0);
      expect(figures.cpuMicrosPerCall).toBeGreaterThan(0);
    }
  });

  it("fails with the server's error instead of reporting a throughput", async () => {
    const target = { address: echo.address, method: "/bench.Echo/Missing", payloads: [Buffer.from("a")] };
    await expect(generator.measure(target, 2, 200)).rejects.toThrow(/Unimplemented|UNIMPLEMENTED|unimplemented/);
  });
});

/**
 * The Go load generator (bench/loadgen) from the benchmarks' side: built from the checkout, run once
 * per measurement, its JSON read back. The benchmarks share two cores with the servers they measure,
 * and grpc-js spends about 150-200 µs of CPU per call as a client: at 64 calls in flight the Node
 * generator takes CPU the server would use. grpc-go spends a fraction of that, so its figures are
 * closer to what the server can do with a client on another machine (docs/benchmarks.md, "Model serving").
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { goBinary, goMissing } from "../test/support/client-toolchains.js";
import { type LoadRun, medianRun } from "./support.js";

const run = promisify(execFile);

/** What to call: a server, a full method path, and the raw request payloads sent round robin. */
export interface LoadTarget {
  address: string;
  method: string;
  payloads: readonly Buffer[];
}

/** The built generator; `close` removes its payload files. */
export class GoLoadGenerator {
  private readonly payloadFiles = new Map<LoadTarget, string>();

  private constructor(
    private readonly binary: string,
    private readonly directory: string,
  ) {}

  /** Builds the generator, or says why it cannot (no Go toolchain). */
  static async build(): Promise<GoLoadGenerator | string> {
    const missing = goMissing();
    if (missing) return missing;
    const binary = await goBinary("bench/loadgen", "github.com/sluice-ml/sluice/bench/loadgen");
    return new GoLoadGenerator(binary, mkdtempSync(join(tmpdir(), "sluice-bench-loadgen-")));
  }

  /**
   * Calls/s with `concurrency` calls in flight for `durationMs`, after half a second of warm-up, and
   * the generator's own CPU (user + system) per call.
   */
  async measure(target: LoadTarget, concurrency: number, durationMs: number): Promise<LoadRun> {
    const { stdout } = await run(this.binary, [
      "-address",
      target.address,
      "-method",
      target.method,
      "-payloads",
      this.payloadFile(target),
      "-concurrency",
      String(concurrency),
      "-duration",
      `${durationMs}ms`,
    ]);
    const result = JSON.parse(stdout) as LoadRun;
    return { callsPerSecond: Math.round(result.callsPerSecond), cpuMicrosPerCall: Number(result.cpuMicrosPerCall.toFixed(1)) };
  }

  /** Medians of rounds that alternate between the targets, as the Node generator's rounds do. */
  async alternating<Targets extends LoadTarget[]>(
    targets: [...Targets],
    concurrency: number,
    rounds: number,
    durationMs: number,
  ): Promise<{ [K in keyof Targets]: LoadRun }> {
    const samples = targets.map((): LoadRun[] => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, target] of targets.entries()) samples[i]?.push(await this.measure(target, concurrency, durationMs));
    }
    return samples.map(medianRun) as { [K in keyof Targets]: LoadRun };
  }

  close(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** The target's payloads as the generator reads them: each a 4-byte big-endian length and its bytes. */
  private payloadFile(target: LoadTarget): string {
    let file = this.payloadFiles.get(target);
    if (file === undefined) {
      file = join(this.directory, `payloads-${this.payloadFiles.size}.bin`);
      writeFileSync(
        file,
        Buffer.concat(
          target.payloads.flatMap((payload) => {
            const length = Buffer.alloc(4);
            length.writeUInt32BE(payload.length);
            return [length, payload];
          }),
        ),
      );
      this.payloadFiles.set(target, file);
    }
    return file;
  }
}

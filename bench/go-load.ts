/**
 * The Go load generator (bench/loadgen) from the benchmarks' side: built from the checkout, run once
 * per measurement, its JSON read back. The benchmarks share two cores with the servers they measure,
 * and grpc-js as a client spends several times grpc-go's CPU per call, on one thread (the serving
 * benchmark records both): at 64 calls in flight the Node generator paces the server, and the Go
 * generator's figures are closer to what a server does for clients on other machines
 * (docs/benchmarks.md, "Model serving").
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { goBinary, goMissing } from "../test/support/client-toolchains.js";
import type { LoadRun } from "./support.js";

const run = promisify(execFile);

/** What to call: a server, a full method path, the raw request payloads sent round robin, and metadata. */
export interface LoadTarget {
  address: string;
  method: string;
  payloads: readonly Buffer[];
  headers?: Record<string, string>;
}

/** The built generator; `close` removes its payload files. */
export class GoLoadGenerator {
  private readonly payloadFiles = new Map<LoadTarget, string>();

  private constructor(
    private readonly binary: string,
    private readonly directory: string,
  ) {}

  /** Builds the generator; throws, saying why, without a Go toolchain. */
  static async build(): Promise<GoLoadGenerator> {
    const missing = goMissing();
    if (missing) throw new Error(`the Go load generator (bench/loadgen) cannot be built: ${missing}`);
    const binary = await goBinary("bench/loadgen", "github.com/sluice-ml/sluice/bench/loadgen");
    return new GoLoadGenerator(binary, mkdtempSync(join(tmpdir(), "sluice-bench-loadgen-")));
  }

  /**
   * Calls/s with `concurrency` calls in flight for `durationMs`, after `warmupMs` of calls not
   * counted, and the generator's own CPU (user + system) per call. Rejects with the generator's
   * message when a call fails or none is answered.
   */
  async measure(target: LoadTarget, concurrency: number, durationMs: number, warmupMs = 500): Promise<LoadRun> {
    const headers = Object.entries(target.headers ?? {}).flatMap(([name, value]) => ["-header", `${name}=${value}`]);
    const { stdout } = await run(this.binary, [
      ...["-address", target.address, "-method", target.method, "-payloads", this.payloadFile(target)],
      ...["-concurrency", String(concurrency), "-duration", `${durationMs}ms`, "-warmup", `${warmupMs}ms`],
      ...headers,
    ]);
    const result = JSON.parse(stdout) as LoadRun;
    return { callsPerSecond: Math.round(result.callsPerSecond), cpuMicrosPerCall: Number(result.cpuMicrosPerCall.toFixed(1)) };
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

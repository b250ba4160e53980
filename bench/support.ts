/** Measuring helpers shared by the benchmarks: latency percentiles, throughput, peak RSS, results. */
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";

/** Latency of sequential calls, in microseconds. */
export interface Latency {
  p50Us: number;
  p99Us: number;
  meanUs: number;
  calls: number;
}

/**
 * Calls `call` one at a time (after a warmup) and records each latency in an HDR histogram. The
 * warmup is by default as many calls as are measured: processes just started (Sluice and the echo
 * floor alike) keep a cold JIT's heavier tail for some thousands of calls.
 */
export async function sequentialLatency(call: () => Promise<unknown>, iterations: number, warmup = iterations): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await call();
  const histogram = latencyHistogram();
  for (let i = 0; i < iterations; i++) await timed(call, histogram);
  return summarize(histogram, iterations);
}

/**
 * Latencies of two calls measured alternately (a, b, a, b, ...), so drift in a noisy machine's
 * load affects both alike; a comparison of their percentiles is then fair. Warmed as
 * {@link sequentialLatency} is.
 */
export async function pairedLatency(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  iterations: number,
  warmup = iterations,
): Promise<[Latency, Latency]> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const [forA, forB] = [latencyHistogram(), latencyHistogram()];
  for (let i = 0; i < iterations; i++) {
    await timed(a, forA);
    await timed(b, forB);
  }
  return [summarize(forA, iterations), summarize(forB, iterations)];
}

function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** Runs `call` once and records its latency in microseconds. */
async function timed(call: () => Promise<unknown>, histogram: hdr.Histogram): Promise<void> {
  const started = process.hrtime.bigint();
  await call();
  histogram.recordValue(Number((process.hrtime.bigint() - started) / 1000n));
}

/** The percentiles of a histogram, which it then frees. */
function summarize(histogram: hdr.Histogram, calls: number): Latency {
  const result = {
    p50Us: histogram.getValueAtPercentile(50),
    p99Us: histogram.getValueAtPercentile(99),
    meanUs: Math.round(histogram.mean),
    calls,
  };
  histogram.destroy();
  return result;
}

/** Keeps `concurrency` calls in flight for `durationMs` and returns completed calls per second. */
export async function throughput(call: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<number> {
  return (await loadRun(call, concurrency, durationMs)).callsPerSecond;
}

/** Calls per second at a fixed number in flight, and this process's CPU per call while it generated them. */
export interface LoadRun {
  callsPerSecond: number;
  cpuMicrosPerCall: number;
}

/** {@link throughput}, with the CPU this process (the load generator) spent per call. */
export async function loadRun(call: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<LoadRun> {
  const deadline = Date.now() + durationMs;
  let completed = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await call();
        completed++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  if (completed === 0) throw new Error(`no call was answered in ${durationMs} ms`);
  return {
    callsPerSecond: Math.round(completed / ((performance.now() - started) / 1000)),
    cpuMicrosPerCall: Number(((cpu.user + cpu.system) / completed).toFixed(1)),
  };
}

/**
 * Runs each measure in turn, `rounds` times over (a, b, c, a, b, c, ...), so drift in a noisy
 * machine's load affects them alike, and returns each one's results, round by round.
 */
export async function alternatingRounds<Name extends string, Result>(
  measures: Record<Name, () => Promise<Result>>,
  rounds: number,
): Promise<Record<Name, Result[]>> {
  const names = Object.keys(measures) as Name[];
  const results = Object.fromEntries(names.map((name) => [name, [] as Result[]])) as Record<Name, Result[]>;
  for (let round = 0; round < rounds; round++) {
    for (const name of names) results[name].push(await measures[name]());
  }
  return results;
}

/** The round with the median calls/s (the upper one of an even count), with its other figures. */
export function medianRound<Round extends { callsPerSecond: number }>(runs: readonly Round[]): Round {
  if (runs.length === 0) throw new Error("no rounds to take the median of");
  return [...runs].sort((a, b) => a.callsPerSecond - b.callsPerSecond)[Math.floor(runs.length / 2)] as Round;
}

/** The median of some values (the upper one of an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("no values to take the median of");
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

/** a ÷ b to two decimals. */
export function ratio(a: number, b: number): number {
  return Number((a / b).toFixed(2));
}

/** Peak resident set size of a process, in MiB (Linux VmHWM). */
export function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"));
  return Math.round(Number(line?.replace(/\D+/g, "") ?? 0) / 1024);
}

/** The machine a result was measured on. */
export function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** Writes a result as bench/results/<name>.json and prints it. */
export function saveResult(name: string, result: Record<string, unknown>): void {
  const path = join(import.meta.dirname, "results", `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ machine: machine(), ...result }, null, 2)}\n`);
  process.stdout.write(`\n== ${name} (${path})\n${JSON.stringify(result, null, 2)}\n`);
}

/**
 * The window rule of docs/streaming.md as a plain loop over every event received, with nothing
 * shared with the code under test but the HyperLogLog definition: the reference that the online
 * tiles (src/streams/tiles.ts) and the offline SQL (src/storage/offline/window-sql.ts) are held to.
 */
import type { FeatureValue } from "../../src/common/feature-value.js";
import type { AggregationSpec } from "../../src/streams/aggregations.js";
import { hashDistinctValue, hllAdd, hllEstimate } from "../../src/streams/hyperloglog.js";

/** An event with the time it was received. */
export interface OracleEvent {
  eventTime: number;
  ingestTime: number;
  receiptTime: number;
  value: FeatureValue;
}

/** The events a window counts as of `t`: received by `t`, event time in [floor((t − W)/g)·g, t]. */
export function countedEvents(
  events: readonly OracleEvent[],
  windowMicros: number | undefined,
  granularity: number,
  t: number,
): OracleEvent[] {
  const start = windowMicros === undefined ? Number.NEGATIVE_INFINITY : Math.floor((t - windowMicros) / granularity) * granularity;
  return events.filter((e) => e.receiptTime <= t && e.eventTime <= t && e.eventTime >= start);
}

/**
 * How far a floating-point sum, mean, variance or stddev of `values` may be from the plain loop's
 * (docs/streaming.md): 1e-9 of the scale the rounding errors of any summation order grow with
 * (Σ|x|, Σ|x|/n, Σx²/(n − 1), and the square root of the variance's bound for stddev), plus 1e-12.
 */
export function floatTolerance(kind: AggregationSpec["kind"], values: readonly FeatureValue[]): number {
  const numbers = values.filter((v) => v !== null).map(Number);
  const n = numbers.length;
  const absolute = numbers.reduce((s, v) => s + Math.abs(v), 0);
  const squares = numbers.reduce((s, v) => s + v * v, 0);
  const relative = kind === "sum" ? absolute : kind === "mean" ? absolute / Math.max(n, 1) : squares / Math.max(n - 1, 1);
  const bound = 1e-12 + 1e-9 * relative;
  return kind === "stddev" ? Math.sqrt(bound) : bound;
}

/** The value of `spec` over a window of `windowMicros` (undefined: lifetime) as of `t`, from the events received by `t`. */
export function windowOracle(
  events: readonly OracleEvent[],
  spec: AggregationSpec,
  windowMicros: number | undefined,
  granularity: number,
  t: number,
): FeatureValue {
  const counted = countedEvents(events, windowMicros, granularity, t);
  const values = counted.map((e) => e.value).filter((v) => v !== null);
  const numbers = values.map(Number);
  const byTime = [...counted].sort((a, b) => a.eventTime - b.eventTime || a.ingestTime - b.ingestTime);
  switch (spec.kind) {
    case "count":
      return BigInt(counted.length);
    case "sum":
      if (spec.fieldType === "int32" || spec.fieldType === "int64") {
        const sum = values.reduce<bigint>((s, v) => s + BigInt(v as number | bigint), 0n);
        return sum >= -(2n ** 63n) && sum < 2n ** 63n ? sum : null;
      }
      return numbers.reduce((s, v) => s + v, 0);
    case "mean":
      return numbers.length === 0 ? null : numbers.reduce((s, v) => s + v, 0) / numbers.length;
    case "variance":
    case "stddev": {
      if (numbers.length < 2) return null;
      const mean = numbers.reduce((s, v) => s + v, 0) / numbers.length;
      const variance = numbers.reduce((s, v) => s + (v - mean) ** 2, 0) / (numbers.length - 1);
      return spec.kind === "variance" ? variance : Math.sqrt(variance);
    }
    case "min":
    case "max": {
      if (values.length === 0) return null;
      // Strings by their UTF-8 bytes (ClickHouse's order), computed independently of the code under test.
      const key = (v: FeatureValue) =>
        typeof v === "string" ? Buffer.from(v).toString("hex") : v instanceof Date ? v.getTime() : (v as number);
      return values.reduce((best, v) => ((spec.kind === "min" ? key(v) < key(best) : key(v) > key(best)) ? v : best));
    }
    case "first":
      return byTime[0]?.value ?? null;
    case "last":
      return byTime.at(-1)?.value ?? null;
    case "last_n":
      return byTime
        .filter((e) => e.value !== null)
        .slice(-(spec.k ?? 1))
        .reverse()
        .map((e) => e.value) as FeatureValue;
    case "count_distinct": {
      const registers = {};
      for (const v of values) hllAdd(registers, hashDistinctValue(v as number | bigint | string));
      return BigInt(hllEstimate(registers));
    }
  }
}

/**
 * The window rule of docs/streaming.md as a plain loop over every event received, with nothing
 * shared with the tile code but the HyperLogLog definition: the reference the online tiles (and
 * later the offline SQL) are held to.
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

/** The value of `spec` over a window of `windowMicros` (undefined: lifetime) as of `t`, from the events received by `t`. */
export function windowOracle(
  events: readonly OracleEvent[],
  spec: AggregationSpec,
  windowMicros: number | undefined,
  granularity: number,
  t: number,
): FeatureValue {
  const start = windowMicros === undefined ? Number.NEGATIVE_INFINITY : Math.floor((t - windowMicros) / granularity) * granularity;
  const counted = events.filter((e) => e.receiptTime <= t && e.eventTime <= t && e.eventTime >= start);
  const values = counted.map((e) => e.value).filter((v) => v !== null);
  const numbers = values.map(Number);
  const byTime = [...counted].sort((a, b) => a.eventTime - b.eventTime || a.ingestTime - b.ingestTime);
  switch (spec.kind) {
    case "count":
      return BigInt(counted.length);
    case "sum":
      if (spec.fieldType === "int32" || spec.fieldType === "int64")
        return values.reduce<bigint>((s, v) => s + BigInt(v as number | bigint), 0n);
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
      const key = (v: FeatureValue) => (v instanceof Date ? v.getTime() : (v as number | string));
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

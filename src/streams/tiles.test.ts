import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countedEvents, floatTolerance, type OracleEvent, windowOracle } from "../../test/support/window-oracle.js";
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { AGGREGATION_KINDS, type AggregationKind, type AggregationSpec } from "./aggregations.js";
import { type StreamEvent, TileLayout, type WindowedAggregation } from "./tiles.js";

const FLOAT_KINDS: ReadonlySet<AggregationKind> = new Set(["sum", "mean", "variance", "stddev"]);

/** Every kind over each field it takes, each over a few windows and lifetime. */
function aggregationsFor(windows: number[], granularity: number): WindowedAggregation[] {
  const fields: Array<[string, ValueType]> = [
    ["amount", "double"],
    ["items", "int64"],
    ["merchant", "string"],
  ];
  const aggregations: WindowedAggregation[] = [];
  for (const kind of AGGREGATION_KINDS) {
    for (const [field, fieldType] of fields) {
      if ((kind === "sum" || kind === "mean" || kind === "variance" || kind === "stddev") && fieldType === "string") continue;
      if (kind === "count_distinct" && fieldType === "double") continue;
      const spec: AggregationSpec = { kind, fieldType, ...(kind === "last_n" ? { k: 3 } : {}) };
      for (const n of windows) aggregations.push({ spec, field, window: { micros: n * granularity } });
      aggregations.push({ spec, field, window: "lifetime" });
    }
  }
  return aggregations;
}

function expectSame(actual: FeatureValue, expected: FeatureValue, kind: AggregationKind, label: string, counted: FeatureValue[]): void {
  if (FLOAT_KINDS.has(kind) && typeof expected === "number" && typeof actual === "number") {
    expect(Math.abs(actual - expected), label).toBeLessThanOrEqual(floatTolerance(kind, counted));
  } else {
    expect(actual, label).toEqual(expected);
  }
}

/** One step of a generated stream: an event received some time after the previous step, or a read. */
const stepArbitrary = (granularity: number) =>
  fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant("event" as const),
        wait: fc.integer({ min: 0, max: 3 * granularity }),
        // Mostly late by up to a dozen tiles, sometimes ahead of the receipt clock.
        lateness: fc.integer({ min: -2 * granularity, max: 12 * granularity }),
        amount: // Large values that cancel: compensated sums in any order agree within the documented bound.
          fc.option(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom(1e16, -1e16, 1)), { nil: null }),
        items: fc.option(fc.bigInt({ min: -1000n, max: 1000n }), { nil: null }),
        // Strings past U+FFFF and high in the BMP too: min and max order them by code point.
        merchant: fc.option(fc.constantFrom("m1", "m2", "m3", "é", "\uFF01", "😀"), { nil: null }),
      }),
      weight: 4,
    },
    { arbitrary: fc.record({ kind: fc.constant("read" as const), wait: fc.integer({ min: 0, max: 2 * granularity }) }), weight: 1 },
  );

describe("tiles", () => {
  it("property: every value read as of t equals the plain loop over the events received by t", () => {
    const scenario = fc.constantFrom(1000, 60_000_000).chain((granularity) =>
      fc.record({
        granularity: fc.constant(granularity),
        windows: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
        origin: fc.integer({ min: -5e15, max: 5e15 }),
        steps: fc.array(stepArbitrary(granularity), { minLength: 1, maxLength: 80 }),
      }),
    );
    fc.assert(
      fc.property(scenario, ({ granularity, windows, origin, steps }) => {
        const layout = new TileLayout(aggregationsFor(windows, granularity), granularity);
        const data = layout.empty();
        const received: Array<OracleEvent & { fields: StreamEvent["fields"] }> = [];
        let now = origin;
        let ingest = 0;
        for (const step of steps) {
          now += step.wait;
          if (step.kind === "event") {
            const fields = { amount: step.amount, items: step.items, merchant: step.merchant };
            // Event times on a half-tile grid, so that ties on event time (broken by ingestion) are common.
            const half = granularity / 2;
            const event = { eventTime: Math.floor((now - step.lateness) / half) * half, ingestTime: ++ingest, fields };
            layout.apply(data, event, now);
            received.push({ ...event, receiptTime: now, value: null });
            continue;
          }
          const values = layout.valuesAsOf(data, now);
          layout.aggregations.forEach((aggregation, i) => {
            const events = received.map((e) => ({ ...e, value: e.fields[aggregation.field] ?? null }));
            const windowMicros = aggregation.window === "lifetime" ? undefined : aggregation.window.micros;
            const expected = windowOracle(events, aggregation.spec, windowMicros, granularity, now);
            const label = `${aggregation.spec.kind}(${aggregation.field}) over ${windowMicros ?? "lifetime"} at ${now}`;
            const counted = countedEvents(events, windowMicros, granularity, now).map((e) => e.value);
            expectSame(values[i] ?? null, expected, aggregation.spec.kind, label, counted);
          });
        }
      }),
      { numRuns: 60, seed: 20261127 },
    );
  });

  it("keeps the state of an entity bounded: tiles older than the longest window are folded away", () => {
    const granularity = 60_000_000;
    const layout = new TileLayout(
      [{ spec: { kind: "count", fieldType: "double" }, field: "amount", window: { micros: 10 * granularity } }],
      granularity,
    );
    const data = layout.empty();
    for (let minute = 0; minute < 1000; minute++) {
      const now = minute * granularity;
      layout.apply(data, { eventTime: now, ingestTime: minute, fields: { amount: 1 } }, now);
    }
    expect(data.tiles.size).toBeLessThanOrEqual(11);
    expect(layout.valuesAsOf(data, 999 * granularity)).toEqual([11n]);
  });

  it("counts an event received ahead of its time only from that time on", () => {
    const layout = new TileLayout([{ spec: { kind: "count", fieldType: "double" }, field: "amount", window: "lifetime" }], 1000);
    const data = layout.empty();
    layout.apply(data, { eventTime: 5000, ingestTime: 1, fields: {} }, 1000);
    expect(layout.valuesAsOf(data, 4999)).toEqual([0n]);
    expect(layout.valuesAsOf(data, 5000)).toEqual([1n]);
    // A read before the latest receipt reads as of that receipt.
    expect(layout.valuesAsOf(data, 999)).toEqual(layout.valuesAsOf(data, 1000));
  });

  it("counts only the events a filter accepts", () => {
    const layout = new TileLayout(
      [{ spec: { kind: "count", fieldType: "double" }, field: "amount", window: "lifetime", filter: (f) => (f.amount as number) > 10 }],
      1000,
    );
    const data = layout.empty();
    for (const amount of [5, 20, 30]) layout.apply(data, { eventTime: 10, ingestTime: amount, fields: { amount } }, 100);
    expect(layout.valuesAsOf(data, 100)).toEqual([2n]);
  });
});

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countedEvents, floatTolerance, type OracleEvent, windowOracle } from "../../../test/support/window-oracle.js";
import type { FeatureValue } from "../../common/feature-value.js";
import type { ValueType } from "../../common/value-type.js";
import { AGGREGATION_KINDS, type AggregationKind, addEvent, emptyState, resultOf } from "../../streams/aggregations.js";
import { formatMicros } from "./clickhouse-sql.js";
import { type WindowedColumn, windowedAggregatesQuery } from "./window-sql.js";

let session: Session;
const GRANULARITY = 60_000_000;
const FIELDS: Array<{ name: string; type: ValueType }> = [
  { name: "amount", type: "double" },
  { name: "items", type: "int64" },
  { name: "merchant", type: "string" },
];
const FLOAT_KINDS: ReadonlySet<AggregationKind> = new Set(["sum", "mean", "variance", "stddev"]);

beforeAll(() => {
  session = new Session(mkdtempSync(join(tmpdir(), "sluice-window-sql-")));
  session.query("CREATE DATABASE IF NOT EXISTS w");
});
afterAll(() => session?.close());

/** Every kind over each field it takes, over 1, 3 and 10 tiles and lifetime. */
function columns(): WindowedColumn[] {
  const fields: Array<[string, WindowedColumn["fieldType"]]> = [
    ["amount", "double"],
    ["items", "int64"],
    ["merchant", "string"],
  ];
  const all: WindowedColumn[] = [];
  for (const kind of AGGREGATION_KINDS) {
    for (const [field, fieldType] of fields) {
      if ((kind === "sum" || kind === "mean" || kind === "variance" || kind === "stddev") && fieldType === "string") continue;
      if (kind === "count_distinct" && fieldType === "double") continue;
      for (const tiles of [1, 3, 10, undefined]) {
        all.push({
          kind,
          field,
          fieldType,
          ...(kind === "last_n" ? { k: 3 } : {}),
          ...(tiles === undefined ? {} : { windowMicros: tiles * GRANULARITY }),
          as: `${kind}_${field}_${tiles ?? "life"}`,
        });
      }
    }
  }
  return all;
}

/** Rows as JSON values are decoded: Int64 as bigint, floats as numbers, arrays as arrays. */
function decode(column: WindowedColumn, raw: unknown): FeatureValue {
  if (raw === null) return null;
  if (column.kind === "count" || column.kind === "count_distinct" || (column.kind === "sum" && column.fieldType === "int64"))
    return BigInt(raw as string);
  if (column.fieldType === "int64" && (column.kind === "min" || column.kind === "max" || column.kind === "first" || column.kind === "last"))
    return BigInt(raw as string);
  if (column.kind === "last_n")
    return (raw as unknown[]).map((v) => (column.fieldType === "int64" ? BigInt(v as string) : v)) as FeatureValue;
  return raw as FeatureValue;
}

const eventArbitrary = fc.record({
  customer: fc.integer({ min: 1, max: 3 }),
  minute: fc.integer({ min: 0, max: 40 }),
  // Half-minute steps: many events share an event time.
  half: fc.boolean(),
  ingestDelayMinutes: fc.integer({ min: 0, max: 15 }),
  amount: fc.option(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e16, -1e16, 1)), {
    nil: null,
  }),
  items: fc.option(fc.bigInt({ min: -1000n, max: 1000n }), { nil: null }),
  // Strings past U+FFFF and high in the BMP: min and max must order them as ClickHouse does (UTF-8 bytes).
  merchant: fc.option(fc.constantFrom("m1", "m2", "é", "\uFF01", "😀"), { nil: null }),
});

describe("windowed aggregates in SQL", () => {
  it("property: equal the plain loop for every kind, window and spine time, known-at and by event time", () => {
    const all = columns();
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(eventArbitrary, { minLength: 0, maxLength: 40 }),
        fc.array(fc.record({ customer: fc.integer({ min: 1, max: 4 }), second: fc.integer({ min: -60, max: 60 * 60 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.boolean(),
        // Half an hour before 1970 too, so window starts cross zero (floors, not truncations).
        fc.constantFrom(Date.UTC(2026, 0, 1), Date.UTC(1969, 11, 31, 23, 30)),
        (generated, spineRows, knownAt, origin) => {
          run++;
          const t0 = origin * 1000;
          const events = generated.map((e, i) => {
            const eventTime = t0 + e.minute * GRANULARITY + (e.half ? GRANULARITY / 2 : 0);
            // Ingestion times strictly increasing with the write order, as the server's clock gives them.
            return { ...e, eventTime, ingestTime: eventTime + e.ingestDelayMinutes * GRANULARITY + i };
          });
          const events_ = `w.events_${run}`;
          const spine = `w.spine_${run}`;
          session.query(
            `CREATE TABLE ${events_} (customer_id Int64, event_time DateTime64(6, 'UTC'), ingestion_time DateTime64(6, 'UTC'), amount Nullable(Float64), items Nullable(Int64), merchant Nullable(String), too_late UInt8 ALIAS 0) ENGINE = MergeTree ORDER BY (customer_id, event_time)`,
          );
          session.query(`CREATE TABLE ${spine} (spine_index UInt64, customer_id Int64, event_time DateTime64(6, 'UTC')) ENGINE = Memory`);
          if (events.length > 0) {
            const rows = events.map(
              (e) =>
                `(${e.customer}, '${formatMicros(e.eventTime)}', '${formatMicros(e.ingestTime)}', ${e.amount === null ? "NULL" : e.amount.toExponential(17)}, ${e.items ?? "NULL"}, ${e.merchant === null ? "NULL" : `'${e.merchant}'`})`,
            );
            session.query(`INSERT INTO ${events_} VALUES ${rows.join(", ")}`);
          }
          const spineTimes = spineRows.map((s) => t0 + s.second * 1_000_000);
          session.query(
            `INSERT INTO ${spine} VALUES ${spineRows.map((s, i) => `(${i}, ${s.customer}, '${formatMicros(spineTimes[i] as number)}')`).join(", ")}`,
          );
          const query = windowedAggregatesQuery({
            spineTable: spine,
            eventsTable: events_,
            keyColumns: ["customer_id"],
            fields: FIELDS,
            granularity: GRANULARITY,
            columns: all,
            knownAt,
          });
          const result = session
            .query(`${query}, output_format_json_quote_64bit_integers = 1`, "JSONEachRow")
            .toString()
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line) as Record<string, unknown>);
          expect(result.map((r) => Number(r.spine_index))).toEqual(spineRows.map((_, i) => i));
          spineRows.forEach((row, i) => {
            const t = spineTimes[i] as number;
            for (const column of all) {
              const oracleEvents: OracleEvent[] = events
                .filter((e) => e.customer === row.customer)
                .map((e) => ({
                  eventTime: e.eventTime,
                  ingestTime: e.ingestTime,
                  receiptTime: knownAt ? e.ingestTime : Number.NEGATIVE_INFINITY,
                  value: e[column.field as "amount" | "items" | "merchant"],
                }));
              const expected = windowOracle(oracleEvents, column, column.windowMicros, GRANULARITY, t);
              const actual = decode(column, result[i]?.[column.as] ?? null);
              const label = `${column.as} for spine row ${i} (known-at ${knownAt})`;
              if (FLOAT_KINDS.has(column.kind) && typeof expected === "number" && typeof actual === "number") {
                const counted = countedEvents(oracleEvents, column.windowMicros, GRANULARITY, t).map((e) => e.value);
                expect(Math.abs(actual - expected), label).toBeLessThanOrEqual(floatTolerance(column.kind, counted));
              } else {
                expect(actual, label).toEqual(expected);
              }
            }
          });
        },
      ),
      { numRuns: 15, seed: 20261127 },
    );
    // Fifteen runs of synchronous chDB queries: about 10 s alone, longer beside the other test files.
  }, 120_000);

  it("agrees with the TypeScript aggregations on thousands of distinct values and on int64 sums out of range", () => {
    const t0 = Date.UTC(2026, 0, 1) * 1000;
    session.query(
      "CREATE TABLE w.big_events (customer_id Int64, event_time DateTime64(6, 'UTC'), ingestion_time DateTime64(6, 'UTC'), items Nullable(Int64), merchant Nullable(String), too_late UInt8 ALIAS 0) ENGINE = MergeTree ORDER BY (customer_id, event_time)",
    );
    session.query("CREATE TABLE w.big_spine (spine_index UInt64, customer_id Int64, event_time DateTime64(6, 'UTC')) ENGINE = Memory");
    const merchants = Array.from({ length: 6000 }, (_, i) => `merchant_${i % 5000}_é😀`);
    const time = `'${formatMicros(t0)}'`;
    session.query(`INSERT INTO w.big_events VALUES ${merchants.map((m) => `(1, ${time}, ${time}, NULL, '${m}')`).join(", ")}`);
    session.query(`INSERT INTO w.big_events VALUES (2, ${time}, ${time}, ${2n ** 62n}, NULL), (2, ${time}, ${time}, ${2n ** 62n}, NULL)`);
    session.query(`INSERT INTO w.big_spine VALUES (0, 1, '${formatMicros(t0 + 1)}'), (1, 2, '${formatMicros(t0 + 1)}')`);
    const distinct: WindowedColumn = { kind: "count_distinct", field: "merchant", fieldType: "string", as: "distinct_merchants" };
    const sum: WindowedColumn = { kind: "sum", field: "items", fieldType: "int64", as: "items_sum" };
    const query = windowedAggregatesQuery({
      spineTable: "w.big_spine",
      eventsTable: "w.big_events",
      keyColumns: ["customer_id"],
      fields: FIELDS,
      granularity: GRANULARITY,
      columns: [distinct, sum],
      knownAt: false,
    });
    const [first, second] = session
      .query(`${query}, output_format_json_quote_64bit_integers = 1`, "JSONEachRow")
      .toString()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const state = emptyState(distinct);
    for (const value of merchants) addEvent(distinct, state, { eventTime: t0, ingestTime: t0, value });
    expect(BigInt(first?.distinct_merchants as string)).toBe(resultOf(distinct, state));
    expect(Math.abs(Number(resultOf(distinct, state)) - 5000) / 5000).toBeLessThan(0.05);
    // 2^62 + 2^62 = 2^63 is outside int64: null on both paths, never a wrapped negative.
    const sumState = emptyState(sum);
    for (let i = 0; i < 2; i++) addEvent(sum, sumState, { eventTime: t0, ingestTime: t0, value: 2n ** 62n });
    expect([second?.items_sum, resultOf(sum, sumState)]).toEqual([null, null]);
  });
});

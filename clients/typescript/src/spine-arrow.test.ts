import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import type { SpineColumnsInput } from "./inputs.js";
import { arrowSpineCandidate, spineColumnsAsArrow } from "./spine-arrow.js";

const T0 = Date.UTC(2026, 0, 1);
const columns = (overrides: Partial<SpineColumnsInput> = {}): SpineColumnsInput => ({
  eventTimes: [new Date(T0), new Date(T0 + 1)],
  entityKey: {
    customer_id: BigInt64Array.of(1n, 2n),
    region: { type: "string", values: ["eu", "us"] },
    store: Int32Array.of(7, 8),
  },
  extras: { weight: Float64Array.of(0.5, 1.5), note: { type: "string", values: ["a", "b"] } },
  ...overrides,
});

describe("spineColumnsAsArrow", () => {
  it("sends the join keys, the times in microseconds and the extras, leaving out entity columns that are no join key", () => {
    const bytes = spineColumnsAsArrow(columns(), ["customer_id", "region"]);
    const table = tableFromIPC(bytes as Uint8Array);
    expect(table.schema.fields.map((f) => `${f.name}: ${f.type}`)).toEqual([
      "customer_id: Int64",
      "region: Utf8",
      "weight: Float64",
      "note: Utf8",
      "event_time: Timestamp<MICROSECOND, UTC>",
    ]);
    expect(table.toArray().map(({ event_time, ...row }) => row)).toEqual([
      { customer_id: 1n, region: "eu", weight: 0.5, note: "a" },
      { customer_id: 2n, region: "us", weight: 1.5, note: "b" },
    ]);
    const microsOf = (bytes: Uint8Array | undefined) => tableFromIPC(bytes as Uint8Array).getChild("event_time")?.data[0]?.values;
    expect(microsOf(bytes)).toEqual(BigInt64Array.of(BigInt(T0) * 1000n, BigInt(T0 + 1) * 1000n));
    // Times given as microseconds go as they are.
    const micros = BigInt64Array.of(5n, 6n);
    expect(microsOf(spineColumnsAsArrow(columns({ eventTimes: micros }), ["customer_id", "region"]))).toEqual(micros);
  });

  it("leaves to the columns form whatever an Arrow spine would read otherwise, or the server would name otherwise", () => {
    const keys = ["customer_id", "region"];
    expect(spineColumnsAsArrow(columns(), [])).toBeUndefined();
    // A join key missing from the entity key, or sent as an extra too.
    expect(spineColumnsAsArrow(columns(), [...keys, "country"])).toBeUndefined();
    expect(spineColumnsAsArrow(columns({ extras: { region: Float64Array.of(1, 2) } }), keys)).toBeUndefined();
    expect(spineColumnsAsArrow(columns({ extras: { event_time: Float64Array.of(1, 2) } }), keys)).toBeUndefined();
    // Columns that may hold nulls, or hold one.
    expect(spineColumnsAsArrow(columns({ extras: { flag: { type: "bool", values: [true, false] } } }), keys)).toBeUndefined();
    expect(spineColumnsAsArrow(columns({ extras: { note: { type: "string", values: ["a", null] } } }), keys)).toBeUndefined();
    // Lengths that differ, and a time that is no date.
    expect(spineColumnsAsArrow(columns({ extras: { weight: Float64Array.of(1) } }), keys)).toBeUndefined();
    expect(spineColumnsAsArrow(columns({ eventTimes: [new Date(T0), new Date(Number.NaN)] }), keys)).toBeUndefined();
  });

  it("is tried (a registry call first) only when every column could go as Arrow", () => {
    expect(arrowSpineCandidate(columns())).toBe(true);
    expect(arrowSpineCandidate(columns({ extras: { flag: { type: "bool", values: [true, false] } } }))).toBe(false);
    expect(arrowSpineCandidate(columns({ extras: { note: { type: "string", values: [null, "b"] } } }))).toBe(false);
  });
});

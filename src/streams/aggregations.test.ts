import { describe, expect, it } from "vitest";
import {
  type AggregationSpec,
  addEvent,
  describeInvalidAggregation,
  emptyState,
  mergeStates,
  resultOf,
  resultType,
} from "./aggregations.js";

describe("aggregations", () => {
  it("refuses fields an aggregation cannot read, and a bad k", () => {
    expect(describeInvalidAggregation({ kind: "sum", fieldType: "string" })).toMatch(/numeric field/);
    expect(describeInvalidAggregation({ kind: "count_distinct", fieldType: "double" })).toMatch(/int32, int64 or string/);
    expect(describeInvalidAggregation({ kind: "last_n", fieldType: "string", k: 0 })).toMatch(/k from 1 to 1000/);
    expect(describeInvalidAggregation({ kind: "min", fieldType: "bool" })).toMatch(/numeric, timestamp or string/);
    expect(describeInvalidAggregation({ kind: "last", fieldType: "bool" })).toBeUndefined();
  });

  it("returns the documented empty values and result types", () => {
    const empty = (spec: AggregationSpec) => resultOf(spec, emptyState(spec));
    expect(empty({ kind: "count", fieldType: "double" })).toBe(0n);
    expect(empty({ kind: "sum", fieldType: "int64" })).toBe(0n);
    expect(empty({ kind: "sum", fieldType: "double" })).toBe(0);
    expect(empty({ kind: "mean", fieldType: "double" })).toBeNull();
    expect(empty({ kind: "variance", fieldType: "double" })).toBeNull();
    expect(empty({ kind: "last_n", fieldType: "string", k: 2 })).toEqual([]);
    expect(empty({ kind: "count_distinct", fieldType: "string" })).toBe(0n);
    expect(resultType({ kind: "last_n", fieldType: "int32", k: 2 })).toBe("int64_list");
    expect(resultType({ kind: "sum", fieldType: "int32" })).toBe("int64");
  });

  it("sums int64 exactly beyond 2^53, and doubles with compensation", () => {
    const exact: AggregationSpec = { kind: "sum", fieldType: "int64" };
    const state = emptyState(exact);
    for (const value of [2n ** 62n, 2n ** 62n - 1n, -(2n ** 61n)]) addEvent(exact, state, { eventTime: 0, ingestTime: 0, value });
    expect(resultOf(exact, state)).toBe(2n ** 62n + 2n ** 62n - 1n - 2n ** 61n);
    const float: AggregationSpec = { kind: "sum", fieldType: "double" };
    const a = emptyState(float);
    const b = emptyState(float);
    addEvent(float, a, { eventTime: 0, ingestTime: 0, value: 1e16 });
    addEvent(float, b, { eventTime: 0, ingestTime: 1, value: 1 });
    addEvent(float, b, { eventTime: 0, ingestTime: 2, value: -1e16 });
    mergeStates(float, a, b);
    expect(resultOf(float, a)).toBe(1);
  });
});

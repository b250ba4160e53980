import { describe, expect, it } from "vitest";
import { coerceValue, type TaggedValue } from "./feature-value.js";
import type { ValueType } from "./value-type.js";

const limits = { maxStringBytes: 8, maxBytesLength: 4, maxListLength: 3 };
const coerce = (type: ValueType, kind: TaggedValue["kind"], value: TaggedValue["value"]) => coerceValue(type, { kind, value }, limits);

describe("coerceValue", () => {
  it.each<[string, ValueType, TaggedValue["kind"], TaggedValue["value"], unknown]>([
    ["int32 into int64", "int64", "int32", 5, 5n],
    ["int32 into double", "double", "int32", 5, 5],
    ["a safe int64 into double", "double", "int64", 2n ** 53n, 2 ** 53],
    ["a double into float, rounded", "float", "double", 0.1, Math.fround(0.1)],
    ["doubles into a float list, rounded", "float_list", "double_list", [0.1], [Math.fround(0.1)]],
    ["an empty list of another list kind", "string_list", "double_list", [], []],
    ["a null", "int64", "null", null, null],
  ])("accepts %s", (_label, type, kind, value, expected) => {
    expect(coerce(type, kind, value)).toEqual({ value: expected });
  });

  it.each<[string, ValueType, TaggedValue["kind"], TaggedValue["value"], RegExp]>([
    ["a string for an int64", "int64", "string", "5", /expected an int64 value, got string/],
    ["an int64 beyond 2^63", "int64", "int64", 2n ** 63n, /does not fit in int64/],
    ["an int64 list element beyond 2^63", "int64_list", "int64_list", [2n ** 63n], /does not fit in int64/],
    ["an int64 a double cannot hold", "double", "int64", 2n ** 53n + 1n, /cannot be held exactly/],
    ["a double beyond float range", "float", "double", 1e39, /outside the float range/],
    ["a list element beyond float range", "float_list", "double_list", [1, 1e39], /outside the float range/],
    ["NaN", "double", "double", Number.NaN, /NaN is not allowed/],
    ["Infinity", "double", "double", Number.POSITIVE_INFINITY, /Infinity is not allowed/],
    ["NaN in a list", "double_list", "double_list", [1, Number.NaN], /element 1 is NaN/],
    ["an oversize string", "string", "string", "123456789", /9 bytes exceeds the limit of 8/],
    ["oversize bytes", "bytes", "bytes", new Uint8Array(5), /5 bytes exceed the limit of 4/],
    ["an overlong list", "int64_list", "int64_list", [1n, 2n, 3n, 4n], /4 elements exceeds the limit of 3/],
    ["a timestamp in year 10000", "timestamp", "timestamp", new Date(Date.UTC(10000, 0, 1)), /outside 1900-01-01/],
    ["a timestamp before 1900", "timestamp", "timestamp", new Date(Date.UTC(1899, 11, 31)), /outside 1900-01-01/],
    ["a float for an int32", "int32", "double", 1.5, /expected an int32 value, got double/],
  ])("rejects %s", (_label, type, kind, value, problem) => {
    const result = coerce(type, kind, value);
    expect(result).toHaveProperty("problem");
    expect((result as { problem: string }).problem).toMatch(problem);
  });
});

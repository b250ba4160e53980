import { describe, expect, it } from "vitest";
import { murmurHash3x86 } from "../common/murmur3.js";
import { InvalidExampleError, InvalidLearnerSpecError } from "./errors.js";
import { FeatureEncoder } from "./features.js";

const spec = { numeric: ["a"], categorical: ["city"], buckets: 8 };

describe("FeatureEncoder", () => {
  it("updates the statistics before transforming a learned example, and not at all on prediction", () => {
    const encoder = new FeatureEncoder(spec);
    // First example: variance 0 after the update, so it encodes as 0 (River's safe_div).
    expect(encoder.learnAndEncode({ a: 2 }).values[0]).toBe(0);
    // Prediction with mean 2, variance 0 → 0; nothing changes.
    expect(encoder.encode({ a: 5 }).values[0]).toBe(0);
    expect(encoder.statistics(0)).toEqual({ count: 1, mean: 2, variance: 0 });
    // Learn 4: mean 3, population variance 1, so 4 encodes as (4 - 3) / 1.
    expect(encoder.learnAndEncode({ a: 4 }).values[0]).toBe(1);
    expect(encoder.encode({ a: 1 }).values[0]).toBe(-2);
  });

  it("hashes name=value with MurmurHash3 seed 0 into the declared buckets after the numeric features", () => {
    const encoder = new FeatureEncoder(spec);
    const v = encoder.encode({ a: 1, city: "paris" });
    expect(Array.from(v.indices)).toEqual([0, 1 + (murmurHash3x86("city=paris", 0) % 8)]);
    expect(Array.from(v.values)).toEqual([0, 1]);
    expect(Array.from(encoder.encode({ a: 1 }).indices)).toEqual([0]);
  });

  it("treats an empty category like an absent one", () => {
    const encoder = new FeatureEncoder(spec);
    for (const city of ["", null, undefined]) {
      const v = encoder.learnAndEncode({ a: 1, city });
      expect(Array.from(v.indices)).toEqual([0]);
      expect(Array.from(encoder.encode({ a: 1, city }).indices)).toEqual([0]);
    }
  });

  it("adds colliding categories into one bucket", () => {
    const encoder = new FeatureEncoder({ numeric: [], categorical: ["x", "y"], buckets: 1 });
    const v = encoder.encode({ x: "a", y: "b" });
    expect(Array.from(v.indices)).toEqual([0]);
    expect(Array.from(v.values)).toEqual([2]);
  });

  it("refuses zero buckets, non-finite or missing numbers and non-string categories", () => {
    expect(() => new FeatureEncoder({ numeric: [], categorical: ["c"], buckets: 0 })).toThrow(InvalidLearnerSpecError);
    const encoder = new FeatureEncoder(spec);
    expect(() => encoder.learnAndEncode({ a: Number.NaN })).toThrow(InvalidExampleError);
    expect(() => encoder.learnAndEncode({ a: Number.POSITIVE_INFINITY })).toThrow(/must be finite/);
    expect(() => encoder.learnAndEncode({})).toThrow(/missing numeric feature/);
    expect(() => encoder.learnAndEncode({ a: 1, city: 3 })).toThrow(/expected a string/);
    // A refused example leaves the statistics untouched.
    expect(encoder.statistics(0).count).toBe(0);
  });
});

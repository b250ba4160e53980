import { describe, expect, it } from "vitest";
import { type HllRegisters, hashDistinctValue, hllAdd, hllEstimate, hllMerge } from "./hyperloglog.js";

describe("murmurHash3x86", () => {
  it("is ClickHouse's murmurHash3_32 (values read from chDB), on strings and integers' decimal text", () => {
    const clickhouse: Array<[string, number]> = [
      ["", 0],
      ["a", 1009084850],
      ["ab", 2613040991],
      ["abc", 3017643002],
      ["abcd", 1139631978],
      ["hello world", 1586663183],
      ["héllo", 3164577896],
      ["merchant_123", 408943293],
      ["12345678901234567890x", 2941597559],
    ];
    for (const [text, hash] of clickhouse) expect(hashDistinctValue(text), text).toBe(hash);
    expect(hashDistinctValue(42n)).toBe(hashDistinctValue("42"));
    expect(hashDistinctValue(-1)).toBe(hashDistinctValue("-1"));
  });
});

describe("HyperLogLog", () => {
  const estimateOf = (values: string[]) => {
    const registers: HllRegisters = {};
    for (const v of values) hllAdd(registers, hashDistinctValue(v));
    return hllEstimate(registers);
  };

  it("is exact for small counts and within a few percent for large ones", () => {
    expect(estimateOf([])).toBe(0);
    expect(estimateOf(["a", "b", "a", "c"])).toBe(3);
    const many = Array.from({ length: 50_000 }, (_, i) => `card_${i}`);
    expect(Math.abs(estimateOf(many) - 50_000) / 50_000).toBeLessThan(0.05);
  });

  it("merges to the same registers whatever the split", () => {
    const values = Array.from({ length: 3000 }, (_, i) => `m${i % 1700}`);
    const whole: HllRegisters = {};
    for (const v of values) hllAdd(whole, hashDistinctValue(v));
    const left: HllRegisters = {};
    const right: HllRegisters = {};
    values.forEach((v, i) => {
      hllAdd(i % 3 === 0 ? left : right, hashDistinctValue(v));
    });
    hllMerge(left, right);
    expect(left).toEqual(whole);
  });
});

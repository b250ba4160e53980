import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { int64PairOrder, sortByInt64Pair } from "./radix-order.js";
import { int64Halves } from "./typed-arrays.js";

const words = (values: readonly bigint[]) => int64Halves(BigInt64Array.from(values));

/** The reference: rows sorted by (first, second) with bigint comparisons, ties in row order. */
function referenceOrder(first: readonly bigint[], second: readonly bigint[]): number[] {
  const compare = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
  return first
    .map((_, row) => row)
    .sort((a, b) => compare(first[a] as bigint, first[b] as bigint) || compare(second[a] as bigint, second[b] as bigint) || a - b);
}

describe("sorting by two int64 columns", () => {
  // Values around every digit boundary and the sign, so that each 16-bit digit and the sign flip matter.
  const edges = [
    -(2n ** 63n),
    -(2n ** 48n),
    -(2n ** 32n),
    -65_537n,
    -65_536n,
    -1n,
    0n,
    1n,
    65_535n,
    65_536n,
    2n ** 31n,
    2n ** 32n,
    2n ** 48n + 7n,
    2n ** 63n - 1n,
  ];
  const int64 = fc.oneof(
    fc.constantFrom(...edges),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.bigInt({ min: -5n, max: 5n }),
  );

  it("orders rows as a stable sort by the first column, then the second", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(int64, int64), { maxLength: 300 }), (rows) => {
        const first = rows.map((r) => r[0]);
        const second = rows.map((r) => r[1]);
        expect([...int64PairOrder(words(first), words(second), rows.length)]).toEqual(referenceOrder(first, second));
      }),
      { numRuns: 300 },
    );
  });

  it("sorts both columns' words with the order, whether the first values are dense, sparse or crowded into a few", () => {
    const dense = fc.bigInt({ min: -4n, max: 4n });
    // Low words on both sides of 2^31 under one high word: compared signed, they would sort wrong.
    const second = fc.oneof(int64, fc.constantFrom(1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, -1n, -(2n ** 31n)));
    // Few values over many rows: buckets beyond what insertion sorts.
    const crowded = fc.constantFrom(-1n, 0n, 2n);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.tuple(dense, second), { maxLength: 300 }),
          fc.array(fc.tuple(int64, int64), { maxLength: 300 }),
          fc.array(fc.tuple(crowded, second), { minLength: 100, maxLength: 700 }),
        ),
        (rows) => {
          const firsts = rows.map((r) => r[0]);
          const seconds = rows.map((r) => r[1]);
          const expected = referenceOrder(firsts, seconds);
          const sorted = sortByInt64Pair(words(firsts), words(seconds), rows.length);
          expect([...sorted.order]).toEqual(expected);
          expect([...sorted.first]).toEqual([...words(expected.map((row) => firsts[row] as bigint))]);
          expect([...sorted.second]).toEqual([...words(expected.map((row) => seconds[row] as bigint))]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps row order where every digit is shared, and orders nothing at all", () => {
    expect([...int64PairOrder(words([7n, 7n, 7n]), words([1n, 1n, 1n]), 3)]).toEqual([0, 1, 2]);
    expect([...int64PairOrder(new Int32Array(0), new Int32Array(0), 0)]).toEqual([]);
    expect([...sortByInt64Pair(new Int32Array(0), new Int32Array(0), 0).order]).toEqual([]);
  });
});

import { Float64, Int32, makeVector, Table, tableToIPC, vectorFromArray } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FeatureValue } from "../../common/feature-value.js";
import { HeldSpine } from "./memory-join.js";
import type { ArrowChunk, Spine } from "./offline-store.js";
import { type MergedColumn, mergeView, SortedSpine } from "./streamed-join.js";

/** A history row: key, event time (µs), and a double and an int32 feature, either null. */
type HistoryRow = [bigint, bigint, number | null, number | null];

/** Keys on both sides of zero and of 2^32, so that both words of the merge's comparisons matter. */
const KEYS = [-(2n ** 40n), -3n, -1n, 0n, 1n, 2n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 40n + 5n];
/** Times from here on cross 2^31, where a low word read as signed would compare wrong. */
const T0 = 2n ** 31n - 6n;

const int64s = (values: readonly bigint[]) => makeVector(BigInt64Array.from(values));

/** An Arrow IPC stream of history rows as the store reads them: key, `__time`, features. */
function historyChunk(rows: readonly HistoryRow[]): ArrowChunk {
  const table = new Table({
    id: int64s(rows.map((r) => r[0])),
    __time: int64s(rows.map((r) => r[1])),
    amount: vectorFromArray(
      rows.map((r) => r[2]),
      new Float64(),
    ),
    orders: vectorFromArray(
      rows.map((r) => r[3]),
      new Int32(),
    ),
  });
  return { ipc: tableToIPC(table, "stream"), rows: rows.length };
}

/** A double or int32 merged value of output position `at`, null where it has none. */
function mergedValue(column: MergedColumn, at: number): number | null {
  const { words, stride, valid, features } = column.rows;
  if (valid[at * features + column.index] === 0) return null;
  const word = at * stride + column.offset;
  return column.width === 1 ? (words[word] as number) : new DataView(words.buffer).getFloat64(4 * word, true);
}

describe("mergeView", () => {
  it("gives each spine row the last history row of its key at or before its time, within the TTL, however the history is cut into chunks", async () => {
    const historyRow = fc.tuple(
      fc.constantFrom(...KEYS),
      fc.bigInt({ min: T0, max: T0 + 12n }),
      fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
      fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: null }),
    );
    const spineRow = fc.tuple(fc.constantFrom(...KEYS), fc.bigInt({ min: T0 - 1n, max: T0 + 14n }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyRow, { maxLength: 60 }),
        fc.array(spineRow, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat({ max: 60 }), { maxLength: 6 }),
        fc.constantFrom(0, 3),
        async (unsorted, spineRows, cuts, ttlMicros) => {
          // The store's order: key, event time, then ingestion (the generated order, kept by a stable sort).
          const history = [...unsorted].sort((a, b) => (a[0] === b[0] ? Number(a[1] - b[1]) : a[0] < b[0] ? -1 : 1));
          const bounds = [0, ...cuts.map((c) => Math.min(c, history.length)).sort((a, b) => a - b), history.length];
          const chunks = bounds.slice(1).map((end, i) => historyChunk(history.slice(bounds[i], end)));
          const sorted = spineRows
            .map(([key, time], index) => ({ key, time, index }))
            .sort((a, b) => (a.key === b.key ? Number(a.time - b.time) : a.key < b.key ? -1 : 1));
          const spineIpc = tableToIPC(
            new Table({
              spine_index: int64s(sorted.map((r) => BigInt(r.index))),
              id: int64s(sorted.map((r) => r.key)),
              __time: int64s(sorted.map((r) => r.time)),
            }),
            "stream",
          );
          const spine = SortedSpine.of([spineIpc], "id", false);
          if (!spine) throw new Error("the spine was refused");
          const merged = await mergeView(
            spine,
            (async function* () {
              yield* chunks;
            })(),
            "id",
            ["amount", "orders"],
            ["double", "int32"],
            ttlMicros,
            () => false,
          );
          if (!merged) throw new Error("the history was refused");
          spineRows.forEach(([key, time], at) => {
            const taken = history.filter((h) => h[0] === key && h[1] <= time).at(-1);
            const fresh = taken && (ttlMicros === 0 || taken[1] >= time - BigInt(ttlMicros));
            expect([mergedValue(merged.get("amount") as MergedColumn, at), mergedValue(merged.get("orders") as MergedColumn, at)]).toEqual(
              fresh ? [taken[2], taken[3]] : [null, null],
            );
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("SortedSpine.ofHeld", () => {
  const spine = (type: "int64" | "int32"): Spine => ({ id: "s", project: "p", keyColumns: [{ name: "id", type }], extraColumns: [] });
  /** A held spine of batches of (key, time µs) rows, spine row indexes counted from `firstIndex` (0 by default). */
  const held = (batches: ReadonlyArray<{ keys: ArrayLike<FeatureValue>; times: number[]; firstIndex?: number }>) => {
    const out = new HeldSpine(1_000, { maxBytes: 1 << 20, bytes: 0 });
    let row = 0;
    for (const { keys, times, firstIndex } of batches) {
      out.add({ length: times.length, keys: [keys], eventTimes: times, extras: [] }, firstIndex ?? row, 0);
      row += times.length;
    }
    return out;
  };

  it("sorts rows held in any key form by key and time, each keeping its spine index as its output position", () => {
    const sorted = SortedSpine.ofHeld(
      held([
        { keys: BigInt64Array.from([2n ** 32n, -1n, 5n]), times: [3, 9, 1] },
        { keys: [-1n, 5n, 2n ** 32n], times: [2, 1, -7] },
      ]),
      spine("int64"),
      "id",
    );
    expect([...(sorted?.positions ?? [])]).toEqual([3, 1, 2, 4, 5, 0]);
    expect([...(sorted?.times ?? [])]).toEqual([2, 9, 1, 1, -7, 3]);
    expect([...(sorted?.keys ?? [])]).toEqual([-1, -1, -1, -1, 5, 0, 5, 0, 0, 1, 0, 1]);
    expect([...(sorted?.timeWords ?? [])]).toEqual([2, 0, 9, 0, 1, 0, 1, 0, -7, -1, 3, 0]);
    const int32 = SortedSpine.ofHeld(held([{ keys: [7, -3, 7], times: [5, 6, 4] }]), spine("int32"), "id");
    expect([...(int32?.positions ?? [])]).toEqual([1, 2, 0]);
  });

  it("is refused (the join then stores the spine) for a null key, a time not a whole number exact as a double, or rows out of spine order", () => {
    const refused = (batches: Parameters<typeof held>[0]) => SortedSpine.ofHeld(held(batches), spine("int64"), "id");
    expect(refused([{ keys: [1n, null], times: [1, 2] }])).toBeUndefined();
    expect(refused([{ keys: [1n], times: [1.5] }])).toBeUndefined();
    expect(refused([{ keys: [1n], times: [2 ** 53 + 2] }])).toBeUndefined();
    expect(
      refused([
        { keys: [1n], times: [1] },
        { keys: [2n], times: [1], firstIndex: 5 },
      ]),
    ).toBeUndefined();
  });
});

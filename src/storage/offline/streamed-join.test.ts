import { Float64, Int32, makeVector, Table, tableToIPC, vectorFromArray } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ArrowChunk } from "./offline-store.js";
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

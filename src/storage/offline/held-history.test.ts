import { Float64, Int64, Table, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  entityIndexOf,
  entityKeyReader,
  HELD_TIME_COLUMN,
  type HeldHistory,
  HeldHistoryCache,
  type HistoryReads,
  heldHistoryOf,
  mergedHistories,
} from "./held-history.js";
import type { OfflineTable } from "./offline-store.js";

const table: OfflineTable = {
  project: "p",
  view: "v",
  version: 1,
  keyColumns: [{ name: "id", type: "int64" }],
  featureColumns: [{ name: "x", type: "double" }],
};

/** A history query's answer: ids, times (µs) and x values, in that order, as one Arrow stream per batch given. */
function streams(...batches: Array<{ ids: bigint[]; times: bigint[]; x: Array<number | null> }>): Uint8Array[] {
  return batches.map(({ ids, times, x }) =>
    tableToIPC(
      new Table({
        id: vectorFromArray(ids, new Int64()),
        [HELD_TIME_COLUMN]: vectorFromArray(times, new Int64()),
        x: vectorFromArray(x, new Float64()),
      }),
      "stream",
    ),
  );
}

describe("held history", () => {
  it("indexes each entity's rows across batches, and keeps nulls", () => {
    const held = heldHistoryOf(
      table,
      streams({ ids: [1n, 1n], times: [10n, 20n], x: [1, null] }, { ids: [1n, 2n], times: [30n, 5n], x: [3, 4] }),
    );
    expect(held?.rows).toBe(4);
    const ordinal = held?.entities.ordinalOf(1) as number;
    expect([held?.starts[ordinal], held?.ends[ordinal]]).toEqual([0, 3]);
    expect([...(held?.times ?? [])]).toEqual([10, 20, 30, 5]);
    const x = held?.features.get("x");
    // Doubles are held in a block of their own, not through the answer's vector.
    expect(x && "block" in x ? [...x.block.values].slice(0, 1) : undefined).toEqual([1]);
    expect([...(x?.valid ?? [])]).toEqual([1, 0, 1, 1]);
  });

  it("holds a row's fixed-width features side by side, one block per array type", () => {
    const wide: OfflineTable = {
      ...table,
      featureColumns: [
        { name: "x", type: "double" },
        { name: "n", type: "int64" },
        { name: "y", type: "double" },
        { name: "s", type: "string" },
      ],
    };
    const ipc = tableToIPC(
      new Table({
        id: vectorFromArray([1n, 2n], new Int64()),
        [HELD_TIME_COLUMN]: vectorFromArray([1n, 2n], new Int64()),
        x: vectorFromArray([1.5, 2.5], new Float64()),
        n: vectorFromArray([7n, 8n], new Int64()),
        y: vectorFromArray([-1, -2], new Float64()),
        s: vectorFromArray(["a", "b"], new Utf8()),
      }),
      "stream",
    );
    const held = heldHistoryOf(wide, [ipc]);
    const [x, n, y, s] = ["x", "n", "y", "s"].map((name) => held?.features.get(name));
    expect(x && "block" in x && y && "block" in y && x.block === y.block).toBe(true);
    expect(x && "block" in x ? [...x.block.values] : undefined).toEqual([1.5, -1, 2.5, -2]);
    expect(y && "block" in y ? y.offset : undefined).toBe(1);
    expect(n && "block" in n ? [...n.block.values] : undefined).toEqual([7n, 8n]);
    expect(s && "vector" in s ? [...s.vector] : undefined).toEqual(["a", "b"]);
  });

  it("finds entities by key: a table for compact integer ids, a Map for anything else", () => {
    const dense = entityIndexOf([10, 12, 13]);
    expect([10, 12, 13, 11, 9, 14, 12.5, "10"].map((key) => dense.ordinalOf(key))).toEqual([0, 1, 2, -1, -1, -1, -1, -1]);
    const sparse = entityIndexOf([1, 2 ** 40]);
    expect([1, 2 ** 40, 2].map((key) => sparse.ordinalOf(key))).toEqual([0, 1, -1]);
    const text = entityIndexOf(["a", "b"]);
    expect([text.size, text.ordinalOf("b"), text.ordinalOf(0)]).toEqual([2, 1, -1]);
  });

  it("reads int64 keys and times exactly from their buffers: negative ones, and keys beyond 2^53 by their text", () => {
    const big = 2n ** 60n;
    const held = heldHistoryOf(table, streams({ ids: [-3n, -3n, 5n], times: [-20n, -10n, 7n], x: [1, 2, 3] }));
    expect([...(held?.times ?? [])]).toEqual([-20, -10, 7]);
    expect([-3, 5, 4].map((key) => held?.entities.ordinalOf(key))).toEqual([0, 1, -1]);
    const wide = heldHistoryOf(table, streams({ ids: [1n, big, big], times: [1n, 2n, 3n], x: [1, 2, 3] }));
    expect([wide?.entities.ordinalOf(1), wide?.entities.ordinalOf(String(big))]).toEqual([0, 1]);
    expect([wide?.starts[1], wide?.ends[1]]).toEqual([1, 3]);
  });

  it("holds an empty answer as a history without entities", () => {
    const held = heldHistoryOf(table, []);
    expect([held?.rows, held?.entities.size, held?.entities.ordinalOf(1)]).toEqual([0, 0, -1]);
  });

  it("is not made when a time is beyond what a double holds exactly", () => {
    expect(heldHistoryOf(table, streams({ ids: [1n], times: [2n ** 53n + 1n], x: [1] }))).toBeUndefined();
  });

  it("reads spine and history keys alike: int64 exact as numbers or text, bytes as base64, several as JSON", () => {
    const one = entityKeyReader([(row) => [5n, 2n ** 60n, 7][row]]);
    expect([one(0), one(1), one(2)]).toEqual([5, String(2n ** 60n), 7]);
    const bytes = entityKeyReader([() => new Uint8Array([1, 2, 255])]);
    expect(bytes(0)).toBe("AQL/");
    const several = entityKeyReader([() => 3n, () => 'eu"']);
    expect(several(0)).toBe(JSON.stringify([3, 'eu"']));
  });
});

describe("held history cache", () => {
  const version = (v: string, rows = 2) => ({ version: v, rows });
  const load = (calls: string[], name: string): HistoryReads => ({
    all: async () => {
      calls.push(name);
      return streams({ ids: [1n, 2n], times: [1n, 2n], x: [1, 2] });
    },
    since: () => Promise.reject(new Error("a table without block numbers is never read in part")),
  });

  it("reads a table once per version, shared by joins that ask at once", async () => {
    const cache = new HeldHistoryCache(10);
    const calls: string[] = [];
    const [a, b] = await Promise.all([
      cache.get(table, "t", version("1"), load(calls, "t")),
      cache.get(table, "t", version("1"), load(calls, "t")),
    ]);
    expect(a).toBe(b);
    await cache.get(table, "t", version("2"), load(calls, "t"));
    await cache.get(table, "t", version("2"), load(calls, "t"));
    expect(calls).toEqual(["t", "t"]);
  });

  it("lets the least recently used tables go past its row bound, and forgets failed reads", async () => {
    const cache = new HeldHistoryCache(4);
    const calls: string[] = [];
    await cache.get(table, "a", version("1"), load(calls, "a"));
    await cache.get(table, "b", version("1"), load(calls, "b"));
    await cache.get(table, "a", version("1"), load(calls, "a"));
    await cache.get(table, "c", version("1"), load(calls, "c"));
    await cache.get(table, "a", version("1"), load(calls, "a"));
    await cache.get(table, "b", version("1"), load(calls, "b"));
    expect(calls).toEqual(["a", "b", "c", "b"]);
    const down: HistoryReads = { all: () => Promise.reject(new Error("engine down")), since: () => Promise.reject(new Error("unused")) };
    await expect(cache.get(table, "d", version("1"), down)).rejects.toThrow("engine down");
    await cache.get(table, "d", version("1"), load(calls, "d"));
    expect(calls.at(-1)).toBe("d");
  });

  it("brings a table that numbers its blocks up to date with the rows written since, and reads it whole when anything else changed", async () => {
    const cache = new HeldHistoryCache(100);
    const calls: string[] = [];
    const reads: HistoryReads = {
      all: async (upTo) => {
        calls.push(`all<=${upTo}`);
        return upTo === 1
          ? streams({ ids: [1n, 2n], times: [10n, 10n], x: [1, 2] })
          : streams({ ids: [1n, 1n, 2n, 3n], times: [10n, 20n, 10n, 5n], x: [1, 5, 2, 6] });
      },
      since: async (after, upTo) => {
        calls.push(`(${after},${upTo}]`);
        return streams({ ids: [1n, 3n], times: [20n, 5n], x: [5, 6] });
      },
    };
    const numbered = (unchanged: string, newest: number, rows: number) => ({
      version: `${unchanged}/${newest}`,
      rows,
      blocks: { unchanged, newest },
    });
    await cache.get(table, "t", numbered("a", 1, 2), reads);
    const updated = await cache.get(table, "t", numbered("a", 3, 4), reads);
    expect(calls).toEqual(["all<=1", "(1,3]"]);
    expect(updated?.keys).toEqual([1, 2, 3]);
    expect([...(updated?.times ?? [])]).toEqual([10, 20, 10, 5]);
    // A mutation (or a schema change) since: read whole.
    await cache.get(table, "t", numbered("b", 4, 4), reads);
    // Rows that went without a mutation (the counts do not add up): read whole too.
    await cache.get(table, "t", numbered("b", 5, 9), reads);
    expect(calls).toEqual(["all<=1", "(1,3]", "all<=4", "(4,5]", "all<=5"]);
  });
});

describe("merged histories", () => {
  const held = (rows: { ids: bigint[]; times: bigint[]; x: Array<number | null> }) => heldHistoryOf(table, streams(rows)) as HeldHistory;

  it("keeps each entity's rows in time order, new entities after, and nulls where they were", () => {
    const merged = mergedHistories(
      held({ ids: [1n, 1n, 2n], times: [10n, 30n, 5n], x: [1, 3, null] }),
      held({ ids: [1n, 3n, 3n], times: [20n, 1n, 2n], x: [2, null, 7] }),
    );
    expect(merged?.keys).toEqual([1, 2, 3]);
    expect([...(merged?.times ?? [])]).toEqual([10, 20, 30, 5, 1, 2]);
    const x = merged?.features.get("x");
    expect(x && "block" in x ? [...x.block.values] : undefined).toEqual([1, 2, 3, 0, 0, 7]);
    expect([...(x?.valid ?? [])]).toEqual([1, 1, 1, 0, 0, 1]);
    expect([merged?.starts[2], merged?.ends[2], merged?.entities.ordinalOf(3)]).toEqual([4, 6, 2]);
  });

  it("copies the untouched entities between touched ones in runs, keeping every range right", () => {
    const merged = mergedHistories(
      held({ ids: [1n, 2n, 2n, 3n, 4n, 4n], times: [10n, 1n, 2n, 10n, 1n, 2n], x: [1, 2, 3, 4, 5, 6] }),
      held({ ids: [1n, 3n], times: [5n, 20n], x: [7, 8] }),
    );
    const ranges = [1, 2, 3, 4].map((key) => {
      const ordinal = merged?.entities.ordinalOf(key) as number;
      return [...(merged?.times ?? [])].slice(merged?.starts[ordinal], merged?.ends[ordinal]);
    });
    expect(ranges).toEqual([
      [5, 10],
      [1, 2],
      [10, 20],
      [1, 2],
    ]);
    const x = merged?.features.get("x");
    expect(x && "block" in x ? [...x.block.values] : undefined).toEqual([7, 1, 2, 3, 4, 8, 5, 6]);
  });

  it("holds, for every entity, what reading all the rows at once would hold (generated histories)", () => {
    type Row = [id: bigint, time: bigint, x: number | null];
    const sorted = (rows: Row[]) => [...rows].sort((a, b) => (a[0] === b[0] ? Number(a[1] - b[1]) : a[0] < b[0] ? -1 : 1));
    const history = (rows: Row[]) => held({ ids: rows.map((r) => r[0]), times: rows.map((r) => r[1]), x: rows.map((r) => r[2]) });
    const byEntity = (h: HeldHistory | undefined) => {
      const x = h?.features.get("x");
      const values = x && "block" in x ? x.block.values : new Float64Array();
      return new Map(
        (h?.keys ?? []).map((key, ordinal) => {
          const rows = [];
          for (let row = h?.starts[ordinal] as number; row < (h?.ends[ordinal] as number); row++)
            rows.push([h?.times[row], x?.valid?.[row] === 0 ? null : values[row]]);
          return [key, rows];
        }),
      );
    };
    const row = fc.tuple(
      fc.bigInt({ min: 1n, max: 6n }),
      fc.bigInt({ min: -50n, max: 50n }),
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)),
    );
    fc.assert(
      fc.property(fc.uniqueArray(row, { selector: (r) => `${r[0]}/${r[1]}`, minLength: 1, maxLength: 40 }), fc.nat(), (rows, cut) => {
        const split = cut % rows.length;
        const merged = mergedHistories(history(sorted(rows.slice(0, split))), history(sorted(rows.slice(split))));
        expect(byEntity(merged)).toEqual(byEntity(history(sorted(rows))));
      }),
    );
  });

  it("gives up on a new row at an event time the entity already had, or a feature held through its vector", () => {
    expect(mergedHistories(held({ ids: [1n], times: [10n], x: [1] }), held({ ids: [1n], times: [10n], x: [2] }))).toBeUndefined();
    const text: OfflineTable = { ...table, featureColumns: [{ name: "s", type: "string" }] };
    const texts = (s: string) =>
      heldHistoryOf(text, [
        tableToIPC(
          new Table({
            id: vectorFromArray([1n], new Int64()),
            [HELD_TIME_COLUMN]: vectorFromArray([1n], new Int64()),
            s: vectorFromArray([s], new Utf8()),
          }),
          "stream",
        ),
      ]) as HeldHistory;
    expect(mergedHistories(texts("a"), texts("b"))).toBeUndefined();
  });
});

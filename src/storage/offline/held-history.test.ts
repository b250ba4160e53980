import { Float64, Int64, Table, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { entityIndexOf, entityKeyReader, HELD_TIME_COLUMN, HeldHistoryCache, heldHistoryOf } from "./held-history.js";
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
  const load = (calls: string[], name: string) => async () => {
    calls.push(name);
    return streams({ ids: [1n, 2n], times: [1n, 2n], x: [1, 2] });
  };

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
    await expect(cache.get(table, "d", version("1"), () => Promise.reject(new Error("engine down")))).rejects.toThrow("engine down");
    await cache.get(table, "d", version("1"), load(calls, "d"));
    expect(calls.at(-1)).toBe("d");
  });
});

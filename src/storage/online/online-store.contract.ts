/**
 * The contract every {@link OnlineStore} backend must meet: the event-time rules, exact value
 * round trips, multi-table reads in order, and durability across reopen.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OnlineRecord, OnlineStore } from "./online-store.js";

/** Opens a fresh, empty store; `reopen` opens the same data again after close. */
export interface OnlineStoreFactory {
  open(): Promise<OnlineStore>;
  reopen(): Promise<OnlineStore>;
}

const T0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in microseconds

function record(eventTime: number, ingestTime: number, values: OnlineRecord["values"] = { x: eventTime }): OnlineRecord {
  return { eventTime, ingestTime, values };
}

/** Registers the contract suite for one backend. */
export function describeOnlineStoreContract(backend: string, factory: OnlineStoreFactory): void {
  describe(`OnlineStore contract: ${backend}`, () => {
    let store: OnlineStore;

    beforeEach(async () => {
      store = await factory.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("round-trips every value type exactly", async () => {
      const values = {
        i32: 7,
        i64: -(2n ** 63n),
        f: 1.5,
        d: Math.PI,
        b: true,
        s: "héllo",
        bytes: new Uint8Array([0, 255, 1]),
        ts: new Date("2026-01-02T03:04:05.678Z"),
        i64s: [1n, 2n ** 62n],
        fs: [0.5, -1],
        ss: ["a", ""],
        missing: null,
      };
      await store.write("p/v/1", [{ key: "k1", record: record(T0, T0 + 1, values) }]);
      const [[read]] = (await store.read([{ table: "p/v/1", keys: ["k1"] }])) as [[OnlineRecord]];
      expect(read.eventTime).toBe(T0);
      expect(read.ingestTime).toBe(T0 + 1);
      expect({ ...read.values, bytes: new Uint8Array(read.values.bytes as Uint8Array) }).toEqual(values);
    });

    it("never lets an older event overwrite a newer one", async () => {
      await store.write("t", [{ key: "k", record: record(T0 + 10, T0) }]);
      await store.write("t", [{ key: "k", record: record(T0 + 5, T0 + 100) }]);
      expect((await store.read([{ table: "t", keys: ["k"] }]))[0]?.[0]?.eventTime).toBe(T0 + 10);
      await store.write("t", [{ key: "k", record: record(T0 + 11, T0 + 1) }]);
      expect((await store.read([{ table: "t", keys: ["k"] }]))[0]?.[0]?.eventTime).toBe(T0 + 11);
    });

    it("breaks equal event times by ingestion time, and keeps the stored row on an exact tie", async () => {
      await store.write("t", [{ key: "k", record: record(T0, T0 + 5, { x: "first" }) }]);
      await store.write("t", [{ key: "k", record: record(T0, T0 + 4, { x: "earlier ingest" }) }]);
      expect((await store.read([{ table: "t", keys: ["k"] }]))[0]?.[0]?.values).toEqual({ x: "first" });
      await store.write("t", [{ key: "k", record: record(T0, T0 + 5, { x: "retry" }) }]);
      expect((await store.read([{ table: "t", keys: ["k"] }]))[0]?.[0]?.values).toEqual({ x: "first" });
      await store.write("t", [{ key: "k", record: record(T0, T0 + 6, { x: "later ingest" }) }]);
      expect((await store.read([{ table: "t", keys: ["k"] }]))[0]?.[0]?.values).toEqual({ x: "later ingest" });
    });

    it("applies the rules row by row within one batch, in any order", async () => {
      await store.write("t", [
        { key: "a", record: record(T0 + 2, T0) },
        { key: "a", record: record(T0 + 1, T0) },
        { key: "b", record: record(T0 + 1, T0) },
      ]);
      const [[a, b]] = (await store.read([{ table: "t", keys: ["a", "b"] }])) as [[OnlineRecord, OnlineRecord]];
      expect([a.eventTime, b.eventTime]).toEqual([T0 + 2, T0 + 1]);
    });

    it("reads many keys from many tables in order, with gaps for missing keys", async () => {
      const keys = Array.from({ length: 200 }, (_, i) => `entity-${i}`);
      await store.write(
        "p/a/1",
        keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, record: record(T0, T0, { key }) })),
      );
      await store.write("p/b/2", [{ key: "entity-1", record: record(T0, T0, { b: 1 }) }]);
      const [a, b] = await store.read([
        { table: "p/a/1", keys },
        { table: "p/b/2", keys: ["entity-1", "entity-0"] },
      ]);
      expect(a?.map((r) => r?.values.key)).toEqual(keys.map((key, i) => (i % 2 === 0 ? key : undefined)));
      expect(b?.map((r) => r?.values)).toEqual([{ b: 1 }, undefined]);
    });

    it("keeps tables apart", async () => {
      await store.write("p/v/1", [{ key: "k", record: record(T0, T0, { v: 1 }) }]);
      await store.write("p/v/2", [{ key: "k", record: record(T0 - 1, T0, { v: 2 }) }]);
      const [[one], [two]] = (await store.read([
        { table: "p/v/1", keys: ["k"] },
        { table: "p/v/2", keys: ["k"] },
      ])) as [[OnlineRecord], [OnlineRecord]];
      expect([one.values.v, two.values.v]).toEqual([1, 2]);
    });

    it("accepts empty writes and reads", async () => {
      await store.write("t", []);
      expect(await store.read([])).toEqual([]);
      expect(await store.read([{ table: "t", keys: [] }])).toEqual([[]]);
    });

    it("records write receipts and returns them until they expire", async () => {
      const receipt = {
        writeId: "w1",
        acceptedCount: 2,
        rejectedRows: [{ rowIndex: 1, violations: [{ field: "rows[1].event_time", description: "missing" }] }],
        featureViewVersion: 3,
        duplicate: false,
      };
      expect(await store.getReceipt("p/v/w1")).toBeUndefined();
      await store.putReceipt("p/v/w1", receipt);
      expect(await store.getReceipt("p/v/w1")).toEqual(receipt);
      expect(await store.getReceipt("p/v/w2")).toBeUndefined();
    });

    it("keeps acknowledged rows across close and reopen", async () => {
      await store.write("t", [{ key: "k", record: record(T0, T0, { kept: true }) }]);
      await store.close();
      store = await factory.reopen();
      expect((await store.read([{ table: "t", keys: ["k"] }]))[0]?.[0]?.values).toEqual({ kept: true });
    });

    it("compare-and-sets tile records: writes when unchanged, reports a conflict otherwise", async () => {
      const first = new Uint8Array([1, 2, 3]);
      const second = new Uint8Array([4, 5]);
      expect(await store.compareAndSetTiles("p/v/1/tiles", [{ key: "k", expected: undefined, next: first }], 0)).toEqual([]);
      // A writer that read nothing (stale) conflicts; one that read `first` wins.
      expect(await store.compareAndSetTiles("p/v/1/tiles", [{ key: "k", expected: undefined, next: second }], 0)).toEqual(["k"]);
      expect(await store.compareAndSetTiles("p/v/1/tiles", [{ key: "k", expected: second, next: second }], 0)).toEqual(["k"]);
      expect(
        await store.compareAndSetTiles(
          "p/v/1/tiles",
          [
            { key: "k", expected: first, next: second },
            { key: "other", expected: undefined, next: first },
          ],
          60_000,
        ),
      ).toEqual([]);
      const read = await store.readWithTiles([{ table: "t", keys: ["k"] }], [{ table: "p/v/1/tiles", keys: ["k", "missing", "other"] }]);
      expect(read.records).toEqual([[undefined]]);
      expect(read.tiles.map((keys) => keys.map((bytes) => bytes && [...bytes]))).toEqual([[[4, 5], undefined, [1, 2, 3]]]);
    });

    it("reads plain and tile records together, each in order", async () => {
      await store.write("t", [{ key: "k", record: record(T0, T0, { a: 1 }) }]);
      await store.compareAndSetTiles("p/v/1/tiles", [{ key: "k", expected: undefined, next: new Uint8Array([9]) }], 0);
      const read = await store.readWithTiles([{ table: "t", keys: ["k", "x"] }], [{ table: "p/v/1/tiles", keys: ["k"] }]);
      expect(read.records[0]?.map((r) => r?.values)).toEqual([{ a: 1 }, undefined]);
      expect(read.tiles[0]?.map((bytes) => bytes && [...bytes])).toEqual([[9]]);
    });
  });
}

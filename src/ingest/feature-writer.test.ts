import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerStatsRegistry } from "../../test/support/customer-stats.js";
import { StoreUnavailableError } from "../common/errors.js";
import type { Registry } from "../registry/registry.js";
import { openClickHouseOfflineStore } from "../storage/offline/clickhouse-offline-store.js";
import type { OfflineStore } from "../storage/offline/offline-store.js";
import { openLmdbOnlineStore } from "../storage/online/lmdb-online-store.js";
import { type OnlineStore, onlineTableName } from "../storage/online/online-store.js";
import { FeatureWriter, LatestOnlineWrites, offlineTableOf } from "./feature-writer.js";

const limits = { maxStringBytes: 1024, maxBytesLength: 1024, maxListLength: 16, maxFutureSkewMs: 60_000, maxRowsPerBatch: 100 };

/** The real LMDB online store, whose next `write` fails once, as if the store dropped out mid-batch. */
function failingOnce(store: OnlineStore): OnlineStore & { failNextWrite: () => void } {
  let fail = false;
  return Object.assign(Object.create(store) as OnlineStore, {
    failNextWrite: () => {
      fail = true;
    },
    write: async (...args: Parameters<OnlineStore["write"]>) => {
      if (fail) {
        fail = false;
        throw new StoreUnavailableError("test online store", new Error("injected"));
      }
      return store.write(...args);
    },
  });
}

describe("FeatureWriter", () => {
  let registry: Registry;
  let offline: OfflineStore;
  let online: ReturnType<typeof failingOnce>;
  let writer: FeatureWriter;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-writer-"));
    registry = await customerStatsRegistry(dir);
    offline = await openClickHouseOfflineStore({ kind: "embedded", path: join(dir, "offline") });
    online = failingOnce(openLmdbOnlineStore(join(dir, "online")));
    writer = new FeatureWriter(registry, offline, online, limits);
  });

  afterAll(async () => {
    await offline.close();
  });

  const batch = (writeId: string, orders: bigint[]) => ({
    project: "default",
    featureView: "stats",
    writeId,
    rows: orders.map((value, i) => ({
      entityKey: { id: { kind: "int64" as const, value: BigInt(i) } },
      eventTime: Date.now() * 1000,
      features: { orders: { kind: "int64" as const, value } },
    })),
  });

  it("stores a batch retried after the online write failed exactly once, and acknowledges only the retry", async () => {
    online.failNextWrite();
    await expect(writer.writeBatch(batch("retry-after-online-failure", [1n, 2n]))).rejects.toBeInstanceOf(StoreUnavailableError);
    const ack = await writer.writeBatch(batch("retry-after-online-failure", [1n, 2n]));
    expect([ack.acceptedCount, ack.duplicate]).toEqual([2, false]);
    expect((await writer.writeBatch(batch("retry-after-online-failure", [1n, 2n]))).duplicate).toBe(true);

    const view = await registry.getFeatureView("default", "stats");
    const entity = await registry.getEntity("default", "customer");
    const history = await offline.readAll(offlineTableOf(view, entity));
    expect(history.filter((r) => r.writeId === "retry-after-online-failure")).toHaveLength(2);
    const [records] = await online.read([{ table: onlineTableName("default", "stats", 1), keys: ['["0"]', '["1"]'] }]);
    expect(records?.map((r) => r?.values.orders)).toEqual([1n, 2n]);
  });

  it("holds back online writes as the newest row per entity, applies them once, and holds them again on a retried write id", async () => {
    const base = Date.now() * 1000 - 3_600_000_000;
    const rows = (orders: Array<[id: bigint, offset: number, value: bigint]>) =>
      orders.map(([id, offset, value]) => ({
        entityKey: { id: { kind: "int64" as const, value: id } },
        eventTime: base + offset,
        features: { orders: { kind: "int64" as const, value } },
      }));
    const read = async (ids: string[]) =>
      (await online.read([{ table: onlineTableName("default", "stats", 1), keys: ids.map((id) => `["${id}"]`) }]))[0]?.map(
        (r) => r?.values.orders,
      );
    const held = new LatestOnlineWrites();
    // Entity 30: newest in the first batch; 31: newest in the second; 32: a tie on event time, the later row wins;
    // 2^60 + 1 and 2^60 (beyond what a double holds exactly) stay two entities.
    const big = 2n ** 60n;
    const first = rows([
      [30n, 50, 1n],
      [31n, 10, 2n],
      [32n, 20, 3n],
      [30n, 5, 4n],
      [big, 5, 10n],
    ]);
    const second = rows([
      [31n, 40, 5n],
      [30n, 1, 6n],
      [32n, 20, 7n],
      [big + 1n, 5, 11n],
    ]);
    await writer.writeBatch({ project: "default", featureView: "stats", writeId: "held-1", rows: first }, { online: held });
    await writer.writeBatch({ project: "default", featureView: "stats", writeId: "held-2", rows: second }, { online: held });
    expect(held.size).toBe(5);
    expect(await read(["30", "31", "32"])).toEqual([undefined, undefined, undefined]);
    await writer.applyOnline(held);
    expect([held.size, await read(["30", "31", "32", String(big), String(big + 1n)])]).toEqual([0, [1n, 5n, 7n, 10n, 11n]]);
    // A crash lost the held writes of an import: its retry (same write ids) is a duplicate offline, and held again.
    const again = new LatestOnlineWrites();
    const retried = await writer.writeBatch(
      { project: "default", featureView: "stats", writeId: "held-2", rows: rows([[33n, 1, 8n]]) },
      { online: again },
    );
    expect([retried.duplicate, again.size]).toEqual([true, 1]);
    await writer.applyOnline(again);
    expect(await read(["33"])).toEqual([8n]);
  });

  it("holds each feature of the newest row per entity whatever its column: numbers with and without nulls, text", () => {
    const view = {
      project: "default",
      name: "mixed",
      version: 1,
      features: [
        { name: "spend", type: "double" },
        { name: "score", type: "double" },
        { name: "tier", type: "string" },
      ],
    } as unknown as Parameters<LatestOnlineWrites["add"]>[0];
    const held = new LatestOnlineWrites();
    // Each entity is written twice in the batch, the later row newer; entity 1's older row comes last and loses.
    held.add(view, ['["1"]', '["2"]', '["1"]', '["2"]', '["1"]'], {
      length: 5,
      keys: [[1n, 2n, 1n, 2n, 1n]],
      eventTimes: [10, 40, 20, 50, 5],
      ingestTimes: [1, 2, 3, 4, 5],
      writeId: "w",
      features: [
        [1.5, 2.5, 3.5, 4.5, 5.5],
        [null, 7, 8, null, 9],
        ["a", null, "c", "d", "e"],
      ],
    });
    const writes = held.take()[0]?.writes ?? [];
    expect(writes.map((w) => [w.key, w.record.eventTime, w.record.values])).toEqual([
      ['["1"]', 20, { spend: 3.5, score: 8, tier: "c" }],
      ['["2"]', 50, { spend: 4.5, score: null, tier: "d" }],
    ]);
  });

  it("lets the later of two rows with the same key and event time win, online and offline alike", async () => {
    const eventTime = Date.now() * 1000;
    const rows = [5n, 6n].map((value) => ({
      entityKey: { id: { kind: "int64" as const, value: 9n } },
      eventTime,
      features: { orders: { kind: "int64" as const, value } },
    }));
    await writer.writeBatch({ project: "default", featureView: "stats", writeId: "", rows });
    const [records] = await online.read([{ table: onlineTableName("default", "stats", 1), keys: ['["9"]'] }]);
    expect(records?.[0]?.values.orders).toBe(6n);
    const view = await registry.getFeatureView("default", "stats");
    const entity = await registry.getEntity("default", "customer");
    const [latest] = await offline.latestPerEntity(offlineTableOf(view, entity), {}, [8n], 1);
    expect(latest?.features).toEqual([6n]);
  });

  it("lets a created time from the source system decide ties and stand for the time of knowledge", async () => {
    const eventTime = Date.now() * 1000 - 60_000_000;
    const row = (value: bigint, createdTime?: number) => ({
      entityKey: { id: { kind: "int64" as const, value: 20n } },
      eventTime,
      features: { orders: { kind: "int64" as const, value } },
      ...(createdTime === undefined ? {} : { createdTime }),
    });
    // A live row first, then a re-import of an older file: the older created time loses the tie.
    await writer.writeBatch({ project: "default", featureView: "stats", writeId: "", rows: [row(1n)] });
    await writer.writeBatch({ project: "default", featureView: "stats", writeId: "", rows: [row(0n, eventTime + 5)] });
    const [records] = await online.read([{ table: onlineTableName("default", "stats", 1), keys: ['["20"]'] }]);
    expect(records?.[0]?.values.orders).toBe(1n);
    // Columns carry created times too; a later created time wins over the live row.
    await writer.writeBatch({
      project: "default",
      featureView: "stats",
      writeId: "",
      rows: [],
      columns: {
        entityKey: { id: { kind: "int64", values: [20n] } },
        eventTimes: [eventTime],
        features: { orders: { kind: "int64", values: [2n] } },
        createdTimes: [Date.now() * 1000 + 1_000_000],
      },
    });
    const view = await registry.getFeatureView("default", "stats");
    const entity = await registry.getEntity("default", "customer");
    const history = (await offline.readAll(offlineTableOf(view, entity))).filter((r) => r.key[0] === 20n);
    expect(history.find((r) => r.features[0] === 0n)?.ingestTime).toBe(eventTime + 5);
    const [latest] = await offline.latestPerEntity(offlineTableOf(view, entity), {}, [19n], 1);
    expect(latest?.features).toEqual([2n]);
    const [after] = await online.read([{ table: onlineTableName("default", "stats", 1), keys: ['["20"]'] }]);
    expect(after?.[0]?.values.orders).toBe(2n);
  });

  it("rejects created times out of range, by row and by column", async () => {
    const future = Date.now() * 1000 + 3_600_000_000;
    const receipt = await writer.writeBatch({
      project: "default",
      featureView: "stats",
      writeId: "",
      rows: [
        { entityKey: { id: { kind: "int64", value: 30n } }, eventTime: Date.now() * 1000, features: {}, createdTime: future },
        { entityKey: { id: { kind: "int64", value: 31n } }, eventTime: Date.now() * 1000, features: {}, createdTime: -1e16 },
      ],
    });
    expect(receipt.rejectedRows.map((r) => r.violations.map((v) => v.field))).toEqual([["rows[0].created_time"], ["rows[1].created_time"]]);
    await expect(
      writer.writeBatch({
        project: "default",
        featureView: "stats",
        writeId: "",
        rows: [],
        columns: {
          entityKey: { id: { kind: "int64", values: [1n] } },
          eventTimes: [Date.now() * 1000],
          features: {},
          createdTimes: [1, 2],
        },
      }),
    ).rejects.toMatchObject({ violations: [{ field: "columns.created_time_micros" }] });
  });
});

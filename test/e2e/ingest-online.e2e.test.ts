/** Writes through IngestionService and reads through OnlineService: the real server, stores and SDK. */
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FeatureStatus, SluiceClientError, typed } from "../../clients/typescript/src/index.js";
import { IngestionServiceClient, WriteFeatureBatchRequest } from "../../src/gen/sluice/v1/ingestion.pb.js";
import { failure } from "../support/expect-failure.js";
import { readOfflineRows } from "../support/offline-rows.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const HOUR = 3600_000;
const now = () => new Date();
const ago = (ms: number) => new Date(Date.now() - ms);

const stats = {
  name: "customer_stats",
  entity: "customer",
  ttlSeconds: 86_400,
  features: [
    { name: "orders", type: "int64" as const },
    { name: "spend", type: "double" as const },
    { name: "tier", type: "string" as const },
    { name: "embedding", type: "float_list" as const },
  ],
};

beforeEach(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView(stats);
});

afterEach(async () => {
  await t?.stop();
});

describe("writes", () => {
  it("accepts good rows, reports each bad one with field paths, and never lets bad rows block good ones", async () => {
    const ack = await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [
        { entityKey: { customer_id: 1n }, eventTime: now(), features: { orders: 3n, spend: 9.5, tier: "gold", embedding: [0.5, 1] } },
        { entityKey: { customer_id: 2n }, eventTime: now(), features: { oders: 1n } },
        { entityKey: { customer_id: 3n }, eventTime: now(), features: { orders: "three" } },
        { entityKey: {}, eventTime: now(), features: {} },
        { entityKey: { customer_id: 5n }, eventTime: new Date(Date.now() + 24 * HOUR), features: {} },
        { entityKey: { customer_id: 6n }, eventTime: now(), features: { spend: Number.NaN } },
        { entityKey: { customer_id: 7n }, eventTime: now(), features: { tier: "x".repeat(70_000) } },
        { entityKey: { customer_id: "eight" }, eventTime: now(), features: {} },
        { entityKey: { customer_id: 9n }, eventTime: now(), features: { orders: 4 } },
      ],
    });
    expect(ack.acceptedCount).toBe(2);
    expect(ack.featureViewVersion).toBe(1);
    expect(ack.rejectedRows.map((r) => [r.rowIndex, r.violations.map((v) => v.field)])).toEqual([
      [1, ['rows[1].features["oders"]']],
      [2, ['rows[2].features["orders"]']],
      [3, ['rows[3].entity_key["customer_id"]']],
      [4, ["rows[4].event_time"]],
      [5, ['rows[5].features["spend"]']],
      [6, ['rows[6].features["tier"]']],
      [7, ['rows[7].entity_key["customer_id"]']],
    ]);
    expect(ack.rejectedRows[1]?.violations[0]?.description).toBe("expected an int64 value, got string");

    const [orders, spend, tier, embedding] = await t.client.getOnlineFeatures({
      features: ["customer_stats:orders", "customer_stats:spend", "customer_stats:tier", "customer_stats:embedding"],
      entities: { customer_id: [1n, 9n, 2n] },
    });
    expect(orders?.values).toEqual([3n, 4n, null]);
    expect(orders?.statuses).toEqual([
      FeatureStatus.FEATURE_STATUS_PRESENT,
      FeatureStatus.FEATURE_STATUS_PRESENT,
      FeatureStatus.FEATURE_STATUS_NOT_FOUND,
    ]);
    expect(spend?.values).toEqual([9.5, null, null]);
    expect(spend?.statuses[1]).toBe(FeatureStatus.FEATURE_STATUS_NULL_VALUE);
    expect(tier?.values[0]).toBe("gold");
    expect(embedding?.values[0]).toEqual([0.5, 1]);
  });

  it("creates or grows a history table when a version is applied: one per run of compatible versions", async () => {
    const refunds = { name: "refunds", type: "int32" as const };
    await t.client.applyFeatureView({ ...stats, features: [...stats.features, refunds] });
    await t.client.applyFeatureView({ ...stats, features: [...stats.features, refunds], ttlSeconds: 3600 });
    await t.stop();
    const shape = { view: "customer_stats", joinKeys: [{ name: "customer_id", type: "int64" as const }] };
    // Version 2 is compatible: version 1's table got its column. Version 3 is breaking: a table of its own.
    expect(await readOfflineRows(t.dataDir, { ...shape, version: 1, features: [...stats.features, refunds] })).toEqual([]);
    expect(await readOfflineRows(t.dataDir, { ...shape, version: 3, features: [...stats.features, refunds] })).toEqual([]);
    await expect(readOfflineRows(t.dataDir, { ...shape, version: 2, features: stats.features })).rejects.toThrow(/customer_stats__v2/);
  });

  it("answers a batch whose every row is rejected with the reasons, not an error", async () => {
    const ack = await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [{ entityKey: {}, eventTime: now(), features: {} }],
    });
    expect(ack.acceptedCount).toBe(0);
    expect(ack.rejectedRows).toHaveLength(1);
  });

  it("refuses unknown views and versions (NOT_FOUND) and deprecated views (FAILED_PRECONDITION)", async () => {
    const rows = [{ entityKey: { customer_id: 1n }, eventTime: now(), features: {} }];
    expect((await failure(t.client.writeFeatureBatch({ featureView: "ghost", rows }))).code).toBe(status.NOT_FOUND);
    expect((await failure(t.client.writeFeatureBatch({ featureView: "customer_stats@2", rows }))).reason).toBe(
      "FEATURE_VIEW_VERSION_NOT_FOUND",
    );
    expect((await failure(t.client.writeFeatureBatch({ featureView: "Bad Ref", rows }))).code).toBe(status.INVALID_ARGUMENT);
    await t.client.deleteFeatureView("customer_stats");
    const deprecated = await failure(t.client.writeFeatureBatch({ featureView: "customer_stats", rows }));
    expect([deprecated.code, deprecated.reason]).toEqual([status.FAILED_PRECONDITION, "FEATURE_VIEW_DEPRECATED"]);
  });

  it("applies a batch retried with the same write id once, in both stores", async () => {
    const batch = {
      featureView: "customer_stats",
      writeId: "batch-0001",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: ago(HOUR), features: { orders: 1n } }],
    };
    const first = await t.client.writeFeatureBatch(batch);
    const retry = await t.client.writeFeatureBatch(batch);
    expect([first.duplicate, retry.duplicate]).toEqual([false, true]);
    expect(retry.acceptedCount).toBe(1);
    await t.stop();
    const rows = await readOfflineRows(t.dataDir, {
      view: "customer_stats",
      joinKeys: [{ name: "customer_id", type: "int64" }],
      features: stats.features,
    });
    expect(rows.map((r) => [r.key, r.writeId])).toEqual([[[1n], "batch-0001"]]);
  });

  it("streams batches through WriteFeatures with one ack per batch, in order", async () => {
    const stream = t.client.openWriteStream();
    const acks = await Promise.all(
      [1n, 2n, 3n].map((id) =>
        stream.write({
          featureView: "customer_stats",
          writeId: `s-${id}`,
          rows: [{ entityKey: { customer_id: id }, eventTime: now(), features: { orders: id } }],
        }),
      ),
    );
    await stream.close();
    expect(acks.map((a) => a.writeId)).toEqual(["s-1", "s-2", "s-3"]);
    const [orders] = await t.client.getOnlineFeatures({ features: ["customer_stats:orders"], entities: { customer_id: [1n, 2n, 3n] } });
    expect(orders?.values).toEqual([1n, 2n, 3n]);
  });

  it("lets a write stream that is in flight at shutdown finish its batches", async () => {
    const stream = t.client.openWriteStream();
    const row = (id: bigint) => ({ entityKey: { customer_id: id }, eventTime: now(), features: { orders: id } });
    expect((await stream.write({ featureView: "customer_stats", rows: [row(1n)] })).acceptedCount).toBe(1);
    const stopping = t.server.shutdown();
    // New calls are refused from now on, but this stream's next batch is still stored and acked.
    expect((await stream.write({ featureView: "customer_stats", rows: [row(2n)] })).acceptedCount).toBe(1);
    await stream.close();
    await stopping;
    t = await startTestServer({ dataDir: t.dataDir });
    const [orders] = await t.client.getOnlineFeatures({ features: ["customer_stats:orders"], entities: { customer_id: [1n, 2n] } });
    expect(orders?.values).toEqual([1n, 2n]);
  });

  it("ends a write stream with NOT_FOUND at an unknown view, keeping earlier batches", async () => {
    const stream = t.client.openWriteStream();
    const good = await stream.write({
      featureView: "customer_stats",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: now(), features: { orders: 7n } }],
    });
    expect(good.acceptedCount).toBe(1);
    const bad = await failure(stream.write({ featureView: "ghost", rows: [] }));
    expect(bad.code).toBe(status.NOT_FOUND);
    await expect(stream.close()).rejects.toBeInstanceOf(SluiceClientError);
    const [orders] = await t.client.getOnlineFeatures({ features: ["customer_stats:orders"], entities: { customer_id: [1n] } });
    expect(orders?.values).toEqual([7n]);
  });
});

describe("columnar batches", () => {
  it("writes columns through the stream and the unary call, with nulls, and reads them back", async () => {
    const stream = t.client.openWriteStream();
    const streamed = await stream.write({
      featureView: "customer_stats",
      eventTimes: [now(), now(), now()],
      entityKey: { customer_id: BigInt64Array.from([1n, 2n, 3n]) },
      features: {
        orders: BigInt64Array.from([10n, 20n, 30n]),
        spend: { type: "double", values: [1.5, null, 3.5] },
        embedding: { type: "float_list", values: [[0.5], [], null] },
      },
    });
    await stream.close();
    const unary = await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      eventTimes: [now()],
      entityKey: { customer_id: { type: "int64", values: [4n] } },
      features: { tier: { type: "string", values: ["gold"] } },
    });
    expect([streamed.acceptedCount, unary.acceptedCount]).toEqual([3, 1]);
    const [orders, spend, tier, embedding] = await t.client.getOnlineFeatures({
      features: ["customer_stats:orders", "customer_stats:spend", "customer_stats:tier", "customer_stats:embedding"],
      entities: { customer_id: [1n, 2n, 3n, 4n] },
    });
    expect(orders?.values).toEqual([10n, 20n, 30n, null]);
    expect(spend?.values).toEqual([1.5, null, 3.5, null]);
    expect(spend?.statuses[1]).toBe(FeatureStatus.FEATURE_STATUS_NULL_VALUE);
    expect(tier?.values).toEqual([null, null, null, "gold"]);
    expect(embedding?.values).toEqual([[0.5], [], null, null]);
  });

  it("rejects bad cells by row and malformed columns by batch, with field violations", async () => {
    const ack = await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      eventTimes: [now(), now(), new Date(Date.now() + 24 * HOUR)],
      entityKey: { customer_id: BigInt64Array.from([1n, 2n, 3n]) },
      features: { spend: Float64Array.from([1, Number.NaN, 3]) },
    });
    expect(ack.acceptedCount).toBe(1);
    expect(ack.rejectedRows.map((r) => [r.rowIndex, r.violations.map((v) => v.field)])).toEqual([
      [1, ['columns.features["spend"][1]']],
      [2, ["columns.event_time_micros[2]"]],
    ]);

    const malformed = await failure(
      t.client.writeFeatureBatch({
        featureView: "customer_stats",
        eventTimes: [now(), now()],
        entityKey: { customer_id: BigInt64Array.from([1n, 2n]) },
        features: { spend: { type: "string", values: ["a", "b"] }, orders: BigInt64Array.from([1n]) },
      }),
    );
    expect(malformed.code).toBe(status.INVALID_ARGUMENT);
    expect(malformed.fieldViolations.map((v) => v.field)).toEqual(['columns.features["orders"]', 'columns.features["spend"]']);
  });

  it("refuses null rows outside the batch and a batch sent both as rows and as columns", async () => {
    const stub = new IngestionServiceClient(t.server.address, credentials.createInsecure());
    const call = (request: Partial<WriteFeatureBatchRequest>) =>
      new Promise<ServiceError>((resolve) =>
        stub.writeFeatureBatch(WriteFeatureBatchRequest.fromPartial({ featureView: "customer_stats", ...request }), (error) =>
          resolve(error as ServiceError),
        ),
      );
    const columns = {
      eventTimeMicros: [BigInt(Date.now()) * 1000n],
      entityKey: { customer_id: { int64Values: { values: [1n] }, nullRows: [] } },
      features: { spend: { doubleValues: { values: [1] }, nullRows: [5] } },
      createdTimeMicros: [],
    };
    const outside = await call({ columns });
    expect(outside.code).toBe(status.INVALID_ARGUMENT);
    expect(outside.details).toContain('columns.features["spend"].null_rows');
    const both = await call({
      columns: { ...columns, features: {} },
      rows: [{ entityKey: {}, eventTime: undefined, features: {}, createdTime: undefined }],
    });
    expect(both.code).toBe(status.INVALID_ARGUMENT);
    expect(both.details).toContain("rows or as columns");
    stub.close();
  });
});

describe("event time and TTL online", () => {
  it("never lets an older event overwrite a newer one", async () => {
    const write = (at: Date, orders: bigint) =>
      t.client.writeFeatureBatch({
        featureView: "customer_stats",
        rows: [{ entityKey: { customer_id: 1n }, eventTime: at, features: { orders } }],
      });
    await write(ago(HOUR), 10n);
    await write(ago(2 * HOUR), 5n);
    const [orders] = await t.client.getOnlineFeatures({ features: ["customer_stats:orders"], entities: { customer_id: [1n] } });
    expect(orders?.values).toEqual([10n]);
    expect(orders?.eventTimes[0]?.getTime()).toBeGreaterThan(Date.now() - HOUR - 60_000);
    await write(ago(HOUR / 2), 11n);
    const [newer] = await t.client.getOnlineFeatures({ features: ["customer_stats:orders"], entities: { customer_id: [1n] } });
    expect(newer?.values).toEqual([11n]);
  });

  it("marks values older than the TTL OUTSIDE_MAX_AGE, never PRESENT", async () => {
    await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [
        { entityKey: { customer_id: 1n }, eventTime: ago(25 * HOUR), features: { orders: 1n } },
        { entityKey: { customer_id: 2n }, eventTime: ago(23 * HOUR), features: { orders: 2n } },
      ],
    });
    const [orders] = await t.client.getOnlineFeatures({ features: ["customer_stats:orders"], entities: { customer_id: [1n, 2n, 3n] } });
    expect(orders?.statuses).toEqual([
      FeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE,
      FeatureStatus.FEATURE_STATUS_PRESENT,
      FeatureStatus.FEATURE_STATUS_NOT_FOUND,
    ]);
    expect(orders?.values).toEqual([1n, 2n, null]);
    expect(orders?.eventTimes[2]).toBeUndefined();
  });
});

describe("versions and selections", () => {
  it("writes and reads pinned and latest versions of a compatible run, which share one history", async () => {
    await t.client.applyFeatureView({ ...stats, features: [...stats.features, { name: "refunds", type: "int32" }] });
    await t.client.writeFeatureBatch({
      featureView: "customer_stats@1",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: now(), features: { orders: 1n } }],
    });
    const v2 = await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: now(), features: { orders: 2n, refunds: 1 } }],
    });
    expect(v2.featureViewVersion).toBe(2);
    const columns = await t.client
      .getOnlineFeatures({
        features: ["customer_stats@1:orders", "customer_stats:orders", "customer_stats:refunds"],
        entities: { customer_id: [1n] },
        fullFeatureNames: false,
      })
      .catch((e: unknown) => e);
    expect(columns).toBeInstanceOf(SluiceClientError);
    expect((columns as SluiceClientError).reason).toBe("DUPLICATE_OUTPUT_COLUMN");
    const [v1Orders, latestRefunds] = await t.client.getOnlineFeatures({
      features: ["customer_stats@1:orders", "customer_stats:refunds"],
      entities: { customer_id: [1n] },
    });
    // The write through version 2 is the newest row of the shared history, whichever version reads it.
    expect([v1Orders?.values, v1Orders?.feature.version, latestRefunds?.values]).toEqual([[2n], 1, [1]]);
  });

  it("reads a feature service with full feature names across two views", async () => {
    await t.client.applyFeatureView({ name: "customer_profile", entity: "customer", features: [{ name: "country", type: "string" }] });
    await t.client.applyFeatureService({ name: "churn", features: ["customer_stats:orders", "customer_profile:country"] });
    await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: now(), features: { orders: 4n } }],
    });
    await t.client.writeFeatureBatch({
      featureView: "customer_profile",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: now(), features: { country: "NL" } }],
    });
    const columns = await t.client.getOnlineFeatures({
      featureService: "churn",
      entities: { customer_id: [1n, 2n] },
      fullFeatureNames: true,
    });
    expect(columns.map((c) => [c.name, c.values])).toEqual([
      ["customer_stats__orders", [4n, null]],
      ["customer_profile__country", ["NL", null]],
    ]);
  });

  it("refuses bad entity columns with field violations", async () => {
    const features = ["customer_stats:orders"];
    const missing = await failure(t.client.getOnlineFeatures({ features, entities: { user_id: [1n] } }));
    expect([missing.code, missing.fieldViolations.map((v) => v.field)]).toEqual([
      status.INVALID_ARGUMENT,
      ['entities["user_id"]', 'entities["customer_id"]'],
    ]);
    const ragged = await failure(t.client.getOnlineFeatures({ features, entities: { customer_id: [1n, 2n], other: [1n] } }));
    expect(ragged.reason).toBe("INVALID_ENTITY_ROWS");
    const wrongType = await failure(t.client.getOnlineFeatures({ features, entities: { customer_id: ["x"] } }));
    expect(wrongType.fieldViolations[0]?.description).toMatch(/expected an int64 value, got string/);
    expect((await failure(t.client.getOnlineFeatures({ features: ["customer_stats:ghost"], entities: { customer_id: [1n] } }))).code).toBe(
      status.NOT_FOUND,
    );
  });

  it("accepts explicitly typed values", async () => {
    await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [
        {
          entityKey: { customer_id: typed.int64(1) },
          eventTime: now(),
          features: { spend: typed.double(2), embedding: typed.floatList([1, 2]) },
        },
      ],
    });
    const [spend] = await t.client.getOnlineFeatures({ features: ["customer_stats:spend"], entities: { customer_id: [typed.int64(1)] } });
    expect(spend?.values).toEqual([2]);
  });
});

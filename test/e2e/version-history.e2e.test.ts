/**
 * Feature view versions and their history, end to end: a compatible version shares the history
 * of the versions before it (offline and online, nothing copied), a breaking one starts empty,
 * and the apply response says which.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeatureStatus, HistoryOutcome, typed } from "../../clients/typescript/src/index.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const T0 = Date.UTC(2026, 0, 1);
const minutes = (n: number) => new Date(T0 + n * 60_000);

/** Point-in-time values of `features` for customers 1 and 2 at minute 30. */
async function historical(features: string[]): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for await (const row of t.client.getHistoricalRows({
    features,
    spine: {
      rows: [1n, 2n].map((id) => ({ entityKey: { customer_id: id }, eventTime: minutes(30) })),
    },
  }))
    rows.push(row);
  return rows;
}

const baseFeatures = [
  { name: "orders", type: "int64" as const },
  { name: "spend", type: "double" as const },
];

beforeAll(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  const created = await t.client.applyFeatureView({ name: "stats", entity: "customer", features: baseFeatures });
  expect(created.history).toBe(HistoryOutcome.HISTORY_OUTCOME_STARTS_EMPTY);
  expect(created.featureView?.historyVersion).toBe(1);
  await t.client.writeFeatureBatch({
    featureView: "stats",
    rows: [1n, 2n].map((id) => ({
      entityKey: { customer_id: id },
      eventTime: minutes(10),
      features: { orders: typed.int64(Number(id) * 10), spend: typed.double(Number(id) * 1.5) },
    })),
  });
});

afterAll(() => t?.stop());

describe("a compatible version", () => {
  it("shares the history of the version before it, offline and online", async () => {
    const added = await t.client.applyFeatureView({
      name: "stats",
      entity: "customer",
      features: [...baseFeatures, { name: "tier", type: "string" }],
    });
    expect(added.featureView?.version).toBe(2);
    expect(added.history).toBe(HistoryOutcome.HISTORY_OUTCOME_SHARED);
    expect(added.featureView?.historyVersion).toBe(1);

    // Unpinned refs follow version 2 and still see what was written through version 1.
    const [orders, tier] = await t.client.getOnlineFeatures({
      features: ["stats:orders", "stats:tier"],
      entities: { customer_id: [1n, 2n] },
    });
    expect(orders?.feature.version).toBe(2);
    expect(orders?.values).toEqual([10n, 20n]);
    expect(orders?.statuses).toEqual([FeatureStatus.FEATURE_STATUS_PRESENT, FeatureStatus.FEATURE_STATUS_PRESENT]);
    // The added feature has no value for rows written before it existed.
    expect(tier?.values).toEqual([null, null]);
    expect(tier?.statuses).toEqual([FeatureStatus.FEATURE_STATUS_NULL_VALUE, FeatureStatus.FEATURE_STATUS_NULL_VALUE]);

    expect(await historical(["stats:orders", "stats:spend", "stats:tier"])).toEqual([
      expect.objectContaining({ customer_id: 1n, orders: 10n, spend: 1.5, tier: null }),
      expect.objectContaining({ customer_id: 2n, orders: 20n, spend: 3, tier: null }),
    ]);
  });

  it("takes writes through any version of the run, each seen by all of them", async () => {
    await t.client.writeFeatureBatch({
      featureView: "stats",
      rows: [{ entityKey: { customer_id: 1n }, eventTime: minutes(20), features: { orders: typed.int64(11), tier: "gold" } }],
    });
    await t.client.writeFeatureBatch({
      featureView: "stats@1",
      rows: [{ entityKey: { customer_id: 2n }, eventTime: minutes(20), features: { orders: typed.int64(21), spend: typed.double(4) } }],
    });
    const read = async (ref: string) =>
      (await t.client.getOnlineFeatures({ features: [ref], entities: { customer_id: [1n, 2n] } }))[0]?.values;
    const latest = { values: await read("stats:orders") };
    const pinned = { values: await read("stats@1:orders") };
    expect(latest?.values).toEqual([11n, 21n]);
    expect(pinned?.values).toEqual([11n, 21n]);
    expect(await historical(["stats:orders", "stats:tier"])).toEqual([
      expect.objectContaining({ customer_id: 1n, orders: 11n, tier: "gold" }),
      // Written through version 1, which does not know tier: the newest row's tier is null.
      expect.objectContaining({ customer_id: 2n, orders: 21n, tier: null }),
    ]);
  });
});

describe("a breaking version", () => {
  it("starts with an empty history and says so; earlier versions keep theirs", async () => {
    const broken = await t.client.applyFeatureView({
      name: "stats",
      entity: "customer",
      features: [...baseFeatures, { name: "tier", type: "string" }],
      ttlSeconds: 3600,
    });
    expect(broken.featureView?.version).toBe(3);
    expect(broken.history).toBe(HistoryOutcome.HISTORY_OUTCOME_STARTS_EMPTY);
    expect(broken.featureView?.historyVersion).toBe(3);

    const [orders] = await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: [1n] } });
    expect(orders?.statuses).toEqual([FeatureStatus.FEATURE_STATUS_NOT_FOUND]);
    expect(await historical(["stats:orders"])).toEqual([
      expect.objectContaining({ orders: null }),
      expect.objectContaining({ orders: null }),
    ]);
    expect(await historical(["stats@2:orders"])).toEqual([
      expect.objectContaining({ orders: 11n }),
      expect.objectContaining({ orders: 21n }),
    ]);

    // A compatible change after the breaking one shares version 3's history, not version 1's.
    const next = await t.client.applyFeatureView({
      name: "stats",
      entity: "customer",
      features: [...baseFeatures, { name: "tier", type: "string" }, { name: "visits", type: "int32" }],
      ttlSeconds: 3600,
    });
    expect(next.featureView?.historyVersion).toBe(3);
    expect(next.history).toBe(HistoryOutcome.HISTORY_OUTCOME_SHARED);
    const listed = await t.client.getFeatureView("stats", { version: 2 });
    expect(listed.historyVersion).toBe(1);
  });
});

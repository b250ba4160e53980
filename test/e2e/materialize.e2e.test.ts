/** Materialize: offline history -> online store, by event-time range, in chunks, safe to re-run. */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { FeatureStatus, type SluiceClientError } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const DAY = 86_400_000;
const base = Date.now() - 10 * DAY;

afterEach(async () => {
  await t?.stop();
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("Materialize", () => {
  it("rebuilds the online store from offline history, latest row per entity within the range", async () => {
    t = await startTestServer();
    await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    await t.client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "orders", type: "int64" }] });
    await t.client.writeFeatureBatch({
      featureView: "stats",
      rows: [
        { entityKey: { customer_id: 1n }, eventTime: new Date(base + 1 * DAY), features: { orders: 1n } },
        { entityKey: { customer_id: 1n }, eventTime: new Date(base + 2 * DAY), features: { orders: 2n } },
        { entityKey: { customer_id: 1n }, eventTime: new Date(base + 8 * DAY), features: { orders: 8n } },
        { entityKey: { customer_id: 2n }, eventTime: new Date(base + 3 * DAY), features: { orders: 30n } },
        { entityKey: { customer_id: 3n }, eventTime: new Date(base + 9 * DAY), features: { orders: 90n } },
      ],
    });
    // Lose the online store entirely; the offline history is the source of truth.
    await t.stop();
    rmSync(join(t.dataDir, "online"), { recursive: true, force: true });
    t = await startTestServer({ dataDir: t.dataDir });
    const read = async () => (await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: [1n, 2n, 3n] } }))[0];
    expect((await read())?.statuses).toEqual(Array(3).fill(FeatureStatus.FEATURE_STATUS_NOT_FOUND));

    const progress = await collect(t.client.materialize({ featureView: "stats", start: new Date(base), end: new Date(base + 5 * DAY) }));
    expect(progress.at(-1)).toEqual({ entitiesProcessed: 2n, valuesWritten: 2n, done: true });
    expect((await read())?.values).toEqual([2n, 30n, null]);

    // A wider second run moves entity 1 forward and adds entity 3; re-running changes nothing more.
    await collect(t.client.materialize({ featureView: "stats" }));
    await collect(t.client.materialize({ featureView: "stats", start: new Date(base), end: new Date(base + 5 * DAY) }));
    expect((await read())?.values).toEqual([8n, 30n, 90n]);
  });

  it("pages through entities in chunks, reporting progress after each, and keeps a newest null as null", async () => {
    t = await startTestServer({ limits: { ...DEFAULT_CONFIG.limits, materializeChunkRows: 2 } });
    await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    await t.client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "orders", type: "int64" }] });
    const ids = [1n, 2n, 3n, 4n, 5n];
    await t.client.writeFeatureBatch({
      featureView: "stats",
      rows: [
        ...ids.map((id) => ({ entityKey: { customer_id: id }, eventTime: new Date(base), features: { orders: id } })),
        // The newest row of customer 5 has no orders: materialized, it must stay null, not fall back to 5.
        { entityKey: { customer_id: 5n }, eventTime: new Date(base + DAY), features: {} },
      ],
    });
    await t.stop();
    rmSync(join(t.dataDir, "online"), { recursive: true, force: true });
    t = await startTestServer({ dataDir: t.dataDir, limits: { ...DEFAULT_CONFIG.limits, materializeChunkRows: 2 } });
    const progress = await collect(t.client.materialize({ featureView: "stats" }));
    expect(progress.map((p) => [p.entitiesProcessed, p.done])).toEqual([
      [2n, false],
      [4n, false],
      [5n, true],
    ]);
    const [orders] = await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: ids } });
    expect(orders?.values).toEqual([1n, 2n, 3n, 4n, null]);
  });

  it("refuses an empty range and unknown views", async () => {
    t = await startTestServer();
    const empty = await collect(t.client.materialize({ featureView: "ghost" })).catch((e: unknown) => e);
    expect((empty as SluiceClientError).code).toBe(status.NOT_FOUND);
    const backwards = await collect(t.client.materialize({ featureView: "ghost", start: new Date(2), end: new Date(1) })).catch(
      (e: unknown) => e,
    );
    expect((backwards as SluiceClientError).reason).toBe("INVALID_TIME_RANGE");
  });
});

/** The server on a 3-master Redis Cluster: writes and reads, and a failing node that comes back. */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClientError } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { RedisCluster, skipWithoutRedis } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// Skipped only where redis-server is not installed (one line says so); CI sets REQUIRE_REDIS_TESTS=1,
// which turns that skip into a failure, so these suites always run there.
const skip = skipWithoutRedis("redis cluster e2e");
const ids = Array.from({ length: 200 }, (_, i) => BigInt(i));

describe.skipIf(skip)("the online store on Redis Cluster", () => {
  let cluster: RedisCluster;
  let t: TestServer;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    t = await startTestServer({
      online: { ...DEFAULT_CONFIG.online, backend: "redis-cluster", redisClusterNodes: cluster.addresses, redisCommandTimeoutMs: 1000 },
    });
    await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
    await t.client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "orders", type: "int64" }] });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await cluster?.destroy();
  });

  const write = (orders: bigint, writeId: string) =>
    t.client.writeFeatureBatch({
      featureView: "stats",
      writeId,
      rows: ids.map((id) => ({ entityKey: { customer_id: id }, eventTime: new Date(), features: { orders: id + orders } })),
    });

  it("writes keys spread over every node and reads them back in one call", async () => {
    expect((await write(0n, "c-1")).acceptedCount).toBe(ids.length);
    const [orders] = await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: ids } });
    expect(orders?.values).toEqual(ids);
  });

  it("fails with UNAVAILABLE while a node is down and recovers when it returns", async () => {
    const node = cluster.nodes[1];
    if (!node) throw new Error("no node");
    await node.stop();
    const failed = await write(1000n, "c-2").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SluiceClientError);
    expect((failed as SluiceClientError).code).toBe(status.UNAVAILABLE);
    expect((failed as SluiceClientError).message).toContain("redis cluster at");
    await node.launch();
    // The same write id is retried until the cluster has its node back.
    const deadline = Date.now() + 20_000;
    let ack: Awaited<ReturnType<typeof write>> | undefined;
    while (!ack) {
      ack = await write(1000n, "c-2").catch((e: unknown) => {
        if (Date.now() > deadline) throw e;
        return undefined;
      });
      if (!ack) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(ack.acceptedCount).toBe(ids.length);
    const [orders] = await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: ids } });
    expect(orders?.values).toEqual(ids.map((id) => id + 1000n));
  }, 60_000);
});

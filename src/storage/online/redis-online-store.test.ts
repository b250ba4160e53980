import { afterAll, beforeAll, describe } from "vitest";
import { RedisCluster, RedisProcess, skipWithoutRedis } from "../../../test/support/redis-harness.js";
import { describeOnlineStoreContract } from "./online-store.contract.js";
import { openRedisClusterOnlineStore, openRedisOnlineStore } from "./redis-online-store.js";

// Skipped only where redis-server is not installed (one line says so); CI sets REQUIRE_REDIS_TESTS=1,
// which turns that skip into a failure, so these suites always run there.
const skip = skipWithoutRedis("online store on redis");
let run = 0;

describe.skipIf(skip)("redis", () => {
  let redis: RedisProcess;
  let prefix = "";
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis?.destroy();
  });
  const open = () => openRedisOnlineStore({ url: redis.url, keyPrefix: prefix, commandTimeoutMs: 5000 });
  describeOnlineStoreContract("redis", {
    open: async () => {
      prefix = `test${run++}:`;
      return open();
    },
    reopen: async () => open(),
  });
});

describe.skipIf(skip)("redis cluster", () => {
  let cluster: RedisCluster;
  let prefix = "";
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });
  const open = () => openRedisClusterOnlineStore({ clusterNodes: cluster.addresses, keyPrefix: prefix, commandTimeoutMs: 5000 });
  describeOnlineStoreContract("redis-cluster", {
    open: async () => {
      prefix = `test${run++}:`;
      return open();
    },
    reopen: async () => open(),
  });
});

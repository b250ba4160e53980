import { afterAll, beforeAll, describe } from "vitest";
import { RedisProcess, skipWithoutRedis } from "../../../test/support/redis-harness.js";
import { openRedisRegistryStore } from "./redis-registry-store.js";
import { describeRegistryStoreContract } from "./registry-store.contract.js";

// Skipped only where redis-server is not installed (one line says so); CI sets REQUIRE_REDIS_TESTS=1,
// which turns that skip into a failure, so these suites always run there.
const skip = skipWithoutRedis("registry on redis");

describe.skipIf(skip)("redis", () => {
  let redis: RedisProcess;
  let run = 0;
  let prefix = "";
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis?.destroy();
  });
  describeRegistryStoreContract("redis", {
    open: async () => {
      prefix = `test${run++}:`;
      return openRedisRegistryStore(redis.url, prefix);
    },
    reopen: async () => openRedisRegistryStore(redis.url, prefix),
  });
});

import { afterAll, beforeAll, describe } from "vitest";
import { RedisProcess, skipWithoutRedis } from "../../../test/support/redis-harness.js";
import { describeLearningStoreContract } from "./learning-store.contract.js";
import { openRedisLearningStore } from "./redis-learning-store.js";

// Skipped only where redis-server is not installed; CI sets REQUIRE_REDIS_TESTS=1, which turns the skip into a failure.
const skip = skipWithoutRedis("learning store on redis");

describe.skipIf(skip)("redis learning store", () => {
  let redis: RedisProcess;
  let run = 0;
  let prefix = "";
  beforeAll(async () => {
    redis = await RedisProcess.start();
  });
  afterAll(async () => {
    await redis?.destroy();
  });
  describeLearningStoreContract({
    open: async () => {
      prefix = `test${run++}:`;
      return openRedisLearningStore(redis.url, prefix);
    },
    reopen: async () => openRedisLearningStore(redis.url, prefix),
  });
});

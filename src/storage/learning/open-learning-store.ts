import { join } from "node:path";
import type { SluiceConfig } from "../../config/config.js";
import type { LearningStore } from "./learning-store.js";
import { openLmdbLearningStore } from "./lmdb-learning-store.js";
import { openRedisLearningStore } from "./redis-learning-store.js";

/**
 * Opens the learning store beside the registry: embedded LMDB under the data dir, or the
 * registry's Redis when the registry is shared (learners behind several replicas need both shared).
 */
export function openLearningStore(config: SluiceConfig): Promise<LearningStore> {
  if (config.registry.backend === "redis") return openRedisLearningStore(config.registry.redisUrl, config.registry.redisKeyPrefix);
  return Promise.resolve(openLmdbLearningStore(join(config.dataDir, "learning")));
}

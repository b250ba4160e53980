import { join } from "node:path";
import type { SluiceConfig } from "../../config/config.js";
import { openLmdbOnlineStore } from "./lmdb-online-store.js";
import type { OnlineStore } from "./online-store.js";
import { openRedisClusterOnlineStore, openRedisOnlineStore } from "./redis-online-store.js";

/** Online backends by config name. */
const ONLINE_BACKENDS: Record<SluiceConfig["online"]["backend"], (config: SluiceConfig) => Promise<OnlineStore>> = {
  lmdb: async (config) => openLmdbOnlineStore(join(config.dataDir, "online")),
  redis: (config) =>
    openRedisOnlineStore({
      url: config.online.redisUrl,
      keyPrefix: config.online.redisKeyPrefix,
      commandTimeoutMs: config.online.redisCommandTimeoutMs,
    }),
  "redis-cluster": (config) =>
    openRedisClusterOnlineStore({
      clusterNodes: config.online.redisClusterNodes,
      keyPrefix: config.online.redisKeyPrefix,
      commandTimeoutMs: config.online.redisCommandTimeoutMs,
    }),
};

/** Opens the online store the config names. */
export function openOnlineStore(config: SluiceConfig): Promise<OnlineStore> {
  return ONLINE_BACKENDS[config.online.backend](config);
}

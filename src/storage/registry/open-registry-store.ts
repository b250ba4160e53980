import { join } from "node:path";
import type { SluiceConfig } from "../../config/config.js";
import { openLmdbRegistryStore } from "./lmdb-registry-store.js";
import { openRedisRegistryStore } from "./redis-registry-store.js";
import type { RegistryStore } from "./registry-store.js";

/** Registry backends by config name; each opens its store from the validated config. */
const REGISTRY_BACKENDS: Record<SluiceConfig["registry"]["backend"], (config: SluiceConfig) => Promise<RegistryStore>> = {
  embedded: async (config) => openLmdbRegistryStore(join(config.dataDir, "registry")),
  redis: (config) => openRedisRegistryStore(config.registry.redisUrl, config.registry.redisKeyPrefix),
};

/** Opens the registry store the config names. */
export function openRegistryStore(config: SluiceConfig): Promise<RegistryStore> {
  return REGISTRY_BACKENDS[config.registry.backend](config);
}

import { join } from "node:path";
import type { SluiceConfig } from "../../config/config.js";
import { type JoinLimits, openClickHouseOfflineStore } from "./clickhouse-offline-store.js";
import type { OfflineStore } from "./offline-store.js";

/** Offline backends by config name: both are ClickHouse, embedded or on a server. */
const OFFLINE_BACKENDS: Record<SluiceConfig["offline"]["backend"], (config: SluiceConfig) => Promise<OfflineStore>> = {
  chdb: (config) =>
    openClickHouseOfflineStore({
      kind: "embedded",
      path: join(config.dataDir, "offline"),
      ...joinLimitsOf(config),
    }),
  clickhouse: (config) =>
    openClickHouseOfflineStore({
      kind: "server",
      url: config.offline.clickhouseUrl,
      username: config.offline.clickhouseUsername,
      password: config.offline.clickhousePassword,
      cluster: config.offline.clickhouseCluster || undefined,
      ...joinLimitsOf(config),
    }),
};

/** How the config says point-in-time joins run. */
function joinLimitsOf({ offline }: SluiceConfig): JoinLimits {
  const { hashJoinMaxRows, memoryJoinMaxRows, memoryJoinMaxSpineRows, streamedJoinMaxSpineRows } = offline;
  return { hashJoinMaxRows, memoryJoinMaxRows, memoryJoinMaxSpineRows, streamedJoinMaxSpineRows };
}

/** Opens the offline store the config names. */
export function openOfflineStore(config: SluiceConfig): Promise<OfflineStore> {
  return OFFLINE_BACKENDS[config.offline.backend](config);
}

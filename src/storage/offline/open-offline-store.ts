import { join } from "node:path";
import type { SluiceConfig } from "../../config/config.js";
import { openClickHouseOfflineStore } from "./clickhouse-offline-store.js";
import type { OfflineStore } from "./offline-store.js";

/** Offline backends by config name: both are ClickHouse, embedded or on a server. */
const OFFLINE_BACKENDS: Record<SluiceConfig["offline"]["backend"], (config: SluiceConfig) => Promise<OfflineStore>> = {
  chdb: (config) =>
    openClickHouseOfflineStore({
      kind: "embedded",
      path: join(config.dataDir, "offline"),
      hashJoinMaxRows: config.offline.hashJoinMaxRows,
    }),
  clickhouse: (config) =>
    openClickHouseOfflineStore({
      kind: "server",
      url: config.offline.clickhouseUrl,
      username: config.offline.clickhouseUsername,
      password: config.offline.clickhousePassword,
      cluster: config.offline.clickhouseCluster || undefined,
      hashJoinMaxRows: config.offline.hashJoinMaxRows,
    }),
};

/** Opens the offline store the config names. */
export function openOfflineStore(config: SluiceConfig): Promise<OfflineStore> {
  return OFFLINE_BACKENDS[config.offline.backend](config);
}

import { join } from "node:path";
import type { Logger } from "pino";
import type { SluiceConfig } from "../../config/config.js";
import { type JoinOptions, openClickHouseOfflineStore } from "./clickhouse-offline-store.js";
import type { OfflineStore } from "./offline-store.js";

/** Offline backends by config name: both are ClickHouse, embedded or on a server. */
const OFFLINE_BACKENDS: Record<SluiceConfig["offline"]["backend"], (config: SluiceConfig, logger?: Logger) => Promise<OfflineStore>> = {
  chdb: (config, logger) =>
    openClickHouseOfflineStore({
      kind: "embedded",
      path: join(config.dataDir, "offline"),
      ...joinOptionsOf(config, logger),
    }),
  clickhouse: (config, logger) =>
    openClickHouseOfflineStore({
      kind: "server",
      url: config.offline.clickhouseUrl,
      username: config.offline.clickhouseUsername,
      password: config.offline.clickhousePassword,
      cluster: config.offline.clickhouseCluster || undefined,
      ...joinOptionsOf(config, logger),
    }),
};

/** How the config says point-in-time joins run, and where their sorted copies of histories go. */
function joinOptionsOf({ offline, dataDir }: SluiceConfig, logger?: Logger): JoinOptions {
  const { hashJoinMaxRows, memoryJoinMaxRows, memoryJoinMaxSpineRows, streamedJoinMaxSpineRows, heldSpineMaxBytes, sortedCopyMaxBytes } =
    offline;
  const sortedCopies = { directory: join(dataDir, "sorted-history"), maxBytes: sortedCopyMaxBytes, logger };
  return { hashJoinMaxRows, memoryJoinMaxRows, memoryJoinMaxSpineRows, streamedJoinMaxSpineRows, heldSpineMaxBytes, sortedCopies };
}

/** Opens the offline store the config names; `logger` hears of its background work. */
export function openOfflineStore(config: SluiceConfig, logger?: Logger): Promise<OfflineStore> {
  return OFFLINE_BACKENDS[config.offline.backend](config, logger);
}

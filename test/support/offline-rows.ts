/** Reads a view version's offline history straight from a stopped server's embedded ClickHouse. */
import { join } from "node:path";
import type { ValueType } from "../../src/common/value-type.js";
import { openClickHouseOfflineStore } from "../../src/storage/offline/clickhouse-offline-store.js";
import type { OfflineRow } from "../../src/storage/offline/offline-store.js";

/** The history table's shape: the entity's join keys and the view version's features. */
export interface HistoryShape {
  view: string;
  version?: number;
  joinKeys: Array<{ name: string; type: ValueType }>;
  features: Array<{ name: string; type: ValueType }>;
}

/** Every stored row (the server must be stopped: chDB binds one data dir per process). */
export async function readOfflineRows(dataDir: string, shape: HistoryShape): Promise<OfflineRow[]> {
  const offline = await openClickHouseOfflineStore({ kind: "embedded", path: join(dataDir, "offline") });
  try {
    return await offline.readAll({
      project: "default",
      view: shape.view,
      version: shape.version ?? 1,
      keyColumns: shape.joinKeys,
      featureColumns: shape.features,
    });
  } finally {
    await offline.close();
  }
}

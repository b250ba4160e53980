/**
 * The write path shared by every ingestion method. A batch is checked row by row against the
 * view version's schema; valid rows are appended to the offline history (durable, deduplicated
 * by write id) and then applied to the online store under the event-time rules. Only then is the
 * batch acknowledged, and its receipt recorded so that a retry with the same write id returns the
 * same answer without writing again.
 */
import { randomUUID } from "node:crypto";
import { encodeEntityKey } from "../common/entity-key.js";
import { PreconditionError, ValidationError } from "../common/errors.js";
import type { FeatureValue } from "../common/feature-value.js";
import { KeyedMutex } from "../common/keyed-mutex.js";
import type { Entity, FeatureViewVersion } from "../registry/model.js";
import { resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { OfflineRow, OfflineStore, OfflineTable } from "../storage/offline/offline-store.js";
import { type OnlineStore, type OnlineWrite, onlineTableName } from "../storage/online/online-store.js";
import { type CheckLimits, checkColumns, checkRow } from "./batch-check.js";
import { IngestClock } from "./ingest-clock.js";
import type { RowRejection, WriteBatchInput, WriteReceipt } from "./model.js";

/** Limits a batch and its rows must respect. */
export interface WriteLimits extends CheckLimits {
  maxRowsPerBatch: number;
}

/** Writes batches of feature rows to both stores. */
export class FeatureWriter {
  /** Batches with the same write id run one after another, so a retry racing its original sees its receipt. */
  private readonly writeIds = new KeyedMutex();

  constructor(
    private readonly registry: Registry,
    private readonly offline: OfflineStore,
    private readonly online: OnlineStore,
    private readonly limits: WriteLimits,
    private readonly clock: IngestClock = new IngestClock(),
  ) {}

  /**
   * Writes one batch (to the offline store only when `online` is false). NOT_FOUND for an unknown
   * view or version, FAILED_PRECONDITION for a deprecated view; bad rows are reported in the
   * receipt and never block the good ones.
   */
  async writeBatch(input: WriteBatchInput, options: { online?: boolean } = {}): Promise<WriteReceipt> {
    const field = input.columns ? "columns.event_time_micros" : "rows";
    const rowCount = input.columns ? input.columns.eventTimes.length : input.rows.length;
    if (input.columns && input.rows.length > 0) {
      throw new ValidationError("ROWS_AND_COLUMNS", [{ field: "columns", description: "send the batch as rows or as columns, not both" }]);
    }
    if (rowCount > this.limits.maxRowsPerBatch) {
      throw new ValidationError("BATCH_TOO_LARGE", [
        { field, description: `${rowCount} rows exceed the limit of ${this.limits.maxRowsPerBatch} per batch; split the batch` },
      ]);
    }
    const view = await this.registry.resolveViewRef(input.project, input.featureView, "feature_view");
    if (view.state === "deprecated") {
      throw new PreconditionError(
        "FEATURE_VIEW_DEPRECATED",
        `feature view ${view.name} is deprecated and takes no writes; apply it again to revive it`,
        {
          resource_name: resourceName(view.project, "featureViews", view.name),
        },
      );
    }
    const entity = await this.registry.getEntity(view.project, view.entity);
    if (input.writeId === "") return this.store(view, entity, input, options);
    const receiptKey = `${view.project}/${view.name}/${input.writeId}`;
    return this.writeIds.run(receiptKey, async () => {
      const previous = await this.online.getReceipt(receiptKey);
      if (previous) return { ...previous, duplicate: true };
      const receipt = await this.store(view, entity, input, options);
      await this.online.putReceipt(receiptKey, receipt);
      return receipt;
    });
  }

  /** Checks the rows and writes the valid ones to both stores. */
  private async store(
    view: FeatureViewVersion,
    entity: Entity,
    input: WriteBatchInput,
    options: { online?: boolean },
  ): Promise<WriteReceipt> {
    const writeId = input.writeId || randomUUID();
    const target = { view, entity, limits: this.limits, nowMicros: Date.now() * 1000 };
    const checks = input.columns ? checkColumns(target, input.columns) : input.rows.map((row, index) => checkRow(target, row, index));
    const firstIngestTime = this.clock.next(checks.length);
    const offlineRows: OfflineRow[] = [];
    const rejectedRows: RowRejection[] = [];
    checks.forEach((checked, rowIndex) => {
      if ("violations" in checked) rejectedRows.push({ rowIndex, violations: checked.violations });
      else offlineRows.push({ ...checked, ingestTime: firstIngestTime + rowIndex, writeId });
    });

    if (offlineRows.length > 0) {
      const table = offlineTableOf(view, entity);
      await this.offline.ensureTable(table);
      await this.offline.append(table, offlineRows, writeId);
      if (options.online !== false) {
        // Built only now: records that do not exist during the offline insert cost the heap nothing meanwhile.
        const onlineRows = offlineRows.map((row) => onlineWriteOf(view, row));
        await this.online.write(onlineTableName(view.project, view.name, view.version), onlineRows);
      }
    }
    return { writeId, acceptedCount: offlineRows.length, rejectedRows, featureViewVersion: view.version, duplicate: false };
  }
}

/** The online store write of one row of a view version (features in the view's order). */
export function onlineWriteOf(
  view: FeatureViewVersion,
  row: Pick<OfflineRow, "key" | "eventTime" | "ingestTime" | "features">,
): OnlineWrite {
  const values: Record<string, FeatureValue> = {};
  view.features.forEach((feature, i) => {
    values[feature.name] = row.features[i] ?? null;
  });
  return { key: encodeEntityKey(row.key), record: { eventTime: row.eventTime, ingestTime: row.ingestTime, values } };
}

/** The offline history table of a view version: its entity's join keys, then its features. */
export function offlineTableOf(view: FeatureViewVersion, entity: Entity): OfflineTable {
  return {
    project: view.project,
    view: view.name,
    version: view.version,
    keyColumns: entity.joinKeys.map((k) => ({ name: k.name, type: k.type })),
    featureColumns: view.features.map((f) => ({ name: f.name, type: f.type })),
  };
}

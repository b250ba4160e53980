/**
 * The write path shared by every ingestion method. A batch is checked row by row against the
 * view version's schema; valid rows are appended to the offline history (durable, deduplicated
 * by write id) and then applied to the online store under the event-time rules. Only then is the
 * batch acknowledged, and its receipt recorded so that a retry with the same write id returns the
 * same answer without writing again.
 */
import { randomUUID } from "node:crypto";
import { coerceEntityKey, encodeEntityKey } from "../common/entity-key.js";
import { type FieldViolation, PreconditionError, ValidationError } from "../common/errors.js";
import { coerceValue, type FeatureValue, MIN_TIME_MILLIS, type ValueLimits } from "../common/feature-value.js";
import type { Entity, FeatureViewVersion } from "../registry/model.js";
import { resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { OfflineRow, OfflineStore, OfflineTable } from "../storage/offline/offline-store.js";
import { type OnlineStore, type OnlineWrite, onlineTableName } from "../storage/online/online-store.js";
import { IngestClock } from "./ingest-clock.js";
import type { RowInput, RowRejection, WriteBatchInput, WriteReceipt } from "./model.js";

/** Limits a batch and its rows must respect. */
export interface WriteLimits extends ValueLimits {
  /** Event times further in the future than this are rejected (clock skew allowance). */
  maxFutureSkewMs: number;
  maxRowsPerBatch: number;
}

/** Writes batches of feature rows to both stores. */
export class FeatureWriter {
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
    if (input.rows.length > this.limits.maxRowsPerBatch) {
      throw new ValidationError("BATCH_TOO_LARGE", [
        {
          field: "rows",
          description: `${input.rows.length} rows exceed the limit of ${this.limits.maxRowsPerBatch} per batch; split the batch`,
        },
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
    const receiptKey = `${view.project}/${view.name}/${input.writeId}`;
    if (input.writeId !== "") {
      const previous = await this.online.getReceipt(receiptKey);
      if (previous) return { ...previous, duplicate: true };
    }

    const writeId = input.writeId || randomUUID();
    const firstIngestTime = this.clock.next(input.rows.length);
    const nowMicros = Date.now() * 1000;
    const offlineRows: OfflineRow[] = [];
    const onlineRows: OnlineWrite[] = [];
    const rejectedRows: RowRejection[] = [];
    input.rows.forEach((row, rowIndex) => {
      const checked = this.checkRow(view, entity, row, rowIndex, nowMicros);
      if ("violations" in checked) {
        rejectedRows.push({ rowIndex, violations: checked.violations });
        return;
      }
      const ingestTime = firstIngestTime + rowIndex;
      offlineRows.push({ key: checked.key, eventTime: checked.eventTime, ingestTime, writeId, features: checked.features });
      onlineRows.push(onlineWriteOf(view, { key: checked.key, eventTime: checked.eventTime, ingestTime, features: checked.features }));
    });

    if (offlineRows.length > 0) {
      const table = offlineTableOf(view, entity);
      await this.offline.ensureTable(table);
      await this.offline.append(table, offlineRows, writeId);
      if (options.online !== false) await this.online.write(onlineTableName(view.project, view.name, view.version), onlineRows);
    }
    const receipt: WriteReceipt = {
      writeId,
      acceptedCount: offlineRows.length,
      rejectedRows,
      featureViewVersion: view.version,
      duplicate: false,
    };
    if (input.writeId !== "") await this.online.putReceipt(receiptKey, receipt);
    return receipt;
  }

  private checkRow(
    view: FeatureViewVersion,
    entity: Entity,
    row: RowInput,
    rowIndex: number,
    nowMicros: number,
  ): { key: FeatureValue[]; eventTime: number; features: FeatureValue[] } | { violations: FieldViolation[] } {
    const path = `rows[${rowIndex}]`;
    const violations: FieldViolation[] = [];
    const key = coerceEntityKey(entity.joinKeys, row.entityKey, `${path}.entity_key`, this.limits);
    if ("violations" in key) violations.push(...key.violations);

    if (row.eventTime === undefined) {
      violations.push({ field: `${path}.event_time`, description: "is required" });
    } else if (row.eventTime > nowMicros + this.limits.maxFutureSkewMs * 1000) {
      violations.push({
        field: `${path}.event_time`,
        description: `is more than ${this.limits.maxFutureSkewMs} ms in the future (${new Date(row.eventTime / 1000).toISOString()})`,
      });
    } else if (row.eventTime < MIN_TIME_MILLIS * 1000) {
      violations.push({ field: `${path}.event_time`, description: "is before 1900-01-01" });
    }

    const features = view.features.map((feature) => {
      const tagged = row.features[feature.name];
      if (!tagged) return null;
      const coerced = coerceValue(feature.type, tagged, this.limits);
      if ("problem" in coerced) {
        violations.push({ field: `${path}.features["${feature.name}"]`, description: coerced.problem });
        return null;
      }
      return coerced.value;
    });
    for (const name of Object.keys(row.features)) {
      if (!view.features.some((f) => f.name === name)) {
        violations.push({
          field: `${path}.features["${name}"]`,
          description: `feature view ${view.name}@${view.version} has no feature "${name}"`,
        });
      }
    }
    if (violations.length > 0 || "violations" in key || row.eventTime === undefined) return { violations };
    return { key: key.values, eventTime: row.eventTime, features };
  }
}

/** The online store write of one row of a view version (features in the view's order). */
export function onlineWriteOf(
  view: FeatureViewVersion,
  row: Pick<OfflineRow, "key" | "eventTime" | "ingestTime" | "features">,
): OnlineWrite {
  return {
    key: encodeEntityKey(row.key),
    record: {
      eventTime: row.eventTime,
      ingestTime: row.ingestTime,
      values: Object.fromEntries(view.features.map((f, i) => [f.name, row.features[i] ?? null])),
    },
  };
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

/**
 * The offline store port: append-only history per feature view version, the source of training
 * sets and materialization. One implementation serves it (ClickHouse through @clickhouse/client,
 * embedded via chDB or on a server/cluster); the port keeps the domain free of SQL.
 */
import type { FeatureValue } from "../../common/feature-value.js";
import type { ValueType } from "../../common/value-type.js";

/** A typed column of a history table. */
export interface OfflineColumn {
  name: string;
  type: ValueType;
}

/** The shape of one feature view version's history table. */
export interface OfflineTable {
  project: string;
  view: string;
  version: number;
  keyColumns: OfflineColumn[];
  featureColumns: OfflineColumn[];
}

/** One history row: values are in the order of the table's key and feature columns. Times in microseconds. */
export interface OfflineRow {
  key: FeatureValue[];
  eventTime: number;
  ingestTime: number;
  writeId: string;
  features: FeatureValue[];
}

/**
 * Rows to append, as columns of equal length: how the write path holds a checked batch, so
 * appending formats each column without building an object per row.
 */
export interface HistoryColumns {
  length: number;
  /** One column per key column of the table, in its order. */
  keys: ReadonlyArray<ArrayLike<FeatureValue>>;
  eventTimes: ArrayLike<number>;
  ingestTimes: ArrayLike<number>;
  /** The write id every row of the append carries. */
  writeId: string;
  /** One column per feature column of the table, in its order; null where null. */
  features: ReadonlyArray<ArrayLike<FeatureValue>>;
}

/** Rows of one write (they share `rows[0].writeId`) as {@link HistoryColumns}. */
export function historyColumnsOf(rows: readonly OfflineRow[], keyCount: number, featureCount: number): HistoryColumns {
  return {
    length: rows.length,
    keys: Array.from({ length: keyCount }, (_, k) => rows.map((row) => row.key[k] ?? null)),
    eventTimes: rows.map((row) => row.eventTime),
    ingestTimes: rows.map((row) => row.ingestTime),
    writeId: rows[0]?.writeId ?? "",
    features: Array.from({ length: featureCount }, (_, f) => rows.map((row) => row.features[f] ?? null)),
  };
}

/** An event-time range [start, end) in microseconds; undefined ends are open. */
export interface EventTimeRange {
  start?: number;
  end?: number;
}

/** Where feature history lives. */
export interface OfflineStore {
  /** The backend's name, for logs and errors. */
  readonly backend: string;
  /** Creates the history table of a view version if it does not exist (idempotent, safe to race). */
  ensureTable(table: OfflineTable): Promise<void>;
  /**
   * Appends rows durably. A call retried with the same `deduplicationToken` (a write id) is
   * applied once, even when the first attempt's acknowledgement was lost.
   */
  append(table: OfflineTable, rows: HistoryColumns, deduplicationToken: string): Promise<void>;
  /**
   * The latest row per entity (by event time, then ingestion time) among rows with event time in
   * [start, end), for entities whose key sorts after `afterKey`, in key order, at most `limit`:
   * one chunk of a materialization. Undefined ends are open.
   */
  latestPerEntity(table: OfflineTable, range: EventTimeRange, afterKey: FeatureValue[] | undefined, limit: number): Promise<OfflineRow[]>;
  /** Every stored row of a table, in key then event-time order (for tests and small tables). */
  readAll(table: OfflineTable): Promise<OfflineRow[]>;
  close(): Promise<void>;
}

/**
 * The offline store port: append-only history per feature view version, the source of training
 * sets and materialization. One implementation serves it (ClickHouse through @clickhouse/client,
 * embedded via chDB or on a server/cluster); the port keeps the domain free of SQL.
 */
import type { FeatureValue } from "../../common/feature-value.js";
import type { ValueType } from "../../common/value-type.js";
import type { AggregationKind } from "../../streams/aggregations.js";

/** A typed column of a history table. */
export interface OfflineColumn {
  name: string;
  type: ValueType;
}

/**
 * The shape of a feature view's history table as one version sees it (compatible versions share
 * one table, named by their history version, each seeing the feature columns it declares), or of
 * an event stream version's raw events (`kind: "events"`, `view` naming the stream): the same
 * columns (keys, event and ingestion times, write id, then the features or the event's fields).
 */
export interface OfflineTable {
  project: string;
  /** The feature view, or the event stream for an events table. */
  view: string;
  /** Undefined for a history table. */
  kind?: "events";
  /** The history version of the feature view versions that share the table (it names the table). */
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
  /** Events tables only: where the events came from, and which were too late to count online. */
  events?: EventProvenance;
}

/** Where the events of one append came from (one source per append). */
export interface EventProvenance {
  /** "api" for WriteEvents and imports, "kafka:{topic}/{partition}" for Kafka. */
  source: string;
  /** Each event's position: its row in the write, or its Kafka offset. */
  positions: ArrayLike<number>;
  /** Each event's lateness verdict (older than its source's watermark when received). */
  tooLate: ArrayLike<boolean>;
}

/** One stored event read back, with its provenance. */
export interface StoredEvent extends OfflineRow {
  source: string;
  position: number;
  tooLate: boolean;
}

/** Where stored events of a source stand: what the stream status reports and recovery starts from. */
export interface EventSourceProgress {
  source: string;
  eventCount: number;
  tooLateCount: number;
  /** Undefined when the source has no events. */
  maxEventTime?: number;
  /** The highest position stored (a Kafka offset); undefined when none. */
  lastPosition?: number;
}

/** Which stored events to read back: in (ingestion time, source, position) order, after a cursor. */
export interface StoredEventQuery {
  /** Only this source's events. */
  source?: string;
  /** Only events at or after this position (with `source`). */
  fromPosition?: number;
  /** Only events ingested at or before this time (µs). */
  ingestedUntil?: number;
  /** Resume after this event (the last of the previous page). */
  after?: Pick<StoredEvent, "ingestTime" | "source" | "position">;
  limit: number;
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

/**
 * A spine stored for one point-in-time join: the rows to look up from, each with its position
 * (`spine_index`), entity key columns, event time and extra columns passed through. Made by
 * {@link OfflineStore.createSpine} or {@link OfflineStore.loadSpine}; dropped when done.
 */
export interface Spine {
  /** Names the stored spine; opaque to the domain. */
  readonly id: string;
  project: string;
  keyColumns: OfflineColumn[];
  extraColumns: OfflineColumn[];
}

/** Spine rows as columns of equal length; extras in the spine's `extraColumns` order, null where null. */
export interface SpineColumns {
  length: number;
  keys: ReadonlyArray<ArrayLike<FeatureValue>>;
  eventTimes: ArrayLike<number>;
  extras: ReadonlyArray<ArrayLike<FeatureValue>>;
}

/** What a spine will be joined with, told when it is created. */
export interface SpineJoinPreview {
  /** The tables of its join's views, in the join's order (not its aggregation views' events). */
  tables: OfflineTable[];
  /** Whether the join has aggregation views. */
  aggregates: boolean;
  excludeLateIngested: boolean;
  limits?: QueryLimits;
}

/** Spine rows already in the offline store, or every entity with history in a time range. */
export type OfflineSpineSource =
  | { kind: "table"; table: string }
  | { kind: "sql"; sql: string }
  /** Every entity with a row in [start, end) in any of `tables` (which share their key columns), at end - 1 µs. */
  | { kind: "entities"; tables: OfflineTable[]; range: EventTimeRange & { end: number } };

/** What identifies a spine's content, for lineage. Times in microseconds. */
export interface SpineSummary {
  rowCount: number;
  minEventTime?: number;
  maxEventTime?: number;
  /** SHA-256 (hex) over the rows in spine order. */
  sha256: string;
}

/**
 * A point-in-time join: for each spine row and each view, the latest history row of the row's
 * entity with event time <= the spine time (ties: the latest ingested), when that row is within
 * the view's TTL; else null (an empty list for list features).
 */
export interface PointInTimeJoin {
  spine: Spine;
  views: Array<{
    table: OfflineTable;
    /** 0: values never go stale. */
    ttlMicros: number;
  }>;
  /**
   * Aggregation views: per view version, its stream's events and the aggregations asked of it,
   * computed as of each spine time by the window rule (knownAt when `excludeLateIngested`).
   */
  windows?: WindowGroup[];
  /**
   * Output feature columns in order: a feature column of `views[view]`, or the aggregation
   * `column` (its `as`) of `windows[window]`, named `as`, of type `type`.
   */
  features: Array<{ view: number; column: string; as: string } | { window: number; column: string; as: string; type: ValueType }>;
  /**
   * Ignore history rows ingested after the spine time (no backfill leakage); for window groups,
   * count only what an online read at the spine time knew: events ingested by then, and not too late.
   */
  excludeLateIngested: boolean;
  /** Output rows in spine order (a sort); otherwise in any order. */
  spineOrder: boolean;
  /** Output the `spine_index` column first. */
  withSpineIndex: boolean;
}

/** The feature columns of `join.views[view]` that a join outputs, each once. */
export function viewFeatureColumns(join: Pick<PointInTimeJoin, "features">, view: number): string[] {
  return [...new Set(join.features.flatMap((f) => ("view" in f && f.view === view ? [f.column] : [])))];
}

/**
 * Aggregates of a stream's raw events as of each spine row's time, by the window rule of
 * docs/streaming.md: one output column per aggregation, named by its `as`.
 */
export interface WindowGroup {
  /** The stream's events table (`kind: "events"`), keyed by the spine's key columns. */
  events: OfflineTable;
  /** The stream's tile width, microseconds. */
  granularityMicros: number;
  aggregations: Array<{
    kind: AggregationKind;
    field: string;
    /** last_n only. */
    k?: number;
    /** Undefined: lifetime. */
    windowMicros?: number;
    /** An aggregation filter over the event's fields (src/streams/filter.ts); undefined: every event. */
    filter?: string;
    as: string;
  }>;
}

/**
 * A bounded piece of a result: a complete Arrow IPC stream (schema, record batches, end marker)
 * and its row count. Columns: [spine_index], the spine's key columns, `event_time`, its extra
 * columns, then the features; types follow the column types (timestamps as microsecond
 * timestamps in UTC, int64 as int64, lists as lists, bytes as their base64 text). `ipc` is a
 * buffer of the chunk's own, which its consumer owns (the gRPC adapter writes into it).
 */
export interface ArrowChunk {
  ipc: Uint8Array;
  rows: number;
}

/** A result streamed in bounded pieces. */
export type ArrowChunks = AsyncIterable<ArrowChunk>;

/**
 * Engine limits of each offline query run for a client's request (limits.queryTimeoutMs and
 * limits.queryMaxMemoryBytes): a query over one is stopped by the engine.
 */
export interface QueryLimits {
  timeoutMs: number;
  maxMemoryBytes: number;
}

/**
 * One logged prediction. Times in microseconds; keys, features and outputs as JSON text, since
 * every model reads and returns something else.
 */
export interface PredictionRecord {
  time: number;
  requestId: string;
  endpoint: string;
  modelVersion: string;
  /** "stable", "canary" or "shadow". */
  role: string;
  entityKeys: string;
  features: string;
  outputs: string;
  latencyMicros: number;
  /** Why it failed; "" when it did not. */
  error: string;
}

/**
 * One logged online value set: the values a read served from one view version for one entity,
 * as JSON (bigints as decimal strings, times as microseconds), at the read's time (µs).
 */
export interface ServedValueRecord {
  time: number;
  featureView: string;
  version: number;
  /** Join key name -> value, as JSON. */
  entityKey: string;
  /** Feature name -> value, as JSON. */
  values: string;
}

/** Which logged values to read back: one view version's, in a time range, newest first. */
export interface ServedValueQuery {
  featureView: string;
  version: number;
  range: EventTimeRange;
  limit: number;
}

/**
 * One record of the audit trail (docs/security.md): a call, its outcome, and its link in a hash
 * chain. Time in microseconds; `previousHash` is "" for the first record of a chain.
 */
export interface AuditRecord {
  chainId: string;
  /** Position in its chain, from 1. */
  sequence: number;
  time: number;
  principal: string;
  authentication: string;
  method: string;
  project: string;
  resources: string[];
  requestDigest: string;
  peer: string;
  outcome: string;
  detail: string;
  requestId: string;
  previousHash: string;
  hash: string;
}

/** Which audit records to read: every given filter holds; newest first (time, chain id, sequence, all descending). */
export interface AuditQuery {
  project?: string;
  principal?: string;
  /** Exactly this method. */
  method?: string;
  /** Methods starting with this ("/sluice.v1.ModelService/"). */
  methodPrefix?: string;
  outcome?: string;
  /** On the record's time, [start, end) in microseconds. */
  range: EventTimeRange;
  /** Resume after this record (the last of the previous page). */
  after?: Pick<AuditRecord, "time" | "chainId" | "sequence">;
  limit: number;
}

/** One chain of the audit trail as stored. */
export interface AuditChainSummary {
  chainId: string;
  records: number;
  lastSequence: number;
}

/** Where feature history lives. */
export interface OfflineStore {
  /** About the memory the inline spines it holds until their joins take, in bytes (for operators: a gauge). */
  heldSpineBytes(): number;
  /** Appends logged online values of a project (for the served-consistency check). */
  appendServedValues(project: string, records: ServedValueRecord[]): Promise<void>;
  /** Reads logged online values back, newest first. */
  readServedValues(project: string, query: ServedValueQuery): Promise<ServedValueRecord[]>;
  /** Progress of every source of an events table (empty when it has no events). */
  eventSources(table: OfflineTable): Promise<EventSourceProgress[]>;
  /** A page of stored events (see {@link StoredEventQuery}). */
  readEvents(table: OfflineTable, query: StoredEventQuery): Promise<StoredEvent[]>;
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

  /**
   * Creates an empty spine for inline rows. `joinedWith`, when given, names the tables its join
   * will read: a store may start reading what that join needs while the rows arrive (their state
   * as of this call, so every write acknowledged before it is seen).
   */
  createSpine(project: string, keyColumns: OfflineColumn[], extraColumns: OfflineColumn[], joinedWith?: SpineJoinPreview): Promise<Spine>;
  /** Adds extra columns to a spine (null in rows appended before). */
  addSpineColumns(spine: Spine, extraColumns: OfflineColumn[]): Promise<void>;
  /** Appends rows whose spine indexes start at `firstIndex`. */
  appendSpine(spine: Spine, rows: SpineColumns, firstIndex: number): Promise<void>;
  /**
   * Stores a spine from rows already in the offline store; INVALID_ARGUMENT when they lack a key
   * column or event_time, have a type that cannot be converted, or a null key or time, and when
   * a SQL spine reaches outside the project (docs/security.md, "User SQL and server-side files").
   * Aborting `signal` stops the engine's queries; `limits` bound each of them.
   */
  loadSpine(
    project: string,
    source: OfflineSpineSource,
    keyColumns: OfflineColumn[],
    signal?: AbortSignal,
    limits?: QueryLimits,
  ): Promise<Spine>;
  /** Row count, event-time range and content hash of a spine. */
  summarizeSpine(spine: Spine, signal?: AbortSignal, limits?: QueryLimits): Promise<SpineSummary>;
  dropSpine(spine: Spine): Promise<void>;
  /** Runs a point-in-time join, streaming the result in bounded chunks; stops (the engine too) when `signal` aborts. */
  joinPointInTime(join: PointInTimeJoin, signal?: AbortSignal, limits?: QueryLimits): ArrowChunks;
  /**
   * Stores the result of a join (with spine_index) as table `name` of the spine's project and
   * writes it, in spine order, as a Parquet file at `parquetPath`. Returns the row count.
   */
  saveJoin(join: PointInTimeJoin, name: string, parquetPath: string, signal?: AbortSignal, limits?: QueryLimits): Promise<number>;
  /** Streams a table saved by {@link saveJoin} in spine order, without spine_index unless asked. */
  readSavedJoin(project: string, name: string, withSpineIndex: boolean, signal?: AbortSignal, limits?: QueryLimits): ArrowChunks;
  /** Appends to a project's prediction log (the table `predictions`), creating it when needed. */
  appendPredictions(project: string, records: PredictionRecord[]): Promise<void>;
  /**
   * The logged stable and canary predictions (shadow runs excluded) with these request ids, served
   * at or after `since` (µs), in no particular order.
   */
  readPredictions(project: string, requestIds: readonly string[], since: number): Promise<PredictionRecord[]>;
  /**
   * Appends audit records durably (creating the audit table when needed). A call retried with the
   * same `deduplicationToken` is applied once, even when the first attempt's acknowledgement was lost.
   */
  appendAuditRecords(records: readonly AuditRecord[], deduplicationToken: string): Promise<void>;
  /** A page of audit records, newest first (see {@link AuditQuery}). */
  readAuditRecords(query: AuditQuery): Promise<AuditRecord[]>;
  /**
   * One chain's records in sequence order, in chunks of about `chunkRows` (records sharing a
   * sequence, which only tampering makes, come in one chunk), so a long chain never sits in memory.
   */
  scanAuditChain(chainId: string, chunkRows: number): AsyncIterable<AuditRecord[]>;
  /** The record of a chain with the highest sequence; undefined when the chain has none. */
  lastAuditRecord(chainId: string): Promise<AuditRecord | undefined>;
  /** Every chain of the audit trail, by id. */
  auditChains(): Promise<AuditChainSummary[]>;
  close(): Promise<void>;
}

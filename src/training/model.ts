/** Types of point-in-time retrieval and training datasets, as the core sees them. */
import type { TaggedValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import type { DerivedFeatureService } from "../expressions/derived-features.js";
import type { ColumnInput } from "../ingest/model.js";
import type { ResolvedFeature } from "../registry/model.js";

/** Where the spine rows of a retrieval come from. */
export type SpineSource =
  /** Sent by the client in batches after the query. */
  | { kind: "inline" }
  /** A table already in the offline store ("table" in the project's database, or "database.table"). */
  | { kind: "table"; table: string }
  /** A SELECT statement run in the offline store. */
  | { kind: "sql"; sql: string }
  /** Every entity with history in [start, end), at end; times in microseconds. */
  | { kind: "entities"; start?: number; end: number };

/** A point-in-time retrieval: which features, which spine, and how the result is shaped. */
export interface HistoricalQuery {
  project: string;
  /** Feature refs; or set featureService. */
  features: string[];
  featureService: string;
  spine: SpineSource;
  /** Name feature columns view__feature. */
  fullFeatureNames: boolean;
  /** Ignore history rows ingested after the spine time. */
  excludeLateIngested: boolean;
  /** Emit spine_index and skip the sort into spine order. */
  emitSpineIndex: boolean;
}

/** One spine row sent inline: values tagged with the kind the client chose. */
export interface SpineRowInput {
  entityKey: Record<string, TaggedValue>;
  /** Microseconds since the epoch; undefined when the client sent none. */
  eventTime?: number;
  extras: Record<string, TaggedValue>;
}

/** Inline spine rows as columns, each as long as `eventTimes`. */
export interface SpineColumnsInput {
  entityKey: Record<string, ColumnInput>;
  eventTimes: ArrayLike<number>;
  extras: Record<string, ColumnInput>;
}

/** One batch of inline spine rows: as rows, as columns, or as one Arrow IPC stream (see arrow-spine.ts). */
export type SpineBatchInput = { rows: SpineRowInput[] } | { columns: SpineColumnsInput } | { arrowIpc: Uint8Array };

/** What a result column holds; "derived": a derived feature of the feature service, computed from the row. */
export type ColumnRole = "spine_index" | "join_key" | "event_time" | "extra" | "feature" | "derived";

/** One column of a retrieval's result. */
export interface OutputColumn {
  name: string;
  type: ValueType;
  role: ColumnRole;
  /** Set for feature columns. */
  feature?: ResolvedFeature;
  /** Set for derived feature columns: the feature service version that derives them. */
  derivedBy?: { project: string; name: string; version: number };
}

/** The state of a training dataset's job. */
export type TrainingDatasetState = "running" | "succeeded" | "failed";

/** A stored, versioned training set and its lineage. Times are Dates; event times microseconds. */
export interface TrainingDataset {
  project: string;
  name: string;
  version: number;
  /** The query as submitted; its spine is never inline. */
  query: HistoricalQuery;
  description: string;
  /** The exact feature view versions used. */
  resolvedFeatures: ResolvedFeature[];
  /**
   * The feature service version whose derived features the dataset has, as of its creation: they
   * are computed when the dataset is read (the stored table and Parquet file hold the features
   * and the spine's request input columns they are computed from).
   */
  derivedFrom?: DerivedFeatureService;
  state: TrainingDatasetState;
  errorMessage: string;
  spineSha256: string;
  rowCount: number;
  minEventTime?: number;
  maxEventTime?: number;
  /** The offline table holding the result (in the project's database). */
  offlineTable: string;
  /** The Parquet file holding the result, on the server. */
  parquetPath: string;
  /** The result's columns, once the job has succeeded. */
  columns?: OutputColumn[];
  createTime: Date;
  completeTime?: Date;
  /** When the job last said it is alive; a running job that stops saying so has failed. */
  heartbeatTime: Date;
}

/** Types of the write path, shared by the writer, the stores' receipts and the transport. */
import type { FieldViolation } from "../common/errors.js";
import type { FeatureValue, TaggedValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";

/** One row as a client sent it; values are still tagged with the kind the client chose. */
export interface RowInput {
  entityKey: Record<string, TaggedValue>;
  /** Microseconds since the epoch; undefined when the client sent none. */
  eventTime?: number;
  features: Record<string, TaggedValue>;
  /**
   * When the source system recorded the row, in microseconds since the epoch; undefined means
   * when the server received it. It is the row's ingestion time for ties and leakage guards.
   */
  createdTime?: number;
}

/**
 * One column of a columnar batch, entry i for row i: values all of the kind the client chose
 * (null where null), or tagged values of any kinds.
 */
export type ColumnInput = { kind: ValueType; values: ArrayLike<FeatureValue> } | { tagged: ArrayLike<TaggedValue> };

/** The rows of a batch as columns, each as long as `eventTimes`. */
export interface ColumnarRows {
  entityKey: Record<string, ColumnInput>;
  /** Microseconds since the epoch, one per row. */
  eventTimes: ArrayLike<number>;
  features: Record<string, ColumnInput>;
  /** Created times (see {@link RowInput.createdTime}), one per row; undefined or empty for none. */
  createdTimes?: ArrayLike<number>;
}

/** A batch of rows for one feature view ("view" or "view@3"), as row messages or as columns. */
export interface WriteBatchInput {
  project: string;
  featureView: string;
  rows: RowInput[];
  /** The rows as columns, instead of `rows`. */
  columns?: ColumnarRows;
  /** Client-chosen id making a retried batch apply once; empty for none. */
  writeId: string;
}

/** Why one row of a batch was rejected. */
export interface RowRejection {
  rowIndex: number;
  violations: FieldViolation[];
}

/** What a batch did; stored under its write id so a retry gets the same answer. */
export interface WriteReceipt {
  writeId: string;
  acceptedCount: number;
  rejectedRows: RowRejection[];
  featureViewVersion: number;
  /** True when the write id had been applied before and nothing was written this time. */
  duplicate: boolean;
}

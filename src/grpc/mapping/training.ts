/** Wire <-> core conversions of point-in-time queries, spine batches, result rows and training datasets. */
import { ValidationError, ViolationCollector } from "../../common/errors.js";
import type { ValueType } from "../../common/value-type.js";
import type { Timestamp } from "../../gen/google/protobuf/timestamp.pb.js";
import {
  type ColumnSchema,
  type HistoricalFeaturesQuery,
  OutputFormat,
  type SpineBatch,
  type TrainingDataset as WireTrainingDataset,
  TrainingDatasetState as WireTrainingDatasetState,
} from "../../gen/sluice/v1/training.pb.js";
import type { Column, Value } from "../../gen/sluice/v1/types.pb.js";
import { projectName, resourceName } from "../../registry/names.js";
import type { ArrowCell } from "../../training/arrow-values.js";
import type { HistoricalQuery, OutputColumn, SpineBatchInput, SpineSource, TrainingDataset } from "../../training/model.js";
import { columnFromWire, taggedValues } from "./batches.js";
import { dateToTimestamp, optionalTimestamp, valueTypeToWire } from "./common.js";
import { resolvedFeatureToWire } from "./registry.js";
import { microsFromWire, microsToTimestamp, timestampToMicros } from "./values.js";

/** Rows per ROWS chunk when a request asks for 0, and the most it may ask for. */
const DEFAULT_CHUNK_ROWS = 8192;
const MAX_CHUNK_ROWS = 1_000_000;

const KNOWN_FORMATS: ReadonlySet<OutputFormat> = new Set([
  OutputFormat.OUTPUT_FORMAT_UNSPECIFIED,
  OutputFormat.OUTPUT_FORMAT_ROWS,
  OutputFormat.OUTPUT_FORMAT_ARROW,
]);

/** The encodings of a streamed result. */
export type ResultFormat = "rows" | "arrow";

/** A wire query as the core's query, with its output format and chunk size; INVALID_ARGUMENT field by field. */
export function queryFromWire(
  query: HistoricalFeaturesQuery,
  project: string,
  field: string,
): { query: HistoricalQuery; format: ResultFormat; chunkRows: number } {
  const v = new ViolationCollector();
  let spine: SpineSource | undefined;
  if (query.inlineSpine !== undefined) spine = { kind: "inline" };
  else if (query.offlineSpine?.table !== undefined) spine = { kind: "table", table: query.offlineSpine.table };
  else if (query.offlineSpine?.sql !== undefined) spine = { kind: "sql", sql: query.offlineSpine.sql };
  else if (query.entityTimeRange) {
    const { startTime, endTime } = query.entityTimeRange;
    if (!endTime) v.add(`${field}.entity_time_range.end_time`, "is required");
    else {
      const at = `${field}.entity_time_range`;
      spine = {
        kind: "entities",
        start: startTime ? timestampToMicros(startTime, `${at}.start_time`) : undefined,
        end: timestampToMicros(endTime, `${at}.end_time`),
      };
    }
  } else {
    v.add(`${field}.spine`, "set one of inline_spine, offline_spine (table or sql) and entity_time_range");
  }
  v.throwIfAny("INVALID_HISTORICAL_QUERY");
  const { format, chunkRows } = resultShapeFromWire(query.format, query.chunkRows, `${field}.`);
  return {
    query: {
      project,
      features: query.features,
      featureService: query.featureService,
      spine: spine as SpineSource,
      fullFeatureNames: query.fullFeatureNames,
      excludeLateIngested: query.excludeLateIngested,
      emitSpineIndex: query.emitSpineIndex,
    },
    format,
    chunkRows,
  };
}

/** The format and ROWS chunk size a request asks for; INVALID_ARGUMENT for a bad chunk size or an unknown format. */
export function resultShapeFromWire(format: OutputFormat, chunkRows: number, field: string): { format: ResultFormat; chunkRows: number } {
  if (!KNOWN_FORMATS.has(format)) {
    throw new ValidationError("INVALID_OUTPUT_FORMAT", [
      { field: `${field}format`, description: `${format} is not an OutputFormat; use OUTPUT_FORMAT_ROWS or OUTPUT_FORMAT_ARROW` },
    ]);
  }
  if (!Number.isInteger(chunkRows) || chunkRows < 0 || chunkRows > MAX_CHUNK_ROWS) {
    throw new ValidationError("INVALID_CHUNK_ROWS", [
      { field: `${field}chunk_rows`, description: `must be between 0 and ${MAX_CHUNK_ROWS}` },
    ]);
  }
  return {
    format: format === OutputFormat.OUTPUT_FORMAT_ARROW ? "arrow" : "rows",
    chunkRows: chunkRows === 0 ? DEFAULT_CHUNK_ROWS : chunkRows,
  };
}

/** A core query back on the wire (as stored in a training dataset). */
export function queryToWire(query: HistoricalQuery, format: ResultFormat = "rows", chunkRows = 0): HistoricalFeaturesQuery {
  const spine = query.spine;
  return {
    project: projectName(query.project),
    features: query.features,
    featureService: query.featureService,
    inlineSpine: spine.kind === "inline" ? true : undefined,
    offlineSpine: spine.kind === "table" ? { table: spine.table } : spine.kind === "sql" ? { sql: spine.sql } : undefined,
    entityTimeRange:
      spine.kind === "entities"
        ? { startTime: spine.start === undefined ? undefined : microsToTimestamp(spine.start), endTime: microsToTimestamp(spine.end) }
        : undefined,
    fullFeatureNames: query.fullFeatureNames,
    excludeLateIngested: query.excludeLateIngested,
    format: format === "arrow" ? OutputFormat.OUTPUT_FORMAT_ARROW : OutputFormat.OUTPUT_FORMAT_ROWS,
    emitSpineIndex: query.emitSpineIndex,
    chunkRows,
  };
}

/** A spine batch message as the core's batch; INVALID_ARGUMENT when it holds more than one form or none. */
export function spineBatchFromWire(batch: SpineBatch | undefined, field: string): SpineBatchInput {
  const forms = batch ? [batch.rows.length > 0, batch.columns !== undefined, batch.arrowIpc.length > 0].filter(Boolean).length : 0;
  if (!batch || forms !== 1) {
    throw new ValidationError("INVALID_SPINE_BATCH", [
      { field, description: "a spine batch holds rows, columns or arrow_ipc (exactly one of them)" },
    ]);
  }
  if (batch.arrowIpc.length > 0) return { arrowIpc: batch.arrowIpc };
  if (batch.columns) {
    const { entityKey, eventTimeMicros, extraColumns } = batch.columns;
    const rowCount = eventTimeMicros.length;
    const columns = (record: Record<string, Column>, part: string) =>
      Object.fromEntries(
        Object.entries(record).map(([name, column]) => [name, columnFromWire(column, rowCount, `${field}.columns.${part}["${name}"]`)]),
      );
    return {
      columns: {
        entityKey: columns(entityKey, "entity_key"),
        eventTimes: microsFromWire(eventTimeMicros, `${field}.columns.event_time_micros`),
        extras: columns(extraColumns, "extra_columns"),
      },
    };
  }
  return {
    rows: batch.rows.map((row, i) => ({
      entityKey: taggedValues(row.entityKey),
      eventTime: row.eventTime ? timestampToMicros(row.eventTime, `${field}.rows[${i}].event_time`) : undefined,
      extras: taggedValues(row.extraColumns),
    })),
  };
}

/** A result column's schema on the wire. */
export function columnSchemaToWire(column: OutputColumn): ColumnSchema {
  const { derivedBy } = column;
  return {
    name: column.name,
    type: valueTypeToWire(column.type),
    // A derived feature is described as Predict's used features describe it: its feature service as the view.
    feature: column.feature
      ? resolvedFeatureToWire(column.feature)
      : derivedBy
        ? {
            ref: column.name,
            featureView: resourceName(derivedBy.project, "featureServices", derivedBy.name),
            version: derivedBy.version,
            feature: column.name,
            type: valueTypeToWire(column.type),
          }
        : undefined,
  };
}

/**
 * The converter of one result column's cells (as decoded from Arrow) to wire values: times
 * arrive as microseconds, bytes as the base64 text the offline store keeps.
 */
export function cellConverter(type: ValueType): (cell: ArrowCell) => Value {
  const convert = CELL_TO_WIRE[type];
  return (cell) => (cell === null ? {} : convert(cell));
}

const CELL_TO_WIRE: Record<ValueType, (cell: ArrowCell) => Value> = {
  int32: (cell) => ({ int32Value: cell as number }),
  int64: (cell) => ({ int64Value: BigInt(cell as bigint | number) }),
  float: (cell) => ({ floatValue: cell as number }),
  double: (cell) => ({ doubleValue: cell as number }),
  bool: (cell) => ({ boolValue: cell as boolean }),
  string: (cell) => ({ stringValue: cell as string }),
  bytes: (cell) => ({ bytesValue: Buffer.from(cell as string, "base64") }),
  timestamp: (cell) => ({ timestampValue: microsToTimestamp(cell as number) }),
  int64_list: (cell) => ({ int64ListValue: { values: (cell as ArrowCell[]).map((v) => BigInt(v as bigint)) } }),
  float_list: (cell) => ({ floatListValue: { values: cell as number[] } }),
  double_list: (cell) => ({ doubleListValue: { values: cell as number[] } }),
  string_list: (cell) => ({ stringListValue: { values: cell as string[] } }),
};

const STATE_TO_WIRE = {
  running: WireTrainingDatasetState.TRAINING_DATASET_STATE_RUNNING,
  succeeded: WireTrainingDatasetState.TRAINING_DATASET_STATE_SUCCEEDED,
  failed: WireTrainingDatasetState.TRAINING_DATASET_STATE_FAILED,
} as const;

/** A training dataset on the wire. */
export function trainingDatasetToWire(dataset: TrainingDataset): WireTrainingDataset {
  const micros = (value: number | undefined): Timestamp | undefined => (value === undefined ? undefined : microsToTimestamp(value));
  return {
    name: resourceName(dataset.project, "trainingDatasets", dataset.name),
    version: dataset.version,
    query: queryToWire(dataset.query),
    resolvedFeatures: dataset.resolvedFeatures.map(resolvedFeatureToWire),
    spineSha256: dataset.spineSha256,
    rowCount: BigInt(dataset.rowCount),
    minEventTime: micros(dataset.minEventTime),
    maxEventTime: micros(dataset.maxEventTime),
    offlineTable: dataset.offlineTable,
    parquetPath: dataset.parquetPath,
    state: STATE_TO_WIRE[dataset.state],
    errorMessage: dataset.errorMessage,
    description: dataset.description,
    createTime: dateToTimestamp(dataset.createTime),
    completeTime: optionalTimestamp(dataset.completeTime),
    columns: (dataset.columns ?? []).map(columnSchemaToWire),
  };
}

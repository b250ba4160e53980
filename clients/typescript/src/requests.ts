/**
 * The SDK's input shapes (inputs.ts) as wire messages: write batches as rows or columns, spines,
 * point-in-time queries, value columns, types, aggregations and durations. The inputs have been checked by then.
 */
import type { ValueType as CoreValueType } from "../../../src/common/value-type.js";
import { Duration } from "../../../src/gen/google/protobuf/duration.pb.js";
import type { Timestamp } from "../../../src/gen/google/protobuf/timestamp.pb.js";
import type { FeatureColumns, WriteEventBatchRequest, WriteFeatureBatchRequest } from "../../../src/gen/sluice/v1/ingestion.pb.js";
import { type Aggregation, aggregationFunctionFromJSON, type Feature } from "../../../src/gen/sluice/v1/registry.pb.js";
import { HistoricalFeaturesQuery, type OutputFormat, type SpineBatch } from "../../../src/gen/sluice/v1/training.pb.js";
import { type Value, type ValueColumn, ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
import { dateToTimestamp, valueTypeToWire } from "../../../src/grpc/mapping/common.js";
import { checkValue } from "./arguments.js";
import { type ColumnValues, columnToWire } from "./columns.js";
import {
  type AggregationInput,
  type BatchInput,
  type ColumnarBatchInput,
  type ColumnarEventBatchInput,
  type EventBatchInput,
  type FeatureInput,
  type HistoricalQueryInput,
  type RowInput,
  type SpineBatchInput,
  type SpineRowInput,
  spineBatchCheck,
} from "./inputs.js";
import { arrowSpineCandidate, spineColumnsAsArrow } from "./spine-arrow.js";
import { type PlainValue, toWireValue } from "./values.js";

/** A write batch (rows, or columns when it has `eventTimes`) for `project` ("projects/{id}"). */
export function batchToWire(batch: BatchInput | ColumnarBatchInput, project: string): WriteFeatureBatchRequest {
  const request = { project, featureView: batch.featureView, writeId: batch.writeId ?? "" };
  if ("eventTimes" in batch && batch.eventTimes !== undefined) {
    return { ...request, rows: [], columns: columnsToWire(batch, batch.features) };
  }
  return {
    ...request,
    columns: undefined,
    rows: (batch as BatchInput).rows.map((row) => ({ ...keyAndTimesToWire(row), features: mapRecord(row.features, toWireValue) })),
  };
}

/** An event batch (events, or columns when it has `eventTimes`) for `project` ("projects/{id}"). */
export function eventBatchToWire(batch: EventBatchInput | ColumnarEventBatchInput, project: string): WriteEventBatchRequest {
  const request = { project, eventStream: batch.eventStream, writeId: batch.writeId ?? "" };
  if ("eventTimes" in batch && batch.eventTimes !== undefined) {
    // FeatureColumns.features holds the stream's fields.
    return { ...request, events: [], columns: columnsToWire(batch, batch.fields) };
  }
  return {
    ...request,
    columns: undefined,
    events: (batch as EventBatchInput).events.map((event) => ({
      ...keyAndTimesToWire(event),
      fields: mapRecord(event.fields, toWireValue),
    })),
  };
}

/** The entity key, event time and created time of a row or an event. */
function keyAndTimesToWire(row: Omit<RowInput, "features">) {
  return {
    entityKey: mapRecord(row.entityKey, toWireValue),
    eventTime: toTimestamp(row.eventTime),
    createdTime: row.createdTime === undefined ? undefined : toTimestamp(row.createdTime),
  };
}

/** A columnar batch's times and join keys, with `values` (features or stream fields), as wire columns. */
function columnsToWire(
  batch: Pick<ColumnarBatchInput, "eventTimes" | "entityKey" | "createdTimes">,
  values: Record<string, ColumnValues>,
): FeatureColumns {
  return {
    eventTimeMicros: timesToMicros(batch.eventTimes),
    entityKey: mapRecord(batch.entityKey, columnToWire),
    features: mapRecord(values, columnToWire),
    createdTimeMicros: batch.createdTimes ? timesToMicros(batch.createdTimes) : [],
  };
}

/** A feature of a feature view; an aggregated one without a type is sent UNSPECIFIED for the server to fill in. */
export function featureToWire(feature: FeatureInput): Feature {
  return {
    name: feature.name,
    type: feature.type === undefined || feature.type === null ? ValueType.VALUE_TYPE_UNSPECIFIED : toValueType(feature.type),
    description: feature.description ?? "",
    tags: feature.tags ?? {},
    aggregation: feature.aggregation ? aggregationToWire(feature.aggregation) : undefined,
  };
}

/** An aggregation: its function by name ("sum", "last_n") or enum, and the window in seconds (unset: lifetime). */
export function aggregationToWire(aggregation: AggregationInput): Aggregation {
  const { function: fn } = aggregation;
  return {
    function: typeof fn === "number" ? fn : aggregationFunctionFromJSON(`AGGREGATION_FUNCTION_${fn.toUpperCase()}`),
    field: aggregation.field ?? "",
    window: optionalDuration(aggregation.windowSeconds),
    k: aggregation.k ?? 0,
    filter: aggregation.filter ?? "",
  };
}

/**
 * A point-in-time query for `project` ("projects/{id}") and, for an inline spine, its batches.
 * Streamed batches are checked as they come (as `spine.batches[i]` of `method`): a bad one throws
 * while the call is under way, which cancels it with that error. `joinKeys`, when given, tells the
 * features' join keys (asked once, when a batch of columns that can go as Arrow first needs them).
 */
export function queryToWire(
  method: string,
  query: HistoricalQueryInput,
  project: string,
  format: OutputFormat,
  chunkRows: number,
  joinKeys?: () => Promise<readonly string[]>,
): { query: HistoricalFeaturesQuery; inlineSpine?: AsyncIterable<SpineBatch> | Iterable<SpineBatch> } {
  const { spine } = query;
  const wire: HistoricalFeaturesQuery = {
    ...HistoricalFeaturesQuery.fromPartial({}),
    project,
    features: query.features ?? [],
    featureService: query.featureService ?? "",
    fullFeatureNames: query.fullFeatureNames ?? false,
    excludeLateIngested: query.excludeLateIngested ?? false,
    emitSpineIndex: query.emitSpineIndex ?? false,
    format,
    chunkRows,
  };
  if ("table" in spine) wire.offlineSpine = { table: spine.table };
  else if ("sql" in spine) wire.offlineSpine = { sql: spine.sql };
  else if ("entities" in spine) {
    wire.entityTimeRange = {
      startTime: spine.entities.start ? dateToTimestamp(spine.entities.start) : undefined,
      endTime: dateToTimestamp(spine.entities.end),
    };
  } else {
    wire.inlineSpine = true;
    const inlineSpine =
      "batches" in spine
        ? mapBatches(spine.batches, async (batch, i) => {
            checkValue(method, `spine.batches[${i}]`, batch, spineBatchCheck);
            return spineBatchToWire(batch, await arrowJoinKeys(batch, joinKeys));
          })
        : mapBatches([spine], async (batch) => spineBatchToWire(batch, await arrowJoinKeys(batch, joinKeys)));
    return { query: wire, inlineSpine };
  }
  return { query: wire };
}

/** The join keys a batch of columns that can go as Arrow needs, from `joinKeys`; none for any other batch. */
async function arrowJoinKeys(batch: SpineBatchInput, joinKeys?: () => Promise<readonly string[]>): Promise<readonly string[]> {
  const columns = "columns" in batch ? batch.columns : undefined;
  return joinKeys && columns && arrowSpineCandidate(columns) ? joinKeys() : [];
}

/** A spine batch as a wire message; columns as Arrow when they can be, knowing the `joinKeys` (spine-arrow.ts). */
function spineBatchToWire(batch: SpineBatchInput, joinKeys: readonly string[] = []): SpineBatch {
  const arrowIpc =
    "arrowIpc" in batch && batch.arrowIpc !== undefined
      ? batch.arrowIpc
      : "columns" in batch && batch.columns !== undefined
        ? spineColumnsAsArrow(batch.columns, joinKeys)
        : undefined;
  if (arrowIpc) {
    const { buffer, byteOffset, byteLength } = arrowIpc;
    return { rows: [], columns: undefined, arrowIpc: Buffer.from(buffer, byteOffset, byteLength) };
  }
  if ("columns" in batch && batch.columns !== undefined) {
    const { columns } = batch;
    return {
      rows: [],
      arrowIpc: Buffer.alloc(0),
      columns: {
        eventTimeMicros: timesToMicros(columns.eventTimes),
        entityKey: mapRecord(columns.entityKey, columnToWire),
        extraColumns: mapRecord(columns.extras ?? {}, columnToWire),
      },
    };
  }
  return {
    columns: undefined,
    arrowIpc: Buffer.alloc(0),
    rows: (batch as { rows: SpineRowInput[] }).rows.map((row) => ({
      entityKey: mapRecord(row.entityKey, toWireValue),
      eventTime: row.eventTime instanceof Date ? dateToTimestamp(row.eventTime) : row.eventTime,
      extraColumns: mapRecord(row.extras ?? {}, toWireValue),
    })),
  };
}

/** Columns of values by name (entity keys, request features) as wire value columns. */
export function valueColumns(columns: Record<string, Array<PlainValue | Value>>): Record<string, ValueColumn> {
  return mapRecord(columns, (values) => ({ values: values.map(toWireValue) }));
}

/** A type name ("int64") or wire enum as the wire enum. */
export function toValueType(type: CoreValueType | ValueType): ValueType {
  return typeof type === "number" ? type : valueTypeToWire(type);
}

/** Seconds as a Duration, or unset for 0 and undefined (the server's default then applies). */
export function optionalDuration(seconds: number | undefined): Duration | undefined {
  return seconds ? secondsToDuration(seconds) : undefined;
}

/** Seconds (fractions included) as a Duration. */
export function secondsToDuration(seconds: number): Duration {
  const whole = Math.trunc(seconds);
  return Duration.fromPartial({ seconds: BigInt(whole), nanos: Math.round((seconds - whole) * 1e9) });
}

/** A Date or Timestamp as a Timestamp. */
function toTimestamp(time: Date | Timestamp): Timestamp {
  return time instanceof Date ? dateToTimestamp(time) : time;
}

/** Dates or microseconds as microseconds since the epoch. */
function timesToMicros(times: ArrayLike<Date> | BigInt64Array): bigint[] {
  return times instanceof BigInt64Array ? Array.from(times) : Array.from(times, (time) => BigInt(time.getTime()) * 1000n);
}

/** Maps every item of a sync or async iterable (with its index), lazily. */
async function* mapBatches<A, B>(
  items: AsyncIterable<A> | Iterable<A>,
  map: (item: A, index: number) => B | Promise<B>,
): AsyncGenerator<B> {
  let index = 0;
  for await (const item of items) yield await map(item, index++);
}

function mapRecord<A, B>(record: Record<string, A>, map: (value: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}

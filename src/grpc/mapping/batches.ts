/** Wire -> core conversions of write batches, in row and in columnar form. */
import { ValidationError } from "../../common/errors.js";
import type { FeatureValue } from "../../common/feature-value.js";
import type { EventRow, FeatureColumns, FeatureRow } from "../../gen/sluice/v1/ingestion.pb.js";
import type { Column, Value } from "../../gen/sluice/v1/types.pb.js";
import type { ColumnarRows, ColumnInput, RowInput } from "../../ingest/model.js";
import { microsFromWire, taggedFromWire, timestampToMicros } from "./values.js";

/** A row message (the `index`-th of the batch) as the core's row input. */
export function rowFromWire(row: FeatureRow, index: number): RowInput {
  return rowInputOf(row, row.features, `rows[${index}]`);
}

/** An event message (the `index`-th of the batch) as the core's row input (its fields as the row's values). */
export function eventFromWire(event: EventRow, index: number): RowInput {
  return rowInputOf(event, event.fields, `events[${index}]`);
}

function rowInputOf(
  row: Pick<FeatureRow, "entityKey" | "eventTime" | "createdTime">,
  values: Record<string, Value>,
  path: string,
): RowInput {
  return {
    entityKey: taggedValues(row.entityKey),
    eventTime: row.eventTime ? timestampToMicros(row.eventTime, `${path}.event_time`) : undefined,
    features: taggedValues(values),
    createdTime: row.createdTime ? timestampToMicros(row.createdTime, `${path}.created_time`) : undefined,
  };
}

/**
 * Longest write id: receipts are keyed by it in the online store, whose keys are short (LMDB's
 * about 1.9 KB). limits.maxWriteIdBytes (default 128) is checked on the wire; this holds whatever
 * the configuration says.
 */
export const MAX_WRITE_ID_BYTES = 1024;

/** A client's write id, checked; INVALID_ARGUMENT naming `field` when too long or holding control characters. */
export function writeIdFromWire(writeId: string, field = "write_id"): string {
  const bytes = Buffer.byteLength(writeId, "utf8");
  if (bytes > MAX_WRITE_ID_BYTES) {
    throw new ValidationError("INVALID_WRITE_ID", [
      { field, description: `is ${bytes} bytes long; at most ${MAX_WRITE_ID_BYTES} are allowed` },
    ]);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f]/.test(writeId)) {
    throw new ValidationError("INVALID_WRITE_ID", [{ field, description: "must not contain control characters" }]);
  }
  return writeId;
}

/** A columnar batch as the core's columns. INVALID_ARGUMENT for a null row index out of range. */
export function columnsFromWire(columns: FeatureColumns): ColumnarRows {
  const rowCount = columns.eventTimeMicros.length;
  const mapColumns = (record: Record<string, Column>, field: string) =>
    Object.fromEntries(Object.entries(record).map(([name, column]) => [name, columnFromWire(column, rowCount, `${field}["${name}"]`)]));
  return {
    entityKey: mapColumns(columns.entityKey, "columns.entity_key"),
    eventTimes: microsFromWire(columns.eventTimeMicros, "columns.event_time_micros"),
    features: mapColumns(columns.features, "columns.features"),
    createdTimes: microsFromWire(columns.createdTimeMicros, "columns.created_time_micros"),
  };
}

/** One wire column as the core's column input; INVALID_ARGUMENT for a null row outside the batch. */
export function columnFromWire(column: Column, rowCount: number, field: string): ColumnInput {
  const typed = (kind: Extract<ColumnInput, { kind: unknown }>["kind"], values: FeatureValue[]): ColumnInput => {
    if (column.nullRows.length === 0) return { kind, values };
    const withNulls = values.slice();
    for (const row of column.nullRows) {
      if (row < 0 || row >= rowCount) {
        throw new ValidationError("MALFORMED_COLUMNS", [
          { field: `${field}.null_rows`, description: `row ${row} is outside the batch of ${rowCount} rows` },
        ]);
      }
      withNulls[row] = null;
    }
    return { kind, values: withNulls };
  };
  if (column.int32Values) return typed("int32", column.int32Values.values);
  if (column.int64Values) return typed("int64", column.int64Values.values);
  if (column.floatValues) return typed("float", column.floatValues.values);
  if (column.doubleValues) return typed("double", column.doubleValues.values);
  if (column.boolValues) return typed("bool", column.boolValues.values);
  if (column.stringValues) return typed("string", column.stringValues.values);
  // Copies: decoded bytes may share the request's buffer.
  if (column.bytesValues)
    return typed(
      "bytes",
      column.bytesValues.values.map((bytes) => new Uint8Array(bytes)),
    );
  if (column.timestampMicrosValues) {
    return typed(
      "timestamp",
      column.timestampMicrosValues.values.map((micros) => new Date(Math.floor(Number(micros) / 1000))),
    );
  }
  return { tagged: (column.values?.values ?? []).map(taggedFromWire) };
}

/** A map of wire values as tagged values. */
export function taggedValues(values: Record<string, Value>): RowInput["features"] {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, taggedFromWire(value)]));
}

/**
 * An inline spine batch sent as one Arrow IPC stream (`SpineBatch.arrow_ipc`), read into columns by
 * name for the spine writer to check. A numeric column without nulls is handed on as the typed
 * array the stream holds (its chunks joined), with no value made per cell: what makes an Arrow
 * spine cheap to receive, where the same rows as packed protobuf columns decode into a bigint per
 * key and time. Types and rules are the proto's (proto/sluice/v1/training.proto, SpineBatch).
 */
import {
  type Data,
  type DataType,
  type Dictionary,
  Message,
  MessageHeader,
  type Table,
  TimeUnit,
  Type,
  tableFromIPC,
  type Vector,
} from "apache-arrow";
import { ValidationError, ViolationCollector } from "../common/errors.js";
import type { FeatureValue, TaggedValue } from "../common/feature-value.js";
import { type ColumnArray, int64Halves, joinedArrays } from "../common/typed-arrays.js";
import type { ValueType } from "../common/value-type.js";
import type { ColumnInput } from "../ingest/model.js";

/** The column that holds each row's time to look back from. */
export const EVENT_TIME_COLUMN = "event_time";

/** One Arrow spine batch: its columns by name, the event time apart. */
export interface ArrowSpineBatch {
  length: number;
  /** Every column but `event_time`, by name, in the stream's order. */
  columns: Record<string, ColumnInput>;
  /** `event_time` in microseconds since the epoch, undefined where null; undefined without the column. */
  eventTimes: ArrayLike<number | undefined> | undefined;
}

/**
 * Reads one batch's Arrow IPC stream. INVALID_ARGUMENT (INVALID_SPINE_BATCH), naming `field`'s
 * `arrow_ipc` or a column of it, for bytes that are not exactly one Arrow IPC stream, more than
 * `maxRows` rows (refused before any column is read), a column whose buffers are shorter than its
 * rows, two columns of one name, a column of a type a spine cannot hold, or an `event_time` that is
 * not a timestamp. Values (nulls in join keys, times out of range) are checked by the writer.
 */
export function readArrowSpine(bytes: Uint8Array, field: string, maxRows: number): ArrowSpineBatch {
  const at = `${field}.arrow_ipc`;
  const table = readTable(bytes, at);
  if (table.numRows > maxRows) {
    throw new ValidationError("INVALID_SPINE_BATCH", [
      {
        field: at,
        description: `holds ${table.numRows} rows; a batch holds at most ${maxRows} (limits.maxRowsPerBatch): send smaller batches`,
      },
    ]);
  }
  const v = new ViolationCollector();
  // No prototype: a column may be named "__proto__" or "constructor".
  const columns: Record<string, ColumnInput> = Object.create(null);
  let eventTimes: ArrowSpineBatch["eventTimes"];
  const seen = new Set<string>();
  for (const [i, arrowField] of table.schema.fields.entries()) {
    const { name } = arrowField;
    const where = `${at}["${name}"]`;
    if (seen.has(name)) {
      v.add(where, "is a column name used twice");
      continue;
    }
    seen.add(name);
    const isTime = name === EVENT_TIME_COLUMN;
    const kind = isTime ? undefined : kindOf(arrowField.type);
    if (isTime ? arrowField.type.typeId !== Type.Timestamp : kind === undefined) {
      v.add(
        where,
        isTime
          ? `is ${arrowField.type}, not a timestamp: every spine row's event time is a timestamp (any unit)`
          : `is ${arrowField.type}, which a spine column cannot be: integers, floats, bools, strings, bytes and timestamps can`,
      );
      continue;
    }
    const vector = table.getChildAt(i) as Vector;
    if (!vector.data.every(holdsItsRows))
      v.add(where, `declares ${vector.length} rows but its buffers hold fewer: the stream is malformed`);
    else if (isTime) eventTimes = timestampMicros(vector);
    else columns[name] = columnOf(vector, kind as ValueType | "null");
  }
  if (!seen.has(EVENT_TIME_COLUMN) && table.numRows > 0) {
    v.add(at, `has no "${EVENT_TIME_COLUMN}" column: every spine row needs its time to look back from (a timestamp)`);
  }
  v.throwIfAny("INVALID_SPINE_BATCH");
  return { length: table.numRows, columns, eventTimes };
}

/**
 * The stream's table. Refused: bytes Arrow's reader cannot read, a stream without a schema (what it
 * makes of a few stray bytes), and bytes after the stream (a second stream, an Arrow file), which
 * the reader would leave unread, losing their rows without a word.
 */
function readTable(bytes: Uint8Array, at: string): Table {
  const refused = (why: string) =>
    new ValidationError("INVALID_SPINE_BATCH", [
      { field: at, description: `is not one Arrow IPC stream (a schema, then record batches): ${why}` },
    ]);
  const framing = streamFraming(bytes);
  if (typeof framing === "string") throw refused(framing);
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (error) {
    throw refused((error as Error).message);
  }
  if (table.schema.fields.length === 0) throw refused("it holds no schema");
  return table;
}

/**
 * Walks the stream's messages (a length-prefixed header, then a body of the header's length) to its
 * end-of-stream marker or its last byte: undefined when they end exactly where the bytes do,
 * otherwise why not.
 */
function streamFraming(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = 0;
  let schemas = 0;
  while (position < bytes.length) {
    if (position + 4 > bytes.length) return `it ends inside a message's length, at byte ${position}`;
    let length = view.getInt32(position, true);
    position += 4;
    // A continuation marker, then the length (the format since Arrow 0.15).
    if (length === -1) {
      if (position + 4 > bytes.length) return `it ends inside a message's length, at byte ${position}`;
      length = view.getInt32(position, true);
      position += 4;
    }
    if (length === 0) return position === bytes.length ? undefined : `${bytes.length - position} bytes follow its end-of-stream marker`;
    if (length < 0 || position + length > bytes.length) return `a message at byte ${position - 4} runs past the end`;
    let message: Message;
    try {
      message = Message.decode(bytes.subarray(position, position + length));
    } catch (error) {
      return `the message at byte ${position - 4} cannot be read: ${(error as Error).message}`;
    }
    if (message.headerType === MessageHeader.Schema && ++schemas > 1) return "it holds a second schema (send one stream per batch)";
    position += length + message.bodyLength;
    if (position > bytes.length) return "a message's body runs past the end";
  }
  return undefined;
}

/** Whether a column chunk's buffers hold its declared rows (Arrow's reader takes the rows a stream declares on trust). */
function holdsItsRows(data: Data): boolean {
  const rows = data.offset + data.length;
  const { nullBitmap, valueOffsets, values } = data as {
    nullBitmap?: Uint8Array;
    valueOffsets?: ArrayLike<number | bigint>;
    values?: ArrayLike<unknown>;
  };
  if (data.type.typeId === Type.Null) return true;
  if (data.nullCount > 0 && (nullBitmap?.length ?? 0) * 8 < rows) return false;
  switch (data.type.typeId) {
    case Type.Bool:
      return (values?.length ?? 0) * 8 >= rows;
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary:
      return (valueOffsets?.length ?? 0) > rows && Number(valueOffsets?.[rows]) <= (values?.length ?? 0);
    case Type.Dictionary: {
      const dictionary = (data as unknown as { dictionary?: Vector }).dictionary;
      if ((values?.length ?? 0) < data.length || !dictionary?.data.every(holdsItsRows)) return false;
      // Every index names a value of the dictionary.
      for (let i = 0; i < data.length; i++) {
        const index = Number(values?.[i]);
        if ((index < 0 || index >= dictionary.length) && data.getValid(i)) return false;
      }
      return true;
    }
    default:
      // Fixed width: a value per row.
      return (values?.length ?? 0) >= data.length;
  }
}

/** The value type a column of `type` is read as; undefined for types a spine cannot hold. */
function kindOf(type: DataType): ValueType | "null" | undefined {
  switch (type.typeId) {
    case Type.Null:
      return "null";
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      if (bitWidth <= 16 || (bitWidth === 32 && isSigned)) return "int32";
      return bitWidth === 32 || isSigned ? "int64" : undefined;
    }
    case Type.Float:
      return (type as unknown as { precision: number }).precision === 2 ? "double" : "float";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Binary:
    case Type.LargeBinary:
      return "bytes";
    case Type.Timestamp:
      return "timestamp";
    case Type.Dictionary: {
      // Categoricals: their values are read one by one, which suits text, not numbers or times.
      const kind = kindOf((type as Dictionary).dictionary);
      return kind === "string" || kind === "bytes" ? kind : undefined;
    }
    default:
      return undefined;
  }
}

/** Typed arrays a column of each kind is handed on as when it has no nulls. */
const TYPED_KINDS: Partial<Record<ValueType, new (length: number) => ColumnArray>> = {
  int32: Int32Array,
  int64: BigInt64Array,
  double: Float64Array,
};

/** A column of a kind a spine column can be ({@link kindOf}) as the writer's column input. */
function columnOf(vector: Vector, kind: ValueType | "null"): ColumnInput {
  if (kind === "null") return { tagged: Array.from({ length: vector.length }, (): TaggedValue => ({ kind: "null", value: null })) };
  const typed = TYPED_KINDS[kind];
  const plain = typed && vector.type.typeId !== Type.Dictionary && vector.nullCount === 0;
  if (plain && vector.type.ArrayType === typed) return { kind, values: joinedChunks(vector, typed) };
  if (kind === "timestamp") {
    const micros = timestampMicros(vector);
    return { kind, values: Array.from(micros, (value) => (value === undefined ? null : new Date(Math.floor(value / 1000)))) };
  }
  const convert = CONVERT[kind] ?? ((value: unknown) => value as FeatureValue);
  const values = new Array<FeatureValue>(vector.length);
  for (let row = 0; row < vector.length; row++) {
    const value = vector.get(row);
    values[row] = value === null || value === undefined ? null : convert(value);
  }
  return { kind, values };
}

/** Conversions from what an Arrow vector's `get` gives to a value of the kind, where they differ. */
const CONVERT: Partial<Record<ValueType, (value: unknown) => FeatureValue>> = {
  // A narrower integer, or an unsigned 32-bit one, arrives as a number.
  int64: (value) => (typeof value === "bigint" ? value : BigInt(value as number)),
  // Copied: the stream's bytes belong to the request.
  bytes: (value) => new Uint8Array(value as Uint8Array),
};

/** A fixed-width column's chunks as one typed array of `typed` (a view of the only chunk, when there is one). */
function joinedChunks<T extends ColumnArray>(vector: Vector, typed: new (length: number) => T): T {
  // A chunk's values start at its first row (its `offset` counts only in its validity bitmap).
  const chunks = vector.data.map((data) => (data.values as T).subarray(0, data.length) as T);
  return chunks.length === 1 ? (chunks[0] as T) : joinedArrays(typed, chunks, vector.length);
}

const TWO_TO_32 = 0x100000000;

/**
 * A timestamp column in microseconds since the epoch, undefined where null. Read as two 32-bit
 * halves per value (no bigint made per cell); nanoseconds are floored to microseconds exactly. Times
 * out of range are left to the writer's range check.
 */
function timestampMicros(vector: Vector): ArrayLike<number | undefined> {
  const unit = (vector.type as unknown as { unit: TimeUnit }).unit;
  const out: Array<number | undefined> | Float64Array =
    vector.nullCount > 0 ? new Array<number | undefined>(vector.length) : new Float64Array(vector.length);
  let at = 0;
  for (const data of vector.data as Data[]) {
    const halves = int64Halves(data.values as BigInt64Array, data.length);
    for (let i = 0; i < data.length; i++, at++) {
      if (data.nullCount > 0 && !data.getValid(i)) {
        out[at] = undefined;
        continue;
      }
      const low = (halves[2 * i] as number) >>> 0;
      const high = halves[2 * i + 1] as number;
      out[at] = micros(high, low, unit);
    }
  }
  return out;
}

/** The int64 `high * 2^32 + low` of `unit` in microseconds. */
function micros(high: number, low: number, unit: TimeUnit): number {
  if (unit === TimeUnit.NANOSECOND) {
    // floor(value / 1000) without leaving the doubles' exact range: split the high half first.
    const highQuotient = Math.floor(high / 1000);
    const rest = (high - highQuotient * 1000) * TWO_TO_32 + low;
    return highQuotient * TWO_TO_32 + Math.floor(rest / 1000);
  }
  // Rounded to the nearest double beyond 2^53 µs (after 2255), as a packed column's int64 is.
  const value = high * TWO_TO_32 + low;
  return unit === TimeUnit.SECOND ? value * 1_000_000 : unit === TimeUnit.MILLISECOND ? value * 1000 : value;
}

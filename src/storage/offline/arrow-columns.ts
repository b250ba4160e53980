/**
 * Columns of Sluice values as Arrow vectors of the types ClickHouse writes and reads (bytes as
 * their base64 text, timestamps as microseconds in UTC, a null list as an empty one), and record
 * batches of them as Arrow IPC streams: what the store sends the engine and what joins the server
 * does itself answer.
 */
import {
  Bool,
  type Data,
  type DataType,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  type TypeMap,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import { type FeatureValue, hasNull } from "../../common/feature-value.js";
import { setInt64Halves } from "../../common/typed-arrays.js";
import { NUMBER_VALUE_TYPES, type ValueType } from "../../common/value-type.js";

/** The Arrow type of a column of each type. */
export const ARROW_TYPE_OF: Record<ValueType, () => DataType> = {
  int32: () => new Int32(),
  int64: () => new Int64(),
  float: () => new Float32(),
  double: () => new Float64(),
  bool: () => new Bool(),
  string: () => new Utf8(),
  bytes: () => new Utf8(),
  timestamp: () => new TimestampMicrosecond("UTC"),
  int64_list: () => new List(new Field("item", new Int64(), false)),
  float_list: () => new List(new Field("item", new Float32(), false)),
  double_list: () => new List(new Field("item", new Float64(), false)),
  string_list: () => new List(new Field("item", new Utf8(), false)),
};

type FixedWidth = "int32" | "float" | "double" | "int64" | "timestamp";

const TYPED_ARRAYS = {
  int32: Int32Array,
  float: Float32Array,
  double: Float64Array,
  int64: BigInt64Array,
  timestamp: BigInt64Array,
} as const;

/** How a value of each fixed-width type goes into its typed array. */
const FIXED_CELL: Record<FixedWidth, (value: Exclude<FeatureValue, null>) => number | bigint> = {
  int32: Number,
  float: Number,
  double: Number,
  int64: (value) => (typeof value === "bigint" ? value : BigInt(value as number)),
  timestamp: (value) => BigInt((value as Date).getTime()) * 1000n,
};

/** Values of `type` as a column, null where null (a null list as an empty one, as ClickHouse stores lists). */
export function valuesVector(type: ValueType, values: ArrayLike<FeatureValue>): Vector {
  // An int64 column given as a typed array (an Arrow spine's) has no nulls and is taken as it is.
  if (type === "int64" && values instanceof BigInt64Array)
    return fixedWidthVector(ARROW_TYPE_OF.int64(), values, 0, allValid(values.length));
  if (NUMBER_VALUE_TYPES.has(type)) return numbersVector(type as "double" | "float" | "int32", values as ArrayLike<number | null>);
  if (type in TYPED_ARRAYS) return fixedVector(type as FixedWidth, values, FIXED_CELL[type as FixedWidth]);
  const cells = Array.from(values, (value) => {
    if (type === "bytes") return value === null ? null : Buffer.from(value as Uint8Array).toString("base64");
    return type.endsWith("_list") ? (value ?? []) : value;
  });
  return vectorFromArray(cells, ARROW_TYPE_OF[type]());
}

/**
 * A column of numbers, copied by the typed array's constructor rather than a loop of our own.
 * A loop that reads arrays of doubles and, elsewhere, arrays of objects (bigints, or numbers with
 * nulls) makes V8 turn the double arrays it reads into arrays of boxed numbers, to keep its
 * lookup general: every later read of them chases a pointer, and the arrays made at the same
 * place start boxed too (measured: the online holding of a bulk load ran 3× slower).
 */
function numbersVector(type: "double" | "float" | "int32", values: ArrayLike<number | null>): Vector {
  const length = values.length;
  // null becomes 0 here; the bitmap below says which rows are null.
  const out = new TYPED_ARRAYS[type](values as ArrayLike<number>);
  if (!hasNull(values)) return fixedWidthVector(ARROW_TYPE_OF[type](), out, 0, allValid(length));
  const bitmap = new Uint8Array((length + 7) >> 3);
  let nullCount = 0;
  for (let row = 0; row < length; row++) {
    if (values[row] === null || values[row] === undefined) nullCount++;
    else bitmap[row >> 3] = (bitmap[row >> 3] as number) | (1 << (row & 7));
  }
  return fixedWidthVector(ARROW_TYPE_OF[type](), out, nullCount, bitmap);
}

/** One text repeated `length` times as a string column, encoded once. */
export function repeatedTextVector(text: string, length: number): Vector {
  const bytes = Buffer.from(text);
  const data = new Uint8Array(bytes.length * length);
  const valueOffsets = new Int32Array(length + 1);
  for (let row = 0; row < length; row++) {
    data.set(bytes, row * bytes.length);
    valueOffsets[row + 1] = (row + 1) * bytes.length;
  }
  return makeVector(makeData({ type: new Utf8(), length, nullCount: 0, valueOffsets, data }));
}

/** Times in microseconds since the epoch as a timestamp column. */
export function microsVector(micros: ArrayLike<number>): Vector {
  return fixedWidthVector(ARROW_TYPE_OF.timestamp(), wholeNumbersAsInt64(micros), 0, allValid(micros.length));
}

/** Whole numbers as an int64 column. */
export function int64Vector(values: ArrayLike<number>): Vector {
  return fixedWidthVector(ARROW_TYPE_OF.int64(), wholeNumbersAsInt64(values), 0, allValid(values.length));
}

/**
 * Whole numbers (exact as doubles) as int64s, written as two 32-bit halves each: no bigint is made
 * per value (an allocation per row of a spine or history batch, and its collection).
 */
function wholeNumbersAsInt64(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const halves = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) setInt64Halves(halves, i, values[i] as number);
  return out;
}

/** A validity bitmap of `length` rows, none null. */
function allValid(length: number): Uint8Array {
  return new Uint8Array((length + 7) >> 3).fill(0xff);
}

function fixedVector<T>(type: FixedWidth, values: ArrayLike<T>, cell: (value: Exclude<T, null>) => number | bigint): Vector {
  const length = values.length;
  const out = new TYPED_ARRAYS[type](length) as unknown as Array<number | bigint>;
  const bitmap = new Uint8Array((length + 7) >> 3);
  let nullCount = 0;
  for (let row = 0; row < length; row++) {
    const value = values[row];
    if (value === null || value === undefined) {
      nullCount++;
      continue;
    }
    out[row] = cell(value as Exclude<T, null>);
    bitmap[row >> 3] = (bitmap[row >> 3] as number) | (1 << (row & 7));
  }
  return fixedWidthVector(ARROW_TYPE_OF[type](), out as unknown as Float64Array, nullCount, bitmap);
}

/** A fixed-width column from its values and validity bitmap (bit per row, set where not null). */
export function fixedWidthVector(type: DataType, data: ArrayLike<number | bigint>, nullCount: number, nullBitmap: Uint8Array): Vector {
  return makeVector(makeData({ type: type as Float64, length: data.length, nullCount, nullBitmap, data: data as Float64Array }));
}

/** Columns of equal length as one record batch in a complete Arrow IPC stream. */
export function recordBatchIpc(fields: Field[], columns: readonly Vector[], length: number): Uint8Array {
  const schema = new Schema(fields);
  // vectorFromArray and the builders here make one chunk; anything else is copied into one.
  const children = columns.map((c) => (c.data.length === 1 ? c.data[0] : vectorFromArray([...c], c.type).data[0]) as Data);
  const data = makeData({ type: new Struct<TypeMap>(schema.fields), length, nullCount: 0, children });
  return tableToIPC(new Table([new RecordBatch(schema, data)]), "stream");
}

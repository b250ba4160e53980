/**
 * The FLAT and FLAT_TYPED layouts of a GetOnlineFeaturesResponse (field 4, FlatFeatureValues),
 * encoded by hand.
 *
 * Every online read of a client asking for a flat layout (the Python client always does) ends
 * here, so it is written for the hot path: scalar values are written straight into one scratch
 * buffer reused across calls, with no per-value wire object and no BigInt per event time. Through
 * the generated encoder this was about a tenth of the server's CPU at 16 reads in flight
 * (2026-11-28). Timestamps and lists, rare in online reads, go through the generated Value encoder.
 */
import type { ValueType } from "../common/value-type.js";
import { Value } from "../gen/sluice/v1/types.pb.js";
import type { FeatureColumn } from "../online/online-reader.js";
import { valueTypeToWire } from "./mapping/common.js";
import { FEATURE_STATUS_TO_WIRE, valueToWire } from "./mapping/values.js";
import { FIXED32, FIXED64, LENGTH_DELIMITED, ScratchWriter, VARINT } from "./wire-writer.js";

/** Value's field numbers (proto/sluice/v1/types.proto). */
const VALUE_FIELD = { int32: 1, int64: 2, float: 3, double: 4, bool: 5, string: 6, bytes: 7 } as const;

/** GetOnlineFeaturesResponse.flat and FlatFeatureValues' fields (proto/sluice/v1/online.proto). */
const RESPONSE_FLAT_FIELD = 4;
const FLAT_VALUES_FIELD = 1;
const FLAT_STATUSES_FIELD = 2;
const FLAT_EVENT_TIME_MICROS_FIELD = 3;
const FLAT_VALUE_TYPES_FIELD = 4;
const FLAT_INT64_VALUES_FIELD = 5;
const FLAT_DOUBLE_VALUES_FIELD = 6;
const FLAT_BOOL_VALUES_FIELD = 7;
const FLAT_STRING_VALUES_FIELD = 8;
const FLAT_BYTES_VALUES_FIELD = 9;
const FLAT_NULL_CELLS_FIELD = 10;

/** The FLAT_TYPED layout's array of each scalar type; timestamps and lists stay in `values`. */
const TYPED_ARRAY_FIELD: Partial<Record<ValueType, number>> = {
  int32: FLAT_INT64_VALUES_FIELD,
  int64: FLAT_INT64_VALUES_FIELD,
  float: FLAT_DOUBLE_VALUES_FIELD,
  double: FLAT_DOUBLE_VALUES_FIELD,
  bool: FLAT_BOOL_VALUES_FIELD,
  string: FLAT_STRING_VALUES_FIELD,
  bytes: FLAT_BYTES_VALUES_FIELD,
};
/** The typed arrays in field order: packed numbers, then strings and bytes (a length-delimited entry each). */
const PACKED_TYPED_FIELDS = [FLAT_INT64_VALUES_FIELD, FLAT_DOUBLE_VALUES_FIELD, FLAT_BOOL_VALUES_FIELD];
const DELIMITED_TYPED_FIELDS = [FLAT_STRING_VALUES_FIELD, FLAT_BYTES_VALUES_FIELD];
const NO_BYTES = new Uint8Array(0);

const scratch = new ScratchWriter();

/**
 * A whole GetOnlineFeaturesResponse in the FLAT layout: `prefix` (the response's fields before
 * `flat`, already encoded) followed by field 4, every cell feature-major as FlatFeatureValues
 * defines it, byte for byte as the generated encoder writes the same content; values it would
 * refuse (an int32 out of range, a finite number beyond float32, an int64 beyond 64 bits) throw a
 * RangeError here too. `writer`: the scratch buffer (the module's own, reused, unless given).
 */
export function encodeFlatResponse(prefix: readonly Uint8Array[], columns: readonly FeatureColumn[], writer = scratch): Buffer {
  const flat = beginFlat(writer, prefix);
  writeValues(writer, columns);
  writeStatusesAndTimes(writer, columns);
  writer.endLength(flat);
  return writer.take();
}

/**
 * The same response in the FLAT_TYPED layout: the cells of scalar features in one packed array per
 * type (FlatFeatureValues says where), `values` only for timestamp and list features; byte for byte
 * as the generated encoder writes the same content, refusing the same values as
 * {@link encodeFlatResponse} does.
 */
export function encodeTypedFlatResponse(prefix: readonly Uint8Array[], columns: readonly FeatureColumn[], writer = scratch): Buffer {
  // Each feature in the array of its type (field 1 for the others), in feature order.
  const byField = new Map<number, FeatureColumn[]>();
  for (const column of columns) {
    const field = TYPED_ARRAY_FIELD[column.feature.type] ?? FLAT_VALUES_FIELD;
    const stored = byField.get(field);
    if (stored) stored.push(column);
    else byField.set(field, [column]);
  }
  const flat = beginFlat(writer, prefix);
  writeValues(writer, byField.get(FLAT_VALUES_FIELD) ?? []);
  writeStatusesAndTimes(writer, columns);
  if (columns.length > 0) {
    writer.tag(FLAT_VALUE_TYPES_FIELD, LENGTH_DELIMITED);
    const start = writer.beginLength();
    for (const column of columns) writer.varint(valueTypeToWire(column.feature.type));
    writer.endLength(start);
  }
  for (const field of PACKED_TYPED_FIELDS) {
    const stored = byField.get(field) ?? [];
    // As the generated encoder, no field at all for an array without a cell.
    if (!stored.some((column) => column.values.length > 0)) continue;
    writer.tag(field, LENGTH_DELIMITED);
    const start = writer.beginLength();
    for (const column of stored) for (const value of column.values) writePackedCell(writer, column.feature.type, value);
    writer.endLength(start);
  }
  for (const field of DELIMITED_TYPED_FIELDS) {
    for (const column of byField.get(field) ?? []) {
      for (const value of column.values) {
        writer.tag(field, LENGTH_DELIMITED);
        if (field === FLAT_STRING_VALUES_FIELD) writer.string(value === null ? "" : (value as string));
        else writer.bytes(value === null ? NO_BYTES : (value as Uint8Array));
      }
    }
  }
  if (columns.some((column) => column.values.includes(null))) {
    writer.tag(FLAT_NULL_CELLS_FIELD, LENGTH_DELIMITED);
    const start = writer.beginLength();
    let cell = 0;
    for (const column of columns) {
      for (const value of column.values) {
        if (value === null) writer.varint(cell);
        cell++;
      }
    }
    writer.endLength(start);
  }
  writer.endLength(flat);
  return writer.take();
}

/** Starts a response: `prefix` (its fields before `flat`, already encoded), then field 4's tag; returns where its body starts. */
function beginFlat(writer: ScratchWriter, prefix: readonly Uint8Array[]): number {
  writer.reset();
  for (const part of prefix) writer.raw(part);
  writer.tag(RESPONSE_FLAT_FIELD, LENGTH_DELIMITED);
  return writer.beginLength();
}

/** Field 1: a Value per cell of `columns`. */
function writeValues(writer: ScratchWriter, columns: readonly FeatureColumn[]): void {
  for (const column of columns) {
    for (const value of column.values) {
      writer.tag(FLAT_VALUES_FIELD, LENGTH_DELIMITED);
      const start = writer.beginLength();
      writeValue(writer, column, value);
      writer.endLength(start);
    }
  }
}

/** Fields 2 and 3: every cell's status and event time, packed. */
function writeStatusesAndTimes(writer: ScratchWriter, columns: readonly FeatureColumn[]): void {
  if (columns.some((column) => column.statuses.length > 0)) {
    writer.tag(FLAT_STATUSES_FIELD, LENGTH_DELIMITED);
    const start = writer.beginLength();
    for (const column of columns) {
      for (const status of column.statuses) {
        const wire = FEATURE_STATUS_TO_WIRE[status];
        if (wire === undefined) throw new RangeError(`unknown feature status ${status}`);
        writer.varint(wire);
      }
    }
    writer.endLength(start);
  }
  if (columns.some((column) => column.eventTimes.length > 0)) {
    writer.tag(FLAT_EVENT_TIME_MICROS_FIELD, LENGTH_DELIMITED);
    const start = writer.beginLength();
    for (const column of columns) {
      // As microsToTimestamp does for the columns layout: a time that is not a finite number is the epoch.
      for (const micros of column.eventTimes) writer.int64(micros !== undefined && Number.isFinite(micros) ? Math.floor(micros) : 0);
    }
    writer.endLength(start);
  }
}

/** One cell of a packed array (int64, double or bool values); a null cell as zero. */
function writePackedCell(writer: ScratchWriter, type: ValueType, value: FeatureColumn["values"][number]): void {
  switch (type) {
    case "int32":
      writer.int32(value === null ? 0 : (value as number));
      break;
    case "int64":
      if (typeof value === "bigint") writer.bigint64(value);
      else writer.int64(value === null ? 0 : (value as number));
      break;
    case "float":
      // As a float Value would carry it: its float32 value.
      writer.float32AsDouble(value === null ? 0 : (value as number));
      break;
    case "double":
      writer.double(value === null ? 0 : (value as number));
      break;
    case "bool":
      writer.varint(value ? 1 : 0);
      break;
    default:
      throw new TypeError(`a ${type} feature has no packed array`);
  }
}

/** The body of one Value: the declared type's field, present even when zero (a oneof); nothing for null. */
function writeValue(writer: ScratchWriter, column: FeatureColumn, value: FeatureColumn["values"][number]): void {
  if (value === null) return;
  const type = column.feature.type;
  switch (type) {
    case "int32":
      writer.tag(VALUE_FIELD.int32, VARINT);
      writer.int32(value as number);
      break;
    case "int64":
      writer.tag(VALUE_FIELD.int64, VARINT);
      if (typeof value === "bigint") writer.bigint64(value);
      else writer.int64(value as number);
      break;
    case "float":
      writer.tag(VALUE_FIELD.float, FIXED32);
      writer.float(value as number);
      break;
    case "double":
      writer.tag(VALUE_FIELD.double, FIXED64);
      writer.double(value as number);
      break;
    case "bool":
      writer.tag(VALUE_FIELD.bool, VARINT);
      writer.varint(value ? 1 : 0);
      break;
    case "string":
      writer.tag(VALUE_FIELD.string, LENGTH_DELIMITED);
      writer.string(value as string);
      break;
    case "bytes":
      writer.tag(VALUE_FIELD.bytes, LENGTH_DELIMITED);
      writer.bytes(value as Uint8Array);
      break;
    default:
      // Timestamps and lists: the generated encoder's body of the same Value.
      writer.raw(Value.encode(valueToWire(type, value)).finish());
      break;
  }
}

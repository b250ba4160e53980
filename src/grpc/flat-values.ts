/**
 * The FLAT layout of a GetOnlineFeaturesResponse (field 4, FlatFeatureValues), encoded by hand.
 *
 * Every online read of a client asking for the flat layout (the Python client always does) ends
 * here, so it is written for the hot path: scalar values are written straight into one scratch
 * buffer reused across calls, with no per-value wire object and no BigInt per event time. Through
 * the generated encoder this was about a tenth of the server's CPU at 16 reads in flight
 * (2026-11-28). Timestamps and lists, rare in online reads, go through the generated Value encoder.
 */
import { Value } from "../gen/sluice/v1/types.pb.js";
import type { FeatureColumn } from "../online/online-reader.js";
import { FEATURE_STATUS_TO_WIRE, valueToWire } from "./mapping/values.js";
import { FIXED32, FIXED64, LENGTH_DELIMITED, ScratchWriter, VARINT } from "./wire-writer.js";

/** Value's field numbers (proto/sluice/v1/types.proto). */
const VALUE_FIELD = { int32: 1, int64: 2, float: 3, double: 4, bool: 5, string: 6, bytes: 7 } as const;

/** GetOnlineFeaturesResponse.flat and FlatFeatureValues' fields (proto/sluice/v1/online.proto). */
const RESPONSE_FLAT_FIELD = 4;
const FLAT_VALUES_FIELD = 1;
const FLAT_STATUSES_FIELD = 2;
const FLAT_EVENT_TIME_MICROS_FIELD = 3;

const scratch = new ScratchWriter();

/**
 * A whole GetOnlineFeaturesResponse in the FLAT layout: `prefix` (the response's fields before
 * `flat`, already encoded) followed by field 4, every cell feature-major as FlatFeatureValues
 * defines it, byte for byte as the generated encoder writes the same content; values it would
 * refuse (an int32 out of range, a finite number beyond float32, an int64 beyond 64 bits) throw a
 * RangeError here too. `writer`: the scratch buffer (the module's own, reused, unless given).
 */
export function encodeFlatResponse(prefix: readonly Uint8Array[], columns: readonly FeatureColumn[], writer = scratch): Buffer {
  writer.reset();
  for (const part of prefix) writer.raw(part);
  writer.tag(RESPONSE_FLAT_FIELD, LENGTH_DELIMITED);
  const flat = writer.beginLength();
  for (const column of columns) {
    for (const value of column.values) {
      writer.tag(FLAT_VALUES_FIELD, LENGTH_DELIMITED);
      const start = writer.beginLength();
      writeValue(writer, column, value);
      writer.endLength(start);
    }
  }
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
  writer.endLength(flat);
  return writer.take();
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

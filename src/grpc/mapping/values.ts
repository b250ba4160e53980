/** Wire <-> core conversions of feature values: wire values arrive tagged with the kind the client chose. */
import { ValidationError } from "../../common/errors.js";
import type { FeatureValue, TaggedValue } from "../../common/feature-value.js";
import type { ValueType } from "../../common/value-type.js";
import type { Timestamp } from "../../gen/google/protobuf/timestamp.pb.js";
import { type Value, FeatureStatus as WireFeatureStatus } from "../../gen/sluice/v1/types.pb.js";
import type { FeatureStatus } from "../../online/online-reader.js";

/** A wire value as the core's tagged value; a value with no kind set is an explicit null. */
/** Core feature status -> wire enum. */
export const FEATURE_STATUS_TO_WIRE: Record<FeatureStatus, WireFeatureStatus> = {
  present: WireFeatureStatus.FEATURE_STATUS_PRESENT,
  null_value: WireFeatureStatus.FEATURE_STATUS_NULL_VALUE,
  not_found: WireFeatureStatus.FEATURE_STATUS_NOT_FOUND,
  outside_max_age: WireFeatureStatus.FEATURE_STATUS_OUTSIDE_MAX_AGE,
};

export function taggedFromWire(value: Value | undefined): TaggedValue {
  if (!value) return { kind: "null", value: null };
  if (value.int32Value !== undefined) return { kind: "int32", value: value.int32Value };
  if (value.int64Value !== undefined) return { kind: "int64", value: value.int64Value };
  if (value.floatValue !== undefined) return { kind: "float", value: value.floatValue };
  if (value.doubleValue !== undefined) return { kind: "double", value: value.doubleValue };
  if (value.boolValue !== undefined) return { kind: "bool", value: value.boolValue };
  if (value.stringValue !== undefined) return { kind: "string", value: value.stringValue };
  if (value.bytesValue !== undefined) return { kind: "bytes", value: new Uint8Array(value.bytesValue) };
  if (value.timestampValue !== undefined)
    return { kind: "timestamp", value: new Date(Math.floor(timestampToMicros(value.timestampValue, "timestamp_value") / 1000)) };
  if (value.int64ListValue !== undefined) return { kind: "int64_list", value: value.int64ListValue.values };
  if (value.floatListValue !== undefined) return { kind: "float_list", value: value.floatListValue.values };
  if (value.doubleListValue !== undefined) return { kind: "double_list", value: value.doubleListValue.values };
  if (value.stringListValue !== undefined) return { kind: "string_list", value: value.stringListValue.values };
  return { kind: "null", value: null };
}

/** A core value of a declared type as a wire value (null: no kind set). */
export function valueToWire(type: ValueType, value: FeatureValue): Value {
  if (value === null) return {};
  switch (type) {
    case "int32":
      return { int32Value: value as number };
    case "int64":
      return { int64Value: value as bigint };
    case "float":
      return { floatValue: value as number };
    case "double":
      return { doubleValue: value as number };
    case "bool":
      return { boolValue: value as boolean };
    case "string":
      return { stringValue: value as string };
    case "bytes":
      return { bytesValue: Buffer.from(value as Uint8Array) };
    case "timestamp":
      return { timestampValue: microsToTimestamp((value as Date).getTime() * 1000) };
    case "int64_list":
      return { int64ListValue: { values: value as bigint[] } };
    case "float_list":
      return { floatListValue: { values: value as number[] } };
    case "double_list":
      return { doubleListValue: { values: value as number[] } };
    case "string_list":
      return { stringListValue: { values: value as string[] } };
  }
}

/** Protobuf's Timestamp range, 0001-01-01 .. 9999-12-31, in seconds since the epoch. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n;

/**
 * Timestamp -> microseconds since the epoch (sub-microsecond nanos are dropped). INVALID_ARGUMENT
 * naming `field` for a timestamp protobuf does not define: seconds outside 0001-01-01 ..
 * 9999-12-31 or nanos outside [0, 1e9). (The wire check refuses these first; this keeps the
 * conversion exact wherever a Timestamp comes from.)
 */
export function timestampToMicros(timestamp: Timestamp, field = "timestamp"): number {
  const { seconds, nanos } = timestamp;
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new ValidationError("INVALID_TIMESTAMP", [
      {
        field,
        description: `${seconds} s ${nanos} ns is not a valid timestamp: seconds within 0001-01-01 .. 9999-12-31, nanos 0 .. 999999999`,
      },
    ]);
  }
  return Number(seconds) * 1_000_000 + Math.floor(nanos / 1000);
}

const MIN_TIMESTAMP_MICROS = MIN_TIMESTAMP_SECONDS * 1_000_000n;
const MAX_TIMESTAMP_MICROS = MAX_TIMESTAMP_SECONDS * 1_000_000n + 999_999n;

/**
 * Event or created times of a columnar batch (int64 microseconds) as numbers. INVALID_ARGUMENT
 * naming `field[i]` for one outside what a Timestamp holds (0001-01-01 .. 9999-12-31): such a
 * number is no time at all, unlike a time merely too far ahead, which rejects only its row.
 */
export function microsFromWire(values: readonly bigint[], field: string): number[] {
  const micros = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as bigint;
    if (value < MIN_TIMESTAMP_MICROS || value > MAX_TIMESTAMP_MICROS) {
      throw new ValidationError("INVALID_TIMESTAMP", [
        { field: `${field}[${i}]`, description: `${value} µs is outside 0001-01-01 .. 9999-12-31, the range of a timestamp` },
      ]);
    }
    micros[i] = Number(value);
  }
  return micros;
}

/** Microseconds since the epoch -> Timestamp (a value that is not a finite number reads as the epoch). */
export function microsToTimestamp(micros: number): Timestamp {
  if (!Number.isFinite(micros)) return { seconds: 0n, nanos: 0 };
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

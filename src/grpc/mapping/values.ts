/** Wire <-> core conversions of feature values: wire values arrive tagged with the kind the client chose. */
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
    return { kind: "timestamp", value: new Date(Math.floor(timestampToMicros(value.timestampValue) / 1000)) };
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

/** Timestamp -> microseconds since the epoch (sub-microsecond nanos are dropped). */
export function timestampToMicros(timestamp: Timestamp): number {
  return Number(timestamp.seconds) * 1_000_000 + Math.floor(timestamp.nanos / 1000);
}

/** Microseconds since the epoch -> Timestamp. */
export function microsToTimestamp(micros: number): Timestamp {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

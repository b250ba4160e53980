/** Conversions between wire types (ts-proto) and the core's plain types, shared by every adapter. */
import type { ValueType } from "../../common/value-type.js";
import type { Duration } from "../../gen/google/protobuf/duration.pb.js";
import type { Timestamp } from "../../gen/google/protobuf/timestamp.pb.js";
import { ValueType as WireValueType } from "../../gen/sluice/v1/types.pb.js";

const WIRE_TO_VALUE_TYPE = new Map<WireValueType, ValueType>([
  [WireValueType.VALUE_TYPE_INT32, "int32"],
  [WireValueType.VALUE_TYPE_INT64, "int64"],
  [WireValueType.VALUE_TYPE_FLOAT, "float"],
  [WireValueType.VALUE_TYPE_DOUBLE, "double"],
  [WireValueType.VALUE_TYPE_BOOL, "bool"],
  [WireValueType.VALUE_TYPE_STRING, "string"],
  [WireValueType.VALUE_TYPE_BYTES, "bytes"],
  [WireValueType.VALUE_TYPE_TIMESTAMP, "timestamp"],
  [WireValueType.VALUE_TYPE_INT64_LIST, "int64_list"],
  [WireValueType.VALUE_TYPE_FLOAT_LIST, "float_list"],
  [WireValueType.VALUE_TYPE_DOUBLE_LIST, "double_list"],
  [WireValueType.VALUE_TYPE_STRING_LIST, "string_list"],
]);
const VALUE_TYPE_TO_WIRE = new Map([...WIRE_TO_VALUE_TYPE].map(([wire, core]) => [core, wire]));

/** The core's name of a wire type; "unspecified" or "unrecognized(N)" for values the core will reject. */
export function valueTypeFromWire(type: WireValueType): string {
  if (type === WireValueType.VALUE_TYPE_UNSPECIFIED) return "unspecified";
  return WIRE_TO_VALUE_TYPE.get(type) ?? `unrecognized(${type})`;
}

/** The wire enum of a core type. */
export function valueTypeToWire(type: ValueType): WireValueType {
  return VALUE_TYPE_TO_WIRE.get(type) ?? WireValueType.VALUE_TYPE_UNSPECIFIED;
}

/** Date -> Timestamp. */
export function dateToTimestamp(date: Date): Timestamp {
  const millis = date.getTime();
  const seconds = Math.floor(millis / 1000);
  return { seconds: BigInt(seconds), nanos: (millis - seconds * 1000) * 1_000_000 };
}

/** Optional Date -> optional Timestamp. */
export function optionalTimestamp(date: Date | undefined): Timestamp | undefined {
  return date ? dateToTimestamp(date) : undefined;
}

/**
 * Duration -> milliseconds, exactly: a sub-millisecond part stays fractional so validation can
 * refuse it rather than silently drop it. A missing duration is 0; the sign is kept.
 */
export function durationToMillis(duration: Duration | undefined): number {
  if (!duration) return 0;
  return Number(duration.seconds) * 1000 + duration.nanos / 1_000_000;
}

/** Milliseconds -> Duration. */
export function millisToDuration(millis: number): Duration {
  const seconds = Math.trunc(millis / 1000);
  return { seconds: BigInt(seconds), nanos: (millis - seconds * 1000) * 1_000_000 };
}

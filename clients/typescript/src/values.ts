/**
 * Plain JavaScript values <-> wire values. Types are inferred (bigint -> INT64, an integer number
 * -> INT32 or, beyond its range, INT64, other numbers -> DOUBLE, an empty list fits any list type)
 * and the server converts them to the feature's declared type; use {@link typed} otherwise.
 */
import type { Timestamp } from "../../../src/gen/google/protobuf/timestamp.pb.js";
import type { Value } from "../../../src/gen/sluice/v1/types.pb.js";
import { dateToTimestamp } from "../../../src/grpc/mapping/common.js";
import { taggedFromWire } from "../../../src/grpc/mapping/values.js";

/** A value the SDK can send or return. */
export type PlainValue = number | bigint | boolean | string | Uint8Array | Date | bigint[] | number[] | string[] | null;

/** Builders of explicitly typed wire values. */
export const typed = {
  int32: (value: number): Value => ({ int32Value: value }),
  int64: (value: bigint | number): Value => ({ int64Value: BigInt(value) }),
  float: (value: number): Value => ({ floatValue: value }),
  double: (value: number): Value => ({ doubleValue: value }),
  floatList: (values: number[]): Value => ({ floatListValue: { values } }),
  int64List: (values: Array<bigint | number>): Value => ({ int64ListValue: { values: values.map((v) => BigInt(v)) } }),
};

/** A plain value (or an already-built wire value) as a wire value. */
export function toWireValue(value: PlainValue | Value): Value {
  if (value === null) return {};
  if (typeof value === "bigint") return { int64Value: value };
  if (typeof value === "number")
    return Number.isInteger(value) && Math.abs(value) <= 2 ** 31 - 1 ? { int32Value: value } : { doubleValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (value instanceof Date) return { timestampValue: dateToTimestamp(value) };
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === "bigint") return { int64ListValue: { values: value as bigint[] } };
    if (value.length > 0 && typeof value[0] === "string") return { stringListValue: { values: value as string[] } };
    return { doubleListValue: { values: value as number[] } };
  }
  return value;
}

/** Timestamp -> Date (millisecond precision). */
export function timestampToDate(timestamp: Timestamp): Date {
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000));
}

/** A wire value as a plain value (no kind set: null). */
export function fromWireValue(value: Value | undefined): PlainValue {
  return taggedFromWire(value).value;
}

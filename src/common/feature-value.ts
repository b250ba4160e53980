/**
 * Feature values as the core handles them, and the checks a value must pass before it is stored.
 * Values arrive tagged with the kind the client sent ({@link TaggedValue}); the core checks the
 * tag against the declared type, so "wrong type" is decided here and not in the transport.
 */
import type { ValueType } from "./value-type.js";

/** A typed feature or key value; null is an explicit null. */
export type FeatureValue = number | bigint | boolean | string | Uint8Array | Date | bigint[] | number[] | string[] | null;

/** A value as the client sent it: the kind it chose and the payload. `null` kind is an explicit null. */
export interface TaggedValue {
  kind: ValueType | "null";
  value: FeatureValue;
}

/** Limits on individual values, so one row cannot exhaust memory or a store's value size. */
export interface ValueLimits {
  maxStringBytes: number;
  maxBytesLength: number;
  maxListLength: number;
}

/** Kinds a client may send for a declared type: the type itself, or one that converts without surprise. */
const ACCEPTED_KINDS: Record<ValueType, readonly ValueType[]> = {
  int32: ["int32"],
  int64: ["int64", "int32"],
  // A float feature stores lower precision by definition: doubles are accepted and rounded to float.
  float: ["float", "double", "int32"],
  // int64 only within ±2^53, where a double holds it exactly (checked below).
  double: ["double", "float", "int32", "int64"],
  bool: ["bool"],
  string: ["string"],
  bytes: ["bytes"],
  timestamp: ["timestamp"],
  int64_list: ["int64_list"],
  float_list: ["float_list", "double_list"],
  double_list: ["double_list", "float_list"],
  string_list: ["string_list"],
};

/** Whether values sent as `kind` are accepted for a declared `type` (a whole column's check). */
export function acceptsKind(type: ValueType, kind: ValueType): boolean {
  return ACCEPTED_KINDS[type].includes(kind);
}

/**
 * Converts a tagged value to a value of `type`, or explains why it cannot be one. Nulls are
 * accepted here; whether a null is allowed is the caller's decision (join keys forbid it).
 */
export function coerceValue(type: ValueType, tagged: TaggedValue, limits: ValueLimits): { value: FeatureValue } | { problem: string } {
  if (tagged.kind === "null") return { value: null };
  // An empty list carries no element type, so it fits any list type.
  const emptyList = Array.isArray(tagged.value) && tagged.value.length === 0 && type.endsWith("_list") && tagged.kind.endsWith("_list");
  if (!emptyList && !ACCEPTED_KINDS[type].includes(tagged.kind))
    return { problem: `expected ${withArticle(type)} value, got ${tagged.kind}` };
  const value = convert(type, tagged.value);
  if (typeof value === "string" && type !== "string") return { problem: value };
  const problem = describeOutOfBounds(value, limits);
  return problem ? { problem } : { value };
}

/** Smallest and largest event or timestamp value ClickHouse's DateTime64(6) holds: 1900-01-01 to 2262-04-11. */
export const MIN_TIME_MILLIS = Date.UTC(1900, 0, 1);
export const MAX_TIME_MILLIS = Date.UTC(2262, 3, 11);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Whether a bigint fits in int64. */
export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** Why a bigint outside int64 cannot be stored. */
export function int64Problem(value: bigint): string {
  return `${value} does not fit in int64`;
}

/** Why NaN or an infinity cannot be stored. */
export function nonFiniteProblem(value: number): string {
  return `${value} is not allowed; send null for a missing value`;
}

/** Converts an accepted value to the declared type; returns a problem text when it does not fit. */
function convert(type: ValueType, value: FeatureValue): FeatureValue {
  switch (type) {
    case "int64":
      if (typeof value === "number") return BigInt(value);
      return typeof value === "bigint" && !isInt64(value) ? int64Problem(value) : value;
    case "int64_list":
      return (value as bigint[]).some((v) => !isInt64(v)) ? "an element does not fit in int64" : value;
    case "double":
      if (typeof value === "bigint")
        return value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : `${value} cannot be held exactly by a double`;
      return value;
    case "float":
      return toFloat(value as number);
    case "float_list": {
      const floats = (value as number[]).map(toFloat);
      return floats.some((v) => typeof v === "string") ? "an element is outside the float range" : (floats as number[]);
    }
    default:
      return value;
  }
}

/** Rounds to float32 precision; a finite double beyond float32's range is refused, not turned into Infinity. */
function toFloat(value: number): number | string {
  const rounded = Math.fround(value);
  return Number.isFinite(value) && !Number.isFinite(rounded) ? `${value} is outside the float range` : rounded;
}

function describeOutOfBounds(value: FeatureValue, limits: ValueLimits): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return nonFiniteProblem(value);
  if (typeof value === "string") {
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > limits.maxStringBytes) return `string of ${bytes} bytes exceeds the limit of ${limits.maxStringBytes}`;
  }
  if (value instanceof Uint8Array && value.length > limits.maxBytesLength) {
    return `${value.length} bytes exceed the limit of ${limits.maxBytesLength}`;
  }
  if (value instanceof Date) {
    const millis = value.getTime();
    if (Number.isNaN(millis) || millis < MIN_TIME_MILLIS || millis > MAX_TIME_MILLIS)
      return "timestamp is outside 1900-01-01 .. 2262-04-11";
  }
  if (Array.isArray(value)) {
    if (value.length > limits.maxListLength) return `list of ${value.length} elements exceeds the limit of ${limits.maxListLength}`;
    for (const [i, element] of value.entries()) {
      if (typeof element === "number" && !Number.isFinite(element)) return `element ${i} is ${element}, which is not allowed`;
      if (typeof element === "string" && Buffer.byteLength(element, "utf8") > limits.maxStringBytes) {
        return `element ${i} exceeds the string limit of ${limits.maxStringBytes} bytes`;
      }
    }
  }
  return undefined;
}

/** "an int64", "a double": type names as a message reads them. */
function withArticle(type: ValueType): string {
  return `${type.startsWith("int") ? "an" : "a"} ${type}`;
}

/**
 * Whether a column holds a null or undefined, asked of the engine's own search: it reads arrays of
 * any kind alike, where a loop of ours reading doubles and objects at one place makes V8 box the
 * doubles (arrow-columns.ts, feature-writer.ts).
 */
export function hasNull(column: ArrayLike<unknown>): boolean {
  if (ArrayBuffer.isView(column)) return false;
  return Array.prototype.includes.call(column, null) || Array.prototype.includes.call(column, undefined);
}

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

/** Kinds a client may send for a declared type: the type itself, or a narrower one that widens exactly. */
const ACCEPTED_KINDS: Record<ValueType, readonly ValueType[]> = {
  int32: ["int32"],
  int64: ["int64", "int32"],
  // A float feature stores lower precision by definition, so doubles are accepted and rounded.
  float: ["float", "double", "int32"],
  double: ["double", "float", "int32"],
  bool: ["bool"],
  string: ["string"],
  bytes: ["bytes"],
  timestamp: ["timestamp"],
  int64_list: ["int64_list"],
  float_list: ["float_list", "double_list"],
  double_list: ["double_list", "float_list"],
  string_list: ["string_list"],
};

/**
 * Converts a tagged value to a value of `type`, or explains why it cannot be one. Nulls are
 * accepted here; whether a null is allowed is the caller's decision (join keys forbid it).
 */
export function coerceValue(type: ValueType, tagged: TaggedValue, limits: ValueLimits): { value: FeatureValue } | { problem: string } {
  if (tagged.kind === "null") return { value: null };
  if (!ACCEPTED_KINDS[type].includes(tagged.kind)) return { problem: `expected a ${type} value, got ${tagged.kind}` };
  const value = widen(type, tagged);
  const problem = describeOutOfBounds(value, limits);
  return problem ? { problem } : { value };
}

function widen(type: ValueType, tagged: TaggedValue): FeatureValue {
  if (type === "int64" && typeof tagged.value === "number") return BigInt(tagged.value);
  return tagged.value;
}

function describeOutOfBounds(value: FeatureValue, limits: ValueLimits): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return `${value} is not allowed; send null for a missing value`;
  if (typeof value === "string") {
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > limits.maxStringBytes) return `string of ${bytes} bytes exceeds the limit of ${limits.maxStringBytes}`;
  }
  if (value instanceof Uint8Array && value.length > limits.maxBytesLength) {
    return `${value.length} bytes exceed the limit of ${limits.maxBytesLength}`;
  }
  if (value instanceof Date && Number.isNaN(value.getTime())) return "timestamp is out of range";
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

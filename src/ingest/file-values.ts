/**
 * Raw values read from files -> tagged values of a declared type. Parquet values arrive typed
 * (numbers, bigints, Dates, byte arrays); CSV values arrive as text and are parsed by the type.
 * An empty CSV cell or a missing value is null.
 */
import type { FeatureValue, TaggedValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import type { ColumnInput } from "./model.js";

const INTEGER = /^[+-]?\d+$/;

/**
 * How a conversion problem names the value it could not convert: quoted, for values a client sent
 * in its own message (a Kafka event), or by kind only, for files, whose text a message must never
 * echo (a server-side file may be one the client could not otherwise read).
 */
export type ValueShown = (raw: unknown) => string;
/** `"abc"`. */
export const quotedValue: ValueShown = (raw) => `"${String(raw)}"`;
/** `a text value`: the value's kind, never its content. */
export const valueKind: ValueShown = (raw) =>
  typeof raw === "string"
    ? "a text value"
    : typeof raw === "number" || typeof raw === "bigint"
      ? "a number"
      : typeof raw === "boolean"
        ? "a boolean"
        : raw instanceof Uint8Array
          ? "a byte string"
          : raw instanceof Date
            ? "a date"
            : Array.isArray(raw)
              ? "a list"
              : "a value";

/** JavaScript kinds a file reader gives that a column of a declared type can take as they are. */
const NATIVE_KINDS: Partial<Record<ValueType, string>> = {
  double: "number",
  float: "number",
  int64: "bigint",
  string: "string",
  bool: "boolean",
};

/**
 * A raw file column as a writer column of `type`. A column whose values are already of the
 * type's JavaScript kind (numbers for doubles, bigints for int64, ...), as Parquet readers give
 * them, is passed through without touching each value; others are converted value by value, and
 * a value that cannot be converted is reported through `reject` and becomes null.
 */
export function fileColumnToInput(raw: ArrayLike<unknown>, type: ValueType, reject: (row: number, problem: string) => void): ColumnInput {
  const native = NATIVE_KINDS[type];
  let passThrough = native !== undefined;
  for (let row = 0; passThrough && row < raw.length; row++) {
    const value = raw[row];
    passThrough = value === null || value === undefined || typeof value === native;
  }
  if (passThrough) return { kind: type, values: raw as ArrayLike<FeatureValue> };
  return {
    tagged: Array.from({ length: raw.length }, (_, row): TaggedValue => {
      const tagged = fileValueToTagged(raw[row], type, valueKind);
      if (typeof tagged !== "string") return tagged;
      reject(row, tagged);
      return { kind: "null", value: null };
    }),
  };
}

/** Converts a raw file value to a value of `type`, or explains why it cannot be one (naming the value as `show` does). */
export function fileValueToTagged(raw: unknown, type: ValueType, show: ValueShown = quotedValue): TaggedValue | string {
  if (raw === null || raw === undefined || (typeof raw === "string" && raw.trim() === "")) return { kind: "null", value: null };
  switch (type) {
    case "int32":
    case "int64": {
      const value = typeof raw === "string" && INTEGER.test(raw.trim()) ? BigInt(raw.trim()) : raw;
      if (typeof value === "bigint") return type === "int64" ? { kind: "int64", value } : toInt32(value, show);
      if (typeof value === "number" && Number.isInteger(value))
        return type === "int64" ? { kind: "int64", value: BigInt(value) } : toInt32(BigInt(value), show);
      return `${show(raw)} is not an integer`;
    }
    case "float":
    case "double": {
      const value = typeof raw === "string" ? Number(raw.trim()) : typeof raw === "bigint" ? Number(raw) : raw;
      return typeof value === "number" && !Number.isNaN(value) ? { kind: "double", value } : `${show(raw)} is not a number`;
    }
    case "bool":
      if (typeof raw === "boolean") return { kind: "bool", value: raw };
      if (typeof raw === "string" && /^(true|false|1|0)$/i.test(raw.trim())) return { kind: "bool", value: /^(true|1)$/i.test(raw.trim()) };
      return `${show(raw)} is not a boolean`;
    case "string":
      return typeof raw === "string" ? { kind: "string", value: raw } : { kind: "string", value: String(raw) };
    case "bytes":
      if (raw instanceof Uint8Array) return { kind: "bytes", value: raw };
      if (typeof raw === "string") return { kind: "bytes", value: new Uint8Array(Buffer.from(raw, "base64")) };
      return "is not a byte string";
    case "timestamp": {
      const micros = fileTimeToMicros(raw, show);
      return typeof micros === "number" ? { kind: "timestamp", value: new Date(Math.floor(micros / 1000)) } : micros;
    }
    default:
      return listToTagged(raw, type, show);
  }
}

/**
 * A raw event time -> microseconds: a Date, an ISO-8601 text, or a number/bigint of epoch
 * microseconds (Parquet TIMESTAMP(MICROS) without a logical-type conversion).
 */
export function fileTimeToMicros(raw: unknown, show: ValueShown = quotedValue): number | string {
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? "is not a valid time" : raw.getTime() * 1000;
  if (typeof raw === "bigint") return Number(raw);
  if (typeof raw === "number" && Number.isFinite(raw)) return Math.trunc(raw);
  if (typeof raw === "string") {
    const text = raw.trim();
    if (INTEGER.test(text)) return Number(text);
    const fraction = /\.(\d{4,6})/.exec(text)?.[1];
    const millis = Date.parse(text);
    if (Number.isNaN(millis)) return `${show(raw)} is not an ISO-8601 time or epoch microseconds`;
    // Date.parse keeps milliseconds only; restore the microsecond digits when given.
    return millis * 1000 + (fraction ? Number(fraction.padEnd(6, "0").slice(3, 6)) : 0);
  }
  return `${show(raw)} is not a time`;
}

function toInt32(value: bigint, show: ValueShown): TaggedValue | string {
  return value >= -(2n ** 31n) && value < 2n ** 31n ? { kind: "int32", value: Number(value) } : `${show(value)} does not fit in int32`;
}

function listToTagged(raw: unknown, type: ValueType, show: ValueShown): TaggedValue | string {
  let list: unknown = raw;
  if (typeof raw === "string") {
    try {
      list = JSON.parse(raw);
    } catch {
      return `${show(raw.length > 40 ? raw.slice(0, 40) : raw)} is not a JSON list`;
    }
  }
  if (!Array.isArray(list)) return "is not a list";
  if (type === "string_list")
    return list.every((v) => typeof v === "string") ? { kind: "string_list", value: list } : "is not a list of strings";
  if (type === "int64_list") {
    if (!list.every((v) => typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v)))) return "is not a list of integers";
    return { kind: "int64_list", value: list.map((v) => BigInt(v as number | bigint)) };
  }
  if (!list.every((v) => typeof v === "number")) return "is not a list of numbers";
  return { kind: type === "float_list" ? "float_list" : "double_list", value: list as number[] };
}

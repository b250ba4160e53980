/**
 * Columnar write batches: one array per join key and per feature. Typed arrays map to their wire
 * form directly (Float64Array -> double, Float32Array -> float, Int32Array -> int32,
 * BigInt64Array -> int64); any other column names its type and may hold nulls.
 */

import type { ValueType as CoreValueType } from "../../../src/common/value-type.js";
import type { Column } from "../../../src/gen/sluice/v1/types.pb.js";
import { type PlainValue, toWireValue } from "./values.js";

/** The values of one column, entry i for row i. */
export type ColumnValues =
  | Float64Array
  | Float32Array
  | Int32Array
  | BigInt64Array
  | { type: CoreValueType; values: ArrayLike<PlainValue> };

/** A column as its wire form; nulls become `null_rows` with a placeholder entry. */
export function columnToWire(column: ColumnValues): Column {
  if (column instanceof Float64Array) return { doubleValues: { values: Array.from(column) }, nullRows: [] };
  if (column instanceof Float32Array) return { floatValues: { values: Array.from(column) }, nullRows: [] };
  if (column instanceof Int32Array) return { int32Values: { values: Array.from(column) }, nullRows: [] };
  if (column instanceof BigInt64Array) return { int64Values: { values: Array.from(column) }, nullRows: [] };
  const nullRows: number[] = [];
  const entries = <T>(placeholder: T, convert: (value: PlainValue) => T): T[] =>
    Array.from(column.values, (value, row) => {
      if (value === null || value === undefined) {
        nullRows.push(row);
        return placeholder;
      }
      return convert(value);
    });
  switch (column.type) {
    case "int32":
      return { int32Values: { values: entries(0, Number) }, nullRows };
    case "int64":
      return { int64Values: { values: entries(0n, (v) => BigInt(v as number | bigint)) }, nullRows };
    case "float":
      return { floatValues: { values: entries(0, Number) }, nullRows };
    case "double":
      return { doubleValues: { values: entries(0, Number) }, nullRows };
    case "bool":
      return { boolValues: { values: entries(false, Boolean) }, nullRows };
    case "string":
      return { stringValues: { values: entries("", String) }, nullRows };
    case "bytes":
      return { bytesValues: { values: entries(Buffer.alloc(0), (v) => Buffer.from(v as Uint8Array)) }, nullRows };
    case "timestamp":
      return { timestampMicrosValues: { values: entries(0n, (v) => BigInt((v as Date).getTime()) * 1000n) }, nullRows };
    default:
      // Lists: one value per row (a missing list is a null value).
      return { values: { values: Array.from(column.values, (value) => toWireValue(value ?? null)) }, nullRows: [] };
  }
}

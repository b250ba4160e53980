/**
 * The SQL vocabulary of the ClickHouse offline store, shared by its history tables and its
 * point-in-time joins: column types, identifiers and table names, and value formatting.
 */
import type { FeatureValue } from "../../common/feature-value.js";
import { mapInSlices } from "../../common/slices.js";
import type { ValueType } from "../../common/value-type.js";
import type { OfflineColumn, OfflineTable } from "./offline-store.js";

/** The ClickHouse column type of each value type. */
export const COLUMN_TYPES: Record<ValueType, string> = {
  int32: "Int32",
  int64: "Int64",
  float: "Float32",
  double: "Float64",
  bool: "Bool",
  string: "String",
  // Bytes are stored base64-encoded: JSON, the insert format, cannot carry raw bytes.
  bytes: "String",
  timestamp: "DateTime64(6, 'UTC')",
  int64_list: "Array(Int64)",
  float_list: "Array(Float32)",
  double_list: "Array(Float64)",
  string_list: "Array(String)",
};

/**
 * `sluice_{project}` and `{view}__v{version}`, or `{stream}__events_v{version}` for a stream's raw
 * events. Ids are lower snake case, so neither name is ambiguous, and they never collide: a history
 * table's name ends in `__v{n}`, an events table's in `s_v{n}`.
 */
export function tableNameParts(
  table: Pick<OfflineTable, "project" | "view" | "version" | "kind">,
  distributed: boolean,
): { database: string; name: string } {
  const name = table.kind === "events" ? `${table.view}__events_v${table.version}` : `${table.view}__v${table.version}`;
  return { database: `sluice_${table.project}`, name: `${name}${distributed ? "_all" : ""}` };
}

/** The table's name, database-qualified and quoted; `..._all` names the Distributed table of a cluster. */
export function qualifiedTableName(table: Pick<OfflineTable, "project" | "view" | "version" | "kind">, distributed = false): string {
  const { database, name } = tableNameParts(table, distributed);
  return `${quote(database)}.${quote(name)}`;
}

/** Lists cannot be Nullable in ClickHouse: a null list is stored as an empty one. */
export function nullableType(column: OfflineColumn): string {
  const type = COLUMN_TYPES[column.type];
  return type.startsWith("Array(") ? type : `Nullable(${type})`;
}

/** A quoted identifier. */
export function quote(identifier: string): string {
  return `\`${identifier.replace(/\\/g, "\\\\").replace(/`/g, "\\`")}\``;
}

/** A string literal of `text`. */
export function stringLiteral(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * Rows as JSONCompactEachRow text (one array per line), from one cell formatter per column, each
 * chosen once per column rather than per value. Rows are formatted in short slices ({@link mapInSlices}):
 * the logs flush batches of 1,000 rows and more.
 */
export async function compactRowsText(length: number, cells: ReadonlyArray<(row: number) => string>): Promise<string> {
  const rows = Array.from({ length }, (_, row) => row);
  const lines = await mapInSlices(rows, (row) => {
    let line = "[";
    for (let c = 0; c < cells.length; c++)
      line += c === 0 ? (cells[c] as (row: number) => string)(row) : `,${(cells[c] as (row: number) => string)(row)}`;
    return `${line}]\n`;
  });
  return lines.join("");
}

/** The cell formatter of microsecond times, which ClickHouse reads as DateTime64(6) ticks. */
export function jsonMicrosColumn(values: ArrayLike<number>): (row: number) => string {
  return (row) => String(values[row]);
}

/** A value as the JSON a query parameter or JSON row holds. */
export function toJsonValue(type: ValueType, value: FeatureValue): unknown {
  if (value === null) return type.endsWith("_list") ? [] : null;
  switch (type) {
    case "int64":
      return String(value);
    case "bytes":
      return Buffer.from(value as Uint8Array).toString("base64");
    case "timestamp":
      return (value as Date).getTime() * 1000;
    case "int64_list":
      return (value as bigint[]).map(String);
    default:
      return value;
  }
}

/** A JSON value read back from a query (Int64 as strings), as a value of `type`. */
export function fromJsonValue(type: ValueType, value: unknown): FeatureValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "int64":
      return BigInt(value as string);
    case "bytes":
      return new Uint8Array(Buffer.from(value as string, "base64"));
    case "timestamp":
      return new Date(Math.floor(parseMicros(value as string) / 1000));
    case "int64_list":
      return (value as string[]).map((v) => BigInt(v));
    default:
      return value as FeatureValue;
  }
}

/** Microseconds since the epoch -> "YYYY-MM-DD hh:mm:ss.ffffff" (UTC), as DateTime64(6) reads it. */
export function formatMicros(micros: number): string {
  const second = Math.floor(micros / 1_000_000);
  const iso = new Date(second * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros - second * 1_000_000).padStart(6, "0")}`;
}

/** "YYYY-MM-DD hh:mm:ss[.ffffff]" (UTC) -> microseconds since the epoch. */
export function parseMicros(text: string): number {
  const [seconds, fraction = ""] = text.split(".");
  const whole = Date.parse(`${(seconds ?? "").replace(" ", "T")}Z`);
  return whole * 1000 + Number(fraction.padEnd(6, "0").slice(0, 6));
}

/**
 * The SQL of windowed aggregates computed offline from raw events, as of every spine row's time,
 * by the window rule of docs/streaming.md (the same bounds as src/streams/window-rule.ts) and the
 * same aggregation results as src/streams/aggregations.ts: in the engine, one GROUP BY over the
 * spine joined to its entities' events, never a per-row loop in Node.
 */

import type { ValueType } from "../../common/value-type.js";
import type { AggregationKind } from "../../streams/aggregations.js";
import { HLL_MAX_RANK, HLL_PRECISION } from "../../streams/hyperloglog.js";
import { quote } from "./clickhouse-sql.js";
import { filterFieldNames, filterSql } from "./filter-sql.js";

/** One output column: an aggregation of an event field over a window. */
export interface WindowedColumn {
  kind: AggregationKind;
  field: string;
  fieldType: ValueType;
  /** last_n only. */
  k?: number;
  /** Undefined for lifetime. */
  windowMicros?: number;
  /** An aggregation filter (src/streams/filter.ts): only events it is true for count. */
  filter?: string;
  as: string;
}

/** A spine (spine_index, key columns, event_time) against a table of raw events. */
export interface WindowedJoin {
  /** Qualified spine table: spine_index, the key columns, event_time. */
  spineTable: string;
  /** Qualified events table: the key columns, event_time, ingestion_time, too_late and the fields. */
  eventsTable: string;
  keyColumns: string[];
  /** Every field of the events table with its type (filters may read any). */
  fields: Array<{ name: string; type: ValueType }>;
  /** Tile width of the stream, microseconds. */
  granularity: number;
  columns: WindowedColumn[];
  /**
   * Count only events ingested by the spine time and not too late: what a server reading online
   * at that time knew, so offline values equal the online ones exactly (the consistency check's mode).
   */
  knownAt: boolean;
}

const REGISTERS = 1 << HLL_PRECISION;
const HLL_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

/**
 * The SELECT: `spine_index` and one column per aggregation, one row per spine row, in spine order
 * (as a `subquery` of a larger join: in any order, with the settings left to the outer query).
 */
export function windowedAggregatesQuery(join: WindowedJoin, subquery = false): string {
  const keys = join.keyColumns.map(quote);
  const at = "s.__t";
  const counted = (column: WindowedColumn) => {
    const conditions = [`e.__t <= ${at}`];
    if (column.windowMicros !== undefined) conditions.push(`e.__t >= ${windowStartSql(at, column.windowMicros, join.granularity)}`);
    if (join.knownAt) conditions.push(`e.__i <= ${at}`, "e.__late = 0");
    // A filter that is null for an event (a null field) does not count it, as the online evaluator.
    if (column.filter) conditions.push(`ifNull(${filterSql(column.filter, join.fields, (name) => `e.${quote(name)}`)}, 0)`);
    return conditions.join(" AND ");
  };
  // As a subquery it is joined back to the spine on its own spine_index type.
  const select = [
    subquery ? "s.spine_index AS spine_index" : "toInt64(s.spine_index) AS spine_index",
    ...join.columns.map((c) => `${aggregateSql(c, counted(c))} AS ${quote(c.as)}`),
  ];
  const spine = `SELECT spine_index, ${keys.join(", ")}, toUnixTimestamp64Micro(event_time) AS __t FROM ${join.spineTable}`;
  const read = new Set(join.columns.flatMap((c) => [c.field, ...(c.filter ? filterFieldNames(c.filter) : [])]));
  const fields = join.fields.filter((f) => read.has(f.name)).map((f) => quote(f.name));
  const events =
    `SELECT ${[...keys, "toUnixTimestamp64Micro(event_time) AS __t", "toUnixTimestamp64Micro(ingestion_time) AS __i", "too_late AS __late", ...fields].join(", ")} ` +
    `FROM ${join.eventsTable}`;
  const on = keys.map((k) => `s.${k} = e.${k}`).join(" AND ");
  // Unmatched spine rows get NULL event columns (join_use_nulls), which no window condition counts.
  const query = `SELECT ${select.join(", ")} FROM (${spine}) AS s LEFT JOIN (${events}) AS e ON ${on} GROUP BY s.spine_index`;
  return subquery ? query : `${query} ORDER BY s.spine_index SETTINGS join_use_nulls = 1`;
}

/** `floor((t − W) / g) · g` in Int64 arithmetic (intDiv truncates towards zero; this floors). */
function windowStartSql(t: string, windowMicros: number, granularity: number): string {
  const shifted = `(${t} - ${windowMicros})`;
  return `((intDiv(${shifted}, ${granularity}) - if(${shifted} % ${granularity} < 0, 1, 0)) * ${granularity})`;
}

/** One aggregation of `e.{field}` over the events where `condition` holds. */
function aggregateSql(column: WindowedColumn, condition: string): string {
  const value = `e.${quote(column.field)}`;
  const present = `${condition} AND ${value} IS NOT NULL`;
  const integer = column.fieldType === "int32" || column.fieldType === "int64";
  const order = "(e.__t, e.__i)";
  switch (column.kind) {
    case "count":
      return `toInt64(countIf(${condition}))`;
    case "sum": {
      // An aggregate of a Nullable column is NULL over no rows; an empty sum is 0. An integer sum
      // outside int64 is null (as in src/streams/aggregations.ts), never wrapped.
      if (!integer) return `toFloat64(coalesce(sumKahanIf(toFloat64(${value}), ${present}), 0))`;
      const sum = `coalesce(sumIf(toInt128(${value}), ${present}), 0)`;
      return `if(${sum} < -9223372036854775808 OR ${sum} > 9223372036854775807, NULL, toInt64(${sum}))`;
    }
    case "mean": {
      const sum = integer ? `toFloat64(sumIf(toInt128(${value}), ${present}))` : `sumKahanIf(toFloat64(${value}), ${present})`;
      return `if(countIf(${present}) = 0, NULL, ${sum} / countIf(${present}))`;
    }
    case "variance":
      return `if(countIf(${present}) < 2, NULL, varSampStableIf(toFloat64(${value}), ${present}))`;
    case "stddev":
      return `if(countIf(${present}) < 2, NULL, stddevSampStableIf(toFloat64(${value}), ${present}))`;
    case "min":
      return `minIf(${value}, ${present})`;
    case "max":
      return `maxIf(${value}, ${present})`;
    // A tuple keeps a null value (argMin/argMax would skip it): the event's null is the answer.
    case "first":
      return `argMinIf(tuple(${value}), ${order}, ${condition}).1`;
    case "last":
      return `argMaxIf(tuple(${value}), ${order}, ${condition}).1`;
    case "last_n":
      return `arrayMap(x -> assumeNotNull(x.3), arraySlice(arrayReverseSort(groupArrayIf(tuple(e.__t, e.__i, ${value}), ${present})), 1, ${column.k ?? 1}))`;
    case "count_distinct":
      return hllEstimateSql(`maxMapIf([${hllIndexSql(value)}], [${hllRankSql(value)}], ${present})`);
  }
}

/** MurmurHash3 of the value's text, as src/streams/hyperloglog.ts hashes it. */
function hashSql(value: string): string {
  return `murmurHash3_32(toString(${value}))`;
}

function hllIndexSql(value: string): string {
  return `toUInt16(bitShiftRight(${hashSql(value)}, ${32 - HLL_PRECISION}))`;
}

/** The 1-based position of the first 1 in the hash's low 20 bits (21 when none): no clz in SQL, so a multiIf. */
function hllRankSql(value: string): string {
  const rest = `bitAnd(bitShiftLeft(toUInt64(${hashSql(value)}), ${HLL_PRECISION}), 4294967295)`;
  const branches: string[] = [];
  for (let rank = 1; rank < HLL_MAX_RANK; rank++) branches.push(`${rest} >= ${2 ** (32 - rank)}, ${rank}`);
  return `toUInt8(multiIf(${branches.join(", ")}, ${HLL_MAX_RANK}))`;
}

/** The estimate of src/streams/hyperloglog.ts from a (register -> rank) map, with the same double arithmetic. */
function hllEstimateSql(registers: string): string {
  const ranks = `(${registers}).2`;
  const zeros = `(${REGISTERS} - length(${ranks}))`;
  const scaledSum = `(arraySum(arrayMap(r -> bitShiftLeft(toUInt64(1), ${HLL_MAX_RANK} - r), ${ranks})) + ${zeros} * ${2 ** HLL_MAX_RANK})`;
  const raw = `((${HLL_ALPHA} * ${REGISTERS} * ${REGISTERS}) / (toFloat64(${scaledSum}) / ${2 ** HLL_MAX_RANK}))`;
  const estimate = `if(${raw} <= ${2.5 * REGISTERS} AND ${zeros} > 0, ${REGISTERS} * log(${REGISTERS} / ${zeros}), ${raw})`;
  return `toInt64(floor(${estimate} + 0.5))`;
}

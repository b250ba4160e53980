/**
 * A columnar spine sent as one Arrow IPC stream, the form the server reads fastest: it takes an
 * Arrow spine's typed arrays as they are, where packed protobuf columns decode into a bigint per key
 * and time (a 100k-row retrieval into Arrow: about 0.22 s from columns, 0.16 s from Arrow, 2026-11-28).
 */
import { makeData, makeVector, Table, TimestampMicrosecond, tableToIPC, Utf8, type Vector, vectorFromArray } from "apache-arrow";
import type { ColumnValues } from "./columns.js";
import type { SpineColumnsInput } from "./inputs.js";

/** The column of an Arrow spine that holds each row's time (proto/sluice/v1/training.proto, SpineBatch). */
const EVENT_TIME = "event_time";

/**
 * Whether every column of `columns` can go as Arrow (see {@link spineColumnsAsArrow}), before the
 * join keys are known: typed arrays, or strings without a null.
 */
export function arrowSpineCandidate(columns: SpineColumnsInput): boolean {
  return [...Object.values(columns.entityKey), ...Object.values(columns.extras ?? {})].every(fitsArrow);
}

/**
 * The spine's columns as one Arrow IPC stream, when it means exactly what the columns do; undefined
 * otherwise, and the columns then go as they are, so that the server reports what is wrong with them
 * in their own terms. An Arrow spine's join keys are found by name and its other columns are extras,
 * where the columns form reads only the join keys among `entityKey`: so every join key must be among
 * `entityKey` (the others there are left out, as the columns form ignores them), no extra may be named
 * like a join key or `event_time`, every column must be a typed array or strings without a null (a
 * column that cannot hold a null), and all must be as long as the times, each of them a valid Date.
 */
export function spineColumnsAsArrow(columns: SpineColumnsInput, joinKeys: readonly string[]): Uint8Array | undefined {
  const { entityKey, eventTimes } = columns;
  const extras = columns.extras ?? {};
  if (joinKeys.length === 0 || joinKeys.some((key) => !Object.hasOwn(entityKey, key) || Object.hasOwn(extras, key))) return undefined;
  if (Object.hasOwn(extras, EVENT_TIME)) return undefined;
  const length = eventTimes.length;
  const vectors: Record<string, Vector> = Object.create(null);
  for (const [name, column] of [...joinKeys.map((key) => [key, entityKey[key]] as const), ...Object.entries(extras)]) {
    const vector = column === undefined ? undefined : arrowVector(column);
    if (!vector || vector.length !== length) return undefined;
    vectors[name] = vector;
  }
  let micros: BigInt64Array;
  if (eventTimes instanceof BigInt64Array) micros = eventTimes;
  else {
    micros = new BigInt64Array(length);
    for (let row = 0; row < length; row++) {
      const millis = (eventTimes[row] as Date | undefined)?.getTime?.();
      if (millis === undefined || !Number.isFinite(millis)) return undefined;
      micros[row] = BigInt(millis) * 1000n;
    }
  }
  vectors[EVENT_TIME] = makeVector(makeData({ type: new TimestampMicrosecond("UTC"), length, data: micros }));
  return tableToIPC(new Table(vectors), "stream");
}

/** Whether a column goes as Arrow without a null: a typed array, or strings. */
function fitsArrow(column: ColumnValues): boolean {
  if (ArrayBuffer.isView(column)) return true;
  return column.type === "string" && Array.prototype.every.call(column.values, (value) => typeof value === "string");
}

/** A column as an Arrow vector without nulls (a typed array as it is, strings as Utf8), or undefined. */
function arrowVector(column: ColumnValues): Vector | undefined {
  if (!fitsArrow(column)) return undefined;
  return ArrayBuffer.isView(column) ? makeVector(column) : vectorFromArray(Array.from(column.values) as string[], new Utf8());
}

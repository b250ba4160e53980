/**
 * Checks a batch against a feature view version's schema, row by row or column by column. Both
 * forms produce the same checked rows; a row with any problem is reported with field paths and
 * never blocks the others. In the columnar form, a problem of a whole column (unknown, wrong
 * form, wrong length) is a malformed request and rejects the batch.
 */
import { coerceEntityKey, describeLongKey } from "../common/entity-key.js";
import { type FieldViolation, ValidationError } from "../common/errors.js";
import { acceptsKind, coerceValue, type FeatureValue, MIN_TIME_MILLIS, type ValueLimits } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import type { Entity, FeatureViewVersion } from "../registry/model.js";
import type { ColumnarRows, ColumnInput, RowInput } from "./model.js";

/** Limits a batch's rows must respect. */
export interface CheckLimits extends ValueLimits {
  /** Event times further in the future than this are rejected (clock skew allowance). */
  maxFutureSkewMs: number;
}

/** A row that passed: key values in join key order, features in the view's order. */
export interface CheckedRow {
  key: FeatureValue[];
  eventTime: number;
  features: FeatureValue[];
}

/** The outcome for one row. */
export type RowCheck = CheckedRow | { violations: FieldViolation[] };

/** What the checks need to know about the batch's target. */
export interface CheckTarget {
  view: FeatureViewVersion;
  entity: Entity;
  limits: CheckLimits;
  /** Now, in microseconds since the epoch (for the future-skew check). */
  nowMicros: number;
}

/** Checks one row sent as a message. */
export function checkRow(target: CheckTarget, row: RowInput, rowIndex: number): RowCheck {
  const { view, entity, limits } = target;
  const path = `rows[${rowIndex}]`;
  const violations: FieldViolation[] = [];
  const key = coerceEntityKey(entity.joinKeys, row.entityKey, `${path}.entity_key`, limits);
  if ("violations" in key) violations.push(...key.violations);
  const timeProblem = eventTimeProblem(target, row.eventTime);
  if (timeProblem) violations.push({ field: `${path}.event_time`, description: timeProblem });

  const features = view.features.map((feature) => {
    const tagged = row.features[feature.name];
    if (!tagged) return null;
    const coerced = coerceValue(feature.type, tagged, limits);
    if ("problem" in coerced) {
      violations.push({ field: `${path}.features["${feature.name}"]`, description: coerced.problem });
      return null;
    }
    return coerced.value;
  });
  for (const name of Object.keys(row.features)) {
    if (!view.features.some((f) => f.name === name)) {
      violations.push({ field: `${path}.features["${name}"]`, description: noSuchFeature(view, name) });
    }
  }
  if (violations.length > 0 || "violations" in key || row.eventTime === undefined) return { violations };
  return { key: key.values, eventTime: row.eventTime, features };
}

/** Checks a columnar batch: first its columns as a whole (throwing INVALID_ARGUMENT), then each row. */
export function checkColumns(target: CheckTarget, columns: ColumnarRows): RowCheck[] {
  const { view, entity, limits } = target;
  const rowCount = columns.eventTimes.length;
  const keyColumns = entity.joinKeys.map((k) => ({ ...k, field: `columns.entity_key["${k.name}"]`, column: columns.entityKey[k.name] }));
  const featureColumns = view.features.map((f) => ({ ...f, field: `columns.features["${f.name}"]`, column: columns.features[f.name] }));

  const malformed: FieldViolation[] = [];
  for (const key of keyColumns) {
    if (!key.column) malformed.push({ field: key.field, description: `join key "${key.name}" is required` });
  }
  for (const name of Object.keys(columns.entityKey)) {
    if (!entity.joinKeys.some((k) => k.name === name)) {
      malformed.push({
        field: `columns.entity_key["${name}"]`,
        description: `"${name}" is not a join key; expected ${entity.joinKeys.map((k) => k.name).join(", ")}`,
      });
    }
  }
  for (const name of Object.keys(columns.features)) {
    if (!view.features.some((f) => f.name === name))
      malformed.push({ field: `columns.features["${name}"]`, description: noSuchFeature(view, name) });
  }
  for (const { field, type, column } of [...keyColumns, ...featureColumns]) {
    if (!column) continue;
    const length = "tagged" in column ? column.tagged.length : column.values.length;
    if (length !== rowCount) malformed.push({ field, description: `has ${length} values for ${rowCount} event times` });
    if ("kind" in column && !acceptsKind(type, column.kind))
      malformed.push({ field, description: `expected ${type} values, got ${column.kind}` });
  }
  if (malformed.length > 0) throw new ValidationError("MALFORMED_COLUMNS", malformed);

  const checks: RowCheck[] = new Array(rowCount);
  for (let row = 0; row < rowCount; row++) {
    let violations: FieldViolation[] | undefined;
    const reject = (field: string, description: string) => {
      violations ??= [];
      violations.push({ field, description });
    };
    const key: FeatureValue[] = [];
    for (const { type, field, column, name } of keyColumns) {
      const value = coerceCell(type, column as ColumnInput, row, limits);
      if ("problem" in value) reject(`${field}[${row}]`, value.problem);
      else if (value.value === null) reject(`${field}[${row}]`, `join key "${name}" is required`);
      else key.push(value.value);
    }
    if (!violations) {
      const tooLong = describeLongKey(key);
      if (tooLong) reject(`columns.entity_key[${row}]`, tooLong);
    }
    const eventTime = columns.eventTimes[row] as number;
    const timeProblem = eventTimeProblem(target, eventTime);
    if (timeProblem) reject(`columns.event_time_micros[${row}]`, timeProblem);
    const features: FeatureValue[] = featureColumns.map(({ type, field, column }) => {
      if (!column) return null;
      const value = coerceCell(type, column, row, limits);
      if ("problem" in value) {
        reject(`${field}[${row}]`, value.problem);
        return null;
      }
      return value.value;
    });
    checks[row] = violations ? { violations } : { key, eventTime, features };
  }
  return checks;
}

/** One cell of a column, converted to `type` or with the problem why it cannot be. */
function coerceCell(type: ValueType, column: ColumnInput, row: number, limits: ValueLimits) {
  if ("tagged" in column) return coerceValue(type, column.tagged[row] ?? { kind: "null", value: null }, limits);
  const value = column.values[row] ?? null;
  return coerceValue(type, value === null ? { kind: "null", value } : { kind: column.kind, value }, limits);
}

function eventTimeProblem({ limits, nowMicros }: CheckTarget, eventTime: number | undefined): string | undefined {
  if (eventTime === undefined) return "is required";
  if (eventTime > nowMicros + limits.maxFutureSkewMs * 1000) {
    return `is more than ${limits.maxFutureSkewMs} ms in the future (${new Date(eventTime / 1000).toISOString()})`;
  }
  if (eventTime < MIN_TIME_MILLIS * 1000) return "is before 1900-01-01";
  return undefined;
}

function noSuchFeature(view: FeatureViewVersion, name: string): string {
  return `feature view ${view.name}@${view.version} has no feature "${name}"`;
}

/**
 * Checks a batch against a feature view version's schema, row by row or column by column. Both
 * forms produce the same checked rows; a row with any problem is reported with field paths and
 * never blocks the others. In the columnar form, a problem of a whole column (unknown, wrong
 * form, wrong length) is a malformed request and rejects the batch.
 */
import { coerceEntityKey, describeLongKey, encodeEntityKey } from "../common/entity-key.js";
import { type FieldViolation, ViolationCollector } from "../common/errors.js";
import {
  acceptsKind,
  coerceValue,
  type FeatureValue,
  int64Problem,
  isInt64,
  MIN_TIME_MILLIS,
  nonFiniteProblem,
  type TaggedValue,
  type ValueLimits,
} from "../common/feature-value.js";
import { HintBudget, unknownNameHint } from "../common/suggest.js";
import { NUMBER_VALUE_TYPES, type ValueType } from "../common/value-type.js";
import type { Entity, EventStreamVersion, FeatureViewVersion } from "../registry/model.js";
import { truncate } from "../registry/names.js";
import type { ColumnarRows, ColumnInput, RowInput, RowRejection } from "./model.js";

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
  createdTime?: number;
}

/** The outcome for one row. */
export type RowCheck = CheckedRow | { violations: FieldViolation[] };

/**
 * The schema a batch is checked against: a feature view version's features, or an event stream
 * version's fields, and how requests and messages name them.
 */
export interface BatchSchema {
  name: string;
  version: number;
  features: ReadonlyArray<{ name: string; type: ValueType }>;
  /** "feature view" or "event stream", for messages. */
  label: string;
  /** The request field holding the rows ("rows", "events") and the row field holding the values ("features", "fields"). */
  rowsField: string;
  valuesField: string;
}

const schemas = new WeakMap<object, BatchSchema>();

/** The schema of a definition version, made once per version object so per-schema caches hold. */
function schemaOf(definition: object, make: () => BatchSchema): BatchSchema {
  let schema = schemas.get(definition);
  if (!schema) {
    schema = make();
    schemas.set(definition, schema);
  }
  return schema;
}

/** The schema of a feature view version's rows. */
export function viewSchema(view: FeatureViewVersion): BatchSchema {
  return schemaOf(view, () => ({ ...view, label: "feature view", rowsField: "rows", valuesField: "features" }));
}

/** The schema of an event stream version's events. */
export function streamSchema(stream: EventStreamVersion): BatchSchema {
  return schemaOf(stream, () => ({
    ...stream,
    features: stream.fields,
    label: "event stream",
    rowsField: "events",
    valuesField: "fields",
  }));
}

/** What the checks need to know about the batch's target. */
export interface CheckTarget {
  view: BatchSchema;
  entity: Entity;
  limits: CheckLimits;
  /** Now, in microseconds since the epoch (for the future-skew check). */
  nowMicros: number;
}

/** Violations reported for one row; the others are counted in a final "… and N more" entry. */
export const MAX_ROW_VIOLATIONS = 20;

/**
 * What one batch check carries from row to row: a batch names the same unknown feature on every
 * row, and gets a "did you mean" for its first few unknown names only (suggestions cost time).
 */
class BatchNotes {
  readonly hints = new HintBudget();
  readonly hinted = new Map<string, string>();
}

/** Checks one row sent as a message. */
export function checkRow(target: CheckTarget, row: RowInput, rowIndex: number, notes = new BatchNotes()): RowCheck {
  const { view, entity, limits } = target;
  const path = `${view.rowsField}[${rowIndex}]`;
  const violations: FieldViolation[] = [];
  const key = coerceEntityKey(entity.joinKeys, row.entityKey, `${path}.entity_key`, limits);
  if ("violations" in key) violations.push(...key.violations);
  const timeProblem = eventTimeProblem(target, row.eventTime);
  if (timeProblem) violations.push({ field: `${path}.event_time`, description: timeProblem });
  const createdProblem = row.createdTime === undefined ? undefined : timeRangeProblem(target, row.createdTime);
  if (createdProblem) violations.push({ field: `${path}.created_time`, description: createdProblem });

  const features = view.features.map((feature) => {
    const tagged = row.features[feature.name];
    if (!tagged) return null;
    const coerced = coerceValue(feature.type, tagged, limits);
    if ("problem" in coerced) {
      violations.push({ field: `${path}.${view.valuesField}["${feature.name}"]`, description: coerced.problem });
      return null;
    }
    return coerced.value;
  });
  const known = featureNamesOf(view);
  let unlisted = 0;
  for (const name in row.features) {
    if (!Object.hasOwn(row.features, name) || known.has(name)) continue;
    // Past the row's cap, unknown names are only counted.
    if (violations.length < MAX_ROW_VIOLATIONS)
      violations.push({ field: `${path}.${view.valuesField}["${truncate(name)}"]`, description: noSuchFeature(view, name, notes) });
    else unlisted++;
  }
  if (violations.length > 0 || "violations" in key || row.eventTime === undefined) return { violations: capped(violations, unlisted) };
  return { key: key.values, eventTime: row.eventTime, features, createdTime: row.createdTime };
}

/**
 * What a batch check yields: the rows that passed, as columns in batch order (ready for both
 * stores), and why each other row did not.
 */
export interface CheckedBatch {
  /** Batch index of each accepted row, ascending. */
  rowIndexes: number[];
  /** Each accepted row's encoded entity key (the online store's key). */
  entityKeys: string[];
  /** Per join key, in the entity's order: the accepted rows' values. */
  keys: FeatureValue[][];
  eventTimes: number[];
  /**
   * Per feature, in the view's order: the accepted rows' values, null where null. A number column
   * of a columnar batch without nulls is a Float64Array.
   */
  features: Array<ArrayLike<FeatureValue>>;
  /** The accepted rows' created times, undefined where the server's receipt time applies. */
  createdTimes: Array<number | undefined>;
  rejections: RowRejection[];
}

/** Checks rows sent as messages, one by one. */
export function checkRows(target: CheckTarget, rows: readonly RowInput[]): CheckedBatch {
  const batch = emptyBatch(target);
  const notes = new BatchNotes();
  rows.forEach((row, index) => {
    const checked = checkRow(target, row, index, notes);
    if ("violations" in checked) batch.rejections.push({ rowIndex: index, violations: checked.violations });
    else {
      accept(batch, index, checked.key, checked.eventTime, checked.createdTime);
      for (const [f, value] of checked.features.entries()) (batch.features[f] as FeatureValue[]).push(value);
    }
  });
  return batch;
}

/** Checks a columnar batch: first its columns as a whole (throwing INVALID_ARGUMENT), then each row. */
export function checkColumns(target: CheckTarget, columns: ColumnarRows): CheckedBatch {
  const { view, entity, limits } = target;
  const rowCount = columns.eventTimes.length;
  const keyColumns = entity.joinKeys.map((k) => ({ ...k, field: `columns.entity_key["${k.name}"]`, column: columns.entityKey[k.name] }));
  const featureColumns = view.features.map((f) => ({ ...f, field: `columns.features["${f.name}"]`, column: columns.features[f.name] }));

  const malformed = new ViolationCollector();
  const notes = new BatchNotes();
  for (const key of keyColumns) {
    if (!key.column) malformed.add(key.field, `join key "${key.name}" is required`);
  }
  const joinKeyNames = new Set(entity.joinKeys.map((k) => k.name));
  for (const name of Object.keys(columns.entityKey)) {
    if (!joinKeyNames.has(name)) {
      malformed.add(
        `columns.entity_key["${truncate(name)}"]`,
        `"${truncate(name)}" is not a join key; expected ${entity.joinKeys.map((k) => k.name).join(", ")}`,
      );
    }
  }
  const known = featureNamesOf(view);
  for (const name of Object.keys(columns.features)) {
    if (!known.has(name)) malformed.add(`columns.features["${truncate(name)}"]`, noSuchFeature(view, name, notes));
  }
  const createdTimes = columns.createdTimes?.length ? columns.createdTimes : undefined;
  if (createdTimes && createdTimes.length !== rowCount) {
    malformed.add("columns.created_time_micros", `has ${createdTimes.length} values for ${rowCount} event times`);
  }
  for (const { field, type, column } of [...keyColumns, ...featureColumns]) {
    if (!column) continue;
    const length = "tagged" in column ? column.tagged.length : column.values.length;
    if (length !== rowCount) malformed.add(field, `has ${length} values for ${rowCount} event times`);
    if ("kind" in column && !acceptsKind(type, column.kind)) malformed.add(field, `expected ${type} values, got ${column.kind}`);
  }
  malformed.throwIfAny("MALFORMED_COLUMNS");

  const keyCells = keyColumns.map(({ type, column }) => cellReader(type, column as ColumnInput, limits));
  const featureCells = featureColumns.map(({ type, column }) => (column ? cellReader(type, column, limits) : undefined));
  const batch = emptyBatch(target);
  const key: FeatureValue[] = new Array(keyColumns.length);
  const problems = new RowProblems();
  // Plain loops and no closure per row: this runs once per row of a bulk load.
  for (let row = 0; row < rowCount; row++) {
    problems.reset();
    for (let k = 0; k < keyColumns.length; k++) {
      const { field, name } = keyColumns[k] as (typeof keyColumns)[number];
      const value = (keyCells[k] as CellReader)(row);
      if (value instanceof CellProblem) problems.add(`${field}[${row}]`, value.problem);
      else if (value === null) problems.add(`${field}[${row}]`, `join key "${name}" is required`);
      else key[k] = value;
    }
    if (!problems.any) {
      const tooLong = describeLongKey(key);
      if (tooLong) problems.add(`columns.entity_key[${row}]`, tooLong);
    }
    const eventTime = columns.eventTimes[row] as number;
    const timeProblem = eventTimeProblem(target, eventTime);
    if (timeProblem) problems.add(`columns.event_time_micros[${row}]`, timeProblem);
    const createdTime = createdTimes?.[row];
    const createdProblem = createdTime === undefined ? undefined : timeRangeProblem(target, createdTime);
    if (createdProblem) problems.add(`columns.created_time_micros[${row}]`, createdProblem);
    for (let f = 0; f < featureColumns.length; f++) {
      const value = featureCells[f]?.(row) ?? null;
      if (value instanceof CellProblem)
        problems.add(`${(featureColumns[f] as (typeof featureColumns)[number]).field}[${row}]`, value.problem);
    }
    if (problems.any) batch.rejections.push({ rowIndex: row, violations: problems.capped() });
    else accept(batch, row, key, eventTime, createdTime);
  }
  batch.features = featureColumns.map(({ type }, f) => {
    const cells = featureCells[f];
    if (!cells) return new Array<FeatureValue>(batch.rowIndexes.length).fill(null);
    return NUMBER_VALUE_TYPES.has(type)
      ? numberColumn(cells, batch.rowIndexes)
      : Array.from(batch.rowIndexes, (row) => cells(row) as FeatureValue);
  });
  return batch;
}

/**
 * The accepted rows' values of a number column (read again, as the row loop checked them): a
 * Float64Array when none is null, else an array. Built column by column, never by a loop pushing
 * into every column: such a loop, once a column has a null, makes V8's optimised code turn the
 * other columns' double arrays into arrays of boxed numbers, and the arrays made later at the same
 * place start boxed (measured: a 2 x 1M-row import boxed every value of both views from its second batch).
 */
function numberColumn(cells: CellReader, rows: readonly number[]): ArrayLike<FeatureValue> {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const value = cells(rows[i] as number);
    if (value === null) return Array.from(rows, (row) => cells(row) as FeatureValue);
    out[i] = value as number;
  }
  return out;
}

/** One row's violations as they are found: at most {@link MAX_ROW_VIOLATIONS} listed, the rest counted. */
class RowProblems {
  private violations: FieldViolation[] = [];
  private beyond = 0;

  get any(): boolean {
    return this.violations.length > 0;
  }

  reset(): void {
    if (this.violations.length > 0) this.violations = [];
    this.beyond = 0;
  }

  add(field: string, description: string): void {
    if (this.violations.length < MAX_ROW_VIOLATIONS) this.violations.push({ field, description });
    else this.beyond++;
  }

  capped(): FieldViolation[] {
    return capped(this.violations, this.beyond);
  }
}

/** A row's violations, at most {@link MAX_ROW_VIOLATIONS}, and an entry counting the rest (`unlisted` were counted, not listed). */
function capped(violations: FieldViolation[], unlisted: number): FieldViolation[] {
  const more = Math.max(0, violations.length - MAX_ROW_VIOLATIONS) + unlisted;
  if (more === 0) return violations;
  return [...violations.slice(0, MAX_ROW_VIOLATIONS), { field: "", description: `… and ${more} more violations in this row` }];
}

const featureNames = new WeakMap<BatchSchema, ReadonlySet<string>>();

/** The names of a schema's features, as a set: rows name features by the thousand. */
function featureNamesOf(view: BatchSchema): ReadonlySet<string> {
  let names = featureNames.get(view);
  if (!names) {
    names = new Set(view.features.map((f) => f.name));
    featureNames.set(view, names);
  }
  return names;
}

function emptyBatch({ view, entity }: CheckTarget): CheckedBatch {
  return {
    rowIndexes: [],
    entityKeys: [],
    keys: entity.joinKeys.map(() => []),
    eventTimes: [],
    features: view.features.map(() => []),
    createdTimes: [],
    rejections: [],
  };
}

/** Records an accepted row's index, key and times (its features are added by the caller). */
function accept(batch: CheckedBatch, rowIndex: number, key: readonly FeatureValue[], eventTime: number, createdTime: number | undefined) {
  batch.rowIndexes.push(rowIndex);
  batch.createdTimes.push(createdTime);
  batch.entityKeys.push(encodeEntityKey(key));
  for (let k = 0; k < key.length; k++) batch.keys[k]?.push(key[k] as FeatureValue);
  batch.eventTimes.push(eventTime);
}

/** Why a cell cannot be stored; a class, so a checked value can never be mistaken for one. */
class CellProblem {
  constructor(readonly problem: string) {}
}

/** Reads one row's cell of a column as a value of the column's declared type, or its problem. */
type CellReader = (row: number) => FeatureValue | CellProblem;

/**
 * The reader of one column. A column sent in its declared type (the common case) is checked by
 * a loop specialised to the type, which allocates nothing per valid cell; anything else goes
 * through {@link coerceValue}. Both say the same about every value.
 */
function cellReader(type: ValueType, column: ColumnInput, limits: ValueLimits): CellReader {
  const fromTagged = (tagged: TaggedValue) => {
    const coerced = coerceValue(type, tagged, limits);
    return "problem" in coerced ? new CellProblem(coerced.problem) : coerced.value;
  };
  if ("tagged" in column) return (row) => fromTagged(column.tagged[row] ?? { kind: "null", value: null });
  const { kind, values } = column;
  const general = (value: FeatureValue) => fromTagged(value === null ? { kind: "null", value } : { kind, value });
  if (kind === type && (type === "double" || type === "int32")) {
    return (row) => {
      const value = values[row] ?? null;
      if (typeof value !== "number") return general(value);
      return Number.isFinite(value) ? value : new CellProblem(nonFiniteProblem(value));
    };
  }
  if (kind === type && type === "int64") {
    return (row) => {
      const value = values[row] ?? null;
      if (typeof value !== "bigint") return general(value);
      return isInt64(value) ? value : new CellProblem(int64Problem(value));
    };
  }
  if (kind === type && type === "bool") {
    return (row) => {
      const value = values[row] ?? null;
      return typeof value === "boolean" ? value : general(value);
    };
  }
  return (row) => general(values[row] ?? null);
}

function eventTimeProblem(target: CheckTarget, eventTime: number | undefined): string | undefined {
  return eventTime === undefined ? "is required" : timeRangeProblem(target, eventTime);
}

/** Event and created times alike: from 1900 until the clock skew allowance ahead of now. */
function timeRangeProblem({ limits, nowMicros }: CheckTarget, micros: number): string | undefined {
  if (Number.isNaN(micros)) return "is not a time";
  if (micros > nowMicros + limits.maxFutureSkewMs * 1000) {
    return `is more than ${limits.maxFutureSkewMs} ms in the future (${describeMicros(micros)})`;
  }
  if (micros < MIN_TIME_MILLIS * 1000) return "is before 1900-01-01";
  return undefined;
}

/** A time as ISO-8601 when a Date can hold it (±275,760 years), else as microseconds. */
function describeMicros(micros: number): string {
  const date = new Date(micros / 1000);
  return Number.isNaN(date.getTime()) ? `${micros} µs since the epoch` : date.toISOString();
}

/** Why `name` is not a feature of `view`, with a "did you mean" while the batch's hint budget lasts. */
function noSuchFeature(view: BatchSchema, name: string, notes: BatchNotes): string {
  const item = view.valuesField === "fields" ? "field" : "feature";
  const plain = `${view.label} ${view.name}@${view.version} has no ${item} "${truncate(name)}"`;
  const known = notes.hinted.get(name);
  if (known !== undefined) return known;
  if (!notes.hints.take()) return plain;
  const hint = unknownNameHint(
    name,
    view.features.map((f) => f.name),
    view.valuesField,
  );
  const message = hint ? `${plain}; ${hint}` : plain;
  notes.hinted.set(name, message);
  return message;
}

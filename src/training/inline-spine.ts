/**
 * Spine rows a client streams in: checked batch by batch and appended to a stored spine, so a
 * spine of any size never sits in the server's memory. Extra columns (labels and the like) take
 * the type of their first non-null value and may appear in any batch; rows before it read null.
 */
import { ViolationCollector } from "../common/errors.js";
import {
  coerceValue,
  type FeatureValue,
  MAX_TIME_MILLIS,
  MIN_TIME_MILLIS,
  type TaggedValue,
  type ValueLimits,
} from "../common/feature-value.js";
import { COLUMN_ARRAY_TYPES, type ColumnArray, joinedArrays } from "../common/typed-arrays.js";
import type { ValueType } from "../common/value-type.js";
import type { ColumnInput } from "../ingest/model.js";
import type { OfflineColumn, OfflineStore, Spine, SpineColumns } from "../storage/offline/offline-store.js";
import { type ArrowSpineBatch, EVENT_TIME_COLUMN, readArrowSpine } from "./arrow-spine.js";
import type { SpineBatchInput } from "./model.js";

/** Violations reported for one bad batch; the rest are counted. */
const MAX_REPORTED_VIOLATIONS = 100;

/**
 * Checked rows are stored this many at a time at least (or at the end): each insert into the
 * engine has a fixed cost, which ten inserts of a client's 10,000-row batches paid ten times
 * (about half of storing a 100k-row spine, measured).
 */
const SPINE_INSERT_ROWS = 100_000;

/** What bounds an inline spine: its values' limits, and the rows one batch may hold (`limits.maxRowsPerBatch`). */
export type InlineSpineLimits = ValueLimits & { maxRowsPerBatch: number };

/** A batch as the writer checks it: as sent, or an Arrow batch read, its join keys named. */
type CheckedBatch = Exclude<SpineBatchInput, { arrowIpc: Uint8Array }> | { arrow: ArrowSpineBatch; keyNames: ReadonlySet<string> };

/** Appends inline spine batches to a stored spine; call {@link finish} after the last. */
export class InlineSpineWriter {
  private rowCount = 0;
  private pending: SpineColumns[] = [];
  private pendingRows = 0;

  constructor(
    private readonly offline: OfflineStore,
    private readonly spine: Spine,
    private readonly limits: InlineSpineLimits,
  ) {}

  /** Stores the rows checked and not yet stored. */
  async finish(): Promise<void> {
    if (this.pendingRows === 0) return;
    const batches = this.pending;
    const rows = concatenated(batches, this.pendingRows);
    this.pending = [];
    this.pendingRows = 0;
    await this.offline.appendSpine(this.spine, rows, this.rowCount);
    this.rowCount += rows.length;
  }

  /**
   * Checks a batch and queues it to be stored. INVALID_ARGUMENT (INVALID_SPINE_ROWS) for rows
   * without every join key or an event time, values of the wrong type, or an extra column whose
   * type changes; a rejected batch stores nothing.
   */
  async append(input: SpineBatchInput, batchIndex: number): Promise<void> {
    const path = `spine_batches[${batchIndex}]`;
    const batch: CheckedBatch =
      "arrowIpc" in input
        ? {
            arrow: readArrowSpine(input.arrowIpc, path, this.limits.maxRowsPerBatch),
            keyNames: new Set(this.spine.keyColumns.map((c) => c.name)),
          }
        : input;
    const { length, value: cell, time, extraNames, where } = cellsOf(batch, path);
    // Collected column by column, reported row by row.
    const problems: Array<{ row: number; field: string; description: string }> = [];
    const at = (row: number) => (field: string, description: string) => problems.push({ row, field, description });

    const keys = this.spine.keyColumns.map(
      (key) =>
        plainColumn(batch, "key", key.name, key.type, true, length) ??
        Array.from({ length }, (_, row): FeatureValue => {
          const tagged = cell("key", key.name, row);
          if (!tagged || tagged.kind === "null") {
            at(row)(where("key", key.name, row), `join key "${key.name}" is required`);
            return null;
          }
          return this.checked(key.type, tagged, where("key", key.name, row), at(row));
        }),
    );
    const eventTimes = new Float64Array(length);
    for (let row = 0; row < length; row++) {
      const micros = time(row);
      const problem = eventTimeProblem(micros);
      if (problem) at(row)(where("time", "", row), problem);
      else eventTimes[row] = micros as number;
    }

    const added: OfflineColumn[] = [];
    for (const name of extraNames) {
      if (this.spine.extraColumns.some((c) => c.name === name)) continue;
      if (this.spine.keyColumns.some((k) => k.name === name) || name === "event_time" || name === "spine_index") {
        at(-1)(where("extra", name, undefined), `"${name}" is a spine column of its own; rename the extra column`);
        continue;
      }
      const type = firstType(batch, name, length, cell);
      if (type) added.push({ name, type });
    }
    const extraColumns = [...this.spine.extraColumns, ...added];
    const extras = extraColumns.map(
      ({ name, type }) =>
        plainColumn(batch, "extra", name, type, false, length) ??
        Array.from({ length }, (_, row): FeatureValue => {
          const tagged = cell("extra", name, row);
          return tagged ? this.checked(type, tagged, where("extra", name, row), at(row)) : null;
        }),
    );
    const v = new ViolationCollector();
    for (const { field, description } of problems.sort((a, b) => a.row - b.row).slice(0, MAX_REPORTED_VIOLATIONS))
      v.add(field, description);
    if (problems.length > MAX_REPORTED_VIOLATIONS)
      v.add(`spine_batches[${batchIndex}]`, `and ${problems.length - MAX_REPORTED_VIOLATIONS} more problems`);
    v.throwIfAny("INVALID_SPINE_ROWS");

    if (added.length > 0) {
      // Rows queued before the new columns are stored without them (they read null there).
      await this.finish();
      await this.offline.addSpineColumns(this.spine, added);
    }
    this.pending.push({ length, keys, eventTimes, extras });
    this.pendingRows += length;
    if (this.pendingRows >= SPINE_INSERT_ROWS) await this.finish();
  }

  private checked(type: ValueType, tagged: TaggedValue, field: string, reject: (field: string, description: string) => void): FeatureValue {
    const coerced = coerceValue(type, tagged, this.limits);
    if ("problem" in coerced) {
      reject(field, coerced.problem);
      return null;
    }
    return coerced.value;
  }
}

/** Batches of rows with the same columns as one. */
function concatenated(batches: readonly SpineColumns[], length: number): SpineColumns {
  const [first] = batches;
  if (batches.length === 1 && first) return first;
  const join = <T>(column: (batch: SpineColumns) => ArrayLike<T>): ArrayLike<T> => {
    const typed = sameTypedArrays(batches.map(column));
    // Columns of typed arrays (an Arrow spine's) stay one: no value made per cell.
    if (typed) return joinedArrays(typed.type, typed.arrays, length) as unknown as ArrayLike<T>;
    const out = new Array<T>(length);
    let at = 0;
    for (const batch of batches) {
      const values = column(batch);
      for (let i = 0; i < batch.length; i++) out[at++] = values[i] as T;
    }
    return out;
  };
  return {
    length,
    keys: (first?.keys ?? []).map((_, k) => join((b) => b.keys[k] ?? [])),
    eventTimes: join((b) => b.eventTimes),
    extras: (first?.extras ?? []).map((_, e) => join((b) => b.extras[e] ?? [])),
  };
}

/** The arrays and their one typed array type, when every one is of the same; undefined otherwise. */
function sameTypedArrays(
  arrays: ReadonlyArray<ArrayLike<unknown>>,
): { type: new (length: number) => ColumnArray; arrays: ColumnArray[] } | undefined {
  const type = COLUMN_ARRAY_TYPES.find((t) => arrays[0] instanceof t);
  if (!type || !arrays.every((array) => array instanceof type)) return undefined;
  return { type, arrays: arrays as ColumnArray[] };
}

type Part = "key" | "time" | "extra";
type ValueReader = (part: "key" | "extra", name: string, row: number) => TaggedValue | undefined;

/** One batch as cell readers, whichever form it came in, and the field path of each cell. */
function cellsOf(batch: CheckedBatch, path: string) {
  if ("rows" in batch) {
    const { rows } = batch;
    const extraNames = [...new Set(rows.flatMap((row) => Object.keys(row.extras)))];
    return {
      length: rows.length,
      extraNames,
      value: ((part, name, row) => ownValue(part === "key" ? rows[row]?.entityKey : rows[row]?.extras, name)) as ValueReader,
      time: (row: number) => rows[row]?.eventTime,
      where: (part: Part, name: string, row: number | undefined) => {
        const at = `${path}.rows[${row ?? 0}]`;
        return part === "time" ? `${at}.event_time` : `${at}.${part === "key" ? "entity_key" : "extra_columns"}["${name}"]`;
      },
    };
  }
  const read = (column: ColumnInput | undefined, row: number): TaggedValue | undefined => {
    if (!column) return undefined;
    if ("tagged" in column) return column.tagged[row];
    const value = column.values[row] ?? null;
    return value === null ? { kind: "null", value } : { kind: column.kind, value };
  };
  if ("arrow" in batch) {
    const { arrow, keyNames } = batch;
    const at = `${path}.arrow_ipc`;
    return {
      length: arrow.length,
      extraNames: Object.keys(arrow.columns).filter((name) => !keyNames.has(name)),
      value: ((part, name, row) => read(columnarColumn(batch, part, name), row)) as ValueReader,
      time: (row: number) => arrow.eventTimes?.[row],
      where: (part: Part, name: string, row: number | undefined) => {
        const column = `${at}["${part === "time" ? EVENT_TIME_COLUMN : name}"]`;
        return row === undefined ? column : `${column}[${row}]`;
      },
    };
  }
  const { columns } = batch;
  return {
    length: columns.eventTimes.length,
    extraNames: Object.keys(columns.extras),
    value: ((part, name, row) => read(columnarColumn(batch, part, name), row)) as ValueReader,
    time: (row: number) => columns.eventTimes[row] as number | undefined,
    where: (part: Part, name: string, row: number | undefined) => {
      if (part === "time") return `${path}.columns.event_time_micros[${row ?? 0}]`;
      const column = `${path}.columns.${part === "key" ? "entity_key" : "extra_columns"}["${name}"]`;
      return row === undefined ? column : `${column}[${row}]`;
    },
  };
}

/** Column kinds whose values need no conversion when they are of the column's type, by the JavaScript type of their values. */
const PLAIN_KINDS: Partial<Record<ValueType, "number" | "bigint" | "boolean">> = {
  int32: "number",
  int64: "bigint",
  double: "number",
  bool: "boolean",
};

/**
 * A columnar batch's column whose values can be taken as they are: of the spine column's own
 * type, a plain kind, one per row, every value finite (and present, when `required`). Undefined otherwise, and
 * the column is then checked cell by cell, which names each problem. Sparing a 100k-row spine
 * its per-cell checks saves most of the time it takes to store.
 */
function plainColumn(
  batch: CheckedBatch,
  part: "key" | "extra",
  name: string,
  type: ValueType,
  required: boolean,
  length: number,
): ArrayLike<FeatureValue> | undefined {
  const column = columnarColumn(batch, part, name);
  const plain = PLAIN_KINDS[type];
  if (!column || !("kind" in column) || column.kind !== type || !plain || column.values.length !== length) return undefined;
  const { values } = column;
  // A typed array of the type holds no nulls, and only doubles can be other than finite.
  if ((type === "int64" && values instanceof BigInt64Array) || (type === "int32" && values instanceof Int32Array)) return values;
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (value === null || value === undefined) {
      if (required) return undefined;
    } else if (typeof value !== plain || (typeof value === "number" && !Number.isFinite(value))) return undefined;
  }
  return values;
}

/** A columnar batch's column (either columnar form); undefined for rows or a column not sent. */
function columnarColumn(batch: CheckedBatch, part: "key" | "extra", name: string): ColumnInput | undefined {
  if ("arrow" in batch) return ownValue(batch.arrow.columns, name);
  if ("columns" in batch) return ownValue(part === "key" ? batch.columns.entityKey : batch.columns.extras, name);
  return undefined;
}

/** `record[name]` when the record itself has it: a join key named "constructor" is not Object's. */
function ownValue<T>(record: Record<string, T> | undefined, name: string): T | undefined {
  return record && Object.hasOwn(record, name) ? record[name] : undefined;
}

/** The type of a new extra column: its declared column kind, else its first non-null value's kind. */
function firstType(batch: CheckedBatch, name: string, length: number, cell: ValueReader): ValueType | undefined {
  const column = columnarColumn(batch, "extra", name);
  if (column && "kind" in column) return column.kind;
  for (let row = 0; row < length; row++) {
    const tagged = cell("extra", name, row);
    if (tagged && tagged.kind !== "null") return tagged.kind;
  }
  return undefined;
}

function eventTimeProblem(micros: number | undefined): string | undefined {
  if (typeof micros !== "number") return "is required";
  if (micros < MIN_TIME_MILLIS * 1000 || micros > MAX_TIME_MILLIS * 1000) return "is outside 1900-01-01 .. 2262-04-11";
  return undefined;
}

/**
 * Point-in-time joins in the server's own memory: an inline spine held as the client sent it,
 * joined against held histories (held-history.ts) with a hash lookup and a binary search per
 * spine row and view, and written as Arrow chunks of the same columns and types as the engine's
 * join. It takes the rule of {@link PointInTimeJoin} as it is: the history row of the spine row's
 * entity with the greatest event time not above the spine time, of those the latest ingested
 * (the rows are held in that order, so it is the last one not above), null when it is older than
 * the TTL. Joins with aggregation views or `excludeLateIngested` run in the engine.
 */
import { Field, List, type Vector, vectorFromArray } from "apache-arrow";
import type { FeatureValue } from "../../common/feature-value.js";
import { ARROW_TYPE_OF, fixedWidthVector, int64Vector, microsVector, recordBatchIpc, valuesVector } from "./arrow-columns.js";
import {
  type EntityIndex,
  type EntityKeyValue,
  entityKeyReader,
  type HeldBlock,
  type HeldColumn,
  type HeldHistory,
  int64EntityKeys,
} from "./held-history.js";
import {
  type ArrowChunk,
  type OfflineColumn,
  type PointInTimeJoin,
  type Spine,
  type SpineColumns,
  type SpineJoinPreview,
  viewFeatureColumns,
} from "./offline-store.js";

/** Rows per Arrow chunk of a result, about the engine's block size. */
const CHUNK_ROWS = 65_536;

/** About the most memory the spines held in a store may take together, and what they take now ({@link heldBytes}). */
export interface HeldSpineBudget {
  maxBytes: number;
  bytes: number;
}

/** An inline spine's rows, held until its join: batches in spine order, each with the extra columns it had. */
export class HeldSpine {
  private readonly batches: Array<{ rows: SpineColumns; firstIndex: number; extras: number }> = [];
  /** Rows held. */
  length = 0;
  /** About the memory its values take, counted in its budget until {@link release}. */
  bytes = 0;

  /** At most `maxRows` rows, within what `budget` has left: a spine that grows beyond is stored in the engine instead. */
  constructor(
    readonly maxRows: number,
    private readonly budget: HeldSpineBudget,
  ) {}

  /**
   * Holds a batch whose values fill the spine's first `extras` extra columns, when the spine then
   * stays within its rows and its budget; false, holding nothing, when it would not.
   */
  add(rows: SpineColumns, firstIndex: number, extras: number): boolean {
    const bytes = heldBytes(rows);
    if (this.length + rows.length > this.maxRows || this.budget.bytes + bytes > this.budget.maxBytes) return false;
    this.batches.push({ rows, firstIndex, extras });
    this.length += rows.length;
    this.bytes += bytes;
    this.budget.bytes += bytes;
    return true;
  }

  /** Gives its bytes back to its budget, once the store lets go of it (stored, dropped, closed). */
  release(): void {
    this.budget.bytes -= this.bytes;
    this.bytes = 0;
  }

  /** The held batches, each with every extra column of `spine` (null where it had none). */
  *columns(spine: Spine): Generator<{ rows: SpineColumns; firstIndex: number }> {
    for (const { rows, firstIndex, extras } of this.batches) {
      const missing = spine.extraColumns.slice(extras).map(() => new Array<FeatureValue>(rows.length).fill(null));
      yield { rows: missing.length === 0 ? rows : { ...rows, extras: [...rows.extras, ...missing] }, firstIndex };
    }
  }
}

/**
 * About the memory a batch of spine rows takes: its typed arrays' bytes, 8 bytes a value in other
 * columns, and a text's, bytes' or list's own length beside (a bound on what a client's extra
 * columns make the server hold, where rows alone say nothing: 64 KiB texts are allowed).
 */
function heldBytes(rows: SpineColumns): number {
  let bytes = 0;
  for (const column of [...rows.keys, rows.eventTimes, ...rows.extras]) {
    if (ArrayBuffer.isView(column)) {
      bytes += column.byteLength;
      continue;
    }
    bytes += 8 * column.length;
    for (let i = 0; i < column.length; i++) {
      const value = column[i];
      if (typeof value === "string") bytes += value.length;
      else if (value instanceof Uint8Array) bytes += value.byteLength;
      else if (Array.isArray(value)) bytes += 8 * value.length;
    }
  }
  return bytes;
}

/**
 * Whether a join (or the preview of one) can run in memory at all: no aggregation views, no
 * knowledge-time rule, some view.
 */
export function joinsWithoutEngine(join: PointInTimeJoin | SpineJoinPreview): boolean {
  const aggregates = "spine" in join ? (join.windows ?? []).length > 0 : join.aggregates;
  const views = "spine" in join ? join.views.length : join.tables.length;
  return !aggregates && !join.excludeLateIngested && views > 0;
}

/**
 * The result of a join over a held spine and its views' held histories (in `join.views` order),
 * in spine order, as Arrow chunks; `aborted` stops it between chunks.
 */
export function* joinHeld(
  join: PointInTimeJoin,
  spine: HeldSpine,
  histories: readonly HeldHistory[],
  aborted: () => boolean,
): Generator<ArrowChunk> {
  const fields = [...spineOutputFields(join), ...featureFields(join, histories)];
  for (const { rows, firstIndex } of spine.columns(join.spine)) {
    for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
      if (aborted()) return;
      const to = Math.min(rows.length, from + CHUNK_ROWS);
      const keysByColumns = new Map<string, EntityKeyValue[]>();
      const matches = join.views.map(({ table, ttlMicros }, v) => {
        const signature = table.keyColumns.map((c) => c.name).join("\u0000");
        let keys = keysByColumns.get(signature);
        if (!keys) {
          keys = entityKeysOf(rows, from, to, join.spine.keyColumns, table.keyColumns);
          keysByColumns.set(signature, keys);
        }
        return matchRows(rows, from, keys, histories[v] as HeldHistory, ttlMicros);
      });
      const gatheredByView = matches.map((viewMatches, v) =>
        gatheredColumns(histories[v] as HeldHistory, viewFeatureColumns(join, v), viewMatches),
      );
      const columns: Vector[] = [
        ...spineOutputColumns(join, rows, firstIndex, from, to),
        ...join.features.map((feature) => {
          if (!("view" in feature)) throw new Error("aggregation views are joined by the engine");
          return gatheredByView[feature.view]?.get(feature.column) as Vector;
        }),
      ];
      yield { ipc: recordBatchIpc(fields, columns, to - from), rows: to - from };
    }
  }
}

/** A result's own spine columns for a run of its rows: what is written before the features. */
export interface SpineOutput {
  fields: Field[];
  vectors: Vector[];
  length: number;
}

/** A held spine's own result columns, in spine order, a chunk of rows at a time. */
export function* heldSpineOutput(join: PointInTimeJoin, spine: HeldSpine): Generator<SpineOutput> {
  const fields = spineOutputFields(join);
  for (const { rows, firstIndex } of spine.columns(join.spine)) {
    for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
      const to = Math.min(rows.length, from + CHUNK_ROWS);
      yield { fields, vectors: spineOutputColumns(join, rows, firstIndex, from, to), length: to - from };
    }
  }
}

/**
 * The fields of a result's own spine columns, as the engine writes them: `spine_index` when asked,
 * keys and event time (not null), extra columns.
 */
function spineOutputFields(join: PointInTimeJoin): Field[] {
  return [
    ...(join.withSpineIndex ? [new Field("spine_index", ARROW_TYPE_OF.int64(), false)] : []),
    ...join.spine.keyColumns.map((c) => new Field(c.name, ARROW_TYPE_OF[c.type](), false)),
    new Field("event_time", ARROW_TYPE_OF.timestamp(), false),
    ...join.spine.extraColumns.map((c) => new Field(c.name, ARROW_TYPE_OF[c.type](), true)),
  ];
}

/** A result's own spine columns ({@link spineOutputFields}) for rows [from, to) of a held batch whose first row is spine row `firstIndex`. */
function spineOutputColumns(join: PointInTimeJoin, rows: SpineColumns, firstIndex: number, from: number, to: number): Vector[] {
  return [
    ...(join.withSpineIndex ? [int64Vector(Float64Array.from({ length: to - from }, (_, i) => firstIndex + from + i))] : []),
    ...join.spine.keyColumns.map((c, k) => valuesVector(c.type, slice(rows.keys[k], from, to))),
    microsVector(slice(rows.eventTimes, from, to)),
    ...join.spine.extraColumns.map((c, e) => valuesVector(c.type, slice(rows.extras[e], from, to))),
  ];
}

/** The result's feature fields: of the held histories' own types. */
function featureFields(join: PointInTimeJoin, histories: readonly HeldHistory[]): Field[] {
  return join.features.map((feature) => {
    const type = "view" in feature ? histories[feature.view]?.features.get(feature.column)?.type : undefined;
    if (!type) throw new Error(`held history lacks feature column ${feature.column}`);
    return new Field(feature.as, type, true);
  });
}

/** Each row's entity key for a view's key columns, read once per chunk for the views that share them. */
function entityKeysOf(
  rows: SpineColumns,
  from: number,
  to: number,
  spineKeys: readonly OfflineColumn[],
  viewKeys: readonly OfflineColumn[],
) {
  const columns = viewKeys.map((key) => rows.keys[spineKeys.findIndex((c) => c.name === key.name)] ?? []);
  const [only] = columns;
  // An Arrow spine's int64 key, the usual one, is read without a bigint per row.
  if (columns.length === 1 && only instanceof BigInt64Array) return int64EntityKeys(only, from, to);
  const keyOf = entityKeyReader(columns.map((values) => (row: number) => values[row]));
  return Array.from({ length: to - from }, (_, i) => keyOf(from + i));
}

/** A view's matches for a chunk of spine rows, and the order to visit them in. */
interface ViewMatches {
  /** Per spine row, the held history row it sees, or -1. */
  rows: Int32Array;
  /**
   * The spine rows with a match, by entity: their history rows then come nearly in order, so
   * reading them runs along memory instead of jumping.
   */
  order: Int32Array;
  /** The validity bitmap of a column without nulls: the rows with a match. */
  matched: Uint8Array;
}

/**
 * Per spine row in [from, to) (keyed by `keys`), the held history row it sees, or -1: the entity's
 * last row with an event time not above the spine time, unless the TTL has passed it.
 */
function matchRows(
  rows: SpineColumns,
  from: number,
  keys: readonly EntityKeyValue[],
  history: HeldHistory,
  ttlMicros: number,
): ViewMatches {
  const { entities, starts, ends, times } = history;
  const found = new Int32Array(keys.length).fill(-1);
  const { ordinals, sorted: byEntity } = rowsByEntity(keys, entities);
  let matched = 0;
  for (let j = 0; j < byEntity.length; j++) {
    const i = byEntity[j] as number;
    const entity = ordinals[i] as number;
    const time = rows.eventTimes[from + i] as number;
    const first = starts[entity] as number;
    let low = first;
    let high = ends[entity] as number;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((times[middle] as number) <= time) low = middle + 1;
      else high = middle;
    }
    const last = low - 1;
    if (last >= first && (ttlMicros <= 0 || (times[last] as number) >= time - ttlMicros)) {
      found[i] = last;
      byEntity[matched++] = i;
    }
  }
  const order = byEntity.subarray(0, matched);
  const bitmap = new Uint8Array((keys.length + 7) >> 3);
  for (let j = 0; j < order.length; j++) {
    const row = order[j] as number;
    bitmap[row >> 3] = (bitmap[row >> 3] as number) | (1 << (row & 7));
  }
  return { rows: found, order, matched: bitmap };
}

/** Each row's entity ordinal (-1: no history), and the rows with one sorted by it (a counting sort). */
function rowsByEntity(keys: readonly EntityKeyValue[], entities: EntityIndex): { ordinals: Int32Array; sorted: Int32Array } {
  const ordinals = new Int32Array(keys.length);
  const firstOf = new Int32Array(entities.size + 1);
  let known = 0;
  for (let i = 0; i < keys.length; i++) {
    const ordinal = entities.ordinalOf(keys[i] as EntityKeyValue);
    ordinals[i] = ordinal;
    if (ordinal >= 0) {
      firstOf[ordinal + 1] = (firstOf[ordinal + 1] as number) + 1;
      known++;
    }
  }
  for (let ordinal = 1; ordinal < firstOf.length; ordinal++)
    firstOf[ordinal] = (firstOf[ordinal] as number) + (firstOf[ordinal - 1] as number);
  const sorted = new Int32Array(known);
  for (let i = 0; i < keys.length; i++) {
    const ordinal = ordinals[i] as number;
    if (ordinal < 0) continue;
    const at = firstOf[ordinal] as number;
    sorted[at] = i;
    firstOf[ordinal] = at + 1;
  }
  return { ordinals, sorted };
}

/** A view's feature columns at the matched rows, by name: a block's columns are read a row at a time. */
function gatheredColumns(history: HeldHistory, names: readonly string[], matches: ViewMatches): Map<string, Vector> {
  const out = new Map<string, Vector>();
  const byBlock = new Map<HeldBlock, Array<{ name: string; column: HeldColumn & { offset: number } }>>();
  for (const name of names) {
    const column = history.features.get(name);
    if (!column) throw new Error(`held history lacks feature column ${name}`);
    if ("vector" in column) out.set(name, gatheredVector(column, matches));
    else byBlock.set(column.block, [...(byBlock.get(column.block) ?? []), { name, column }]);
  }
  for (const [block, members] of byBlock) {
    const vectors = gatheredBlock(
      block,
      members.map((m) => m.column),
      matches,
    );
    for (const [k, { name }] of members.entries()) out.set(name, vectors[k] as Vector);
  }
  return out;
}

/** Columns of a block at the matched rows, null where a row has no match (or its value is null). */
function gatheredBlock(block: HeldBlock, columns: ReadonlyArray<HeldColumn & { offset: number }>, matches: ViewMatches): Vector[] {
  const { values, width } = block;
  const { rows: at, order, matched } = matches;
  const length = at.length;
  const arrayType = values.constructor as new (length: number) => Float64Array;
  const outs = columns.map(() => new arrayType(length));
  const offsets = Int32Array.from(columns, (c) => c.offset);
  // A column at a time: a loop over the row's columns inside the loop over rows ran at half this
  // speed (each row's reads waited for the one before; 31-44 against 18-19 ns a value, measured).
  for (let k = 0; k < offsets.length; k++) {
    const out = outs[k] as Float64Array;
    const offset = offsets[k] as number;
    for (let row = 0; row < length; row++) {
      const from = at[row] as number;
      if (from >= 0) out[row] = values[from * width + offset] as number;
    }
  }
  return columns.map(({ type, valid }, k) => {
    const out = outs[k] as Float64Array;
    if (!valid) return fixedWidthVector(type, out, length - order.length, matched);
    const bitmap = new Uint8Array(matched.length);
    let present = 0;
    for (let j = 0; j < order.length; j++) {
      const row = order[j] as number;
      if (valid[at[row] as number] === 0) continue;
      bitmap[row >> 3] = (bitmap[row >> 3] as number) | (1 << (row & 7));
      present++;
    }
    return fixedWidthVector(type, out, length - present, bitmap);
  });
}

/** A column read through its vector at the matched rows (null, or an empty list, where a row has no match). */
function gatheredVector(column: HeldColumn & { vector: Vector }, matches: ViewMatches): Vector {
  const { type, vector } = column;
  const list = type instanceof List;
  const cells = Array.from(matches.rows, (from) => {
    const value = from < 0 ? null : vector.get(from);
    if (list) return value === null ? [] : [...(value as Iterable<unknown>)];
    return value;
  });
  return vectorFromArray(cells, type);
}

/**
 * Rows [from, to) of a spine column: a view of a typed array (an Arrow spine's keys, times and
 * numbers), which the Arrow vectors take as they are, and a copy of an array of values.
 * (Array.prototype.slice on a typed array made a JS array, a bigint per int64 cell.)
 */
function slice<T>(values: ArrayLike<T> | undefined, from: number, to: number): ArrayLike<T> {
  if (ArrayBuffer.isView(values)) return (values as unknown as Float64Array).subarray(from, to) as unknown as ArrayLike<T>;
  return Array.prototype.slice.call(values ?? [], from, to) as T[];
}

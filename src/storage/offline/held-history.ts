/**
 * Feature history held in the server's memory as columns, for point-in-time joins that need no
 * engine (memory-join.ts): one table's rows sorted by key, event time and ingestion time, with
 * where each entity's rows start and end. A {@link HeldHistoryCache} keeps the histories of the
 * tables joined lately, up to a number of rows, each labelled by the table's version (what its
 * parts say), so a write made by any process shows as a new version and the table is read again.
 */
import { type DataType, Int64, Type, tableFromIPC, type Vector, vectorFromArray } from "apache-arrow";
import type { FeatureValue } from "../../common/feature-value.js";
import { int64AsDouble, int64Halves, int64sAsDoubles } from "../../common/typed-arrays.js";
import type { OfflineTable } from "./offline-store.js";

/** An entity's key as a Map key: one column's value itself, several columns' as JSON text. */
export type EntityKeyValue = number | string;

/**
 * Fixed-width feature columns of one array type held row by row: a row's values sit side by side,
 * so a join reading a row's features touches one cache line where an array per column took one
 * each (gathering was half of a warm join's time, nearly all of it waiting on memory).
 */
export interface HeldBlock {
  values: Int32Array | BigInt64Array | Float32Array | Float64Array;
  /** Columns per row. */
  width: number;
}

/** One feature column of held history: Int, Float and Timestamp columns in a block, others read through their vector. */
export type HeldColumn = {
  type: DataType;
  /** Per row, 0 where the value is null; undefined when no value is. */
  valid?: Uint8Array;
} & ({ block: HeldBlock; offset: number } | { vector: Vector });

/** One table's history, sorted by key, event time, ingestion time (the tie rule's order). */
export interface HeldHistory {
  rows: number;
  /** The ordinal of each entity with history; its rows are [starts[ordinal], ends[ordinal]). */
  entities: EntityIndex;
  /** Each entity's key, by ordinal. */
  keys: EntityKeyValue[];
  starts: Int32Array;
  ends: Int32Array;
  /** Event times in microseconds, exact: a table with a time beyond 2^53 µs (after 2255) is never held. */
  times: Float64Array;
  features: Map<string, HeldColumn>;
}

/** The history query's time column, beside the table's keys and features. */
export const HELD_TIME_COLUMN = "__time";

/**
 * A held history from the Arrow IPC streams of `SELECT keys, event time µs AS __time, features
 * ORDER BY keys, event_time, ingestion_time`; undefined when a time cannot be held exactly.
 */
export function heldHistoryOf(table: OfflineTable, streams: readonly Uint8Array[]): HeldHistory | undefined {
  const tables = streams.map((ipc) => tableFromIPC(ipc));
  const batches = tables.flatMap((t) => t.batches);
  const rows = batches.reduce((sum, batch) => sum + batch.numRows, 0);
  const vectorOf = (name: string): Vector => {
    const [first, ...rest] = batches.map((b) => b.getChild(name) as Vector);
    // An empty answer may have no batch at all: an empty column of the schema's type.
    if (!first) return vectorFromArray([], tables[0]?.schema.fields.find((f) => f.name === name)?.type ?? new Int64());
    return rest.length === 0 ? first : first.concat(...rest);
  };
  const times = safeIntegersOf(vectorOf(HELD_TIME_COLUMN));
  if (!times) return undefined;
  const [onlyKey] = table.keyColumns;
  const keyVectors = table.keyColumns.map((c) => vectorOf(c.name));
  // A single int64 key read as numbers straight from its buffers: no bigint made per row.
  const numericKeys = table.keyColumns.length === 1 && onlyKey?.type === "int64" ? safeIntegersOf(keyVectors[0] as Vector) : undefined;
  const keyOf = numericKeys
    ? (row: number) => numericKeys[row] as number
    : entityKeyReader(
        keyVectors.map((vector) => {
          if (!FIXED_WIDTH.has(vector.type.typeId)) return (row: number) => vector.get(row);
          const values = vector.toArray() as ArrayLike<unknown>;
          return (row: number) => values[row];
        }),
      );
  const keys: EntityKeyValue[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let start = 0;
  let current = rows > 0 ? keyOf(0) : undefined;
  for (let row = 1; row <= rows; row++) {
    const key = row < rows ? keyOf(row) : undefined;
    if (row < rows && key === current) continue;
    keys.push(current as EntityKeyValue);
    starts.push(start);
    ends.push(row);
    start = row;
    current = key;
  }
  const features = heldFeatures(
    table.featureColumns.map((c) => c.name),
    vectorOf,
    rows,
  );
  return { rows, entities: entityIndexOf(keys), keys, starts: Int32Array.from(starts), ends: Int32Array.from(ends), times, features };
}

/**
 * A held history with the rows of a later one added (rows written since, read alone): each
 * entity's rows stay in time order, new entities come after the others. Undefined when that
 * cannot be done exactly: a feature read through its vector (text, lists, bools), columns held
 * differently, or a new row at an event time an entity already had, where the tie rule needs the
 * ingestion times, which are not held.
 */
export function mergedHistories(held: HeldHistory, added: HeldHistory): HeldHistory | undefined {
  const columns = [...held.features].map(([name, column]) => ({ name, column, other: added.features.get(name) }));
  const blocks = new Map<HeldBlock, HeldBlock>();
  for (const { column, other } of columns) {
    if (!("block" in column) || !other || !("block" in other) || other.offset !== column.offset) return undefined;
    if (other.block.width !== column.block.width || other.block.values.constructor !== column.block.values.constructor) return undefined;
    if ((blocks.get(column.block) ?? other.block) !== other.block) return undefined;
    blocks.set(column.block, other.block);
  }
  const rows = held.rows + added.rows;
  const times = new Float64Array(rows);
  const merged = [...blocks].map(([from, also]) => ({
    from,
    also,
    into: { values: new (from.values.constructor as new (length: number) => Float64Array)(rows * from.width), width: from.width },
  }));
  const validity = columns.map(({ column, other }) => ({
    from: column.valid,
    also: (other as HeldColumn).valid,
    into: column.valid || other?.valid ? new Uint8Array(rows).fill(1) : undefined,
  }));
  let out = 0;
  /** Appends rows [from, to) of one side, each array copied as a whole range. */
  const copy = (source: HeldHistory, side: "from" | "also", from: number, to: number) => {
    if (to <= from) return;
    times.set(source.times.subarray(from, to), out);
    for (const block of merged) {
      const { width } = block.into;
      (block.into.values as Float64Array).set((block[side].values as Float64Array).subarray(from * width, to * width), out * width);
    }
    for (const valid of validity) {
      const sourceValid = valid[side];
      if (valid.into && sourceValid) valid.into.set(sourceValid.subarray(from, to), out);
    }
    out += to - from;
  };
  const keys: EntityKeyValue[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const taken = new Uint8Array(added.keys.length);
  // Entities without new rows are copied in runs: most of a held history is untouched by a few writes.
  let untouchedFrom = 0;
  let untouchedOut = 0;
  for (let entity = 0; entity < held.keys.length; entity++) {
    const key = held.keys[entity] as EntityKeyValue;
    const other = added.entities.ordinalOf(key);
    let row = held.starts[entity] as number;
    const end = held.ends[entity] as number;
    keys.push(key);
    if (other < 0) {
      starts.push(untouchedOut + (row - untouchedFrom));
      ends.push(untouchedOut + (end - untouchedFrom));
      continue;
    }
    copy(held, "from", untouchedFrom, row);
    taken[other] = 1;
    starts.push(out);
    let addedRow = added.starts[other] as number;
    const addedEnd = added.ends[other] as number;
    while (row < end || addedRow < addedEnd) {
      const time = row < end ? (held.times[row] as number) : Number.POSITIVE_INFINITY;
      const addedTime = addedRow < addedEnd ? (added.times[addedRow] as number) : Number.POSITIVE_INFINITY;
      if (time === addedTime) return undefined;
      if (time < addedTime) copy(held, "from", row, ++row);
      else copy(added, "also", addedRow, ++addedRow);
    }
    ends.push(out);
    untouchedFrom = end;
    untouchedOut = out;
  }
  copy(held, "from", untouchedFrom, held.rows);
  for (let entity = 0; entity < added.keys.length; entity++) {
    if (taken[entity]) continue;
    keys.push(added.keys[entity] as EntityKeyValue);
    starts.push(out);
    copy(added, "also", added.starts[entity] as number, added.ends[entity] as number);
    ends.push(out);
  }
  const features = new Map<string, HeldColumn>();
  columns.forEach(({ name, column }, c) => {
    const block = merged.find((b) => b.from === (column as { block: HeldBlock }).block)?.into as HeldBlock;
    const valid = validity[c]?.into;
    features.set(name, { type: column.type, block, offset: (column as { offset: number }).offset, ...(valid ? { valid } : {}) });
  });
  return { rows, entities: entityIndexOf(keys), keys, starts: Int32Array.from(starts), ends: Int32Array.from(ends), times, features };
}

/**
 * An int64 column's values as doubles, read from each chunk's buffer as two 32-bit halves (a
 * BigInt64Array makes a bigint per element read: most of the indexing's time); undefined when one
 * is beyond 2^53 in magnitude, where a double is not exact. Nulls read as 0.
 */
export function safeIntegersOf(vector: Vector): Float64Array | undefined {
  const out = new Float64Array(vector.length);
  let at = 0;
  for (const data of vector.data) {
    if (!int64sAsDoubles(int64Halves(data.values as BigInt64Array, data.length), data.length, out, at)) return undefined;
    at += data.length;
  }
  return out;
}

const FIXED_WIDTH = new Set([Type.Int, Type.Float, Type.Timestamp]);

/** Feature columns by name: fixed-width ones in one {@link HeldBlock} per array type, the rest as their vectors. */
function heldFeatures(names: readonly string[], vectorOf: (name: string) => Vector, rows: number): Map<string, HeldColumn> {
  const features = new Map<string, HeldColumn>();
  const blocks = new Map<unknown, Array<{ name: string; vector: Vector }>>();
  for (const name of names) {
    const vector = vectorOf(name);
    const arrayType = FIXED_WIDTH.has(vector.type.typeId) ? vector.data[0]?.values?.constructor : undefined;
    if (arrayType) blocks.set(arrayType, [...(blocks.get(arrayType) ?? []), { name, vector }]);
    else features.set(name, { type: vector.type, vector, ...validityOf(vector) });
  }
  for (const [arrayType, members] of blocks) {
    const width = members.length;
    // A copy, chunk by chunk: the chunks' arrays are views of the engine's whole answer, which can then go.
    const values = new (arrayType as new (length: number) => Float64Array)(rows * width);
    const block: HeldBlock = { values, width };
    members.forEach(({ name, vector }, offset) => {
      let row = 0;
      for (const data of vector.data) {
        const column = data.values as Float64Array;
        for (let i = 0; i < data.length; i++) values[(row + i) * width + offset] = column[i] as number;
        row += data.length;
      }
      features.set(name, { type: vector.type, block, offset, ...validityOf(vector) });
    });
  }
  return features;
}

/** A column's validity per row, when it has nulls, from each chunk's null bitmap. */
function validityOf(vector: Vector): { valid?: Uint8Array } {
  if (vector.nullCount === 0) return {};
  const valid = new Uint8Array(vector.length).fill(1);
  let row = 0;
  for (const data of vector.data) {
    const bitmap = data.nullBitmap;
    if (data.nullCount > 0 && bitmap) {
      for (let i = 0; i < data.length; i++) {
        const bit = data.offset + i;
        if ((((bitmap[bit >> 3] as number) >> (bit & 7)) & 1) === 0) valid[row + i] = 0;
      }
    }
    row += data.length;
  }
  return { valid };
}

/** Finds an entity's ordinal by its key. */
export interface EntityIndex {
  /** The number of entities. */
  readonly size: number;
  /** The key's ordinal, or -1 when the key has no history. */
  ordinalOf(key: EntityKeyValue): number;
}

/** Integer keys spread over at most this many times their count (plus a little) are indexed by a table. */
const DENSE_SPREAD = 4;
/** The largest table of a dense index: 128 MiB of ordinals. */
const DENSE_MAX_SLOTS = 1 << 25;

/**
 * The index of entities with these distinct keys (ordinal = position): a table by key for integer
 * keys in a compact range, the usual case of numeric ids, whose lookups stay in cache where a
 * Map's hash probes do not (they were a third of a warm join's time); a Map otherwise.
 */
export function entityIndexOf(keys: readonly EntityKeyValue[]): EntityIndex {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const key of keys) {
    if (typeof key !== "number" || !Number.isInteger(key)) return new MapIndex(keys);
    if (key < min) min = key;
    if (key > max) max = key;
  }
  const span = max - min + 1;
  if (keys.length === 0 || span > DENSE_SPREAD * keys.length + 1024 || span > DENSE_MAX_SLOTS) return new MapIndex(keys);
  return new DenseIndex(keys as readonly number[], min, span);
}

class MapIndex implements EntityIndex {
  private readonly ordinals: Map<EntityKeyValue, number>;
  constructor(keys: readonly EntityKeyValue[]) {
    this.ordinals = new Map(keys.map((key, ordinal) => [key, ordinal]));
  }
  get size(): number {
    return this.ordinals.size;
  }
  ordinalOf(key: EntityKeyValue): number {
    return this.ordinals.get(key) ?? -1;
  }
}

class DenseIndex implements EntityIndex {
  readonly size: number;
  private readonly slots: Int32Array;
  constructor(
    keys: readonly number[],
    private readonly min: number,
    span: number,
  ) {
    this.slots = new Int32Array(span).fill(-1);
    for (let ordinal = 0; ordinal < keys.length; ordinal++) this.slots[(keys[ordinal] as number) - min] = ordinal;
    this.size = keys.length;
  }
  ordinalOf(key: EntityKeyValue): number {
    // Strings, fractions and keys out of range find no slot.
    return typeof key === "number" ? (this.slots[key - this.min] ?? -1) : -1;
  }
}

/**
 * Reads a row's entity key from its key columns' readers: a single int64 key as a number when it
 * is exact as one (else its decimal text), bytes keys as their base64 text (as the tables store
 * them), several keys as the JSON text of the list. Spine and history keys read alike.
 */
export function entityKeyReader(columns: ReadonlyArray<(row: number) => unknown>): (row: number) => EntityKeyValue {
  const [only] = columns;
  if (columns.length === 1 && only) return (row) => keyPart(only(row));
  return (row) => JSON.stringify(columns.map((column) => keyPart(column(row))));
}

/**
 * Rows [from, to) of one int64 key column as {@link entityKeyReader} reads them, from the column's
 * two 32-bit halves: no bigint is made per row (an allocation and a collection per spine row).
 */
export function int64EntityKeys(values: BigInt64Array, from: number, to: number): EntityKeyValue[] {
  const halves = int64Halves(values);
  const keys = new Array<EntityKeyValue>(to - from);
  for (let row = from; row < to; row++) {
    const high = halves[2 * row + 1] as number;
    // A high half in (-2^21, 2^21) keeps the value a safe integer (-2^53 is not); the rest go the general way.
    keys[row - from] = high > -0x200000 && high < 0x200000 ? int64AsDouble(halves, row) : keyPart(values[row]);
  }
  return keys;
}

function keyPart(value: unknown): EntityKeyValue {
  if (typeof value === "bigint") {
    // Injective: a safe integer only comes from the one bigint equal to it.
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : String(value);
  }
  if (typeof value === "number" || typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return String(value as FeatureValue);
}

/** What a table holds now, as far as its parts tell: any write, delete or column change makes a new version. */
export interface TableVersion {
  /** Opaque; equal versions hold equal rows. */
  version: string;
  rows: number;
  /**
   * When the table numbers its rows by insert (`_block_number`): what must not change for rows
   * written since an earlier version to be read alone (the table, its schema, its mutations), and
   * the newest block now.
   */
  blocks?: { unchanged: string; newest: number };
}

/** How a cache reads a table: whole, or only the rows of inserts after one block, up to another. */
export interface HistoryReads {
  /** Every row (up to block `upTo`, when the table numbers its blocks). */
  all(upTo?: number): Promise<Uint8Array[]>;
  /** The rows of blocks in (after, upTo]. */
  since(after: number, upTo: number): Promise<Uint8Array[]>;
}

/**
 * The held histories of recently joined tables, up to `maxRows` rows in all (the least recently
 * used go first). Loads of the same table version are shared by the joins that wait for them.
 */
export class HeldHistoryCache {
  private readonly entries = new Map<
    string,
    { version: string; columns: string; rows: number; blocks?: TableVersion["blocks"]; held: Promise<HeldHistory | undefined> }
  >();

  constructor(readonly maxRows: number) {}

  /**
   * The table's held history at `version`, loading it when none is held (or one without all of
   * the table's feature columns); undefined when it cannot be held. An older version of a table
   * that numbers its blocks is brought up to date by reading only the rows written since, when
   * nothing else changed ({@link mergedHistories}); otherwise the table is read whole.
   */
  async get(table: OfflineTable, name: string, version: TableVersion, reads: HistoryReads): Promise<HeldHistory | undefined> {
    const columns = table.featureColumns.map((c) => c.name).join("\u0000");
    const entry = this.entries.get(name);
    if (entry && entry.version === version.version && entry.columns === columns) {
      // Most recently used last.
      this.entries.delete(name);
      this.entries.set(name, entry);
      return entry.held;
    }
    this.entries.delete(name);
    const whole = async () => heldHistoryOf(table, await reads.all(version.blocks?.newest));
    const { blocks } = version;
    const before = entry?.columns === columns && blocks && entry.blocks?.unchanged === blocks.unchanged ? entry : undefined;
    const held =
      before?.blocks && blocks && before.blocks.newest < blocks.newest
        ? this.addedTo(before.held, table, reads, before.blocks.newest, blocks.newest, version.rows).then((added) => added ?? whole())
        : whole();
    const fresh = { version: version.version, columns, rows: version.rows, ...(blocks ? { blocks } : {}), held };
    this.entries.set(name, fresh);
    held.catch(() => this.entries.get(name) === fresh && this.entries.delete(name));
    let total = [...this.entries.values()].reduce((sum, e) => sum + e.rows, 0);
    for (const [other, e] of this.entries) {
      if (total <= this.maxRows || other === name) break;
      this.entries.delete(other);
      total -= e.rows;
    }
    return held;
  }

  /** The held history with the rows of blocks in (after, upTo] added, when they make exactly `rows`; undefined otherwise. */
  private async addedTo(
    previous: Promise<HeldHistory | undefined>,
    table: OfflineTable,
    reads: HistoryReads,
    after: number,
    upTo: number,
    rows: number,
  ): Promise<HeldHistory | undefined> {
    const held = await previous.catch(() => undefined);
    if (!held) return undefined;
    const added = heldHistoryOf(table, await reads.since(after, upTo));
    // Rows that went (a dropped partition, a TTL) would show as a count that does not add up.
    if (!added || held.rows + added.rows !== rows) return undefined;
    return mergedHistories(held, added);
  }

  /** Lets go of every held history. */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * Feature history held in the server's memory as columns, for point-in-time joins that need no
 * engine (memory-join.ts): one table's rows sorted by key, event time and ingestion time, with
 * where each entity's rows start and end. A {@link HeldHistoryCache} keeps the histories of the
 * tables joined lately, up to a number of rows, each labelled by the table's version (what its
 * parts say), so a write made by any process shows as a new version and the table is read again.
 */
import { type DataType, Int64, Type, tableFromIPC, type Vector, vectorFromArray } from "apache-arrow";
import type { FeatureValue } from "../../common/feature-value.js";
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
  return { rows, entities: entityIndexOf(keys), starts: Int32Array.from(starts), ends: Int32Array.from(ends), times, features };
}

/**
 * An int64 column's values as doubles, read from each chunk's buffer as two 32-bit halves (a
 * BigInt64Array makes a bigint per element read: most of the indexing's time); undefined when one
 * is beyond 2^53 in magnitude, where a double is not exact. Nulls read as 0.
 */
function safeIntegersOf(vector: Vector): Float64Array | undefined {
  const out = new Float64Array(vector.length);
  let at = 0;
  for (const data of vector.data) {
    const values = data.values as BigInt64Array;
    const halves = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
    for (let i = 0; i < data.length; i++) {
      const low = halves[2 * i] as number;
      const high = halves[2 * i + 1] as number;
      // |value| < 2^53 exactly when the high half is in [-2^21, 2^21).
      if (high < -0x200000 || high >= 0x200000) return undefined;
      out[at++] = high * 0x100000000 + (low >>> 0);
    }
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
}

/**
 * The held histories of recently joined tables, up to `maxRows` rows in all (the least recently
 * used go first). Loads of the same table version are shared by the joins that wait for them.
 */
export class HeldHistoryCache {
  private readonly entries = new Map<string, { version: string; columns: string; rows: number; held: Promise<HeldHistory | undefined> }>();

  constructor(readonly maxRows: number) {}

  /**
   * The table's held history at `version`, loading it when none is held (or an older one, or one
   * without all of the table's feature columns); undefined when it cannot be held.
   */
  async get(table: OfflineTable, name: string, version: TableVersion, load: () => Promise<Uint8Array[]>): Promise<HeldHistory | undefined> {
    const columns = table.featureColumns.map((c) => c.name).join("\u0000");
    const entry = this.entries.get(name);
    if (entry && entry.version === version.version && entry.columns === columns) {
      // Most recently used last.
      this.entries.delete(name);
      this.entries.set(name, entry);
      return entry.held;
    }
    this.entries.delete(name);
    const held = load().then((streams) => heldHistoryOf(table, streams));
    const fresh = { version: version.version, columns, rows: version.rows, held };
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

  /** Lets go of every held history. */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * Feature history held in the server's memory as columns, for point-in-time joins that need no
 * engine (memory-join.ts): one table's rows sorted by key, event time and ingestion time, with
 * where each entity's rows start and end. A {@link HeldHistoryCache} keeps the histories of the
 * tables joined lately, up to a number of rows, each labelled by the table's version (what its
 * parts say), so a write made by any process shows as a new version and the table is read again.
 */
import { type DataType, Type, tableFromIPC, type Vector } from "apache-arrow";
import type { FeatureValue } from "../../common/feature-value.js";
import type { OfflineTable } from "./offline-store.js";

/** An entity's key as a Map key: one column's value itself, several columns' as JSON text. */
export type EntityKeyValue = number | string;

/**
 * One column of held history: fixed-width values as a typed array of their own (so the engine's
 * answer they came in can go), others read from their vector.
 */
export type HeldColumn = {
  type: DataType;
  /** Per row, 0 where the value is null; undefined when no value is. */
  valid?: Uint8Array;
} & (
  | {
      /** Int, Float and Timestamp columns. */
      values: Int32Array | BigInt64Array | Float32Array | Float64Array;
    }
  | { vector: Vector }
);

/** One table's history, sorted by key, event time, ingestion time (the tie rule's order). */
export interface HeldHistory {
  rows: number;
  /** The ordinal of each entity with history; its rows are [starts[ordinal], ends[ordinal]). */
  entities: Map<EntityKeyValue, number>;
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
  const batches = streams.flatMap((ipc) => tableFromIPC(ipc).batches);
  const rows = batches.reduce((sum, batch) => sum + batch.numRows, 0);
  const column = (name: string): HeldColumn => heldColumn(batches.map((b) => b.getChild(name) as Vector));
  const times = new Float64Array(rows);
  const rawTimes = (column(HELD_TIME_COLUMN) as { values: BigInt64Array }).values;
  for (let row = 0; row < rows; row++) {
    const time = Number(rawTimes[row]);
    if (!Number.isSafeInteger(time)) return undefined;
    times[row] = time;
  }
  const keyColumns = table.keyColumns.map((c) => column(c.name));
  const keyOf = entityKeyReader(
    keyColumns.map((c) => ("values" in c ? (row: number) => c.values[row] : (row: number) => c.vector.get(row))),
  );
  const entities = new Map<EntityKeyValue, number>();
  const starts: number[] = [];
  const ends: number[] = [];
  let start = 0;
  let current = rows > 0 ? keyOf(0) : undefined;
  for (let row = 1; row <= rows; row++) {
    const key = row < rows ? keyOf(row) : undefined;
    if (row < rows && key === current) continue;
    entities.set(current as EntityKeyValue, starts.length);
    starts.push(start);
    ends.push(row);
    start = row;
    current = key;
  }
  const features = new Map(table.featureColumns.map((c) => [c.name, column(c.name)]));
  return { rows, entities, starts: Int32Array.from(starts), ends: Int32Array.from(ends), times, features };
}

const FIXED_WIDTH = new Set([Type.Int, Type.Float, Type.Timestamp]);

/** A column of record batches as one: fixed-width values copied together, the rest read through its vector. */
function heldColumn(chunks: Vector[]): HeldColumn {
  const [first] = chunks;
  if (!first) throw new Error("a held history column needs at least one batch");
  const vector = chunks.length === 1 ? first : first.concat(...chunks.slice(1));
  const nulls = vector.nullCount;
  const valid = nulls > 0 ? Uint8Array.from({ length: vector.length }, (_, row) => (vector.isValid(row) ? 1 : 0)) : undefined;
  // A copy: the typed array of a single batch is a view of the whole answer.
  const held = FIXED_WIDTH.has(vector.type.typeId) ? { values: vector.toArray().slice() } : { vector };
  return { type: vector.type, ...held, ...(valid ? { valid } : {}) };
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

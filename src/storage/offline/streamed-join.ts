/**
 * Point-in-time joins the server streams through itself, for histories too large to hold
 * (memory-join.ts), which the engine would otherwise join by sort-merge: that join sorts its whole
 * left side, and the history again, for every view. Here nothing large is sorted. The spine's keys
 * and times are read sorted by key and time (the engine sorts a 1M-row spine in about 0.15 s; a spine
 * held in the server's memory is sorted there, {@link SortedSpine.ofHeld}), each
 * view's history is read in its table's own order (keys and event time, a read in order; ingestion
 * times are sorted only within each key and event time; the store sends only the rows a spine row
 * could take) and merged with them as it streams, and only the matched values are kept, one per
 * spine row and feature. The result is then
 * written in spine order, the spine's own columns read in that order beside it (or, for a result in
 * any order, in the merge's order). Measured on a 1M-row spine over 3 views of about 3.3M rows each
 * (the training benchmark's data), delivered to a client: 2.4-2.7 s, where the engine's sort-merge
 * join alone took 2.6-3.1 s.
 *
 * The rule is {@link PointInTimeJoin}'s: a spine row sees the last history row of its key with an
 * event time not above its own (rows come by event time, then ingestion time, so it is the latest
 * event time's latest ingested row), and nothing when that row is older than the TTL. It runs when
 * the merge can compare exactly and copy values as they are: each view keyed by one integer column,
 * fixed-width features (int32, int64, float, double, timestamp), no aggregation views or
 * `excludeLateIngested`, and spine times exact as doubles (before the year 2255; history times
 * are compared as two 32-bit words, any of them exact). Anything else, found at any point before
 * the first row is written, leaves the join to the engine.
 */
import { type Data, type DataType, Field, type RecordBatch, tableFromIPC, util, type Vector } from "apache-arrow";
import type { FeatureValue } from "../../common/feature-value.js";
import { sortByInt64Pair } from "../../common/radix-order.js";
import { int64AsDouble, int64Halves, int64sAsDoubles, setInt64Halves } from "../../common/typed-arrays.js";
import type { ValueType } from "../../common/value-type.js";
import { ARROW_TYPE_OF, fixedWidthVector, recordBatchIpc } from "./arrow-columns.js";
import { HELD_TIME_COLUMN } from "./held-history.js";
import { type HeldSpine, joinsWithoutEngine, type SpineOutput } from "./memory-join.js";
import {
  type ArrowChunk,
  type ArrowChunks,
  type OfflineTable,
  type PointInTimeJoin,
  type Spine,
  type SpineJoinPreview,
  viewFeatureColumns,
} from "./offline-store.js";

/** Key types the merge compares exactly, as two 32-bit halves. */
const INTEGER_KEYS: ReadonlySet<ValueType> = new Set(["int32", "int64"]);
/** Feature types copied as they are, one or two 32-bit words a value. */
const FIXED_WIDTH_FEATURES: ReadonlySet<ValueType> = new Set(["int32", "int64", "float", "double", "timestamp"]);

/**
 * The key column each view of `join` is merged on, in view order; undefined when the join cannot
 * be streamed (see the module).
 */
export function streamedJoinKeys(join: PointInTimeJoin): string[] | undefined {
  if (!joinsWithoutEngine(join)) return undefined;
  // The reads name their time column `__time`: a spine or feature column of that name would clash.
  const named = [...join.spine.keyColumns, ...join.spine.extraColumns].map((c) => c.name);
  if ([...named, ...join.features.map((f) => f.column)].includes(HELD_TIME_COLUMN)) return undefined;
  const keys: string[] = [];
  for (const [v, { table }] of join.views.entries()) {
    const [key, ...more] = table.keyColumns;
    if (!key || more.length > 0 || !INTEGER_KEYS.has(key.type)) return undefined;
    if (!join.spine.keyColumns.some((c) => c.name === key.name && c.type === key.type)) return undefined;
    for (const name of viewFeatureColumns(join, v)) {
      const column = table.featureColumns.find((c) => c.name === name);
      if (!column || !FIXED_WIDTH_FEATURES.has(column.type)) return undefined;
    }
    keys.push(key.name);
  }
  return keys;
}

/**
 * Whether a join of these tables may be streamed, as far as its preview tells (each view keyed by
 * one integer column, no aggregation views or `excludeLateIngested`): the rest is known at the join.
 */
export function mayStream(preview: SpineJoinPreview): boolean {
  return (
    joinsWithoutEngine(preview) &&
    preview.tables.every(({ keyColumns: [key, ...more] }) => key && more.length === 0 && INTEGER_KEYS.has(key.type))
  );
}

/** The feature columns of `table` the merge can copy (fixed-width ones), in table order. */
export function mergeableFeatureColumns(table: OfflineTable): string[] {
  return table.featureColumns.filter((c) => FIXED_WIDTH_FEATURES.has(c.type)).map((c) => c.name);
}

/**
 * The spine's rows sorted by one key column and time: each row's key, time and position in the
 * output. The output is in spine order (positions are the spine indexes), or, for a join in any
 * order, in this one: the rows' own output columns are then read with them, and a row's values
 * are written where the merge goes, along memory instead of all over it.
 */
export class SortedSpine {
  private constructor(
    /** Two 32-bit words per row, low then high, of the key as an int64. */
    readonly keys: Int32Array,
    /** Event times in microseconds. */
    readonly times: Float64Array,
    /** The same times as two 32-bit words each, low then high, as the merge compares them. */
    readonly timeWords: Int32Array,
    /** Each row's position in the output: its spine index, or its own place when `batches` are the output's. */
    readonly positions: Int32Array,
    /** In this order, the spine's own output columns, when the output is in this order. */
    readonly batches: readonly RecordBatch[] | undefined,
  ) {}

  get length(): number {
    return this.times.length;
  }

  /**
   * The spine from the Arrow streams of {@link sortedSpineQuery}, with `spine_index` (`inOrder`
   * false) or the output's own columns (true); undefined when a time is not exact as a double or
   * the spine indexes are not the positions 0..n-1 (the output is written by them).
   */
  static of(streams: readonly Uint8Array[], key: string, inOrder: boolean): SortedSpine | undefined {
    const batches = streams.flatMap((ipc) => tableFromIPC(ipc).batches);
    const length = batches.reduce((sum, batch) => sum + batch.numRows, 0);
    const keys = new Int32Array(2 * length);
    const times = new Float64Array(length);
    const timeWords = new Int32Array(2 * length);
    const positions = new Int32Array(length);
    const seen = inOrder ? undefined : new Uint8Array(length);
    let row = 0;
    // One pass a column, written where it goes: a 1M-row spine's arrays are made once.
    for (const batch of batches) {
      const rows = batch.numRows;
      const batchTimes = int64Words(onlyData(batch.getChild(HELD_TIME_COLUMN)));
      if (!batchTimes) return undefined;
      timeWords.set(batchTimes, 2 * row);
      if (!int64sAsDoubles(batchTimes, rows, times, row)) return undefined;
      keys.set(keyWords(onlyData(batch.getChild(key))), 2 * row);
      if (inOrder) {
        for (let i = 0; i < rows; i++) positions[row + i] = row + i;
      } else {
        const indexes = int64Words(onlyData(batch.getChild("spine_index")));
        if (!indexes || !seen) return undefined;
        for (let i = 0; i < rows; i++) {
          const position = indexes[2 * i] as number;
          if (indexes[2 * i + 1] !== 0 || position < 0 || position >= length || seen[position] === 1) return undefined;
          seen[position] = 1;
          positions[row + i] = position;
        }
      }
      row += rows;
    }
    return new SortedSpine(keys, times, timeWords, positions, inOrder ? batches : undefined);
  }

  /**
   * The spine from rows held in the server's memory (memory-join.ts), sorted here: the output is
   * in spine order. Undefined when a key is not an integer, a time is not a whole number exact as
   * a double, or the held rows are not spine rows 0..n-1 in order.
   */
  static ofHeld(held: HeldSpine, spine: Spine, key: string): SortedSpine | undefined {
    const k = spine.keyColumns.findIndex((c) => c.name === key);
    const length = held.length;
    const heldKeys = new Int32Array(2 * length);
    const heldTimes = new Int32Array(2 * length);
    let row = 0;
    for (const { rows, firstIndex } of held.columns(spine)) {
      if (firstIndex !== row || !integerWords(rows.keys[k], rows.length, heldKeys, row)) return undefined;
      const { eventTimes } = rows;
      for (let i = 0; i < rows.length; i++) {
        const time = eventTimes[i] as number;
        if (!Number.isSafeInteger(time)) return undefined;
        setInt64Halves(heldTimes, row + i, time);
      }
      row += rows.length;
    }
    if (row !== length) return undefined;
    const { first: keys, second: timeWords, order } = sortByInt64Pair(heldKeys, heldTimes, length);
    const times = new Float64Array(length);
    for (let i = 0; i < length; i++) times[i] = int64AsDouble(timeWords, i);
    return new SortedSpine(keys, times, timeWords, order, undefined);
  }
}

/**
 * A held key column's first `length` values as two 32-bit words each, written into `out` from
 * row `at`; false when one is not an integer (or is null).
 */
function integerWords(values: ArrayLike<FeatureValue> | undefined, length: number, out: Int32Array, at: number): boolean {
  if (values instanceof BigInt64Array) {
    out.set(int64Halves(values, length), 2 * at);
    return true;
  }
  if (!values) return false;
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (typeof value === "bigint") {
      out[2 * (at + i)] = Number(BigInt.asIntN(32, value));
      out[2 * (at + i) + 1] = Number(BigInt.asIntN(32, value >> 32n));
    } else if (typeof value === "number" && Number.isSafeInteger(value)) setInt64Halves(out, at + i, value);
    else return false;
  }
  return true;
}

/** One feature's matched values for every spine row, in spine order. */
export interface MergedColumn {
  /** Its Arrow type: the engine's for the feature's type, which every history chunk is checked against. */
  type: DataType;
  /** The view's matched values, where this column's are `width` words from `offset` in each row. */
  rows: MergedRows;
  offset: number;
  width: 1 | 2;
  /** Its place among the view's features, in each row's validity. */
  index: number;
  /** The typed array its words are read as. */
  arrayType: new (
    buffer: ArrayBuffer,
    byteOffset: number,
    length: number,
  ) => ArrayLike<number | bigint>;
}

/**
 * Merges one view's history, streamed as Arrow in key, event time, ingestion time order (`SELECT
 * key, time µs AS __time, features`), with the sorted spine: the matched `features` of every spine
 * row, by name. Undefined when the history cannot be merged exactly (a time not an int64, a
 * column not of the feature's fixed-width type); `aborted` is checked between chunks.
 */
export async function mergeView(
  spine: SortedSpine,
  history: ArrowChunks,
  key: string,
  features: readonly string[],
  featureTypes: readonly ValueType[],
  ttlMicros: number,
  aborted: () => boolean,
): Promise<Map<string, MergedColumn> | undefined> {
  const columns = mergedColumns(
    featureTypes.map((type) => ARROW_TYPE_OF[type]()),
    spine.length,
  );
  const merge = new ViewMerge(spine, columns, ttlMicros);
  for await (const chunk of history) {
    if (aborted()) return undefined;
    for (const batch of tableFromIPC(chunk.ipc).batches) {
      const times = onlyData(batch.getChild(HELD_TIME_COLUMN));
      if (!(times?.values instanceof BigInt64Array)) return undefined;
      const sources: Source[] = [];
      for (const [f, name] of features.entries()) {
        const source = sourceOf(onlyData(batch.getChild(name)), columns[f] as MergedColumn);
        if (!source) return undefined;
        sources.push(source);
      }
      merge.add(keyWords(onlyData(batch.getChild(key))), keyWords(times), sources);
    }
  }
  if (aborted()) return undefined;
  merge.finish();
  return new Map(features.map((name, f) => [name, columns[f] as MergedColumn]));
}

/**
 * One view's matched values for every spine row, row by row: a row's features side by side, so
 * that a settle, which lands anywhere in spine order, writes one cache line where a column each
 * took one per feature (those misses were about a third of merging 2 × 10M history rows).
 */
interface MergedRows {
  /** `stride` 32-bit words a row. */
  words: Int32Array;
  stride: number;
  /** `features` bytes a row, 1 where the feature has a value. */
  valid: Uint8Array;
  features: number;
}

/** Empty merged columns of `types`, in one {@link MergedRows} of `rows` rows. */
function mergedColumns(types: readonly DataType[], rows: number): MergedColumn[] {
  let stride = 0;
  const columns = types.map((type, index) => {
    const arrayType = type.ArrayType as unknown as MergedColumn["arrayType"] & { BYTES_PER_ELEMENT: number };
    const width: 1 | 2 = arrayType.BYTES_PER_ELEMENT === 4 ? 1 : 2;
    const offset = stride;
    stride += width;
    return { type, offset, width, index, arrayType };
  });
  const merged: MergedRows = {
    words: new Int32Array(rows * stride),
    stride,
    valid: new Uint8Array(rows * types.length),
    features: types.length,
  };
  return columns.map((column) => ({ ...column, rows: merged }));
}

/**
 * One view's merge with the sorted spine, a history chunk at a time. Keys and times are compared
 * as two 32-bit words, read where the chunk holds them (no copy, no double per row); the state
 * kept across calls is integers and array references only, and the loop keeps its own in locals.
 */
class ViewMerge {
  /** The next spine row to settle. */
  private next = 0;
  /** The last history row seen, in the arrays of its chunk (-1: none yet). */
  private lastRow = -1;
  private lastKeys: Int32Array = new Int32Array(0);
  private lastTimes: Int32Array = new Int32Array(0);
  private lastSources: Source[] = [];
  /**
   * The spine rows matched to rows of the chunk being merged: each one's output position and
   * history row, copied feature by feature once the chunk is scanned. The two 10M-row views of the
   * peers' large case, held in memory, merged in 0.47 s so, where copying each row's features as
   * it was matched, inside the scan, took 0.67 s.
   */
  private matchedAt = new Int32Array(1024);
  private matchedRows = new Int32Array(1024);
  /** The one match of a spine row settled on an earlier chunk's row. */
  private readonly oneAt = new Int32Array(1);
  private readonly oneRow = new Int32Array(1);

  /** Where the matched values go (every column's). */
  private readonly merged: MergedRows;

  constructor(
    private readonly spine: SortedSpine,
    private readonly columns: readonly MergedColumn[],
    private readonly ttlMicros: number,
  ) {
    this.merged = columns[0]?.rows ?? { words: new Int32Array(0), stride: 0, valid: new Uint8Array(0), features: 0 };
  }

  /**
   * Merges a chunk of history rows: keys and times as two words a row, and each feature's column.
   * For each spine row in turn, the rows up to it in (key, event time) order are passed over in
   * one tight loop, the spine row's words held in locals, and the last of them is its candidate.
   * The matches' values are copied once the chunk is scanned, a feature at a time.
   */
  add(keys: Int32Array, times: Int32Array, sources: Source[]): void {
    const { keys: spineKeys, timeWords: spineTimes, positions, length: spineRows } = this.spine;
    const rows = times.length >> 1;
    let next = this.next;
    let r = 0;
    let matched = 0;
    while (next < spineRows) {
      const keyHigh = spineKeys[2 * next + 1] as number;
      const keyLow = (spineKeys[2 * next] as number) >>> 0;
      const timeHigh = spineTimes[2 * next + 1] as number;
      const timeLow = (spineTimes[2 * next] as number) >>> 0;
      // High words compare signed, low words unsigned, as the int64s they make.
      for (; r < rows; r++) {
        const high = keys[2 * r + 1] as number;
        if (high !== keyHigh) {
          if (high < keyHigh) continue;
          break;
        }
        const low = (keys[2 * r] as number) >>> 0;
        if (low !== keyLow) {
          if (low < keyLow) continue;
          break;
        }
        const rowTimeHigh = times[2 * r + 1] as number;
        if (rowTimeHigh !== timeHigh) {
          if (rowTimeHigh < timeHigh) continue;
          break;
        }
        if ((times[2 * r] as number) >>> 0 > timeLow) break;
      }
      // Every row left in the chunk comes before the spine row: the next chunk may hold more.
      if (r === rows) break;
      if (r === 0) {
        // Before any of this chunk's rows: the candidate is the previous chunk's last row.
        this.settleOnLast(next++);
        continue;
      }
      if (this.matches(next, r - 1, keys, times)) {
        if (matched === this.matchedAt.length) this.growMatches();
        this.matchedAt[matched] = positions[next] as number;
        this.matchedRows[matched++] = r - 1;
      }
      next++;
    }
    this.copyMatched(sources, matched, this.matchedAt, this.matchedRows);
    if (rows > 0) {
      this.lastKeys = keys;
      this.lastTimes = times;
      this.lastSources = sources;
      this.lastRow = rows - 1;
    }
    this.next = next;
  }

  /** Settles the spine rows after the last history row. */
  finish(): void {
    while (this.next < this.spine.length) this.settleOnLast(this.next++);
  }

  /**
   * Whether history row `row` of `keys` and `times`, not after spine row `s`, is its match: of the
   * same key, and not older than the TTL (exact: the row's time is at most the spine row's, an
   * exact double, and at least the engine's earliest, 1900).
   */
  private matches(s: number, row: number, keys: Int32Array, times: Int32Array): boolean {
    const spineKeys = this.spine.keys;
    if (keys[2 * row] !== spineKeys[2 * s] || keys[2 * row + 1] !== spineKeys[2 * s + 1]) return false;
    return this.ttlMicros <= 0 || int64AsDouble(times, row) >= (this.spine.times[s] as number) - this.ttlMicros;
  }

  /** Gives spine row `s` the values of the last history row seen (of an earlier chunk), if it matches. */
  private settleOnLast(s: number): void {
    if (this.lastRow < 0 || !this.matches(s, this.lastRow, this.lastKeys, this.lastTimes)) return;
    this.oneAt[0] = this.spine.positions[s] as number;
    this.oneRow[0] = this.lastRow;
    this.copyMatched(this.lastSources, 1, this.oneAt, this.oneRow);
  }

  /** Doubles the room for matched rows. */
  private growMatches(): void {
    const at = new Int32Array(2 * this.matchedAt.length);
    const rows = new Int32Array(2 * this.matchedRows.length);
    at.set(this.matchedAt);
    rows.set(this.matchedRows);
    this.matchedAt = at;
    this.matchedRows = rows;
  }

  /**
   * Copies the values (present ones) of history rows `matchedRows` of `sources` to output positions
   * `matchedAt`, the first `count` of them, a feature at a time.
   */
  private copyMatched(sources: Source[], count: number, matchedAt: Int32Array, matchedRows: Int32Array): void {
    const { words, stride, valid, features } = this.merged;
    for (let f = 0; f < features; f++) {
      const { words: values, nulls, offset: bitOffset } = sources[f] as Source;
      const { offset, width } = this.columns[f] as MergedColumn;
      for (let i = 0; i < count; i++) {
        const row = matchedRows[i] as number;
        const bit = bitOffset + row;
        if (nulls && (((nulls[bit >> 3] as number) >> (bit & 7)) & 1) === 0) continue;
        const at = matchedAt[i] as number;
        const word = at * stride + offset;
        valid[at * features + f] = 1;
        if (width === 1) words[word] = values[row] as number;
        else {
          words[word] = values[2 * row] as number;
          words[word + 1] = values[2 * row + 1] as number;
        }
      }
    }
  }
}

/**
 * The result: record batches of the spine's own columns in the output's order (`spine_index` when
 * asked, keys, event time, extra columns, as the engine's join writes them; a `__time` column is
 * left out), each followed by every feature's matched values; `aborted` is checked between them.
 */
export async function* streamedJoinChunks(
  join: PointInTimeJoin,
  spineColumns: AsyncIterable<SpineOutput> | Iterable<SpineOutput>,
  merged: ReadonlyArray<Map<string, MergedColumn>>,
  aborted: () => boolean,
): AsyncGenerator<ArrowChunk> {
  const features = join.features.map((feature) => {
    const column = "view" in feature ? merged[feature.view]?.get(feature.column) : undefined;
    if (!column) throw new Error(`the streamed join has no column ${feature.column}`);
    return { field: new Field(feature.as, column.type, true), column };
  });
  // Each feature's output words and bitmap, reused from batch to batch: a batch's columns are garbage
  // as soon as its IPC is made, and over a 1M-row result of 15 features they came to about 130 MB
  // of buffers left for the collector to find.
  const scratch: OutputScratch[] = [];
  let position = 0;
  for await (const own of spineColumns) {
    if (aborted()) return;
    const { length } = own;
    const fields = [...own.fields, ...features.map((f) => f.field)];
    for (const [f, { column }] of features.entries()) scratch[f] = outputScratch(scratch[f], column, length);
    const columns = [
      ...own.vectors,
      ...features.map(({ column }, f) => slicedVector(column, position, length, scratch[f] as OutputScratch)),
    ];
    // The IPC is a copy: the scratch is free again once it is made.
    yield { ipc: recordBatchIpc(fields, columns, length), rows: length };
    position += length;
  }
}

/** The spine's own output columns of Arrow chunks the engine read, in order (a `__time` column left out). */
export async function* spineOutputOfChunks(chunks: ArrowChunks): AsyncGenerator<SpineOutput> {
  for await (const chunk of chunks) yield* spineOutputOfBatches(tableFromIPC(chunk.ipc).batches);
}

/** The spine's own output columns of record batches (a `__time` column left out). */
export function* spineOutputOfBatches(batches: Iterable<RecordBatch>): Generator<SpineOutput> {
  for (const batch of batches) {
    const own = batch.schema.fields.flatMap((field, i) =>
      field.name === HELD_TIME_COLUMN ? [] : [{ field, vector: batch.getChildAt(i) as Vector }],
    );
    yield { fields: own.map((c) => c.field), vectors: own.map((c) => c.vector), length: batch.numRows };
  }
}

/** Where a feature's values for one output batch are copied: words of its width and a validity bitmap, for up to `rows` rows. */
interface OutputScratch {
  words: Int32Array<ArrayBuffer>;
  bitmap: Uint8Array;
  rows: number;
}

/** `scratch` when it holds `length` rows of `column`, else one that does. */
function outputScratch(scratch: OutputScratch | undefined, column: MergedColumn, length: number): OutputScratch {
  if (scratch && scratch.rows >= length) return scratch;
  return { words: new Int32Array(length * column.width), bitmap: new Uint8Array((length + 7) >> 3), rows: length };
}

/**
 * Rows [from, from + length) of a merged column as a vector over `scratch`: its words copied out
 * of the merged rows, its validity as a bitmap, 8 rows a byte. The vector is valid until `scratch`
 * is reused.
 */
function slicedVector(column: MergedColumn, from: number, length: number, scratch: OutputScratch): Vector {
  const { rows, offset, width, index, arrayType, type } = column;
  const { words, stride, valid, features } = rows;
  const own = scratch.words;
  if (width === 2) {
    for (let i = 0, word = from * stride + offset; i < length; i++, word += stride) {
      own[2 * i] = words[word] as number;
      own[2 * i + 1] = words[word + 1] as number;
    }
  } else {
    for (let i = 0, word = from * stride + offset; i < length; i++, word += stride) own[i] = words[word] as number;
  }
  // Validity bytes are 0 or 1: eight of them, shifted into place, are a bitmap byte.
  const bitmap = scratch.bitmap;
  const bytes = (length + 7) >> 3;
  let present = 0;
  for (let b = 0, at = from * features + index; b < bytes; b++) {
    let byte = 0;
    for (let bit = 0; bit < 8 && 8 * b + bit < length; bit++, at += features) byte |= (valid[at] as number) << bit;
    bitmap[b] = byte;
    present += BITS_SET[byte] as number;
  }
  return fixedWidthVector(type, new arrayType(own.buffer, 0, length), length - present, bitmap.subarray(0, bytes));
}

/** How many bits each byte has set. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, byte) => byte.toString(2).replaceAll("0", "").length);

/** A history chunk's column as the merge reads it. */
interface Source {
  words: Int32Array;
  /** The validity bitmap (bit per row from `offset`), when the chunk has nulls. */
  nulls: Uint8Array | undefined;
  offset: number;
}

/** A chunk's column as 32-bit words of its column's width, or undefined when it is not of the column's type (the engine's for the feature's). */
function sourceOf(data: Data | undefined, column: MergedColumn): Source | undefined {
  const values = data?.values as ArrayLike<number> & ArrayBufferView;
  if (!data || !values || !util.compareTypes(data.type, column.type)) return undefined;
  const words = new Int32Array(values.buffer, values.byteOffset, data.length * column.width);
  return { words, nulls: data.nullCount > 0 ? data.nullBitmap : undefined, offset: data.offset };
}

/** An integer key column as two 32-bit words a row (low, high), as an int64 would be; a copy for int32 keys. */
function keyWords(data: Data | undefined): Int32Array {
  const values = data?.values as (Int32Array | BigInt64Array) | undefined;
  if (!data || !values) throw new Error("the streamed join's key column is missing");
  if (values instanceof BigInt64Array) return int64Halves(values, data.length);
  const words = new Int32Array(2 * data.length);
  for (let i = 0; i < data.length; i++) {
    const value = values[i] as number;
    words[2 * i] = value;
    words[2 * i + 1] = value < 0 ? -1 : 0;
  }
  return words;
}

/** An int64 or uint64 column's values as two 32-bit words a row (low, high); undefined for any other type. */
function int64Words(data: Data | undefined): Int32Array | undefined {
  const values = data?.values as unknown;
  if (!data || !(values instanceof BigInt64Array || values instanceof BigUint64Array)) return undefined;
  return int64Halves(values, data.length);
}

/** The one chunk of a record batch's column. */
function onlyData(vector: Vector | null): Data | undefined {
  return vector?.data[0];
}

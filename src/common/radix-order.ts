/**
 * Sorting rows by two int64 columns, each held as 32-bit words (low then high, as
 * {@link int64Halves} reads them), with no object per row and no comparator call: a 1M-row
 * spine's (key, time) order, which the engine took about 0.12 s to sort and hand over.
 */
import { int64AsDouble } from "./typed-arrays.js";

const BUCKETS = 1 << 16;
/** Rows of one first value sorted by insertion; more go through the radix sort. */
const INSERTION_SORT_MAX = 32;
/** Dense first values are counted one bucket a value when their range is at most this many per row (or this fixed number). */
const DENSE_RANGE_PER_ROW = 2;
const DENSE_RANGE_MIN = 1 << 16;
/** Int64 high words of doubles in [-2^53, 2^53], where a value converts exactly. */
const SAFE_HIGH = 0x200000;

/** Rows sorted: both columns' words in the new order, and `order[i]`, the row that went `i`th. */
export interface SortedPairs {
  first: Int32Array;
  second: Int32Array;
  order: Int32Array;
}

/**
 * The rows `0..length-1` in ascending (`first`, `second`) order, ties in row order (the sort is
 * stable); both columns are signed int64s, `2 * length` words each. First values within a range
 * of about two per row (entity ids, the usual keys) are counted into a bucket each, and each
 * bucket's few rows sorted by insertion: two passes over the rows. Other inputs, and buckets of
 * many rows, go through {@link int64PairOrder}.
 */
export function sortByInt64Pair(first: Int32Array, second: Int32Array, length: number): SortedPairs {
  const range = denseRange(first, length);
  if (!range) return gathered(first, second, int64PairOrder(first, second, length));
  const { min, size } = range;
  const starts = new Int32Array(size + 1);
  for (let row = 0; row < length; row++) {
    const bucket = int64AsDouble(first, row) - min + 1;
    starts[bucket] = (starts[bucket] as number) + 1;
  }
  for (let bucket = 1; bucket <= size; bucket++) starts[bucket] = (starts[bucket] as number) + (starts[bucket - 1] as number);
  const out: SortedPairs = { first: new Int32Array(2 * length), second: new Int32Array(2 * length), order: new Int32Array(length) };
  const next = starts.slice(0, size);
  for (let row = 0; row < length; row++) {
    const bucket = int64AsDouble(first, row) - min;
    const place = next[bucket] as number;
    next[bucket] = place + 1;
    out.first[2 * place] = first[2 * row] as number;
    out.first[2 * place + 1] = first[2 * row + 1] as number;
    out.second[2 * place] = second[2 * row] as number;
    out.second[2 * place + 1] = second[2 * row + 1] as number;
    out.order[place] = row;
  }
  for (let bucket = 0; bucket < size; bucket++) {
    const from = starts[bucket] as number;
    const to = starts[bucket + 1] as number;
    if (to - from <= 1) continue;
    if (to - from <= INSERTION_SORT_MAX) insertionSortBySecond(out, from, to);
    else radixSortBySecond(out, from, to);
  }
  return out;
}

/** The minimum and span of the first values when they are dense enough to count a bucket each (see {@link sortByInt64Pair}). */
function denseRange(first: Int32Array, length: number): { min: number; size: number } | undefined {
  if (length === 0) return undefined;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let row = 0; row < length; row++) {
    const high = first[2 * row + 1] as number;
    if (high < -SAFE_HIGH || high >= SAFE_HIGH) return undefined;
    const value = int64AsDouble(first, row);
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const size = max - min + 1;
  return size <= Math.max(DENSE_RANGE_MIN, DENSE_RANGE_PER_ROW * length) ? { min, size } : undefined;
}

/** Rows [from, to) of `sorted`, of one first value, sorted by their second (stable). */
function insertionSortBySecond(sorted: SortedPairs, from: number, to: number): void {
  const { second, order } = sorted;
  for (let i = from + 1; i < to; i++) {
    const low = second[2 * i] as number;
    const high = second[2 * i + 1] as number;
    const row = order[i] as number;
    let j = i - 1;
    // Signed high words, then unsigned low words: the int64 order.
    while (j >= from) {
      const otherHigh = second[2 * j + 1] as number;
      if (otherHigh < high || (otherHigh === high && (second[2 * j] as number) >>> 0 <= low >>> 0)) break;
      second[2 * j + 2] = second[2 * j] as number;
      second[2 * j + 3] = otherHigh;
      order[j + 1] = order[j] as number;
      j--;
    }
    second[2 * j + 2] = low;
    second[2 * j + 3] = high;
    order[j + 1] = row;
  }
}

/** As {@link insertionSortBySecond}, for many rows. */
function radixSortBySecond(sorted: SortedPairs, from: number, to: number): void {
  const second = sorted.second.subarray(2 * from, 2 * to);
  const order = sorted.order.subarray(from, to);
  const within = int64PairOrder(new Int32Array(second.length), second, to - from);
  const words = second.slice();
  const rows = order.slice();
  for (let i = 0; i < within.length; i++) {
    const j = within[i] as number;
    second[2 * i] = words[2 * j] as number;
    second[2 * i + 1] = words[2 * j + 1] as number;
    order[i] = rows[j] as number;
  }
}

/** Both columns' words in `order`. */
function gathered(first: Int32Array, second: Int32Array, order: Int32Array): SortedPairs {
  const length = order.length;
  const out: SortedPairs = { first: new Int32Array(2 * length), second: new Int32Array(2 * length), order };
  for (let i = 0; i < length; i++) {
    const row = order[i] as number;
    out.first[2 * i] = first[2 * row] as number;
    out.first[2 * i + 1] = first[2 * row + 1] as number;
    out.second[2 * i] = second[2 * row] as number;
    out.second[2 * i + 1] = second[2 * row + 1] as number;
  }
  return out;
}

/**
 * The rows `0..length-1` in ascending (`first`, `second`) order, ties in row order, as a
 * permutation (`order[i]` is the row that goes `i`th), by a least-significant-digit radix sort on
 * 16-bit digits; a digit every row shares (a key's high word below 2^32, a time's top bits) is
 * skipped.
 */
export function int64PairOrder(first: Int32Array, second: Int32Array, length: number): Int32Array {
  // Least significant first: `second`'s digits, then `first`'s; within each, the low word's first.
  let order = new Int32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  let spare = new Int32Array(length);
  const starts = new Int32Array(BUCKETS);
  for (const words of [second, first]) {
    for (const word of [0, 1]) {
      for (const shift of [0, 16]) {
        // The top digit of a signed int64 sorts with its sign bit flipped: negatives first.
        const flip = word === 1 && shift === 16 ? 0x8000 : 0;
        // A digit's counts do not depend on the rows' order.
        starts.fill(0);
        for (let row = 0; row < length; row++) {
          const digit = (((words[2 * row + word] as number) >>> shift) & 0xffff) ^ flip;
          starts[digit] = (starts[digit] as number) + 1;
        }
        if (length === 0 || starts[(((words[word] as number) >>> shift) & 0xffff) ^ flip] === length) continue;
        let at = 0;
        for (let bucket = 0; bucket < BUCKETS; bucket++) {
          const count = starts[bucket] as number;
          starts[bucket] = at;
          at += count;
        }
        for (let i = 0; i < length; i++) {
          const row = order[i] as number;
          const digit = (((words[2 * row + word] as number) >>> shift) & 0xffff) ^ flip;
          const place = starts[digit] as number;
          starts[digit] = place + 1;
          spare[place] = row;
        }
        [order, spare] = [spare, order];
      }
    }
  }
  return order;
}

/**
 * Sorting rows by two int64 columns, each held as 32-bit words (low then high, as
 * {@link int64Halves} reads them), with no object per row and no comparator call: a 1M-row
 * spine's (key, time) order, which the engine took about 0.19 s to sort and hand back.
 */
import { int64AsDouble } from "./typed-arrays.js";

const BUCKETS = 1 << 16;
/** Rows of one first value sorted by insertion; more by a merge sort of such runs. */
const INSERTION_SORT_MAX = 32;
/** Dense first values are counted one bucket a value when their range is at most this many per row (or this fixed number). */
const DENSE_RANGE_PER_ROW = 2;
const DENSE_RANGE_MIN = 1 << 16;
/** Int64 high words in [-2^21, 2^21): values in [-2^53, 2^53), which a double holds exactly. */
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
 * bucket's rows sorted by their second value: by insertion for a few, by a merge sort for more (a
 * key with thousands of spine rows costs n log n, not n²). Other inputs go through
 * {@link int64PairOrder}.
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
  const out = emptyPairs(length);
  const next = starts.slice(0, size);
  for (let row = 0; row < length; row++) {
    const bucket = int64AsDouble(first, row) - min;
    const place = next[bucket] as number;
    next[bucket] = place + 1;
    copyRow(first, second, row, out, place);
    out.order[place] = row;
  }
  let scratch: SortedPairs | undefined;
  for (let bucket = 0; bucket < size; bucket++) {
    const from = starts[bucket] as number;
    const to = starts[bucket + 1] as number;
    if (to - from <= 1) continue;
    if (to - from <= INSERTION_SORT_MAX) insertionSortBySecond(out, from, to);
    else {
      if (!scratch || scratch.order.length < to - from) scratch = emptyPairs(Math.max(to - from, 2 * (scratch?.order.length ?? 0)));
      mergeSortBySecond(out, from, to, scratch);
    }
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

/**
 * As {@link insertionSortBySecond}, for many rows: runs of {@link INSERTION_SORT_MAX} sorted by
 * insertion, then merged pairwise through `scratch` (at least `to - from` rows) until one is left.
 * Stable: of equal values, the left run's go first.
 */
function mergeSortBySecond(sorted: SortedPairs, from: number, to: number, scratch: SortedPairs): void {
  for (let run = from; run < to; run += INSERTION_SORT_MAX) insertionSortBySecond(sorted, run, Math.min(to, run + INSERTION_SORT_MAX));
  let source = sorted;
  let sourceAt = from;
  let target = scratch;
  let targetAt = 0;
  for (let width = INSERTION_SORT_MAX; width < to - from; width *= 2) {
    for (let left = 0; left < to - from; left += 2 * width) {
      const middle = Math.min(left + width, to - from);
      const end = Math.min(left + 2 * width, to - from);
      let i = left;
      let j = middle;
      for (let k = left; k < end; k++) {
        const fromLeft = j >= end || (i < middle && !secondAfter(source.second, sourceAt + i, sourceAt + j));
        const row = fromLeft ? i++ : j++;
        copyRow(source.first, source.second, sourceAt + row, target, targetAt + k);
        target.order[targetAt + k] = source.order[sourceAt + row] as number;
      }
    }
    [source, target] = [target, source];
    [sourceAt, targetAt] = [targetAt, sourceAt];
  }
  if (source !== sorted) {
    for (let k = 0; k < to - from; k++) {
      copyRow(source.first, source.second, sourceAt + k, sorted, from + k);
      sorted.order[from + k] = source.order[sourceAt + k] as number;
    }
  }
}

/** Whether row `a`'s int64 of `words` is greater than row `b`'s: signed high words, then unsigned low words. */
function secondAfter(words: Int32Array, a: number, b: number): boolean {
  const highA = words[2 * a + 1] as number;
  const highB = words[2 * b + 1] as number;
  if (highA !== highB) return highA > highB;
  return (words[2 * a] as number) >>> 0 > (words[2 * b] as number) >>> 0;
}

/** Row `row` of both columns' words written as row `at` of `out`. */
function copyRow(first: Int32Array, second: Int32Array, row: number, out: SortedPairs, at: number): void {
  out.first[2 * at] = first[2 * row] as number;
  out.first[2 * at + 1] = first[2 * row + 1] as number;
  out.second[2 * at] = second[2 * row] as number;
  out.second[2 * at + 1] = second[2 * row + 1] as number;
}

/** Room for `length` sorted rows. */
function emptyPairs(length: number): SortedPairs {
  return { first: new Int32Array(2 * length), second: new Int32Array(2 * length), order: new Int32Array(length) };
}

/** Both columns' words in `order`. */
function gathered(first: Int32Array, second: Int32Array, order: Int32Array): SortedPairs {
  const out: SortedPairs = { first: new Int32Array(2 * order.length), second: new Int32Array(2 * order.length), order };
  for (let i = 0; i < order.length; i++) copyRow(first, second, order[i] as number, out, i);
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

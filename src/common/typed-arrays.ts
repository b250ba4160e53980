/** Fixed-width columns held as typed arrays (an Arrow spine's keys, times and doubles). */

/** The typed arrays such a column is held in. */
export type ColumnArray = Int32Array | BigInt64Array | Float64Array;
export const COLUMN_ARRAY_TYPES = [Int32Array, BigInt64Array, Float64Array] as const;

/**
 * Int64s read without a bigint each (reading a BigInt64Array makes one per element): the first
 * `length` of `values` as 32-bit halves, low then high.
 */
export function int64Halves(values: BigInt64Array | BigUint64Array, length = values.length): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, 2 * length);
}

/**
 * Int64 `index` of {@link int64Halves} as a double: exact while its high half is in [-2^21, 2^21),
 * that is for values of magnitude at most 2^53.
 */
export function int64AsDouble(halves: Int32Array, index: number): number {
  return (halves[2 * index + 1] as number) * 0x100000000 + ((halves[2 * index] as number) >>> 0);
}

const TWO_TO_32 = 0x100000000;

/** A whole number exact as a double written as int64 `index` of halves `out` (modulo 2^32 each: the high half in two's complement). */
export function setInt64Halves(out: Int32Array, index: number, value: number): void {
  const high = Math.floor(value / TWO_TO_32);
  out[2 * index] = value - high * TWO_TO_32;
  out[2 * index + 1] = high;
}

/**
 * The first `length` int64s of {@link int64Halves} written as doubles into `out` from `at`; false,
 * part written, when one is beyond 2^53 in magnitude, where a double is not exact.
 */
export function int64sAsDoubles(halves: Int32Array, length: number, out: Float64Array, at: number): boolean {
  for (let i = 0; i < length; i++) {
    const high = halves[2 * i + 1] as number;
    if (high < -0x200000 || high >= 0x200000) return false;
    out[at + i] = int64AsDouble(halves, i);
  }
  return true;
}

/** Arrays of one typed array type, end to end in a new one of `length` elements (their lengths' sum). */
export function joinedArrays<T extends ColumnArray>(type: new (length: number) => T, arrays: readonly T[], length: number): T {
  const out = new type(length);
  let at = 0;
  for (const array of arrays) {
    (out as { set(source: ArrayLike<number | bigint>, offset: number): void }).set(array, at);
    at += array.length;
  }
  return out;
}

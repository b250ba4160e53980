/** Fixed-width columns held as typed arrays (an Arrow spine's keys, times and doubles). */

/** The typed arrays such a column is held in. */
export type ColumnArray = Int32Array | BigInt64Array | Float64Array;
export const COLUMN_ARRAY_TYPES = [Int32Array, BigInt64Array, Float64Array] as const;

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

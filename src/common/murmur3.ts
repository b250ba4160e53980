/**
 * MurmurHash3 x86 32-bit (Austin Appleby's reference `MurmurHash3_x86_32`), written out here
 * because two things depend on its exact value: `count_distinct` registers, which the offline path
 * computes in ClickHouse with `murmurHash3_32` (seed 0), and hashed feature buckets, which are part
 * of a model's meaning: the same token must land in the same bucket in every process, language and
 * release.
 */

const encoder = new TextEncoder();
/** UTF-8 bytes of the string being hashed, reused: hashing a feature value allocates nothing. */
let scratch = new Uint8Array(256);

/** The unsigned 32-bit MurmurHash3 x86 hash of `input` (a string: its UTF-8 bytes) with the given seed. */
export function murmurHash3x86(input: string | Uint8Array, seed = 0): number {
  if (typeof input !== "string") return hashBytes(input, input.length, seed);
  // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair's 4 bytes span 2 units).
  if (scratch.length < input.length * 3) scratch = new Uint8Array(input.length * 3);
  const length = encoder.encodeInto(input, scratch).written;
  return hashBytes(scratch, length, seed);
}

function hashBytes(bytes: Uint8Array, length: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = length >>> 2;
  for (let b = 0; b < blocks; b++) {
    const i = b << 2;
    let k = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The reference's fall-through switch over the 1-3 tail bytes, written as ifs.
  const tail = blocks << 2;
  const rest = length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= (bytes[tail + 2] as number) << 16;
    if (rest >= 2) k ^= (bytes[tail + 1] as number) << 8;
    k ^= bytes[tail] as number;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

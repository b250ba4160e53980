/**
 * MurmurHash3 x86 32-bit (Austin Appleby's reference `MurmurHash3_x86_32`), written out here
 * because two things depend on its exact value: `count_distinct` registers, which the offline path
 * computes in ClickHouse with `murmurHash3_32` (seed 0), and hashed feature buckets, which are part
 * of a model's meaning: the same token must land in the same bucket in every process, language and
 * release.
 */

const encoder = new TextEncoder();

/** The unsigned 32-bit MurmurHash3 x86 hash of `input` (a string: its UTF-8 bytes) with the given seed. */
export function murmurHash3x86(input: string | Uint8Array, seed = 0): number {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const byte = (i: number) => bytes[i] as number;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let b = 0; b < blocks; b++) {
    const i = b << 2;
    let k = byte(i) | (byte(i + 1) << 8) | (byte(i + 2) << 16) | (byte(i + 3) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The reference's fall-through switch over the 1-3 tail bytes, written as ifs.
  const tail = blocks << 2;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= byte(tail + 2) << 16;
    if (rest >= 2) k ^= byte(tail + 1) << 8;
    k ^= byte(tail);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * HyperLogLog for `count_distinct`, built on a hash ClickHouse also has (`murmurHash3_32`), so the
 * offline path can compute the same registers in the engine and both paths agree exactly.
 */

import { murmurHash3x86 } from "../common/murmur3.js";

/** log2 of the register count: 4096 registers, a standard error of about 1.6%. */
export const HLL_PRECISION = 12;
const REGISTERS = 1 << HLL_PRECISION;
/** Ranks are at most this, so Σ 2^(MAX_RANK − rank) is a whole number: the sum is exact in any order. */
export const HLL_MAX_RANK = 32 - HLL_PRECISION + 1;
const ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

/**
 * Registers kept sparsely (register index -> rank): a tile of a few events stays a few entries
 * instead of 4 KB.
 */
export type HllRegisters = Record<number, number>;

/** The hash of a distinct-counted value: integers by their decimal text, strings by their UTF-8 bytes. */
export function hashDistinctValue(value: number | bigint | string): number {
  // ClickHouse's murmurHash3_32 is MurmurHash3 x86 32-bit with seed 0.
  return murmurHash3x86(typeof value === "string" ? value : value.toString());
}

/** Adds a hashed value: the register is the top 12 bits, the rank the position of the first 1 in the other 20 (1-based; 21 if none). */
export function hllAdd(registers: HllRegisters, hash: number): void {
  const index = hash >>> (32 - HLL_PRECISION);
  const rest = (hash << HLL_PRECISION) >>> 0;
  const rank = rest === 0 ? HLL_MAX_RANK : Math.clz32(rest) + 1;
  if ((registers[index] ?? 0) < rank) registers[index] = rank;
}

/** Merges `from` into `into` (register-wise maximum). */
export function hllMerge(into: HllRegisters, from: HllRegisters): void {
  for (const key of Object.keys(from)) {
    const index = Number(key);
    const rank = from[index] as number;
    if ((into[index] ?? 0) < rank) into[index] = rank;
  }
}

/**
 * The estimate: α·m² / Σ 2^−M[j], with linear counting (m·ln(m/V)) when it is at most 2.5·m and
 * V registers are zero, rounded to a whole number. The sum is taken as the integer
 * Σ 2^(21 − M[j]) scaled by 2^−21, so it is exact and every path that computes it from the same
 * registers (this one, and SQL in the engine) gets the same double.
 */
export function hllEstimate(registers: HllRegisters): number {
  let scaledSum = 0;
  let zeros = 0;
  for (let index = 0; index < REGISTERS; index++) {
    const rank = registers[index] ?? 0;
    if (rank === 0) zeros++;
    scaledSum += 2 ** (HLL_MAX_RANK - rank);
  }
  const raw = (ALPHA * REGISTERS * REGISTERS) / (scaledSum / 2 ** HLL_MAX_RANK);
  const estimate = raw <= 2.5 * REGISTERS && zeros > 0 ? REGISTERS * Math.log(REGISTERS / zeros) : raw;
  return Math.round(estimate);
}

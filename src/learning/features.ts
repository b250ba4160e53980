/**
 * The input encoding of a learner: declared numeric features, standardised with running Welford
 * statistics, followed by categorical features hashed into a declared number of buckets. The
 * result is a sparse vector over `[numeric..., buckets...]`.
 *
 * Scaler order (River's `preprocessing.StandardScaler` inside a `Pipeline`, the default mode):
 * - when an example is LEARNED, the statistics are updated with it first and the example is then
 *   transformed with the updated statistics (`learnAndEncode`);
 * - when an example is only PREDICTED, it is transformed with the current statistics and nothing is
 *   updated (`encode`).
 * So in test-then-train evaluation the prediction of example t uses statistics of examples < t,
 * while the gradient step on example t uses statistics of examples <= t.
 * The variance is the population variance (divided by n); a feature whose variance is still 0
 * encodes as 0, as River's `safe_div` does.
 *
 * Hashing: each categorical `name` with string value `value` contributes 1.0 to bucket
 * `murmurHash3x86(name + "=" + value, 0) mod buckets`, the hash taken as an unsigned 32-bit
 * integer; colliding features add up. No alternate sign (River's FeatureHasher default differs).
 * A categorical feature that is null, undefined or the empty string is absent and contributes nothing.
 */

import { murmurHash3x86 } from "../common/murmur3.js";
import type { StateReader, StateWriter } from "./binary.js";
import { InvalidExampleError, InvalidLearnerSpecError } from "./errors.js";

/** The declared inputs of a learner. */
export interface FeatureSpec {
  /** Numeric features, in vector order; each must be present and finite in every example. */
  numeric: readonly string[];
  /** Categorical features; each may be absent (null, undefined or ""), otherwise its value must be a string. */
  categorical: readonly string[];
  /** Hash buckets for the categorical features; at least 1 when any categorical feature is declared. */
  buckets: number;
}

/** One example's inputs, keyed by feature name. */
export type FeatureValues = Readonly<Record<string, number | string | null | undefined>>;

/** A sparse vector: parallel index and value arrays, indices unique. */
export interface SparseVector {
  indices: Uint32Array;
  values: Float64Array;
}

/** Checks a feature spec, throwing {@link InvalidLearnerSpecError} for the first problem. */
export function validateFeatureSpec(spec: FeatureSpec): void {
  const names = new Set<string>();
  for (const [i, name] of [...spec.numeric, ...spec.categorical].entries()) {
    if (names.has(name)) throw new InvalidLearnerSpecError(`features[${i}]`, `duplicate feature name "${name}"`);
    names.add(name);
  }
  if (!Number.isInteger(spec.buckets) || spec.buckets < 0 || spec.buckets > 0x7fffffff) {
    throw new InvalidLearnerSpecError("buckets", `must be a non-negative integer, got ${spec.buckets}`);
  }
  if (spec.categorical.length > 0 && spec.buckets === 0) {
    throw new InvalidLearnerSpecError("buckets", "categorical features need at least one hash bucket, got 0");
  }
}

/** Distinct values per categorical feature whose bucket is remembered (hashing each new value once). */
const BUCKET_CACHE_SIZE = 1 << 16;
/** Values longer than this are hashed each time, never remembered. */
const BUCKET_CACHE_VALUE_CHARS = 64;

/**
 * Encodes examples to sparse vectors and keeps the running standardisation statistics. A vector
 * returned is a view of buffers the next call reuses: use it before encoding again (learning does).
 */
export class FeatureEncoder {
  /** Length of the encoded vectors: numeric features then buckets. */
  readonly dimension: number;
  private readonly counts: Float64Array;
  private readonly means: Float64Array;
  private readonly variances: Float64Array;
  private readonly raw: Float64Array;
  private readonly indexBuffer: Uint32Array;
  private readonly valueBuffer: Float64Array;
  /** One vector per possible length (numeric features plus 0..categorical buckets hit), views of the buffers, made once. */
  private readonly views: SparseVector[];
  /** Per categorical feature, value → vector index: the hash of a value seen before is not recomputed. */
  private readonly buckets: Array<Map<string, number>>;

  constructor(readonly spec: FeatureSpec) {
    validateFeatureSpec(spec);
    const numeric = spec.numeric.length;
    this.dimension = numeric + spec.buckets;
    this.counts = new Float64Array(numeric);
    this.means = new Float64Array(numeric);
    this.variances = new Float64Array(numeric);
    this.raw = new Float64Array(numeric);
    this.indexBuffer = new Uint32Array(numeric + spec.categorical.length);
    this.valueBuffer = new Float64Array(numeric + spec.categorical.length);
    this.buckets = spec.categorical.map(() => new Map());
    this.views = Array.from({ length: spec.categorical.length + 1 }, (_, extra) => ({
      indices: this.indexBuffer.subarray(0, numeric + extra),
      values: this.valueBuffer.subarray(0, numeric + extra),
    }));
  }

  /**
   * Encodes with the current statistics, changing no statistic (prediction). `learning`: the
   * example is about to be learned ({@link learnEncoded}), so its categories' buckets may be remembered.
   */
  encode(x: FeatureValues, learning = false): SparseVector {
    this.readNumeric(x);
    return this.assemble(x, learning);
  }

  /** Updates the statistics with `x`, then encodes it with the updated statistics (learning). */
  learnAndEncode(x: FeatureValues): SparseVector {
    this.readNumeric(x);
    // Validate categorical values before any statistic changes, so a refused example leaves no trace.
    return this.learnEncoded(this.assemble(x, true));
  }

  /**
   * What {@link learnAndEncode} does, for the example {@link encode} just encoded (its vector, not
   * yet reused): its statistics are learned and its numeric values standardised again with them.
   * Test-then-train encodes each example once this way.
   */
  learnEncoded(encoded: SparseVector): SparseVector {
    const raw = this.raw;
    for (let i = 0; i < raw.length; i++) {
      const value = raw[i] as number;
      const count = (this.counts[i] as number) + 1;
      const oldMean = this.means[i] as number;
      const mean = oldMean + (value - oldMean) / count;
      const variance = this.variances[i] as number;
      // River's update, term for term, so both accumulate the same rounding.
      this.variances[i] = variance + ((value - oldMean) * (value - mean) - variance) / count;
      this.means[i] = mean;
      this.counts[i] = count;
    }
    for (let i = 0; i < raw.length; i++) encoded.values[i] = this.standardise(i, raw[i] as number);
    return encoded;
  }

  /** Mean and population variance seen so far for numeric feature `i` (for tests and inspection). */
  statistics(i: number): { count: number; mean: number; variance: number } {
    return { count: this.counts[i] ?? Number.NaN, mean: this.means[i] ?? Number.NaN, variance: this.variances[i] ?? Number.NaN };
  }

  private standardise(i: number, value: number): number {
    const variance = this.variances[i] as number;
    return variance ? (value - (this.means[i] as number)) / Math.sqrt(variance) : 0;
  }

  private readNumeric(x: FeatureValues): Float64Array {
    const names = this.spec.numeric;
    const raw = this.raw;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const value = x[name];
      if (typeof value !== "number") {
        throw new InvalidExampleError(
          `features.${name}`,
          value == null ? "missing numeric feature" : `expected a number, got ${typeof value}`,
        );
      }
      if (!Number.isFinite(value)) throw new InvalidExampleError(`features.${name}`, `must be finite, got ${value}`);
      raw[i] = value;
    }
    return raw;
  }

  /**
   * The sparse vector of the numeric values in `this.raw` and the categories of `x`. Only learned
   * examples (`remember`) add to the bucket cache: predictions, which anyone may send, cannot grow it.
   */
  private assemble(x: FeatureValues, remember: boolean): SparseVector {
    const numericCount = this.spec.numeric.length;
    const indices = this.indexBuffer;
    const values = this.valueBuffer;
    for (let i = 0; i < numericCount; i++) {
      indices[i] = i;
      values[i] = this.standardise(i, this.raw[i] as number);
    }
    let length = numericCount;
    const categorical = this.spec.categorical;
    for (let c = 0; c < categorical.length; c++) {
      const name = categorical[c] as string;
      const value = x[name];
      if (value == null || value === "") continue;
      if (typeof value !== "string") throw new InvalidExampleError(`features.${name}`, `expected a string category, got ${typeof value}`);
      const index = this.bucketOf(c, name, value, remember);
      let at = numericCount;
      while (at < length && indices[at] !== index) at++;
      if (at < length) values[at] = (values[at] as number) + 1;
      else {
        indices[length] = index;
        values[length] = 1;
        length++;
      }
    }
    return this.views[length - numericCount] as SparseVector;
  }

  /** The vector index of category `value` of categorical feature `c` (named `name`). */
  private bucketOf(c: number, name: string, value: string, remember: boolean): number {
    const cache = this.buckets[c] as Map<string, number>;
    let index = cache.get(value);
    if (index === undefined) {
      index = this.spec.numeric.length + (murmurHash3x86(`${name}=${value}`, 0) % this.spec.buckets);
      if (remember && cache.size < BUCKET_CACHE_SIZE && value.length <= BUCKET_CACHE_VALUE_CHARS) cache.set(value, index);
    }
    return index;
  }

  write(w: StateWriter): void {
    w.f64s(this.counts);
    w.f64s(this.means);
    w.f64s(this.variances);
  }

  read(r: StateReader): void {
    const n = this.spec.numeric.length;
    this.counts.set(r.f64s(n));
    this.means.set(r.f64s(n));
    this.variances.set(r.f64s(n));
  }
}

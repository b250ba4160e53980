/**
 * The aggregations of streaming features as mergeable partial states: a state is built from the
 * events of one tile, states merge across tiles, and a result is read from the merged state
 * (docs/streaming.md says what each returns). States are plain data (numbers, bigints, arrays,
 * records), which msgpack encodes exactly (bigints and infinities included), as the online store
 * already does for values.
 */
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { type HllRegisters, hashDistinctValue, hllAdd, hllEstimate, hllMerge } from "./hyperloglog.js";

/** The aggregation kinds. */
export const AGGREGATION_KINDS = [
  "count",
  "sum",
  "mean",
  "min",
  "max",
  "variance",
  "stddev",
  "first",
  "last",
  "last_n",
  "count_distinct",
] as const;

/** An aggregation kind. */
export type AggregationKind = (typeof AGGREGATION_KINDS)[number];

/** What one aggregation reads: its kind, the event field and its type, and `k` for last_n. */
export interface AggregationSpec {
  kind: AggregationKind;
  fieldType: ValueType;
  /** last_n only: how many values. */
  k?: number;
}

/** One event's input to an aggregation: its times and the field's value (null when null). */
export interface AggregatedEvent {
  eventTime: number;
  ingestTime: number;
  value: FeatureValue;
}

/** A value with the times that order it, for first, last and last_n. */
interface Stamped {
  t: number;
  i: number;
  v: FeatureValue;
}

/** The partial state of every kind; which fields are set depends on the kind. */
export interface AggregationState {
  /** Events counted (count), or non-null values seen (the numeric kinds). */
  n: number;
  /** Neumaier-compensated sum and its compensation (float sums, mean, variance's mean). */
  s?: number;
  c?: number;
  /** Exact sum of integer values. */
  exact?: bigint;
  /** Chan's running mean and sum of squared deviations (variance, stddev). */
  mean?: number;
  m2?: number;
  /** min, max. */
  best?: FeatureValue;
  /** first, last: the chosen event; last_n: the newest k, newest first. */
  stamped?: Stamped[];
  /** count_distinct. */
  registers?: HllRegisters;
}

const INTEGER_TYPES: ReadonlySet<ValueType> = new Set(["int32", "int64"]);
const NUMERIC_TYPES: ReadonlySet<ValueType> = new Set(["int32", "int64", "float", "double"]);
const ORDERED_TYPES: ReadonlySet<ValueType> = new Set([...NUMERIC_TYPES, "timestamp", "string"]);
const DISTINCT_TYPES: ReadonlySet<ValueType> = new Set(["int32", "int64", "string"]);

/** Why an aggregation cannot read a field of `fieldType` (or `k` is bad), or undefined when it can. */
export function describeInvalidAggregation(spec: AggregationSpec): string | undefined {
  const { kind, fieldType } = spec;
  if (kind === "last_n" && (!Number.isSafeInteger(spec.k) || (spec.k ?? 0) < 1 || (spec.k ?? 0) > 1000))
    return "last_n needs k from 1 to 1000";
  if ((kind === "sum" || kind === "mean" || kind === "variance" || kind === "stddev") && !NUMERIC_TYPES.has(fieldType))
    return `${kind} needs a numeric field (int32, int64, float, double), not ${fieldType}`;
  if ((kind === "min" || kind === "max") && !ORDERED_TYPES.has(fieldType))
    return `${kind} needs a numeric, timestamp or string field, not ${fieldType}`;
  if (kind === "count_distinct" && !DISTINCT_TYPES.has(fieldType))
    return `count_distinct needs an int32, int64 or string field, not ${fieldType}`;
  return undefined;
}

/** A new empty state. */
export function emptyState(spec: AggregationSpec): AggregationState {
  switch (spec.kind) {
    case "sum":
      return INTEGER_TYPES.has(spec.fieldType) ? { n: 0, exact: 0n } : { n: 0, s: 0, c: 0 };
    case "mean":
      return { n: 0, s: 0, c: 0 };
    case "variance":
    case "stddev":
      return { n: 0, mean: 0, m2: 0 };
    case "first":
    case "last":
    case "last_n":
      return { n: 0, stamped: [] };
    case "count_distinct":
      return { n: 0, registers: {} };
    default:
      return { n: 0 };
  }
}

/** Adds one event to a state, in place. */
export function addEvent(spec: AggregationSpec, state: AggregationState, event: AggregatedEvent): void {
  const { value } = event;
  if (spec.kind === "count") {
    state.n++;
    return;
  }
  if (spec.kind === "first" || spec.kind === "last") {
    keepStamped(spec, state, [{ t: event.eventTime, i: event.ingestTime, v: value }]);
    return;
  }
  if (value === null) return;
  if (spec.kind === "last_n") {
    keepStamped(spec, state, [{ t: event.eventTime, i: event.ingestTime, v: value }]);
    return;
  }
  switch (spec.kind) {
    case "sum":
    case "mean":
      if (state.exact !== undefined) state.exact += BigInt(value as number | bigint);
      else neumaierAdd(state, Number(value));
      state.n++;
      return;
    case "variance":
    case "stddev":
      mergeMoments(state, { n: 1, mean: Number(value), m2: 0 });
      return;
    case "min":
    case "max":
      if (state.best === undefined || state.best === null || better(spec.kind, value, state.best)) state.best = value;
      state.n++;
      return;
    case "count_distinct":
      hllAdd(state.registers as HllRegisters, hashDistinctValue(value as number | bigint | string));
      state.n++;
      return;
  }
}

/** Merges `from` into `into`, in place. */
export function mergeStates(spec: AggregationSpec, into: AggregationState, from: AggregationState): void {
  switch (spec.kind) {
    case "count":
      into.n += from.n;
      return;
    case "sum":
    case "mean":
      if (into.exact !== undefined) into.exact += from.exact ?? 0n;
      else {
        neumaierAdd(into, from.s ?? 0);
        neumaierAdd(into, from.c ?? 0);
      }
      into.n += from.n;
      return;
    case "variance":
    case "stddev":
      mergeMoments(into, from);
      return;
    case "min":
    case "max":
      if (
        from.best !== undefined &&
        from.best !== null &&
        (into.best === undefined || into.best === null || better(spec.kind, from.best, into.best))
      )
        into.best = from.best;
      into.n += from.n;
      return;
    case "first":
    case "last":
    case "last_n":
      keepStamped(spec, into, from.stamped ?? []);
      return;
    case "count_distinct":
      hllMerge(into.registers as HllRegisters, from.registers ?? {});
      into.n += from.n;
      return;
  }
}

/** The aggregate's value from a (merged) state. */
export function resultOf(spec: AggregationSpec, state: AggregationState): FeatureValue {
  switch (spec.kind) {
    case "count":
      return BigInt(state.n);
    case "sum":
      // An integer sum outside int64 has no int64 value: null, as the SQL path gives.
      if (state.exact !== undefined) return state.exact >= -(2n ** 63n) && state.exact < 2n ** 63n ? state.exact : null;
      return (state.s ?? 0) + (state.c ?? 0);
    case "mean":
      if (state.n === 0) return null;
      return (state.exact !== undefined ? Number(state.exact) : (state.s ?? 0) + (state.c ?? 0)) / state.n;
    case "variance":
      return state.n < 2 ? null : (state.m2 ?? 0) / (state.n - 1);
    case "stddev":
      return state.n < 2 ? null : Math.sqrt((state.m2 ?? 0) / (state.n - 1));
    case "min":
    case "max":
      return state.best ?? null;
    case "first":
    case "last":
      return state.stamped?.[0]?.v ?? null;
    case "last_n":
      return (state.stamped ?? []).map((s) => s.v) as FeatureValue;
    case "count_distinct":
      return BigInt(hllEstimate(state.registers ?? {}));
  }
}

/** The value type of an aggregation's result. */
export function resultType(spec: AggregationSpec): ValueType {
  switch (spec.kind) {
    case "count":
    case "count_distinct":
      return "int64";
    case "sum":
      return INTEGER_TYPES.has(spec.fieldType) ? "int64" : "double";
    case "mean":
    case "variance":
    case "stddev":
      return "double";
    case "last_n":
      return listTypeOf(spec.fieldType);
    default:
      return spec.fieldType;
  }
}

function listTypeOf(type: ValueType): ValueType {
  if (type === "int32" || type === "int64") return "int64_list";
  if (type === "float") return "float_list";
  if (type === "double") return "double_list";
  return "string_list";
}

/** Neumaier's compensated addition into `state.s` / `state.c`. */
function neumaierAdd(state: AggregationState, value: number): void {
  const sum = state.s ?? 0;
  const total = sum + value;
  const compensation = Math.abs(sum) >= Math.abs(value) ? sum - total + value : value - total + sum;
  state.s = total;
  state.c = (state.c ?? 0) + compensation;
}

/** Chan et al.'s pairwise update of (n, mean, M2). */
function mergeMoments(into: AggregationState, from: Pick<AggregationState, "n" | "mean" | "m2">): void {
  if (from.n === 0) return;
  if (into.n === 0) {
    into.n = from.n;
    into.mean = from.mean;
    into.m2 = from.m2;
    return;
  }
  const n = into.n + from.n;
  const delta = (from.mean ?? 0) - (into.mean ?? 0);
  into.mean = (into.mean ?? 0) + (delta * from.n) / n;
  into.m2 = (into.m2 ?? 0) + (from.m2 ?? 0) + (delta * delta * into.n * from.n) / n;
  into.n = n;
}

/** Whether `candidate` beats `current` for min or max. */
function better(kind: "min" | "max", candidate: FeatureValue, current: FeatureValue): boolean {
  const order = compareOrdered(candidate, current);
  return kind === "min" ? order < 0 : order > 0;
}

/**
 * The order min and max use: numbers and times by value, strings by Unicode code point, which is
 * the byte order of their UTF-8 (ClickHouse's order); JavaScript's `<` on strings compares UTF-16
 * code units, which differs above U+FFFF.
 */
function compareOrdered(a: FeatureValue, b: FeatureValue): number {
  if (typeof a === "string" && typeof b === "string") {
    const left = a[Symbol.iterator]();
    const right = b[Symbol.iterator]();
    for (;;) {
      const x = left.next();
      const y = right.next();
      if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
      const difference = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number);
      if (difference !== 0) return difference;
    }
  }
  const x = a instanceof Date ? a.getTime() : (a as number | bigint);
  const y = b instanceof Date ? b.getTime() : (b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Keeps the first (smallest (τ, ι)), the last, or the newest k of the state's and `incoming`'s
 * stamped values: each incoming value is inserted in order into the at most k kept, so adding one
 * event costs O(k) without a sort.
 */
function keepStamped(spec: AggregationSpec, state: AggregationState, incoming: Stamped[]): void {
  const kept = state.stamped ?? [];
  const limit = spec.kind === "last_n" ? (spec.k ?? 1) : 1;
  // Kept in the order of preference: newest first, or oldest first for "first".
  const before =
    spec.kind === "first"
      ? (a: Stamped, b: Stamped) => a.t < b.t || (a.t === b.t && a.i < b.i)
      : (a: Stamped, b: Stamped) => a.t > b.t || (a.t === b.t && a.i > b.i);
  for (const value of incoming) {
    let at = kept.length;
    while (at > 0 && before(value, kept[at - 1] as Stamped)) at--;
    if (at < limit) {
      kept.splice(at, 0, value);
      if (kept.length > limit) kept.pop();
    }
  }
  state.stamped = kept;
  state.n += incoming.length;
}

/**
 * A state as a short array, in a layout fixed by the kind: what the online store keeps (arrays
 * of numbers encode several times faster than objects with named fields).
 */
export type PackedState = unknown[];

/** A state of `spec` as a {@link PackedState}. */
export function packState(spec: AggregationSpec, state: AggregationState): PackedState {
  switch (spec.kind) {
    case "count":
      return [state.n];
    case "sum":
    case "mean":
      return state.exact !== undefined ? [state.n, state.exact] : [state.n, state.s ?? 0, state.c ?? 0];
    case "variance":
    case "stddev":
      return [state.n, state.mean ?? 0, state.m2 ?? 0];
    case "min":
    case "max":
      return [state.n, state.best ?? null];
    case "first":
    case "last":
    case "last_n":
      return [state.n, (state.stamped ?? []).flatMap((s) => [s.t, s.i, s.v])];
    case "count_distinct":
      return [state.n, Object.entries(state.registers ?? {}).flatMap(([index, rank]) => [Number(index), rank])];
  }
}

/** The state {@link packState} packed. */
export function unpackState(spec: AggregationSpec, packed: PackedState): AggregationState {
  const n = packed[0] as number;
  switch (spec.kind) {
    case "count":
      return { n };
    case "sum":
    case "mean":
      return packed.length === 2 ? { n, exact: packed[1] as bigint } : { n, s: packed[1] as number, c: packed[2] as number };
    case "variance":
    case "stddev":
      return { n, mean: packed[1] as number, m2: packed[2] as number };
    case "min":
    case "max":
      return packed[1] === null ? { n } : { n, best: packed[1] as FeatureValue };
    case "first":
    case "last":
    case "last_n": {
      const flat = packed[1] as unknown[];
      const stamped: Stamped[] = [];
      for (let i = 0; i < flat.length; i += 3)
        stamped.push({ t: flat[i] as number, i: flat[i + 1] as number, v: flat[i + 2] as FeatureValue });
      return { n, stamped };
    }
    case "count_distinct": {
      const flat = packed[1] as number[];
      const registers: HllRegisters = {};
      for (let i = 0; i < flat.length; i += 2) registers[flat[i] as number] = flat[i + 1] as number;
      return { n, registers };
    }
  }
}

/**
 * The window rule, written once (docs/streaming.md): which events count for a windowed aggregate
 * "as of t". The tiles take their bounds from here; the SQL of the offline path
 * (src/storage/offline/window-sql.ts) states the same bounds in SQL, and both are property-tested
 * against the same plain-loop reference.
 */

/** A window: a positive multiple of the stream's granularity, in microseconds, or the whole history. */
export type Window = { micros: number } | "lifetime";

/** Floor division towards −∞ (times before 1970 are negative). */
export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

/** The tile holding an event time: tile k covers [k·g, (k+1)·g). */
export function tileOf(eventTime: number, granularity: number): number {
  return floorDiv(eventTime, granularity);
}

/**
 * The first event time a window counts as of `t`: `floor((t − W) / g) · g`, closed. Undefined for
 * lifetime windows (no lower bound). The window ends at `t`, closed.
 */
export function windowStart(t: number, window: Window, granularity: number): number | undefined {
  if (window === "lifetime") return undefined;
  return floorDiv(t - window.micros, granularity) * granularity;
}

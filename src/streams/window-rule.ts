/**
 * The window rule, written once (docs/streaming.md): which events count for a windowed aggregate
 * "as of t". The tile code and (later) the SQL generator both take their bounds from here.
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

/** Whether an event at `eventTime` counts for `window` as of `t`. */
export function inWindow(eventTime: number, t: number, window: Window, granularity: number): boolean {
  if (eventTime > t) return false;
  const start = windowStart(t, window, granularity);
  return start === undefined || eventTime >= start;
}

/** Why a window cannot be used with a granularity, or undefined when it can. */
export function describeInvalidWindow(window: Window, granularity: number): string | undefined {
  if (!Number.isSafeInteger(granularity) || granularity <= 0) return `the granularity must be a positive whole number of microseconds`;
  if (window === "lifetime") return undefined;
  if (!Number.isSafeInteger(window.micros) || window.micros <= 0) return "a window must be a positive whole number of microseconds";
  if (window.micros % granularity !== 0) return `a window must be a multiple of the stream's granularity (${granularity} µs)`;
  return undefined;
}

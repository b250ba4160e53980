/**
 * Long synchronous loops cut into slices, with a turn of the event loop between two slices: the
 * logs' flushes make and format thousands of records, and doing that in one go (some
 * milliseconds) would stall the requests waiting behind it.
 */
import { setImmediate } from "node:timers/promises";

/**
 * The longest slice, in milliseconds: short beside a call's own latency (about 0.5 ms), so that a
 * call arriving during a slice is not held up by more than the noise of a call.
 */
export const SLICE_MS = 0.1;

/** Items handled between two reads of the clock. */
const ITEMS_PER_CLOCK_READ = 4;

/** `items.map(fn)`, yielding to the event loop whenever a slice of work has taken {@link SLICE_MS}. */
export async function mapInSlices<T, R>(items: readonly T[], fn: (item: T, index: number) => R): Promise<R[]> {
  const mapped: R[] = new Array(items.length);
  let sliceStarted = performance.now();
  for (let index = 0; index < items.length; index++) {
    if (index % ITEMS_PER_CLOCK_READ === 0 && index > 0 && performance.now() - sliceStarted >= SLICE_MS) {
      await setImmediate();
      sliceStarted = performance.now();
    }
    mapped[index] = fn(items[index] as T, index);
  }
  return mapped;
}

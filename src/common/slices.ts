/**
 * Long synchronous loops cut into slices, with a turn of the event loop between two slices: the
 * logs' flushes format thousands of rows, and doing that in one go (some milliseconds) would stall
 * every request waiting behind it.
 */
import { setImmediate } from "node:timers/promises";

/** Items handled between two yields to the event loop: about 0.5 ms of formatting work. */
export const ITEMS_PER_SLICE = 200;

/** `items.map(fn)`, yielding to the event loop after every {@link ITEMS_PER_SLICE} items. */
export async function mapInSlices<T, R>(items: readonly T[], fn: (item: T, index: number) => R): Promise<R[]> {
  const mapped: R[] = new Array(items.length);
  for (let index = 0; index < items.length; index++) {
    if (index > 0 && index % ITEMS_PER_SLICE === 0) await setImmediate();
    mapped[index] = fn(items[index] as T, index);
  }
  return mapped;
}

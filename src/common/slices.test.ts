import { describe, expect, it } from "vitest";
import { mapInSlices, SLICE_MS } from "./slices.js";

/** Whether a callback queued with setImmediate before `work` started has run by the time `work` resolves. */
async function yieldedDuring<T>(work: () => Promise<T>): Promise<{ result: T; yielded: boolean }> {
  let yielded = false;
  setImmediate(() => {
    yielded = true;
  });
  const result = await work();
  return { result, yielded };
}

/** Work that takes `ms` milliseconds of this thread. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("mapInSlices", () => {
  it("maps every item in order, with its index, yielding to the event loop when the work outlasts a slice", async () => {
    const items = Array.from({ length: 50 }, (_, i) => i * 2);
    const { result, yielded } = await yieldedDuring(() =>
      mapInSlices(items, (item, index) => {
        spin(SLICE_MS / 4);
        return `${index}:${item}`;
      }),
    );
    expect(result).toEqual(items.map((item, index) => `${index}:${item}`));
    expect(yielded).toBe(true);
  });

  it("does not yield for work shorter than a slice", async () => {
    const { result, yielded } = await yieldedDuring(() => mapInSlices([1, 2, 3, 4], (item) => item + 1));
    expect(result).toEqual([2, 3, 4, 5]);
    expect(yielded).toBe(false);
  });

  it("maps an empty list to an empty list", async () => {
    expect(await mapInSlices([], (item) => item)).toEqual([]);
  });
});

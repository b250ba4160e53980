import { describe, expect, it } from "vitest";
import { ITEMS_PER_SLICE, mapInSlices } from "./slices.js";

/** Whether a callback queued with setImmediate before `work` started has run by the time `work` resolves. */
async function yieldedDuring<T>(work: () => Promise<T>): Promise<{ result: T; yielded: boolean }> {
  let yielded = false;
  setImmediate(() => {
    yielded = true;
  });
  const result = await work();
  return { result, yielded };
}

describe("mapInSlices", () => {
  it("maps every item in order, with its index", async () => {
    const items = Array.from({ length: 3 * ITEMS_PER_SLICE + 7 }, (_, i) => i * 2);
    const { result, yielded } = await yieldedDuring(() => mapInSlices(items, (item, index) => `${index}:${item}`));
    expect(result).toEqual(items.map((item, index) => `${index}:${item}`));
    expect(yielded).toBe(true);
  });

  it("does not yield for one slice or less", async () => {
    const { result, yielded } = await yieldedDuring(() => mapInSlices(new Array(ITEMS_PER_SLICE).fill(1), (item) => item + 1));
    expect(result).toEqual(new Array(ITEMS_PER_SLICE).fill(2));
    expect(yielded).toBe(false);
  });

  it("maps an empty list to an empty list", async () => {
    expect(await mapInSlices([], (item) => item)).toEqual([]);
  });
});

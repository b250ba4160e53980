import { describe, expect, it } from "vitest";
import { readAhead } from "./read-ahead.js";

/** A source that records how far it has been read and whether it was stopped. */
function source(count: number, failAt?: number) {
  const state = { produced: 0, stopped: false };
  async function* items() {
    try {
      for (let i = 0; i < count; i++) {
        if (i === failAt) throw new Error(`item ${i} failed`);
        state.produced++;
        yield i;
      }
    } finally {
      state.stopped = true;
    }
  }
  return { state, items: items() };
}

describe("readAhead", () => {
  it("yields every item in order", async () => {
    const { items } = source(10);
    const seen: number[] = [];
    for await (const item of readAhead(items, 3)) seen.push(item);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("reads at most `depth` items ahead of the consumer", async () => {
    const { state, items } = source(100);
    for await (const item of readAhead(items, 2)) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(state.produced).toBeLessThanOrEqual(item + 1 + 2);
      if (item === 5) break;
    }
    expect(state.stopped).toBe(true);
    expect(state.produced).toBeLessThanOrEqual(8);
  });

  it("surfaces a failure after the items before it", async () => {
    const { items } = source(10, 4);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const item of readAhead(items, 3)) seen.push(item);
      })(),
    ).rejects.toThrow("item 4 failed");
    expect(seen).toEqual([0, 1, 2, 3]);
  });
});

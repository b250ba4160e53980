import { describe, expect, it } from "vitest";
import { ShadowQueue } from "./shadow-queue.js";

/** A batch runner that records batches and holds each until released. */
function heldRunner() {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  const run = (batch: number[]) => {
    batches.push(batch);
    return new Promise<void>((resolve) => releases.push(resolve));
  };
  return { batches, run, releaseNext: () => releases.shift()?.() };
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ShadowQueue", () => {
  it("runs nothing in the caller's turn, then hands over what queued within the delay as one batch", async () => {
    const runner = heldRunner();
    const queue = new ShadowQueue(100, runner.run, { maxBatch: 10, maxDelayMs: 5 });
    for (const item of [1, 2, 3]) expect(queue.submit(item)).toBe(true);
    expect(runner.batches).toEqual([]);
    await tick(20);
    expect(runner.batches).toEqual([[1, 2, 3]]);
    runner.releaseNext();
    await queue.idle();
  });

  it("hands over a full batch at once, and one batch at a time", async () => {
    const runner = heldRunner();
    const queue = new ShadowQueue(100, runner.run, { maxBatch: 2, maxDelayMs: 10_000 });
    for (const item of [1, 2, 3, 4, 5]) queue.submit(item);
    await tick();
    expect(runner.batches).toEqual([[1, 2]]); // the next waits for this one
    runner.releaseNext();
    await tick();
    expect(runner.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    runner.releaseNext();
    await tick();
    runner.releaseNext(); // [5]: fewer than a batch, but queued behind a batch that ran
    await queue.idle();
    expect(runner.batches.at(-1)).toEqual([5]);
  });

  it("sheds what does not fit instead of growing, and keeps going after a failing batch", async () => {
    let calls = 0;
    const seen: number[] = [];
    const queue = new ShadowQueue(
      2,
      async (batch: number[]) => {
        calls++;
        seen.push(...batch);
        if (calls === 1) throw new Error("shadow broke");
      },
      { maxBatch: 10, maxDelayMs: 1 },
    );
    expect([queue.submit(1), queue.submit(2), queue.submit(3)]).toEqual([true, true, false]);
    await queue.idle();
    expect(queue.submit(4)).toBe(true);
    await tick(10);
    await queue.idle();
    expect(seen).toEqual([1, 2, 4]);
  });
});

import { describe, expect, it } from "vitest";
import { ShadowQueue } from "./shadow-queue.js";

/** A task that runs until released, recording that it started. */
function blockedTask(started: number[], id: number) {
  let release = () => {};
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  const task = () => {
    started.push(id);
    return done;
  };
  return { task, release };
}

describe("ShadowQueue", () => {
  it("runs tasks after the current turn, a bounded number at once", async () => {
    const queue = new ShadowQueue(10, 2);
    const started: number[] = [];
    const tasks = [1, 2, 3].map((id) => blockedTask(started, id));
    for (const { task } of tasks) expect(queue.submit(task)).toBe(true);
    expect(started).toEqual([]); // nothing runs in the caller's turn
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([1, 2]);
    tasks[0]?.release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual([1, 2, 3]);
    for (const { release } of tasks) release();
    await queue.idle();
  });

  it("sheds what does not fit instead of growing, and keeps going after a failing task", async () => {
    const queue = new ShadowQueue(2, 1);
    const started: number[] = [];
    const blocked = blockedTask(started, 1);
    expect(queue.submit(() => Promise.reject(new Error("shadow broke")))).toBe(true);
    expect(queue.submit(blocked.task)).toBe(true);
    expect(queue.submit(async () => void started.push(3))).toBe(false); // full: shed
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual([1]);
    expect(queue.submit(async () => void started.push(4))).toBe(true);
    blocked.release();
    await queue.idle();
    expect(started).toEqual([1, 4]);
  });
});

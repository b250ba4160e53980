/**
 * The contract every {@link LearningStore} backend must meet; each backend's test file calls
 * {@link describeLearningStoreContract} with a factory, and the same cases run against all of them.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import type { LearningStore } from "./learning-store.js";

/** Opens a fresh, empty store; `reopen` opens the same data again after close (durability). */
export interface LearningStoreFactory {
  open(): Promise<LearningStore>;
  reopen(): Promise<LearningStore>;
}

const bytes = (...values: number[]) => Uint8Array.from(values);

/** Registers the contract's cases for one backend. */
export function describeLearningStoreContract(factory: LearningStoreFactory): void {
  let store: LearningStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });

  it("numbers log entries densely from 1 per learner and reads them after a position", async () => {
    expect(await store.lastPosition("p/a")).toBe(0);
    expect(await store.append("p/a", [bytes(1), bytes(2, 2)])).toBe(2);
    expect(await store.append("p/b", [bytes(9)])).toBe(1);
    expect(await store.append("p/a", [bytes(3)])).toBe(3);
    expect(await store.append("p/a", [])).toBe(3);
    const all = await store.read("p/a", 0, 10);
    expect(all.map((e) => e.position)).toEqual([1, 2, 3]);
    expect(all.map((e) => [...e.value])).toEqual([[1], [2, 2], [3]]);
    expect((await store.read("p/a", 1, 1)).map((e) => [e.position, [...e.value]])).toEqual([[2, [2, 2]]]);
    expect(await store.read("p/a", 3, 10)).toEqual([]);
    expect((await store.read("p/b", 0, 10)).map((e) => [...e.value])).toEqual([[9]]);
  });

  it("moves a cursor in the same step as its entries, only from its expected value", async () => {
    expect(await store.cursor("p/a", "kafka:t/0")).toBeUndefined();
    expect(await store.appendMovingCursor("p/a", [bytes(1)], { name: "kafka:t/0", expected: undefined, value: "17" })).toBe(1);
    expect(await store.cursor("p/a", "kafka:t/0")).toBe("17");
    // A second writer that read the cursor before the move writes nothing.
    expect(await store.appendMovingCursor("p/a", [bytes(9)], { name: "kafka:t/0", expected: undefined, value: "17" })).toBeUndefined();
    expect(await store.appendMovingCursor("p/a", [bytes(9)], { name: "kafka:t/0", expected: "16", value: "18" })).toBeUndefined();
    expect(await store.appendMovingCursor("p/a", [bytes(2), bytes(3)], { name: "kafka:t/0", expected: "17", value: "19" })).toBe(3);
    expect(await store.appendMovingCursor("p/a", [], { name: "kafka:t/0", expected: "19", value: "20" })).toBe(3);
    expect(await store.cursor("p/a", "kafka:t/0")).toBe("20");
    expect((await store.read("p/a", 0, 10)).map((e) => [...e.value])).toEqual([[1], [2], [3]]);
  });

  it("trims entries up to a position, keeping the positions of the rest", async () => {
    await store.append("p/a", [bytes(1), bytes(2), bytes(3), bytes(4)]);
    await store.append("p/b", [bytes(9)]);
    expect(await store.trim("p/a", 2)).toBe(2);
    expect(await store.trim("p/a", 2)).toBe(0);
    expect((await store.read("p/a", 0, 10)).map((e) => [e.position, [...e.value]])).toEqual([
      [3, [3]],
      [4, [4]],
    ]);
    expect(await store.append("p/a", [bytes(5)])).toBe(5);
    expect(await store.trim("p/a", 100)).toBe(3);
    expect(await store.read("p/a", 0, 10)).toEqual([]);
    expect(await store.lastPosition("p/a")).toBe(5);
    expect(await store.append("p/a", [bytes(6)])).toBe(6);
    expect((await store.read("p/a", 0, 10)).map((e) => e.position)).toEqual([6]);
    expect((await store.read("p/b", 0, 10)).map((e) => [...e.value])).toEqual([[9]]);
  });

  it("keeps checkpoint slots apart and overwrites a slot whole", async () => {
    expect(await store.getCheckpoint("p/a", "latest")).toBeUndefined();
    expect(await store.putCheckpoint("p/a", "latest", bytes(1, 2, 3))).toBe(true);
    expect(await store.putCheckpoint("p/a", "published/1", bytes(7))).toBe(true);
    expect(await store.putCheckpoint("p/a", "latest", bytes(4))).toBe(true);
    expect([...((await store.getCheckpoint("p/a", "latest")) ?? [])]).toEqual([4]);
    expect([...((await store.getCheckpoint("p/a", "published/1")) ?? [])]).toEqual([7]);
    expect(await store.getCheckpoint("p/b", "latest")).toBeUndefined();
  });

  it("gives the lease to one holder until it expires or is released, and fences checkpoints by it", async () => {
    expect(await store.acquireLease("p/a", "r1", 60_000)).toBe("taken");
    expect(await store.acquireLease("p/a", "r2", 60_000)).toBe("refused");
    expect(await store.acquireLease("p/a", "r1", 60_000)).toBe("extended");
    expect(await store.leaseHolder("p/a")).toBe("r1");
    expect(await store.putCheckpoint("p/a", "latest", bytes(1), "r2")).toBe(false);
    expect(await store.getCheckpoint("p/a", "latest")).toBeUndefined();
    expect(await store.putCheckpoint("p/a", "latest", bytes(1), "r1")).toBe(true);
    await store.releaseLease("p/a", "r2");
    expect(await store.leaseHolder("p/a")).toBe("r1");
    await store.releaseLease("p/a", "r1");
    expect(await store.leaseHolder("p/a")).toBeUndefined();
    expect(await store.acquireLease("p/a", "r2", 50)).toBe("taken");
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await store.leaseHolder("p/a")).toBeUndefined();
    expect(await store.putCheckpoint("p/a", "latest", bytes(2), "r2")).toBe(false);
    // A holder whose own lease lapsed takes it anew: someone else may have held it in between.
    expect(await store.acquireLease("p/a", "r2", 60_000)).toBe("taken");
    await store.releaseLease("p/a", "r2");
    expect(await store.acquireLease("p/a", "r1", 60_000)).toBe("taken");
  });

  it("keeps everything across a reopen", async () => {
    await store.appendMovingCursor("p/a", [bytes(5), bytes(6)], { name: "c", expected: undefined, value: "x" });
    await store.putCheckpoint("p/a", "latest", bytes(8));
    await store.close();
    store = await factory.reopen();
    expect((await store.read("p/a", 0, 10)).map((e) => [...e.value])).toEqual([[5], [6]]);
    expect(await store.cursor("p/a", "c")).toBe("x");
    expect([...((await store.getCheckpoint("p/a", "latest")) ?? [])]).toEqual([8]);
    expect(await store.append("p/a", [bytes(7)])).toBe(3);
  });
}

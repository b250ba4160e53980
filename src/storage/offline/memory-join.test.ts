import { describe, expect, it } from "vitest";
import { HeldSpine } from "./memory-join.js";

describe("HeldSpine", () => {
  const batch = (length: number, extra: ArrayLike<string | Uint8Array | number | null> = []) => ({
    length,
    keys: [BigInt64Array.from({ length }, (_, i) => BigInt(i))],
    eventTimes: Array.from({ length }, (_, i) => i),
    extras: extra.length > 0 ? [extra] : [],
  });

  it("holds batches within its rows and its budget, counting a text's or bytes' own length, and refuses the one beyond whole", () => {
    const budget = { maxBytes: 100, bytes: 0 };
    const held = new HeldSpine(4, budget);
    // 16 bytes of typed keys, 16 of times.
    expect(held.add(batch(2), 0, 0)).toBe(true);
    expect(held.bytes).toBe(32);
    // Keys 16, times 16, the text column 16 plus its texts' 5 + 3 characters.
    expect(held.add(batch(2, ["hello", "abc"]), 2, 1)).toBe(true);
    expect([held.bytes, budget.bytes]).toEqual([88, 88]);
    expect(held.add(batch(1), 4, 0)).toBe(false);
    expect([held.length, held.bytes]).toEqual([4, 88]);

    const bytes = new HeldSpine(10, { maxBytes: 80, bytes: 0 });
    expect(bytes.add(batch(1, [new Uint8Array(40)]), 0, 1)).toBe(true);
    expect(bytes.bytes).toBe(8 + 8 + 8 + 40);
    expect(bytes.add(batch(1, ["a".repeat(20)]), 1, 1)).toBe(false);
    expect(bytes.length).toBe(1);
  });

  it("shares one budget between the spines of a store, each giving its bytes back once released", () => {
    const budget = { maxBytes: 64, bytes: 0 };
    const first = new HeldSpine(100, budget);
    const second = new HeldSpine(100, budget);
    expect(first.add(batch(2), 0, 0)).toBe(true);
    expect(second.add(batch(2), 0, 0)).toBe(true);
    expect(second.add(batch(1), 2, 0)).toBe(false);
    first.release();
    expect(budget.bytes).toBe(32);
    expect(second.add(batch(1), 2, 0)).toBe(true);
    expect(budget.bytes).toBe(48);
  });
});

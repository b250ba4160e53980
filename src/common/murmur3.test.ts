import { describe, expect, it } from "vitest";
import { murmurHash3x86 } from "./murmur3.js";

describe("murmurHash3x86", () => {
  it("matches the published reference vectors", () => {
    expect(murmurHash3x86("", 0)).toBe(0);
    expect(murmurHash3x86("", 1)).toBe(0x514e28b7);
    expect(murmurHash3x86("hello", 0)).toBe(0x248bfa47);
    expect(murmurHash3x86("The quick brown fox jumps over the lazy dog", 0)).toBe(0x2e4ff723);
    // Tails of one, two and three bytes.
    expect(murmurHash3x86("a", 0)).toBe(0x3c2569b2);
    expect(murmurHash3x86("ab", 0)).toBe(0x9bbfd75f);
    expect(murmurHash3x86("abc", 0)).toBe(0xb3dd93fa);
  });
});

import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("grants a burst, then refuses with the wait until the next token", () => {
    let now = 0;
    const limiter = new RateLimiter(10, 3, () => now);
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBe(100);
    now = 100;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(100);
  });

  it("keeps one bucket per principal: a flood from one leaves the others untouched", () => {
    const now = 0;
    const limiter = new RateLimiter(1, 2, () => now);
    for (let i = 0; i < 100; i++) limiter.take("flooder");
    expect(limiter.take("flooder")).toBeGreaterThan(0);
    expect(limiter.take("other")).toBe(0);
    expect(limiter.take("other")).toBe(0);
  });

  it("never holds more than the burst, however long a principal was idle", () => {
    let now = 0;
    const limiter = new RateLimiter(1000, 2, () => now);
    limiter.take("a");
    now = 1e9;
    expect([limiter.take("a"), limiter.take("a")]).toEqual([0, 0]);
    expect(limiter.take("a")).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from "vitest";
import { encodeEntityKey } from "../common/entity-key.js";
import { goesToCanary, routingPoint } from "./canary-split.js";

describe("canary split", () => {
  it("sends within 2 points of the share to the canary over 10,000 keys", () => {
    // Routing keys as Predict makes them: encoded entity keys of consecutive customer ids.
    const keys = Array.from({ length: 10_000 }, (_, i) => encodeEntityKey([BigInt(i + 1)]));
    for (const percent of [1, 10, 25, 50, 90]) {
      const share = (keys.filter((key) => goesToCanary(key, percent)).length / keys.length) * 100;
      expect(Math.abs(share - percent), `${percent}%`).toBeLessThanOrEqual(2);
    }
  });

  it("is sticky, and raising the share only moves keys from stable to canary", () => {
    for (let i = 0; i < 2000; i++) {
      const key = `customer-${i}`;
      expect(goesToCanary(key, 20)).toBe(goesToCanary(key, 20));
      if (goesToCanary(key, 20)) expect(goesToCanary(key, 35)).toBe(true);
      expect(routingPoint(key)).toBeGreaterThanOrEqual(0);
      expect(routingPoint(key)).toBeLessThan(100);
    }
    expect(goesToCanary("anyone", 0)).toBe(false);
    expect(goesToCanary("anyone", 100)).toBe(true);
  });
});

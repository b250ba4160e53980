import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeEntityKey } from "./entity-key.js";

describe("encodeEntityKey", () => {
  it("encodes a single int64 key as the JSON text of its decimal string, like every other key", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (key) => {
        expect(encodeEntityKey([key])).toBe(JSON.stringify([key.toString()]));
      }),
    );
    expect(encodeEntityKey([7n, "eu"])).toBe('["7","eu"]');
    expect(encodeEntityKey([new Uint8Array([1, 2, 255])])).toBe('["AQL/"]');
  });
});

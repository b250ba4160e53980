import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonOf, MAX_LOGGED_JSON_CHARS } from "./predictor.js";

describe("jsonOf (prediction log columns)", () => {
  it("writes small columns whole", () => {
    expect(jsonOf({ id: [1n, { kind: "string", value: "a" }], x: [1.5, null] })).toBe('{"id":["1","a"],"x":[1.5,null]}');
  });

  it("keeps a bounded, valid prefix of huge columns", () => {
    const outputs = { scores: Array.from({ length: 64_000_000 / 64 }, (_, i) => i / 3), other: [1, 2] };
    const json = jsonOf(outputs);
    expect(json.length).toBeLessThanOrEqual(MAX_LOGGED_JSON_CHARS);
    const parsed = JSON.parse(json) as Record<string, number[]>;
    expect(parsed.scores?.length).toBeGreaterThan(100);
    const longText = jsonOf({ id: [{ kind: "string", value: "x".repeat(10_000_000) }] });
    expect(longText.length).toBeLessThan(1000);
  });

  it("writes columns of numbers, booleans and nulls exactly as value by value, up to the same cut", () => {
    // The plain loop jsonOf runs for other values: each value's JSON while it fits.
    const reference = (columns: Record<string, unknown[]>): string => {
      const parts: string[] = [];
      let size = 2;
      for (const [name, values] of Object.entries(columns)) {
        const head = `${JSON.stringify(name)}:[`;
        if (size + head.length + 1 > MAX_LOGGED_JSON_CHARS) break;
        size += head.length + 2;
        const items: string[] = [];
        for (const value of values) {
          const item = JSON.stringify(value) ?? "null";
          if (size + item.length + 1 > MAX_LOGGED_JSON_CHARS) break;
          items.push(item);
          size += item.length + 1;
        }
        parts.push(`${head}${items.join(",")}]`);
      }
      return `{${parts.join(",")}}`;
    };
    const value = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, 1e21, 5e-324),
      fc.boolean(),
      fc.constant(null),
    );
    // Columns from empty to past the limit (a double takes up to 24 characters), so the cut falls anywhere.
    const column = fc.oneof(fc.array(value, { maxLength: 20 }), fc.array(fc.double(), { minLength: 2000, maxLength: 4000 }));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), column, { maxKeys: 4 }), (columns) => {
        expect(jsonOf(columns)).toBe(reference(columns));
      }),
      // A failing case of thousands of doubles would take minutes to shrink.
      { numRuns: 200, endOnFailure: true },
    );
  });

  it("writes a typed array value by value, not as an object", () => {
    expect(jsonOf({ x: new Float64Array([1.5, 2]) as unknown as number[] })).toBe('{"x":[1.5,2]}');
  });
});

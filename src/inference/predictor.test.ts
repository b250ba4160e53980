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
});

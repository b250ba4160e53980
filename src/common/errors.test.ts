import { describe, expect, it } from "vitest";
import { MAX_REPORTED_VIOLATIONS, type ValidationError, ViolationCollector } from "./errors.js";

describe("ViolationCollector", () => {
  it("keeps the first hundred violations and counts the rest in one final entry", () => {
    const v = new ViolationCollector();
    for (let i = 0; i < 1_000_000; i++) v.add(`features[${i}].name`, "duplicate feature name");
    expect(v.full).toBe(true);
    let error: ValidationError | undefined;
    try {
      v.throwIfAny("INVALID_FEATURE_VIEW");
    } catch (thrown) {
      error = thrown as ValidationError;
    }
    expect(error?.violations).toHaveLength(MAX_REPORTED_VIOLATIONS + 1);
    expect(error?.violations.at(-1)).toEqual({ field: "", description: `… and ${1_000_000 - MAX_REPORTED_VIOLATIONS} more violations` });
    // The message names a few and stays short.
    expect(error?.message.length).toBeLessThan(4000);
    expect(error?.message).toContain("… and 91 more");
  });

  it("throws nothing when nothing was collected", () => {
    expect(() => new ViolationCollector().throwIfAny("X")).not.toThrow();
  });
});

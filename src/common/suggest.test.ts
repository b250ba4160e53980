import { describe, expect, it } from "vitest";
import { closestNames, HintBudget, MAX_HINT_CANDIDATES, MAX_HINT_NAME_CHARS, unknownNameHint } from "./suggest.js";

describe("closestNames", () => {
  it("finds typos, closest first, and ignores names too far away", () => {
    expect(closestNames("custmer_stats", ["customer_stats", "customers", "orders"])).toEqual(["customer_stats"]);
    expect(closestNames("spend", ["spend_7d", "spent", "send", "orders"])).toEqual(["send", "spent"]);
    expect(closestNames("x", ["orders"])).toEqual([]);
  });
});

describe("unknownNameHint", () => {
  it("suggests close names, else lists a few known ones, else says there are none", () => {
    expect(unknownNameHint("ordrs", ["orders", "spend"], "features")).toBe('did you mean "orders"?');
    expect(unknownNameHint("zzzzzz", ["orders", "spend"], "features")).toBe('the features are "orders", "spend"');
    expect(unknownNameHint("zzzzzz", [], "feature views")).toBe("there are no feature views");
    expect(
      unknownNameHint(
        "zzzzzz",
        Array.from({ length: 30 }, (_, i) => `f${i}`),
        "features",
      ),
    ).toBe("");
  });
});

describe("bounded hints", () => {
  it("gives no hint for an overlong name and looks at a bounded number of candidates", () => {
    expect(closestNames("a".repeat(MAX_HINT_NAME_CHARS + 1), ["a".repeat(MAX_HINT_NAME_CHARS + 1)])).toEqual([]);
    const known = [...Array.from({ length: MAX_HINT_CANDIDATES }, (_, i) => `zz_${i}`), "orders"];
    expect(closestNames("ordrs", known)).toEqual([]);
    expect(closestNames("ordrs", known.slice(-10))).toEqual(["orders"]);
  });

  it("costs the same against a million candidates as against the first few thousand", () => {
    const known = Array.from({ length: 1_000_000 }, (_, i) => `feature_name_${i}`);
    const time = (candidates: readonly string[]) => {
      const started = performance.now();
      for (let i = 0; i < 20; i++) closestNames(`feature_nme_${i}`, candidates);
      return performance.now() - started;
    };
    time(known.slice(0, MAX_HINT_CANDIDATES));
    const few = time(known.slice(0, MAX_HINT_CANDIDATES));
    expect(time(known)).toBeLessThan(few * 3 + 50);
  });

  it("a budget runs out after the first few hints", () => {
    const budget = new HintBudget(2);
    expect([budget.take(), budget.take(), budget.take()]).toEqual([true, true, false]);
  });
});

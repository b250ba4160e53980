import { describe, expect, it } from "vitest";
import { closestNames, unknownNameHint } from "./suggest.js";

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

import { describe, expect, it } from "vitest";
import { formatViewRef, parseFeatureRef, parseViewRef } from "./feature-refs.js";

describe("parseFeatureRef", () => {
  it("parses latest and pinned refs", () => {
    expect(parseFeatureRef("customer_stats:spend_30d")).toEqual({ view: "customer_stats", feature: "spend_30d" });
    expect(parseFeatureRef("customer_stats@3:spend_30d")).toEqual({ view: "customer_stats", version: 3, feature: "spend_30d" });
  });

  it.each([
    ["no colon", "customer_stats"],
    ["empty feature", "customer_stats:"],
    ["empty view", ":spend"],
    ["version zero", "v@0:f"],
    ["negative version", "v@-1:f"],
    ["leading zero version", "v@01:f"],
    ["non-numeric version", "v@latest:f"],
    ["upper-case view", "Customer:f"],
    ["bad feature name", "v:1abc"],
    ["whitespace", "v: f"],
  ])("rejects %s", (_label, text) => {
    expect(typeof parseFeatureRef(text)).toBe("string");
  });
});

describe("parseViewRef", () => {
  it("round-trips through formatViewRef", () => {
    for (const text of ["orders", "orders@12"]) {
      const parsed = parseViewRef(text);
      if (typeof parsed === "string") throw new Error(parsed);
      expect(formatViewRef(parsed)).toBe(text);
    }
  });

  it("explains a bad version", () => {
    expect(parseViewRef("orders@x")).toMatch(/positive integer/);
  });
});

import { describe, expect, it } from "vitest";
import { formatViewRef, parseFeatureRef, parseViewRef } from "./feature-refs.js";

describe("parseFeatureRef", () => {
  it("parses latest and pinned refs, short or with the view's resource name", () => {
    expect(parseFeatureRef("customer_stats:spend_30d", "p")).toEqual({ view: "customer_stats", feature: "spend_30d" });
    expect(parseFeatureRef("customer_stats@3:spend_30d", "p")).toEqual({ view: "customer_stats", version: 3, feature: "spend_30d" });
    expect(parseFeatureRef("projects/p/featureViews/customer_stats:spend_30d", "p")).toEqual({
      view: "customer_stats",
      feature: "spend_30d",
    });
    expect(parseFeatureRef("projects/p/featureViews/customer_stats/versions/3:spend_30d", "p")).toEqual({
      view: "customer_stats",
      version: 3,
      feature: "spend_30d",
    });
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
    ["a resource name of another collection", "projects/p/entities/v:f"],
    ["a resource name with a bad version", "projects/p/featureViews/v/versions/x:f"],
    ["a path that is no resource name", "p/v:f"],
    ["a resource name with @ for the version", "projects/p/featureViews/v@3:f"],
  ])("rejects %s", (_label, text) => {
    expect(typeof parseFeatureRef(text, "p")).toBe("string");
  });

  it("says what is wrong and shows the forms it takes", () => {
    expect(parseFeatureRef("a:b:c", "p")).toMatch(/^"a:b:c" has 2 colons; a feature ref has one, before the feature: use "view:feature"/);
    expect(parseFeatureRef("stats", "p")).toMatch(/has no ":" before the feature; use "view:feature", "view@3:feature" or "projects\//);
    expect(parseFeatureRef("projects/other/featureViews/v:f", "p")).toBe(
      '"projects/other/featureViews/v" names project "other", but the request is for project "p"; set the request\'s project or use a short ref',
    );
  });
});

describe("parseViewRef", () => {
  it("round-trips through formatViewRef", () => {
    for (const text of ["orders", "orders@12"]) {
      const parsed = parseViewRef(text, "p");
      if (typeof parsed === "string") throw new Error(parsed);
      expect(formatViewRef(parsed)).toBe(text);
    }
  });

  it("takes the view's or the service's resource name", () => {
    expect(parseViewRef("projects/p/featureViews/orders/versions/2", "p")).toEqual({ view: "orders", version: 2 });
    expect(parseViewRef("projects/p/featureServices/churn", "p", "feature service")).toEqual({ view: "churn" });
    expect(parseViewRef("projects/p/featureViews/churn", "p", "feature service")).toMatch(
      /is not a feature service name; expected projects\/\{project\}\/featureServices\/\{id\}/,
    );
  });

  it("explains a bad version", () => {
    expect(parseViewRef("orders@x", "p")).toMatch(/positive integer/);
  });
});

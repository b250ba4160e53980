import { describe, expect, it } from "vitest";
import { ValidationError } from "../common/errors.js";
import { parseProjectName, parseResourceName, parseResourceNameShape, resourceName } from "./names.js";

describe("resource names", () => {
  it("parses names with and without a version", () => {
    expect(parseResourceName("projects/p/featureViews/v", "featureViews", "name", true)).toEqual({ project: "p", id: "v" });
    expect(parseResourceName("projects/p/featureViews/v/versions/7", "featureViews", "name", true)).toEqual({
      project: "p",
      id: "v",
      version: 7,
    });
    expect(resourceName("p", "featureViews", "v", 7)).toBe("projects/p/featureViews/v/versions/7");
  });

  it.each([
    "",
    "projects/p",
    "projects/p/entities/v",
    "projects/p/featureViews/v/versions/0",
    "projects/p/featureViews/v/versions/x",
    "projects/p/featureViews/v/extra",
    "projects/P/featureViews/v",
    "project/p/featureViews/v",
  ])("rejects %j and names the field", (name) => {
    try {
      parseResourceName(name, "featureViews", "feature_view.name", true);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).violations[0]?.field).toBe("feature_view.name");
    }
  });

  it("refuses a version where none is allowed", () => {
    expect(() => parseResourceName("projects/p/featureViews/v/versions/2", "featureViews", "name")).toThrow(ValidationError);
  });

  it("leaves the id to the definition's validation when parsing the shape only", () => {
    expect(parseResourceNameShape("projects/p/featureViews/Bad-Id", "featureViews", "name")).toEqual({ project: "p", id: "Bad-Id" });
  });

  it("reads an empty project as the default one only when allowed", () => {
    expect(parseProjectName("", "project", true)).toBe("default");
    expect(() => parseProjectName("", "parent")).toThrow(ValidationError);
    expect(parseProjectName("projects/ml", "parent")).toBe("ml");
  });

  it("shows the full name a bare id in a resource field most likely meant, and no guess for malformed text", () => {
    const description = (name: string, collection: "featureViews" | "models") => {
      try {
        parseResourceName(name, collection, "name", true);
      } catch (error) {
        return (error as ValidationError).violations[0]?.description;
      }
      return undefined;
    };
    expect(description("customer_stats", "featureViews")).toMatch(/e\.g\. "projects\/default\/featureViews\/customer_stats"$/);
    expect(description("churn@2", "models")).toMatch(/e\.g\. "projects\/default\/models\/churn\/versions\/2"$/);
    expect(description("a@3@4", "models")).not.toMatch(/e\.g\./);
    expect(description("Bad Name", "models")).not.toMatch(/e\.g\./);
  });
});

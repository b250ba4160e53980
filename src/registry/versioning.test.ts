import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VALUE_TYPES } from "../common/value-type.js";
import type { FeatureServiceSpec, FeatureViewSpec } from "./model.js";
import { diffFeatureServices, diffFeatureViews } from "./versioning.js";

const ORDERS = { name: "orders", type: "int64" as const, description: "", tags: {} };
const SPEND = { name: "spend", type: "double" as const, description: "", tags: {} };

const view: FeatureViewSpec = {
  project: "default",
  name: "customer_stats",
  entity: "customer",
  features: [ORDERS, SPEND],
  ttlMillis: 86_400_000,
  description: "",
  owner: "",
  tags: {},
};

describe("diffFeatureViews", () => {
  it("finds no change in an identical definition, whatever the feature order or tag order", () => {
    const reordered = { ...view, features: [...view.features].reverse(), tags: {} };
    expect(diffFeatureViews(view, reordered)).toEqual({ changes: [] });
    const tagged = { ...view, tags: { a: "1", b: "2" } };
    expect(diffFeatureViews(tagged, { ...view, tags: { b: "2", a: "1" } }).compatibility).toBeUndefined();
  });

  it("classifies additions and documentation as compatible", () => {
    const added = { ...view, features: [...view.features, { name: "refunds", type: "int64" as const, description: "", tags: {} }] };
    expect(diffFeatureViews(view, added)).toEqual({
      changes: [{ description: 'added feature "refunds" (int64)', breaking: false }],
      compatibility: "compatible",
    });
    expect(diffFeatureViews(view, { ...view, description: "new", owner: "me", tags: { team: "x" } }).compatibility).toBe("compatible");
  });

  it.each<[string, FeatureViewSpec]>([
    ["a removed feature", { ...view, features: view.features.slice(0, 1) }],
    ["a type change", { ...view, features: [ORDERS, { ...SPEND, type: "float" }] }],
    ["an entity change", { ...view, entity: "driver" }],
    ["a TTL change", { ...view, ttlMillis: 0 }],
  ])("classifies %s as breaking", (_label, next) => {
    expect(diffFeatureViews(view, next).compatibility).toBe("breaking");
  });

  it("is breaking exactly when a feature disappears or changes type (property)", () => {
    const featureSet = fc.uniqueArray(
      fc.record({ name: fc.constantFrom("a", "b", "c", "d", "e"), type: fc.constantFrom(...VALUE_TYPES) }),
      { selector: (f) => f.name, minLength: 1 },
    );
    fc.assert(
      fc.property(featureSet, featureSet, (before, after) => {
        const asView = (features: typeof before): FeatureViewSpec => ({
          ...view,
          features: features.map((f) => ({ ...f, description: "", tags: {} })),
        });
        const diff = diffFeatureViews(asView(before), asView(after));
        const afterByName = new Map(after.map((f) => [f.name, f.type]));
        const breaking = before.some((f) => afterByName.get(f.name) !== f.type);
        const added = after.some((f) => !before.some((b) => b.name === f.name));
        expect(diff.compatibility).toBe(breaking ? "breaking" : added ? "compatible" : undefined);
      }),
    );
  });
});

describe("diffFeatureServices", () => {
  const service: FeatureServiceSpec = { project: "default", name: "s", features: ["v:a", "v@2:b"], description: "", owner: "", tags: {} };

  it("treats ref order as significant", () => {
    expect(diffFeatureServices(service, { ...service, features: ["v@2:b", "v:a"] }).compatibility).toBe("breaking");
  });

  it("classifies an added ref as compatible and a removed or re-pinned ref as breaking", () => {
    expect(diffFeatureServices(service, { ...service, features: [...service.features, "v:c"] }).compatibility).toBe("compatible");
    expect(diffFeatureServices(service, { ...service, features: ["v:a"] }).compatibility).toBe("breaking");
    expect(diffFeatureServices(service, { ...service, features: ["v:a", "v@3:b"] }).compatibility).toBe("breaking");
  });
});

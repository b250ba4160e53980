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

describe("diffFeatureServices: request inputs and derived features", () => {
  const AMOUNT = { name: "amount", type: "double" as const, description: "" };
  const RATIO = { name: "ratio", expression: "amount / v:a", description: "", type: "double" as const };
  const service: FeatureServiceSpec = {
    project: "default",
    name: "s",
    features: ["v:a"],
    description: "",
    owner: "",
    tags: {},
    requestInputs: [AMOUNT],
    derivedFeatures: [RATIO],
  };

  it("finds no change when nothing differs, and treats a missing list as an empty one", () => {
    expect(diffFeatureServices(service, { ...service })).toEqual({ changes: [] });
    const plain = { ...service, requestInputs: undefined, derivedFeatures: undefined };
    expect(diffFeatureServices(plain, { ...plain, requestInputs: [], derivedFeatures: [] })).toEqual({ changes: [] });
  });

  it("classifies added inputs and derived features, and new descriptions, as compatible", () => {
    const added = {
      ...service,
      requestInputs: [AMOUNT, { name: "country", type: "string" as const, description: "" }],
      derivedFeatures: [RATIO, { name: "big", expression: "amount > 100", description: "", type: "bool" as const }],
    };
    expect(diffFeatureServices(service, added)).toEqual({
      changes: [
        { description: 'added request input "country" (string)', breaking: false },
        { description: 'added derived feature "big" (bool)', breaking: false },
      ],
      compatibility: "compatible",
    });
    const described = {
      ...service,
      requestInputs: [{ ...AMOUNT, description: "in EUR" }],
      derivedFeatures: [{ ...RATIO, description: "x" }],
    };
    expect(diffFeatureServices(service, described).compatibility).toBe("compatible");
  });

  it.each<[string, Partial<FeatureServiceSpec>, string]>([
    ["a removed input", { requestInputs: [] }, 'removed request input "amount" (double)'],
    ["an input's new type", { requestInputs: [{ ...AMOUNT, type: "int64" }] }, 'request input "amount" changed type from double to int64'],
    ["a removed derived feature", { derivedFeatures: [] }, 'removed derived feature "ratio"'],
    [
      "a changed expression",
      { derivedFeatures: [{ ...RATIO, expression: "amount * v:a" }] },
      'derived feature "ratio" expression changed from "amount / v:a" to "amount * v:a"',
    ],
    [
      "a new inferred type",
      { derivedFeatures: [{ ...RATIO, type: "string" }] },
      'derived feature "ratio" changed type from double to string',
    ],
    ["a new order of derived features", { derivedFeatures: [{ ...RATIO, name: "other" }, RATIO] }, "order of derived features changed"],
  ])("classifies %s as breaking", (_label, change, description) => {
    const before = { ...service, derivedFeatures: change.derivedFeatures?.length === 2 ? [RATIO, { ...RATIO, name: "other" }] : [RATIO] };
    const diff = diffFeatureServices(before, { ...service, ...change });
    expect(diff.compatibility).toBe("breaking");
    expect(diff.changes).toContainEqual({ description, breaking: true });
  });
});

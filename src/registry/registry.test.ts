import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConcurrentModificationError, PreconditionError, ResourceNotFoundError, ValidationError } from "../common/errors.js";
import type { ValueType } from "../common/value-type.js";
import { openLmdbRegistryStore } from "../storage/registry/lmdb-registry-store.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import type { FeatureServiceSpec } from "./model.js";
import { Registry } from "./registry.js";
import type { FeatureViewDraft } from "./validation.js";

let directory: string;
let store: RegistryStore;
let registry: Registry;

const customer = {
  project: "default",
  name: "customer",
  joinKeys: [{ name: "customer_id", type: "int64" }],
  description: "",
  owner: "",
  tags: {},
};

const ORDERS = { name: "orders", type: "int64", description: "", tags: {} };
const SPEND = { name: "spend", type: "double", description: "", tags: {} };

function view(overrides: Partial<FeatureViewDraft> = {}): FeatureViewDraft {
  return {
    project: "default",
    name: "customer_stats",
    entity: "customer",
    features: [ORDERS, SPEND],
    ttlMillis: 86_400_000,
    description: "",
    owner: "",
    tags: {},
    ...overrides,
  };
}

async function violationsOf(promise: Promise<unknown>): Promise<Array<[string, string]>> {
  const error = await promise.then(
    () => expect.unreachable("expected a validation error"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).violations.map((v) => [v.field, v.description]);
}

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), "sluice-registry-"));
  store = openLmdbRegistryStore(directory);
  registry = await Registry.open(store);
  await registry.applyEntity(customer);
});

afterEach(async () => {
  registry.close();
  await store.close();
});

describe("feature view versioning", () => {
  it("creates version 1, then says UNCHANGED for the identical definition", async () => {
    const created = await registry.applyFeatureView(view());
    expect(created).toMatchObject({ outcome: "created", resource: { version: 1, state: "active" } });
    const again = await registry.applyFeatureView(view({ features: [...view().features].reverse() }));
    expect(again).toMatchObject({ outcome: "unchanged", resource: { version: 1 }, changes: [] });
    expect((await registry.listFeatureViewVersions("default", "customer_stats", 0, "")).items).toHaveLength(1);
  });

  it("makes a compatible version N+1 for additions and documentation", async () => {
    await registry.applyFeatureView(view());
    const result = await registry.applyFeatureView(
      view({
        description: "now documented",
        features: [...view().features, { name: "refunds", type: "int64", description: "", tags: {} }],
      }),
    );
    expect(result).toMatchObject({
      outcome: "new_version",
      compatibility: "compatible",
      resource: { version: 2, compatibility: "compatible" },
    });
    expect(result.changes).toEqual(['added feature "refunds" (int64)', "description changed"]);
  });

  it.each<[string, Partial<FeatureViewDraft>]>([
    ["a type change", { features: [{ name: "orders", type: "string", description: "", tags: {} }, SPEND] }],
    ["a removed feature", { features: view().features.slice(0, 1) }],
    ["an entity change", { entity: "store" }],
  ])("makes a breaking version N+1 for %s", async (_label, change) => {
    await registry.applyEntity({ ...customer, name: "store", joinKeys: [{ name: "store_id", type: "string" }] });
    await registry.applyFeatureView(view());
    const result = await registry.applyFeatureView(view(change));
    expect(result).toMatchObject({ outcome: "new_version", compatibility: "breaking", resource: { version: 2 } });
  });

  it("shares history along a run of compatible versions and starts anew at a breaking one", async () => {
    const historyVersions = async (changes: Array<Partial<FeatureViewDraft>>) => {
      const seen: number[] = [];
      for (const change of changes) seen.push((await registry.applyFeatureView(view(change))).resource.historyVersion);
      return seen;
    };
    const refunds = { name: "refunds", type: "int64", description: "", tags: {} };
    expect(
      await historyVersions([
        {},
        { owner: "a" },
        { owner: "a", features: [ORDERS, SPEND, refunds] },
        { owner: "a", features: [ORDERS, SPEND, refunds], ttlMillis: 1000 },
        { owner: "b", features: [ORDERS, SPEND, refunds], ttlMillis: 1000 },
        { owner: "b", features: [ORDERS], ttlMillis: 1000 },
      ]),
    ).toEqual([1, 1, 1, 4, 4, 6]);
    // Every read path reports the same history version as the apply did.
    expect((await registry.getFeatureView("default", "customer_stats", 5)).historyVersion).toBe(4);
    const listed = await registry.listFeatureViewVersions("default", "customer_stats", 10, "");
    expect(listed.items.map((v) => v.historyVersion)).toEqual([6, 4, 4, 1, 1, 1]);
  });

  it("reads versions stored before history sharing as keeping their own history", async () => {
    await registry.applyFeatureView(view());
    const stored = await store.getVersion("featureView", "default", "customer_stats", 1);
    const { historyVersion: _dropped, ...legacy } = stored as NonNullable<typeof stored>;
    const appended = await store.appendVersion(
      "featureView",
      { ...legacy, version: 2, owner: "x", compatibility: "compatible" } as never,
      1,
    );
    expect(appended).toBe(true);
    expect((await registry.getFeatureView("default", "customer_stats", 2)).historyVersion).toBe(2);
    // A compatible version applied now follows the run of the version before it.
    expect((await registry.applyFeatureView(view({ owner: "y" }))).resource.historyVersion).toBe(2);
  });

  it("keeps every version readable and lists them newest first", async () => {
    await registry.applyFeatureView(view());
    await registry.applyFeatureView(view({ owner: "a" }));
    await registry.applyFeatureView(view({ owner: "b" }));
    expect((await registry.getFeatureView("default", "customer_stats")).version).toBe(3);
    expect((await registry.getFeatureView("default", "customer_stats", 1)).owner).toBe("");
    const page1 = await registry.listFeatureViewVersions("default", "customer_stats", 2, "");
    expect(page1.items.map((v) => v.version)).toEqual([3, 2]);
    const page2 = await registry.listFeatureViewVersions("default", "customer_stats", 2, page1.nextPageToken);
    expect(page2.items.map((v) => v.version)).toEqual([1]);
    expect(page2.nextPageToken).toBe("");
  });

  it("reports NOT_FOUND for an unknown view or version", async () => {
    await registry.applyFeatureView(view());
    await expect(registry.getFeatureView("default", "nope")).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(registry.getFeatureView("default", "customer_stats", 2)).rejects.toThrow(/latest version is 1/);
    await expect(registry.listFeatureViewVersions("default", "nope", 0, "")).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(registry.applyFeatureView(view({ project: "nope" }))).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it("stores nothing for validate_only", async () => {
    const result = await registry.applyFeatureView(view(), { validateOnly: true });
    expect(result.outcome).toBe("created");
    await expect(registry.getFeatureView("default", "customer_stats")).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it("deprecates softly, hides deprecated views from listings, and revives on apply", async () => {
    await registry.applyFeatureView(view());
    await registry.applyFeatureView(view({ name: "other" }));
    const deprecated = await registry.deprecateFeatureView("default", "customer_stats");
    expect(deprecated.state).toBe("deprecated");
    expect(deprecated.deprecateTime).toBeInstanceOf(Date);
    expect((await registry.getFeatureView("default", "customer_stats", 1)).state).toBe("deprecated");
    expect((await registry.listFeatureViews("default", 0, "", false)).items.map((v) => v.name)).toEqual(["other"]);
    expect((await registry.listFeatureViews("default", 0, "", true)).items.map((v) => v.name)).toEqual(["customer_stats", "other"]);
    const revived = await registry.applyFeatureView(view());
    expect(revived).toMatchObject({ outcome: "unchanged", resource: { state: "active", version: 1 } });
    await expect(registry.deprecateFeatureView("default", "nope")).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it("fills pages of latest views even when deprecated ones are skipped", async () => {
    for (const name of ["a", "b", "c", "d", "e"]) await registry.applyFeatureView(view({ name }));
    await registry.deprecateFeatureView("default", "b");
    await registry.deprecateFeatureView("default", "c");
    const first = await registry.listFeatureViews("default", 2, "", false);
    expect(first.items.map((v) => v.name)).toEqual(["a", "d"]);
    const second = await registry.listFeatureViews("default", 2, first.nextPageToken, false);
    expect(second.items.map((v) => v.name)).toEqual(["e"]);
    expect(second.nextPageToken).toBe("");
  });
});

describe("feature view validation", () => {
  it.each<[string, Partial<FeatureViewDraft>, string, RegExp]>([
    ["an empty name", { name: "" }, "feature_view.name", /must not be empty/],
    ["an invalid name", { name: "Customer-Stats" }, "feature_view.name", /not a valid id/],
    ["an unknown entity", { entity: "ghost" }, "feature_view.entity", /does not exist/],
    ["no features", { features: [] }, "feature_view.features", /at least one/],
    ["a duplicate feature", { features: [ORDERS, ORDERS] }, "feature_view.features[1].name", /duplicate/],
    [
      "an invalid feature name",
      { features: [{ name: "1st", type: "int64", description: "", tags: {} }] },
      "feature_view.features[0].name",
      /not a valid name/,
    ],
    [
      "an unset type",
      { features: [{ name: "a", type: "unspecified", description: "", tags: {} }] },
      "feature_view.features[0].type",
      /not set/,
    ],
    [
      "an unknown type",
      { features: [{ name: "a", type: "unrecognized(99)", description: "", tags: {} }] },
      "feature_view.features[0].type",
      /unknown type/,
    ],
    [
      "a reserved feature name",
      { features: [{ name: "event_time", type: "int64", description: "", tags: {} }] },
      "feature_view.features[0].name",
      /reserved/,
    ],
    [
      "a feature named like a join key",
      { features: [{ name: "customer_id", type: "int64", description: "", tags: {} }] },
      "feature_view.features[0].name",
      /join key/,
    ],
    ["a negative TTL", { ttlMillis: -1 }, "feature_view.ttl", /negative/],
    ["a sub-millisecond TTL", { ttlMillis: 1000.5 }, "feature_view.ttl", /whole number of milliseconds/],
    ["an oversize description", { description: "x".repeat(2049) }, "feature_view.description", /2049 characters/],
    ["an oversize owner", { owner: "x".repeat(257) }, "feature_view.owner", /at most 256/],
    ["a bad tag key", { tags: { "bad key": "v" } }, 'feature_view.tags["bad key"]', /tag keys/],
    ["an oversize tag value", { tags: { k: "x".repeat(257) } }, 'feature_view.tags["k"]', /tag values/],
  ])("rejects %s with a field violation", async (_label, change, field, description) => {
    const violations = await violationsOf(registry.applyFeatureView(view(change)));
    expect(violations).toContainEqual([field, expect.stringMatching(description)]);
    expect((await registry.listFeatureViews("default", 0, "", true)).items).toEqual([]);
  });

  it("reports every problem of a request at once", async () => {
    const violations = await violationsOf(
      registry.applyFeatureView(
        view({ name: "", entity: "ghost", ttlMillis: -5, features: [{ name: "", type: "", description: "", tags: {} }] }),
      ),
    );
    expect(violations.map(([field]) => field)).toEqual([
      "feature_view.name",
      "feature_view.entity",
      "feature_view.features[0].name",
      "feature_view.features[0].type",
      "feature_view.ttl",
    ]);
  });
});

describe("entities", () => {
  it("updates documentation in place and refuses to change join keys", async () => {
    expect((await registry.applyEntity(customer)).outcome).toBe("unchanged");
    const updated = await registry.applyEntity({ ...customer, description: "people who pay" });
    expect(updated.outcome).toBe("updated");
    expect(updated.entity.updateTime.getTime()).toBeGreaterThanOrEqual(updated.entity.createTime.getTime());
    await expect(registry.applyEntity({ ...customer, joinKeys: [{ name: "customer_id", type: "string" }] })).rejects.toBeInstanceOf(
      PreconditionError,
    );
  });

  it.each<[string, Partial<typeof customer>, string]>([
    ["no join keys", { joinKeys: [] }, "entity.join_keys"],
    [
      "a duplicate join key",
      {
        joinKeys: [
          { name: "a", type: "int64" },
          { name: "a", type: "int64" },
        ],
      },
      "entity.join_keys[1].name",
    ],
    ["a float join key", { joinKeys: [{ name: "a", type: "double" }] }, "entity.join_keys[0].type"],
    ["an invalid name", { name: "9lives" }, "entity.name"],
  ])("rejects %s", async (_label, change, field) => {
    const violations = await violationsOf(registry.applyEntity({ ...customer, ...change }));
    expect(violations.map(([f]) => f)).toContain(field);
  });

  it("supports composite join keys", async () => {
    const line = await registry.applyEntity({
      ...customer,
      name: "order_line",
      joinKeys: [
        { name: "order_id", type: "string" },
        { name: "line_no", type: "int32" },
      ],
    });
    expect(line.entity.joinKeys).toHaveLength(2);
  });
});

describe("concurrent applies", () => {
  it("never gives two versions the same number within one process", async () => {
    const drafts = Array.from({ length: 20 }, (_, i) => view({ owner: `owner-${i}` }));
    const results = await Promise.all(drafts.map((d) => registry.applyFeatureView(d)));
    const versions = results.map((r) => r.resource.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("never gives two versions the same number across registries sharing a store", async () => {
    const other = await Registry.open(store);
    try {
      const drafts = Array.from({ length: 6 }, (_, i) => view({ owner: `owner-${i}` }));
      const settled = await Promise.allSettled(drafts.map((d, i) => (i % 2 === 0 ? registry : other).applyFeatureView(d)));
      const versions = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value.resource.version] : []));
      for (const s of settled) if (s.status === "rejected") expect(s.reason).toBeInstanceOf(ConcurrentModificationError);
      expect(new Set(versions).size).toBe(versions.length);
      const stored = (await registry.listFeatureViewVersions("default", "customer_stats", 0, "")).items.map((v) => v.version);
      expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => stored.length - i));
      expect(stored.length).toBe(versions.length);
    } finally {
      other.close();
    }
  });

  it("classifies a racing identical apply as UNCHANGED, not as a second version", async () => {
    const results = await Promise.all([registry.applyFeatureView(view()), registry.applyFeatureView(view())]);
    expect(results.map((r) => r.outcome).sort()).toEqual(["created", "unchanged"]);
  });
});

describe("persistence and caching", () => {
  it("keeps definitions across a restart", async () => {
    await registry.applyFeatureView(view());
    await registry.applyFeatureView(view({ owner: "x" }));
    registry.close();
    await store.close();
    store = openLmdbRegistryStore(directory);
    registry = await Registry.open(store);
    expect((await registry.getFeatureView("default", "customer_stats")).version).toBe(2);
    expect((await registry.getEntity("default", "customer")).joinKeys).toEqual(customer.joinKeys);
  });

  it("sees a change made through another registry on the same store at once", async () => {
    const other = await Registry.open(store);
    try {
      await registry.applyFeatureView(view());
      expect((await other.resolveFeatureRefs("default", ["customer_stats:orders"], "features"))[0]?.version).toBe(1);
      await registry.applyFeatureView(view({ owner: "x" }));
      expect((await other.resolveFeatureRefs("default", ["customer_stats:orders"], "features"))[0]?.version).toBe(2);
    } finally {
      other.close();
    }
  });
});

describe("feature refs and services", () => {
  beforeEach(async () => {
    await registry.applyFeatureView(view());
    await registry.applyFeatureView(view({ features: [ORDERS, { name: "spend", type: "float", description: "", tags: {} }] }));
  });

  it("resolves latest and pinned refs to concrete versions and types", async () => {
    const resolved = await registry.resolveFeatureRefs("default", ["customer_stats:spend", "customer_stats@1:spend"], "features");
    expect(resolved).toEqual([
      { ref: "customer_stats:spend", project: "default", featureView: "customer_stats", version: 2, feature: "spend", type: "float" },
      { ref: "customer_stats@1:spend", project: "default", featureView: "customer_stats", version: 1, feature: "spend", type: "double" },
    ]);
  });

  it("reports malformed refs as field violations and unknown ones as NOT_FOUND", async () => {
    expect(await violationsOf(registry.resolveFeatureRefs("default", ["ok:x", "bad"], "features"))).toEqual([
      ["features[1]", expect.stringMatching(/not a feature ref/)],
    ]);
    await expect(registry.resolveFeatureRefs("default", ["ghost:x"], "features")).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(registry.resolveFeatureRefs("default", ["customer_stats@9:spend"], "features")).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
    await expect(registry.resolveFeatureRefs("default", ["customer_stats:ghost"], "features")).rejects.toThrow(/has no feature "ghost"/);
  });

  it("versions feature services and resolves them", async () => {
    const spec = {
      project: "default",
      name: "churn",
      features: ["customer_stats@1:spend", "customer_stats:orders"],
      description: "",
      owner: "",
      tags: {},
    };
    expect((await registry.applyFeatureService(spec)).outcome).toBe("created");
    expect((await registry.applyFeatureService(spec)).outcome).toBe("unchanged");
    const reordered = await registry.applyFeatureService({ ...spec, features: [...spec.features].reverse() });
    expect(reordered).toMatchObject({ outcome: "new_version", compatibility: "breaking", resource: { version: 2 } });
    const resolved = await registry.resolveFeatureService("default", "churn@1", "feature_service");
    expect(resolved.map((r) => `${r.featureView}@${r.version}:${r.feature}`)).toEqual([
      "customer_stats@1:spend",
      "customer_stats@2:orders",
    ]);
    await expect(registry.resolveFeatureService("default", "churn@7", "feature_service")).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it("compares a feature service's refs by what they name, not how they are spelled", async () => {
    const spec = { project: "default", name: "spelled", features: ["customer_stats:orders"], description: "", owner: "", tags: {} };
    await registry.applyFeatureService(spec);
    const respelled = await registry.applyFeatureService({ ...spec, features: ["projects/default/featureViews/customer_stats:orders"] });
    expect(respelled.outcome).toBe("unchanged");
    const twice = await violationsOf(
      registry.applyFeatureService({ ...spec, features: ["customer_stats:orders", "projects/default/featureViews/customer_stats:orders"] }),
    );
    expect(twice).toEqual([
      [
        "feature_service.features[1]",
        '"projects/default/featureViews/customer_stats:orders" names the same feature as "customer_stats:orders"',
      ],
    ]);
  });

  it("refuses a feature service whose refs do not resolve, naming each", async () => {
    const violations = await violationsOf(
      registry.applyFeatureService({
        project: "default",
        name: "broken",
        features: ["customer_stats:orders", "ghost:x", "customer_stats@5:orders", "customer_stats:nope", "customer_stats:orders"],
        description: "",
        owner: "",
        tags: {},
      }),
    );
    expect(violations.map(([f]) => f)).toEqual(["feature_service.features[4]"]);
    const unresolved = await violationsOf(
      registry.applyFeatureService({
        project: "default",
        name: "broken",
        features: ["ghost:x", "customer_stats@5:orders", "customer_stats:nope"],
        description: "",
        owner: "",
        tags: {},
      }),
    );
    expect(unresolved.map(([f]) => f)).toEqual([
      "feature_service.features[0]",
      "feature_service.features[1]",
      "feature_service.features[2]",
    ]);
    await expect(registry.getFeatureService("default", "broken")).rejects.toBeInstanceOf(ResourceNotFoundError);
  });
});

describe("request inputs and derived features", () => {
  const service = (overrides: Partial<FeatureServiceSpec> = {}): FeatureServiceSpec => ({
    project: "default",
    name: "scoring",
    features: ["customer_stats:spend", "customer_stats@1:orders"],
    requestInputs: [
      { name: "amount", type: "double", description: "" },
      { name: "country", type: "string", description: "" },
    ],
    derivedFeatures: [
      { name: "spend_ratio", expression: "amount / customer_stats:spend", description: "" },
      { name: "is_nl", expression: "country = 'NL'", description: "" },
      // The same feature as customer_stats@1:orders, in another spelling.
      {
        name: "label",
        expression: "if(`projects/default/featureViews/customer_stats/versions/1:orders` > 1, 'repeat', 'new')",
        description: "",
      },
    ],
    description: "",
    owner: "",
    tags: {},
    ...overrides,
  });

  beforeEach(async () => {
    await registry.applyFeatureView(view());
  });

  it("stores each derived feature's inferred type, and returns it on reads", async () => {
    const applied = await registry.applyFeatureService(service());
    expect(applied.outcome).toBe("created");
    const types = (s: FeatureServiceSpec) => s.derivedFeatures?.map((d) => [d.name, d.type]);
    expect(types(applied.resource)).toEqual([
      ["spend_ratio", "double"],
      ["is_nl", "bool"],
      ["label", "string"],
    ]);
    expect(types(await registry.getFeatureService("default", "scoring"))).toEqual(types(applied.resource));
    // Applying the same definition (types unset, as clients send it) again changes nothing.
    expect((await registry.applyFeatureService(service())).outcome).toBe("unchanged");
  });

  it("refuses bad request inputs and derived feature names, naming each field", async () => {
    const violations = await violationsOf(
      registry.applyFeatureService(
        service({
          requestInputs: [
            { name: "amount", type: "double", description: "" },
            { name: "amount", type: "double", description: "" },
            { name: "9lives", type: "int64", description: "" },
            { name: "blob", type: "bytes", description: "" },
            { name: "spend", type: "double", description: "" },
            { name: "what", type: "unspecified" as ValueType, description: "" },
          ],
          derivedFeatures: [
            { name: "amount", expression: "amount * 2", description: "" },
            { name: "orders", expression: "amount", description: "" },
            { name: "event_time", expression: "amount", description: "" },
            { name: "empty", expression: " ", description: "" },
          ],
        }),
      ),
    );
    expect(violations.map(([field]) => field)).toEqual([
      "feature_service.request_inputs[1].name",
      "feature_service.request_inputs[2].name",
      "feature_service.request_inputs[3].type",
      "feature_service.request_inputs[4].name",
      "feature_service.request_inputs[5].type",
      "feature_service.derived_features[0].name",
      "feature_service.derived_features[1].name",
      "feature_service.derived_features[2].name",
      "feature_service.derived_features[3].expression",
    ]);
    const described = Object.fromEntries(violations);
    expect(described["feature_service.request_inputs[1].name"]).toBe('"amount" is already the name of request_inputs[0]');
    expect(described["feature_service.request_inputs[3].type"]).toContain("bytes cannot be read by an expression");
    expect(described["feature_service.request_inputs[4].name"]).toContain('is also the output name of feature "customer_stats:spend"');
    expect(described["feature_service.request_inputs[5].type"]).toContain("type is not set");
    expect(described["feature_service.derived_features[2].name"]).toBe('"event_time" is reserved');
  });

  it("refuses expressions that do not compile, with the problem and its position", async () => {
    const violations = await violationsOf(
      registry.applyFeatureService(
        service({
          derivedFeatures: [
            { name: "a", expression: "amount / customer_stats:spend", description: "" },
            { name: "b", expression: "amount + country", description: "" },
            { name: "c", expression: "customer_stats:nope * 2", description: "" },
            { name: "d", expression: "amount * unknown_input", description: "" },
            { name: "e", expression: "(amount", description: "" },
            { name: "f", expression: "other_view:spend", description: "" },
          ],
        }),
      ),
    );
    expect(violations).toEqual([
      ["feature_service.derived_features[1].expression", '"+" needs numbers, not a string at line 1, column 8'],
      [
        "feature_service.derived_features[2].expression",
        `unknown feature "customer_stats:nope" (an expression reads the service's features: list it in features) at line 1, column 1`,
      ],
      [
        "feature_service.derived_features[3].expression",
        'unknown request input "unknown_input" (declare it in request_inputs) at line 1, column 10',
      ],
      ["feature_service.derived_features[4].expression", 'expected ")", found the end at line 1, column 8'],
      [
        "feature_service.derived_features[5].expression",
        `unknown feature "other_view:spend" (an expression reads the service's features: list it in features) at line 1, column 1`,
      ],
    ]);
    await expect(registry.getFeatureService("default", "scoring")).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it("matches refs in expressions to the service's refs by what they name", async () => {
    const applied = await registry.applyFeatureService(
      service({
        features: ["projects/default/featureViews/customer_stats:spend"],
        derivedFeatures: [{ name: "double_spend", expression: "customer_stats:spend * 2", description: "" }],
      }),
    );
    expect(applied.resource.derivedFeatures?.[0]?.type).toBe("double");
    // A pinned ref is another feature than the latest one, even at the same version.
    const pinned = await violationsOf(
      registry.applyFeatureService(
        service({
          name: "pinned",
          features: ["customer_stats:spend"],
          derivedFeatures: [{ name: "x", expression: "customer_stats@1:spend", description: "" }],
        }),
      ),
    );
    expect(pinned.map(([field]) => field)).toEqual(["feature_service.derived_features[0].expression"]);
  });

  it("versions them: additions are compatible, changes breaking", async () => {
    await registry.applyFeatureService(service());
    const base = service();
    const added = await registry.applyFeatureService({
      ...base,
      requestInputs: [...(base.requestInputs ?? []), { name: "channel", type: "string", description: "" }],
      derivedFeatures: [...(base.derivedFeatures ?? []), { name: "web", expression: "channel = 'web'", description: "" }],
    });
    expect(added).toMatchObject({ outcome: "new_version", compatibility: "compatible", resource: { version: 2 } });
    expect(added.changes).toEqual(['added request input "channel" (string)', 'added derived feature "web" (bool)']);
    const changed = await registry.applyFeatureService({
      ...base,
      derivedFeatures: [{ name: "spend_ratio", expression: "amount * customer_stats:spend", description: "" }],
    });
    expect(changed).toMatchObject({ outcome: "new_version", compatibility: "breaking", resource: { version: 3 } });
  });
});

/** The registry through the real server and the real TypeScript SDK. */
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toClientError } from "../../clients/typescript/src/errors.js";
import {
  ApplyOutcome,
  Compatibility,
  FeatureViewState,
  type SluiceClientError,
  type ValueType,
} from "../../clients/typescript/src/index.js";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../../src/gen/grpc/health/v1/health.pb.js";
import { GetFeatureStatisticsRequest, MonitoringServiceClient } from "../../src/gen/sluice/v1/monitoring.pb.js";
import type { ResolveFeaturesResponse } from "../../src/gen/sluice/v1/registry.pb.js";
import { ValueType as WireValueType } from "../../src/gen/sluice/v1/types.pb.js";
import { failure } from "../support/expect-failure.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;

const stats = {
  name: "customer_stats",
  entity: "customer",
  ttlSeconds: 86_400,
  features: [
    { name: "orders_30d", type: "int64" as const },
    { name: "spend_30d", type: "double" as const },
  ],
};

beforeEach(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
});

afterEach(async () => {
  await t.stop();
});

describe("versioned feature views over gRPC", () => {
  it("goes CREATED -> UNCHANGED -> NEW_VERSION compatible -> NEW_VERSION breaking", async () => {
    const created = await t.client.applyFeatureView(stats);
    expect(created.outcome).toBe(ApplyOutcome.APPLY_OUTCOME_CREATED);
    expect(created.featureView).toMatchObject({ name: "projects/default/featureViews/customer_stats", version: 1 });
    expect(created.featureView?.ttl).toEqual({ seconds: 86_400n, nanos: 0 });

    expect((await t.client.applyFeatureView(stats)).outcome).toBe(ApplyOutcome.APPLY_OUTCOME_UNCHANGED);

    const added = await t.client.applyFeatureView({ ...stats, features: [...stats.features, { name: "refunds_30d", type: "int64" }] });
    expect(added).toMatchObject({
      outcome: ApplyOutcome.APPLY_OUTCOME_NEW_VERSION,
      compatibility: Compatibility.COMPATIBILITY_COMPATIBLE,
      changes: ['added feature "refunds_30d" (int64)'],
      featureView: { version: 2 },
    });

    const breaking = await t.client.applyFeatureView({ ...stats, features: [{ name: "orders_30d", type: "string" }] });
    expect(breaking).toMatchObject({
      outcome: ApplyOutcome.APPLY_OUTCOME_NEW_VERSION,
      compatibility: Compatibility.COMPATIBILITY_BREAKING,
      featureView: { version: 3, compatibility: Compatibility.COMPATIBILITY_BREAKING },
    });
    expect(breaking.changes).toEqual([
      'feature "orders_30d" changed type from int64 to string',
      'removed feature "spend_30d" (double)',
      'removed feature "refunds_30d" (int64)',
    ]);

    const versions = [];
    for await (const v of t.client.listFeatureViewVersions("customer_stats", { pageSize: 1 })) versions.push(v.version);
    expect(versions).toEqual([3, 2, 1]);
    expect((await t.client.getFeatureView("customer_stats", { version: 2 })).features.map((f) => f.name)).toEqual([
      "orders_30d",
      "spend_30d",
      "refunds_30d",
    ]);
    expect((await t.client.getFeatureView("customer_stats")).version).toBe(3);
  });

  it("never numbers two concurrent applies the same", async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => t.client.applyFeatureView({ ...stats, owner: `team-${i}` })));
    expect(results.map((r) => r.featureView?.version).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
  });

  it("deprecates with DeleteFeatureView and keeps the view readable", async () => {
    await t.client.applyFeatureView(stats);
    const deleted = await t.client.deleteFeatureView("customer_stats");
    expect(deleted.state).toBe(FeatureViewState.FEATURE_VIEW_STATE_DEPRECATED);
    expect(deleted.deprecateTime).toBeDefined();
    const listed = [];
    for await (const v of t.client.listFeatureViews()) listed.push(v.name);
    expect(listed).toEqual([]);
    for await (const v of t.client.listFeatureViews({ showDeprecated: true })) listed.push(v.name);
    expect(listed).toEqual(["projects/default/featureViews/customer_stats"]);
  });

  it("refuses a second server on the same data dir while the first runs", async () => {
    await expect(startTestServer({ dataDir: t.dataDir })).rejects.toThrow(/in use by another Sluice server/);
  });

  it("keeps definitions across a server restart", async () => {
    await t.client.applyFeatureView(stats);
    await t.client.applyFeatureView({ ...stats, description: "v2" });
    await t.stop();
    t = await startTestServer({ dataDir: t.dataDir });
    const view = await t.client.getFeatureView("customer_stats");
    expect(view).toMatchObject({ version: 2, description: "v2" });
    expect((await t.client.getEntity("customer")).joinKeys).toEqual([{ name: "customer_id", type: 2 }]);
  });

  it("resolves refs and feature services", async () => {
    await t.client.applyFeatureView(stats);
    await t.client.applyFeatureView({ ...stats, description: "v2" });
    await t.client.applyFeatureService({ name: "churn", features: ["customer_stats@1:spend_30d", "customer_stats:orders_30d"] });
    const resolved = await t.client.resolveFeatures({ featureService: "churn" });
    expect(resolved.map((r) => [r.featureView, r.version, r.feature])).toEqual([
      ["projects/default/featureViews/customer_stats", 1, "spend_30d"],
      ["projects/default/featureViews/customer_stats", 2, "orders_30d"],
    ]);
    expect((await t.client.getFeatureService("churn", { version: 1 })).features).toHaveLength(2);
  });

  it("lists the join keys of the resolved features' entities, each once, the first entity's type where two clash", async () => {
    await t.client.applyFeatureView(stats);
    await t.client.applyEntity({
      name: "visit",
      joinKeys: [
        { name: "customer_id", type: "int64" },
        { name: "store", type: "string" },
      ],
    });
    await t.client.applyEntity({ name: "legacy", joinKeys: [{ name: "store", type: "int32" }] });
    await t.client.applyFeatureView({ ...stats, name: "visit_stats", entity: "visit" });
    await t.client.applyFeatureView({ ...stats, name: "legacy_stats", entity: "legacy" });
    const resolve = (features: string[]) =>
      new Promise<ResolveFeaturesResponse>((resolve, reject) =>
        t.client.registry.resolveFeatures({ project: "", features, featureService: "" }, (error, answer) =>
          error ? reject(error) : resolve(answer),
        ),
      );
    const answer = await resolve([
      "visit_stats:orders_30d",
      "customer_stats:orders_30d",
      "visit_stats:spend_30d",
      "legacy_stats:orders_30d",
    ]);
    expect(answer.joinKeys).toEqual([
      { name: "customer_id", type: WireValueType.VALUE_TYPE_INT64 },
      { name: "store", type: WireValueType.VALUE_TYPE_STRING },
    ]);
  });

  it("works in other projects, which must exist first", async () => {
    expect(
      (await failure(t.client.applyEntity({ project: "ml", name: "customer", joinKeys: [{ name: "id", type: "string" }] }))).code,
    ).toBe(status.NOT_FOUND);
    await t.client.createProject("ml", "machine learning");
    await t.client.applyEntity({ project: "ml", name: "customer", joinKeys: [{ name: "id", type: "string" }] });
    expect((await t.client.applyFeatureView({ ...stats, project: "ml" })).featureView?.name).toBe(
      "projects/ml/featureViews/customer_stats",
    );
    const dup = await failure(t.client.createProject("ml"));
    expect([dup.code, dup.reason]).toEqual([status.ALREADY_EXISTS, "PROJECT_ALREADY_EXISTS"]);
  });
});

describe("bad input over gRPC", () => {
  it("returns INVALID_ARGUMENT with ErrorInfo and every field violation", async () => {
    const error = await failure(
      t.client.applyFeatureView({
        name: "customer_stats",
        entity: "nobody",
        ttlSeconds: -60,
        features: [
          { name: "a", type: "int64" },
          { name: "a", type: "double" },
          { name: "b", type: 99 as ValueType },
          { name: "c", type: 0 },
        ],
      }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.reason).toBe("INVALID_FEATURE_VIEW");
    expect(error.fieldViolations.map((v) => v.field)).toEqual([
      "feature_view.entity",
      "feature_view.features[1].name",
      "feature_view.features[2].type",
      "feature_view.features[3].type",
      "feature_view.ttl",
    ]);
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(t.client.getFeatureView("customer_stats")).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("rejects a missing message and malformed names", async () => {
    const missing = await failure(
      t.client.call(t.client.registry, t.client.registry.applyFeatureView, { featureView: undefined, validateOnly: false }),
    );
    expect(missing.fieldViolations).toEqual([{ field: "feature_view", description: "is required" }]);
    const badName = await failure(t.client.call(t.client.registry, t.client.registry.getFeatureView, { name: "featureViews/x" }));
    expect([badName.code, badName.reason, badName.fieldViolations[0]?.field]).toEqual([
      status.INVALID_ARGUMENT,
      "INVALID_RESOURCE_NAME",
      "name",
    ]);
    const badToken = await failure(
      t.client.call(t.client.registry, t.client.registry.listFeatureViews, {
        parent: "projects/default",
        pageSize: 1,
        pageToken: "nope",
        showDeprecated: false,
      }),
    );
    expect(badToken.reason).toBe("INVALID_PAGE_TOKEN");
  });

  it("rejects oversize strings", async () => {
    const error = await failure(t.client.applyFeatureView({ ...stats, description: "x".repeat(5000), tags: { k: "v".repeat(300) } }));
    expect(error.fieldViolations.map((v) => v.field)).toEqual(["feature_view.description", 'feature_view.tags["k"]']);
  });

  it("returns NOT_FOUND with the resource for unknown views, versions and refs", async () => {
    await t.client.applyFeatureView(stats);
    const view = await failure(t.client.getFeatureView("ghost"));
    expect([view.code, view.reason, view.errorMetadata.resource_name]).toEqual([
      status.NOT_FOUND,
      "FEATURE_VIEW_NOT_FOUND",
      "projects/default/featureViews/ghost",
    ]);
    const version = await failure(t.client.getFeatureView("customer_stats", { version: 4 }));
    expect([version.code, version.reason]).toEqual([status.NOT_FOUND, "FEATURE_VIEW_VERSION_NOT_FOUND"]);
    const ref = await failure(t.client.resolveFeatures({ features: ["customer_stats:ghost"] }));
    expect([ref.code, ref.reason]).toEqual([status.NOT_FOUND, "FEATURE_NOT_FOUND"]);
  });

  it("returns FAILED_PRECONDITION when join keys would change", async () => {
    const error = await failure(t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "string" }] }));
    expect([error.code, error.reason]).toEqual([status.FAILED_PRECONDITION, "ENTITY_JOIN_KEYS_IMMUTABLE"]);
  });

  it("echoes the client's request id", async () => {
    const metadata = new Metadata();
    metadata.set("x-request-id", "trace-123");
    const error = await new Promise<SluiceClientError>((resolve) =>
      t.client.registry.getFeatureView({ name: "projects/default/featureViews/ghost" }, metadata, (e) =>
        resolve(toClientError(e as ServiceError)),
      ),
    );
    expect(error.requestId).toBe("trace-123");
  });
});

describe("the rest of the v1 API", () => {
  it("answers UNIMPLEMENTED, naming the method, for what is not built yet", async () => {
    const monitoring = new MonitoringServiceClient(t.server.address, credentials.createInsecure());
    const unary = await new Promise<SluiceClientError>((resolve) =>
      monitoring.getFeatureStatistics(GetFeatureStatisticsRequest.fromPartial({}), (e) => resolve(toClientError(e as ServiceError))),
    );
    expect([unary.code, unary.reason]).toEqual([status.UNIMPLEMENTED, "NOT_IMPLEMENTED"]);
    expect(unary.message).toContain("sluice.v1.MonitoringService/GetFeatureStatistics");
    expect(unary.requestId).toBeDefined();
    monitoring.close();
  });

  it("reports health, and NOT_SERVING once shutdown begins", async () => {
    expect(await t.client.isServing()).toBe(true);
    expect(await t.client.isServing("sluice.v1.RegistryService")).toBe(true);
    const health = new HealthClient(t.server.address, credentials.createInsecure());
    const watch = health.watch({ service: "" });
    const statuses: number[] = [];
    const sawNotServing = new Promise<void>((resolve) =>
      watch.on("data", (message: { status: number }) => {
        statuses.push(message.status);
        if (message.status === HealthCheckResponse_ServingStatus.NOT_SERVING) resolve();
      }),
    );
    watch.on("error", () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopping = t.server.shutdown();
    await sawNotServing;
    expect(statuses[0]).toBe(HealthCheckResponse_ServingStatus.SERVING);
    watch.cancel();
    health.close();
    await stopping;
    t = await startTestServer();
  });
});

/**
 * One naming rule everywhere, and errors that guide: resource fields take full resource names
 * (a bare id is refused with the name it should have been), refs take the short form or the
 * view's resource name, and every mistake says what is wrong and shows the right form.
 */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { typed } from "../../clients/typescript/src/index.js";
import { WriteFeatureBatchRequest } from "../../src/gen/sluice/v1/ingestion.pb.js";
import { GetOnlineFeaturesRequest } from "../../src/gen/sluice/v1/online.pb.js";
import { failure } from "../support/expect-failure.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const now = () => new Date(Date.now() - 60_000);
const statsFeatures = [
  { name: "orders", type: "int64" as const },
  { name: "spend", type: "double" as const },
];

beforeAll(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "customer_stats",
    entity: "customer",
    features: statsFeatures,
  });
  await t.client.writeFeatureBatch({
    featureView: "customer_stats",
    rows: [{ entityKey: { customer_id: 1n }, eventTime: now(), features: { orders: typed.int64(3), spend: typed.double(9.5) } }],
  });
});

afterAll(() => t?.stop());

/** A raw GetOnlineFeatures for customer 1, so names reach the server exactly as written. */
function readOnline(features: string[], entities: Record<string, bigint[]> = { customer_id: [1n] }) {
  return t.client.call(
    t.client.online,
    t.client.online.getOnlineFeatures,
    GetOnlineFeaturesRequest.fromPartial({
      project: "projects/default",
      features,
      entities: Object.fromEntries(
        Object.entries(entities).map(([name, values]) => [name, { values: values.map((v) => ({ int64Value: v })) }]),
      ),
    }),
  );
}

describe("refs take the short form or the view's resource name", () => {
  it("reads, writes and trains through full-form refs", async () => {
    // Both forms name the same feature, so both would make the output column "orders".
    const twice = await failure(readOnline(["customer_stats:orders", "projects/default/featureViews/customer_stats/versions/1:orders"]));
    expect(twice.reason).toBe("DUPLICATE_OUTPUT_COLUMN");
    const full = await readOnline(["projects/default/featureViews/customer_stats/versions/1:orders", "customer_stats:spend"]);
    expect(full.resolvedFeatures.map((f) => [f.featureView, f.version, f.feature])).toEqual([
      ["projects/default/featureViews/customer_stats", 1, "orders"],
      ["projects/default/featureViews/customer_stats", 1, "spend"],
    ]);

    const written = await t.client.call(
      t.client.ingestion,
      t.client.ingestion.writeFeatureBatch,
      WriteFeatureBatchRequest.fromPartial({
        project: "projects/default",
        featureView: "projects/default/featureViews/customer_stats/versions/1",
        rows: [
          {
            entityKey: { customer_id: { int64Value: 2n } },
            eventTime: { seconds: BigInt(Math.floor(Date.now() / 1000) - 10), nanos: 0 },
            features: { orders: { int64Value: 7n } },
          },
        ],
      }),
    );
    expect([written.acceptedCount, written.featureViewVersion]).toEqual([1, 1]);

    const rows: Array<Record<string, unknown>> = [];
    for await (const row of t.client.getHistoricalRows({
      features: ["projects/default/featureViews/customer_stats:orders"],
      spine: { rows: [{ entityKey: { customer_id: 2n }, eventTime: new Date() }] },
    }))
      rows.push(row);
    expect(rows).toEqual([expect.objectContaining({ orders: 7n })]);
  });

  it("refuses a full-form ref to another project, and one of the wrong collection, showing the forms", async () => {
    const other = await failure(readOnline(["projects/elsewhere/featureViews/customer_stats:orders"]));
    expect([other.code, other.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_FEATURE_REF"]);
    expect(other.fieldViolations[0]?.description).toContain('names project "elsewhere", but the request is for project "default"');
    const wrong = await failure(readOnline(["projects/default/entities/customer:orders"]));
    expect(wrong.fieldViolations[0]?.description).toContain("expected projects/{project}/featureViews/{id}[/versions/{n}]");
  });

  it("says a ref has too many colons, and shows the form", async () => {
    const error = await failure(readOnline(["a:b:c"]));
    expect(error.fieldViolations).toEqual([
      {
        field: "features[0]",
        description:
          '"a:b:c" has 2 colons; a feature ref has one, before the feature: use "view:feature", "view@3:feature" or "projects/{project}/featureViews/{view}[/versions/{n}]:feature"',
      },
    ]);
  });
});

describe("resource fields take full names", () => {
  it("refuses a bare id with the full name it should have been", async () => {
    const error = await failure(t.client.call(t.client.registry, t.client.registry.getFeatureView, { name: "customer_stats" }));
    expect([error.code, error.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_RESOURCE_NAME"]);
    expect(error.fieldViolations[0]?.description).toContain('e.g. "projects/default/featureViews/customer_stats"');
    const project = await failure(
      t.client.call(
        t.client.online,
        t.client.online.getOnlineFeatures,
        GetOnlineFeaturesRequest.fromPartial({ project: "default", features: ["customer_stats:orders"] }),
      ),
    );
    expect(project.fieldViolations[0]?.description).toContain('e.g. "projects/default"');
  });
});

describe("errors that guide", () => {
  it("suggests the close name of an unknown feature or view", async () => {
    const feature = await failure(readOnline(["customer_stats:ordrs"]));
    expect(feature.code).toBe(status.NOT_FOUND);
    expect(feature.message).toContain('feature view customer_stats@1 has no feature "ordrs"; did you mean "orders"?');
    const view = await failure(readOnline(["custmer_stats:orders"]));
    expect(view.code).toBe(status.NOT_FOUND);
    expect(view.message).toContain('did you mean "customer_stats"?');
  });

  it("names a write without a feature view as a missing field", async () => {
    const error = await failure(
      t.client.call(
        t.client.ingestion,
        t.client.ingestion.writeFeatureBatch,
        WriteFeatureBatchRequest.fromPartial({ project: "projects/default", featureView: "" }),
      ),
    );
    expect([error.reason, error.fieldViolations[0]?.field]).toEqual(["MISSING_FIELD", "feature_view"]);
  });

  it("names an unknown entity column of a read", async () => {
    const error = await failure(readOnline(["customer_stats:orders"], { custmer_id: [1n] }));
    expect(error.fieldViolations).toEqual([
      { field: 'entities["custmer_id"]', description: '"custmer_id" is not a join key of the requested features; expected "customer_id"' },
      { field: 'entities["customer_id"]', description: 'join key "customer_id" is required (needed by customer_stats@1)' },
    ]);
  });

  it("says which two refs of a training request make the same column, and what to do", async () => {
    await t.client.applyFeatureView({
      name: "customer_stats",
      entity: "customer",
      features: [...statsFeatures, { name: "visits", type: "int32" }],
    });
    const error = await failure(
      (async () => {
        for await (const _ of t.client.getHistoricalRows({
          features: ["customer_stats@1:orders", "customer_stats:orders"],
          fullFeatureNames: true,
          spine: { rows: [{ entityKey: { customer_id: 1n }, eventTime: new Date() }] },
        }));
      })(),
    );
    expect(error.fieldViolations[0]?.description).toBe(
      'feature "customer_stats@1:orders" (features[0]) and feature "customer_stats:orders" (features[1]) both make output column "customer_stats__orders": a training set holds one version of a feature; drop one of them or read the other version in a second request',
    );
  });
});

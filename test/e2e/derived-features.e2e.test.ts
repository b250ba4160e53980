/**
 * Request-time (derived) features end to end, with the real server: a feature service declares a
 * request input and derived features; Predict computes them from request_features and the online
 * values and feeds one to an ONNX model that passes it through; GetHistoricalFeatures and training
 * datasets compute them from spine columns and the point-in-time values. For the same inputs both
 * paths give the same values.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PlainValue, type SpineRowInput, typed } from "../../clients/typescript/src/index.js";
import { ApplyFeatureServiceRequest } from "../../src/gen/sluice/v1/registry.pb.js";
import { TrainingDatasetState } from "../../src/gen/sluice/v1/training.pb.js";
import { ValueType } from "../../src/gen/sluice/v1/types.pb.js";
import { failure } from "../support/expect-failure.js";
import { BATCH_DIM, buildModel } from "../support/onnx-models.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
/** When the feature values were written: an hour ago, so "now" sees them online and offline. */
const WRITTEN = new Date(Date.now() - 3_600_000);
const SPEND_MEAN: Record<string, number> = { "1": 20, "2": 0, "3": 12.5 };
const ORDERS: Record<string, bigint> = { "1": 3n, "2": 1n, "3": 7n };

/** The request values and entities both paths are asked about (customer 4 has no features). */
const CASES = [
  { customer: 1n, amount: 50 },
  { customer: 2n, amount: 50 },
  { customer: 3n, amount: 0.1 },
  { customer: 4n, amount: 10 },
];

/** Applies a feature service through the generated stub, as any gRPC client would. */
function applyService(service: Partial<ApplyFeatureServiceRequest["featureService"]> & { name: string }) {
  return t.client.call(
    t.client.registry,
    t.client.registry.applyFeatureService,
    ApplyFeatureServiceRequest.fromPartial({ featureService: { ...service, name: `projects/default/featureServices/${service.name}` } }),
  );
}

/**
 * A model whose output `ratio_out` is its input `ratio` (float64 [batch, 1]) and `features_out`
 * its input `features` (float64 [batch, 2]): Predict's model inputs, returned as they were fed.
 */
function passThroughModel(): Uint8Array {
  return buildModel({
    name: "pass_through",
    inputs: [
      { name: "features", type: "float64", shape: [BATCH_DIM, 2] },
      { name: "ratio", type: "float64", shape: [BATCH_DIM, 1] },
    ],
    outputs: [
      { name: "features_out", type: "float64", shape: [BATCH_DIM, 2] },
      { name: "ratio_out", type: "float64", shape: [BATCH_DIM, 1] },
    ],
    nodes: [
      { op: "Identity", inputs: ["features"], outputs: ["features_out"] },
      { op: "Identity", inputs: ["ratio"], outputs: ["ratio_out"] },
    ],
  });
}

beforeAll(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "stats",
    entity: "customer",
    features: [
      { name: "spend_mean", type: "double" },
      { name: "orders", type: "int64" },
    ],
  });
  await t.client.writeFeatureBatch({
    featureView: "stats",
    rows: Object.keys(SPEND_MEAN).map((id) => ({
      entityKey: { customer_id: BigInt(id) },
      eventTime: WRITTEN,
      features: { spend_mean: SPEND_MEAN[id] as number, orders: ORDERS[id] as bigint },
    })),
  });
  const applied = await applyService({
    name: "scoring",
    features: ["stats:spend_mean", "stats:orders"],
    requestInputs: [{ name: "amount", type: ValueType.VALUE_TYPE_DOUBLE, description: "basket value" }],
    derivedFeatures: [
      { name: "ratio", expression: "amount / stats:spend_mean", description: "", type: ValueType.VALUE_TYPE_UNSPECIFIED },
      { name: "big_spender", expression: "amount > 2 * stats:spend_mean or stats:orders >= 7", description: "", type: 0 },
    ],
  });
  expect(applied.featureService?.derivedFeatures.map((d) => [d.name, d.type])).toEqual([
    ["ratio", ValueType.VALUE_TYPE_DOUBLE],
    ["big_spender", ValueType.VALUE_TYPE_BOOL],
  ]);
  await t.client.uploadModel({
    model: "pass_through",
    file: passThroughModel(),
    bindings: [
      { input: "features", featureService: "scoring@1" },
      { input: "ratio", request: "ratio" },
    ],
  });
  await t.client.applyDeployment({ endpoint: "scoring", stable: "pass_through@1" });
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

/** What the expression gives: null for a missing feature and for division by zero. */
function expectedRatio(customer: bigint, amount: number): number | null {
  const mean = SPEND_MEAN[String(customer)];
  return mean === undefined || mean === 0 ? null : amount / mean;
}

/** The cases as spine rows, as of now, with the request input as an extra column of its name. */
function spineRows(): SpineRowInput[] {
  return CASES.map((c) => ({ entityKey: { customer_id: c.customer }, eventTime: new Date(), extras: { amount: typed.double(c.amount) } }));
}

describe("derived features", () => {
  it("refuses at upload a model input bound to a string derived feature", async () => {
    await applyService({
      name: "labelled",
      features: ["stats:spend_mean", "stats:orders"],
      requestInputs: [{ name: "country", type: ValueType.VALUE_TYPE_STRING, description: "" }],
      derivedFeatures: [{ name: "ratio", expression: "if(country = 'NL', 'home', 'abroad')", description: "", type: 0 }],
    });
    const error = await failure(
      t.client.uploadModel({
        model: "labelled",
        file: passThroughModel(),
        bindings: [
          { input: "features", featureService: "labelled@1" },
          { input: "ratio", request: "ratio" },
        ],
      }),
    );
    expect([error.codeName, error.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_INPUT_BINDINGS"]);
    expect(error.fieldViolations.map((v) => v.description).join("\n")).toContain('derived feature "ratio" of labelled@1 is a string');
  });

  it("refuses an expression that does not compile, naming the field and the position", async () => {
    const error = await failure(
      applyService({
        name: "broken",
        features: ["stats:spend_mean"],
        requestInputs: [{ name: "country", type: ValueType.VALUE_TYPE_STRING, description: "" }],
        derivedFeatures: [{ name: "x", expression: "stats:spend_mean * country", description: "", type: 0 }],
      }),
    );
    expect([error.codeName, error.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_DERIVED_FEATURE"]);
    expect(error.fieldViolations).toEqual([
      { field: "feature_service.derived_features[0].expression", description: '"*" needs numbers, not a string at line 1, column 18' },
    ]);
  });

  it("computes a derived feature in Predict from request_features and feeds it to the model", async () => {
    const prediction = await t.client.predict({
      endpoint: "scoring",
      entities: { customer_id: CASES.map((c) => c.customer) },
      requestFeatures: { amount: CASES.map((c) => c.amount) },
    });
    // A null derived value (division by zero, a missing feature) is the default, 0, as a missing feature is.
    expect(prediction.outputs.ratio_out?.values).toEqual(CASES.map((c) => expectedRatio(c.customer, c.amount) ?? 0));
    expect(prediction.outputs.features_out?.values).toEqual([20, 3, 0, 1, 12.5, 7, 0, 0]);
    const derived = prediction.usedFeatures.find((u) => u.feature?.ref === "ratio");
    expect(derived?.feature).toMatchObject({
      featureView: "projects/default/featureServices/scoring",
      version: 1,
      feature: "ratio",
      type: ValueType.VALUE_TYPE_DOUBLE,
    });
    expect(derived?.statuses).toHaveLength(CASES.length);
    expect(prediction.usedFeatures.map((u) => u.feature?.ref)).toEqual(["stats@1:spend_mean", "stats@1:orders", "ratio"]);
  });

  it("refuses a Predict without the request input, or with a value of the wrong type", async () => {
    const missing = await failure(t.client.predict({ endpoint: "scoring", entities: { customer_id: [1n] } }));
    expect([missing.codeName, missing.reason, missing.fieldViolations[0]?.field]).toEqual([
      "INVALID_ARGUMENT",
      "MISSING_REQUEST_FEATURE",
      'request_features["amount"]',
    ]);
    const mistyped = await failure(
      t.client.predict({ endpoint: "scoring", entities: { customer_id: [1n, 2n] }, requestFeatures: { amount: [1, "lots"] } }),
    );
    expect([mistyped.codeName, mistyped.reason, mistyped.fieldViolations[0]?.field]).toEqual([
      "INVALID_ARGUMENT",
      "INVALID_REQUEST_FEATURE",
      'request_features["amount"][1]',
    ]);
  });

  it("computes the same values in GetHistoricalFeatures, from a spine column of the input's name", async () => {
    const prediction = await t.client.predict({
      endpoint: "scoring",
      entities: { customer_id: CASES.map((c) => c.customer) },
      requestFeatures: { amount: CASES.map((c) => c.amount) },
    });
    let schema: Array<{ name: string; featureView?: string }> = [];
    const rows: Array<Record<string, PlainValue>> = [];
    for await (const row of t.client.getHistoricalRows(
      {
        featureService: "scoring",
        spine: { rows: spineRows() },
      },
      { onSchema: (s) => (schema = s.columns.map((c) => ({ name: c.name, featureView: c.feature?.featureView }))) },
    ))
      rows.push(row);
    expect(schema.map((c) => c.name)).toEqual(["customer_id", "event_time", "amount", "spend_mean", "orders", "ratio", "big_spender"]);
    expect(schema.at(-1)?.featureView).toBe("projects/default/featureServices/scoring");
    expect(rows.map((r) => r.ratio)).toEqual(CASES.map((c) => expectedRatio(c.customer, c.amount)));
    // Three-valued logic: null (no features for customer 4) or null is null.
    expect(rows.map((r) => r.big_spender)).toEqual([true, true, true, null]);
    // Online and offline agree wherever the value is known (Predict feeds a null as 0).
    const served = prediction.outputs.ratio_out?.values ?? [];
    expect(served).toEqual(rows.map((row) => row.ratio ?? 0));

    const arrow = await t.client.getHistoricalArrow({
      featureService: "scoring@1",
      spine: { rows: spineRows() },
    });
    expect([...(arrow.table.getChild("ratio") ?? [])]).toEqual(rows.map((r) => r.ratio));
    expect(arrow.table.getChild("ratio")?.nullCount).toBe(2);
    expect([...(arrow.table.getChild("big_spender") ?? [])]).toEqual([true, true, true, null]);
  });

  it("refuses a spine without a column for the request input, before the join runs", async () => {
    const rows = async () => {
      for await (const _ of t.client.getHistoricalRows({
        featureService: "scoring",
        spine: { rows: [{ entityKey: { customer_id: 1n }, eventTime: new Date(), extras: { label: true } }] },
      }));
    };
    const error = await failure(rows());
    expect([error.codeName, error.reason]).toEqual(["INVALID_ARGUMENT", "MISSING_REQUEST_INPUT"]);
    expect(error.fieldViolations[0]?.description).toContain('the spine needs an extra column "amount"');
  });

  it("adds the derived columns to a training dataset", async () => {
    const sql = "SELECT toInt64(number + 1) AS customer_id, now64(6) AS event_time, toFloat64(number * 10 + 5) AS amount FROM numbers(3)";
    await t.client.createTrainingDataset({ name: "scoring_train", query: { featureService: "scoring", spine: { sql } } });
    const done = await t.client.waitForTrainingDataset("scoring_train", { timeoutMs: 60_000 });
    expect([done.state, done.errorMessage]).toEqual([TrainingDatasetState.TRAINING_DATASET_STATE_SUCCEEDED, ""]);
    expect(done.columns.map((c) => c.name)).toEqual([
      "customer_id",
      "event_time",
      "amount",
      "spend_mean",
      "orders",
      "ratio",
      "big_spender",
    ]);
    const table = await t.client.readTrainingDataset("scoring_train");
    expect(table.schema.fields.map((f) => f.name)).toEqual(done.columns.map((c) => c.name));
    expect([...(table.getChild("ratio") ?? [])]).toEqual([5 / 20, null, 25 / 12.5]);
    expect([...(table.getChild("big_spender") ?? [])]).toEqual([false, true, true]);

    await t.client.createTrainingDataset({
      name: "no_amount",
      query: { featureService: "scoring", spine: { sql: "SELECT toInt64(1) AS customer_id, now64(6) AS event_time" } },
    });
    const failed = await t.client.waitForTrainingDataset("no_amount", { timeoutMs: 60_000 });
    expect(failed.state).toBe(TrainingDatasetState.TRAINING_DATASET_STATE_FAILED);
    expect(failed.errorMessage).toContain('the spine needs an extra column "amount"');
  });
});

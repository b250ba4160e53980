/**
 * Model serving end to end, with real ONNX models built in the test, the real server and SDK:
 * uploads and their refusals, Predict with features read from the online store, stable /
 * canary / shadow routing, promotion, rollback and the canary guard, version swaps under load,
 * the prediction log, KServe v2 through a client built from the standard proto, and metrics.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { credentials, loadPackageDefinition, type ServiceError, status } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toClientError } from "../../clients/typescript/src/errors.js";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { failure } from "../support/expect-failure.js";
import {
  logisticRegression,
  logisticRegressionModel,
  lookupModel,
  mlp,
  mlpModel,
  seededMlp,
  twoInputModel,
} from "../support/onnx-models.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const WEIGHTS = [0.5, -1.25, 2];
const BIAS = -0.3;
const FEATURES = ["stats@1:spend", "stats@1:visits", "stats@1:tenure"];
const customers = Array.from({ length: 40 }, (_, i) => BigInt(i + 1));
/** The feature values written for each customer (0 for customer 999, which has none). */
const valuesOf = (id: bigint) => [Number(id) * 0.1, Number(id % 7n), Number(id % 3n) - 1];

beforeAll(async () => {
  t = await startTestServer({
    serving: { ...DEFAULT_CONFIG.serving, maxQueueDelayMicros: 200 },
    limits: { ...DEFAULT_CONFIG.limits, maxModelBytes: 100_000 },
  });
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "stats",
    entity: "customer",
    features: [
      { name: "spend", type: "double" },
      { name: "visits", type: "int64" },
      { name: "tenure", type: "float" },
      { name: "segment", type: "string" },
    ],
  });
  await t.client.applyFeatureService({ name: "churn_inputs", features: FEATURES });
  await t.client.writeFeatureBatch({
    featureView: "stats",
    rows: customers.map((id) => {
      const [spend, visits, tenure] = valuesOf(id) as [number, number, number];
      return { entityKey: { customer_id: id }, eventTime: new Date(), features: { spend, visits: BigInt(visits), tenure, segment: "a" } };
    }),
  });
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

const lr = (weights = WEIGHTS, bias = BIAS) => logisticRegressionModel({ weights, bias });
const upload = (model: string, file: Uint8Array, bindings = [{ input: "features", features: FEATURES }]) =>
  t.client.uploadModel({ model, file, bindings });

describe("models", () => {
  it("uploads versions of a model, each checked and content-addressed", async () => {
    const first = await upload("churn", lr());
    expect([first.name, first.version, first.sha256]).toEqual(["projects/default/models/churn/versions/1", 1, sha256(lr())]);
    expect(first.inputs).toEqual([{ name: "features", elementType: "float32", shape: [-1n, 3n] }]);
    expect(first.outputs.map((o) => o.name)).toEqual(["probability"]);
    const viaService = await t.client.uploadModel({
      model: "churn",
      file: lr([1, 1, 1], 0),
      bindings: [{ input: "features", featureService: "churn_inputs@1" }],
    });
    expect(viaService.version).toBe(2);
    expect((await t.client.getModel("churn")).latestVersion).toBe(2);
  });

  it("refuses bad uploads with the reason, and stores nothing", async () => {
    const refused = async (promise: Promise<unknown>) => {
      const error = await failure(promise);
      return [error.codeName, error.reason, error.fieldViolations.map((v) => v.description).join(" | ") || error.message] as const;
    };
    const before = (await t.client.getModel("churn")).latestVersion;
    const [code, reason] = await refused(
      new Promise((resolve, reject) => {
        const call = t.client.models.uploadModel((error, response) => (error ? reject(error) : resolve(response)));
        call.write({
          header: {
            model: "projects/default/models/churn",
            inputBindings: [],
            sha256: "0".repeat(64),
            trainingDataset: "",
            description: "",
            labels: {},
          },
        });
        call.write({ chunk: Buffer.from(lr()) });
        call.end();
      }).catch((error: ServiceError) => {
        throw toClientError(error);
      }),
    );
    expect([code, reason]).toEqual(["INVALID_ARGUMENT", "CHECKSUM_MISMATCH"]);
    const empty = await failure(
      new Promise((resolve, reject) =>
        t.client.models.uploadModel((error, response) => (error ? reject(error) : resolve(response))).end(),
      ).catch((error: ServiceError) => {
        throw toClientError(error);
      }),
    );
    expect(empty.codeName).toBe("INVALID_ARGUMENT");
    expect((await refused(upload("churn", new Uint8Array([1, 2, 3, 4]))))[1]).toBe("INVALID_MODEL");
    expect((await refused(upload("churn", new Uint8Array(200_000))))[1]).toBe("MODEL_TOO_LARGE");
    expect(await refused(upload("churn", lr(), [{ input: "nope", features: FEATURES }]))).toEqual([
      "INVALID_ARGUMENT",
      "INVALID_INPUT_BINDINGS",
      expect.stringContaining('the model has no input "nope"'),
    ]);
    expect((await refused(upload("churn", lr(), [{ input: "features", features: FEATURES.slice(0, 2) }])))[2]).toContain(
      "takes 3 values per row, but 2 features are bound",
    );
    expect(
      (await refused(upload("churn", lr(), [{ input: "features", features: ["stats:spend", "stats@1:visits", "stats@1:tenure"] }])))[2],
    ).toContain("must pin a version");
    expect(
      (await refused(upload("churn", lr(), [{ input: "features", features: ["stats@1:spend", "stats@1:visits", "stats@1:segment"] }])))[2],
    ).toContain("a numeric input takes numeric features");
    expect(
      (await refused(upload("churn", lr(), [{ input: "features", features: ["stats@1:spend", "stats@1:visits", "stats@1:nope"] }])))[0],
    ).toBe("NOT_FOUND");
    expect(
      (
        await refused(
          t.client.uploadModel({
            model: "churn",
            file: lr(),
            bindings: [{ input: "features", features: FEATURES }],
            trainingDataset: "projects/default/trainingDatasets/none",
          }),
        )
      )[0],
    ).toBe("NOT_FOUND");
    expect((await t.client.getModel("churn")).latestVersion).toBe(before);
  });
});

describe("Predict", () => {
  beforeAll(async () => {
    await t.client.applyDeployment({ endpoint: "churn", stable: "churn@1", actor: "alice", reason: "first release" });
  });

  it("reads the model's features itself and matches a hand computation", async () => {
    const prediction = await t.client.predict({ endpoint: "churn", entities: { customer_id: [3n, 10n, 999n] } });
    expect([prediction.modelVersion, prediction.role]).toEqual(["projects/default/models/churn/versions/1", "stable"]);
    const probabilities = prediction.outputs.probability?.values ?? [];
    expect(prediction.outputs.probability?.rowShape).toEqual([1]);
    [3n, 10n].forEach((id, row) => {
      expect(probabilities[row]).toBeCloseTo(logisticRegression(WEIGHTS, BIAS, valuesOf(id)), 5);
    });
    // Customer 999 has no features: the default policy reads them as 0 and says so.
    expect(probabilities[2]).toBeCloseTo(logisticRegression(WEIGHTS, BIAS, [0, 0, 0]), 5);
    expect(prediction.usedFeatures.map((u) => u.statuses)).toEqual(Array.from({ length: 3 }, () => [1, 1, 3]));
  });

  it("rejects missing features when the endpoint says so, naming them", async () => {
    await t.client.applyDeployment({ endpoint: "strict", stable: "churn@1", missingFeatures: "reject" });
    expect((await t.client.predict({ endpoint: "strict", entities: { customer_id: [4n] } })).outputs.probability?.values).toHaveLength(1);
    const error = await failure(t.client.predict({ endpoint: "strict", entities: { customer_id: [4n, 999n] } }));
    expect([error.codeName, error.reason]).toEqual(["FAILED_PRECONDITION", "MISSING_FEATURES"]);
    expect(error.message).toContain("stats@1:spend (row 1: NOT_FOUND)");
  });

  it("fills request-time inputs from the request, and refuses requests that lack them", async () => {
    await t.client.uploadModel({
      model: "with_extra",
      file: twoInputModel({ weights: [...WEIGHTS, 1.5], bias: BIAS }),
      bindings: [
        { input: "features", features: FEATURES },
        { input: "extra", request: "basket_value" },
      ],
    });
    await t.client.applyDeployment({ endpoint: "with_extra", stable: "with_extra@1" });
    const prediction = await t.client.predict({
      endpoint: "with_extra",
      entities: { customer_id: [5n] },
      requestFeatures: { basket_value: [2.5] },
    });
    expect(prediction.outputs.probability?.values[0]).toBeCloseTo(logisticRegression([...WEIGHTS, 1.5], BIAS, [...valuesOf(5n), 2.5]), 5);
    const missing = await failure(t.client.predict({ endpoint: "with_extra", entities: { customer_id: [5n] } }));
    expect([missing.codeName, missing.fieldViolations[0]?.field]).toEqual(["INVALID_ARGUMENT", 'request_features["basket_value"]']);
    expect((await failure(t.client.predict({ endpoint: "nowhere", entities: { customer_id: [5n] } }))).codeName).toBe("NOT_FOUND");
    expect((await failure(t.client.predict({ endpoint: "churn", entities: {} }))).codeName).toBe("INVALID_ARGUMENT");
  });

  it("serves an MLP with several outputs per row", async () => {
    const params = seededMlp(3, 8, 4, 7);
    await t.client.uploadModel({ model: "mlp", file: mlpModel(params), bindings: [{ input: "features", features: FEATURES }] });
    await t.client.applyDeployment({ endpoint: "mlp", stable: "mlp@1" });
    const prediction = await t.client.predict({ endpoint: "mlp", entities: { customer_id: [2n, 8n] } });
    expect(prediction.outputs.scores?.rowShape).toEqual([4]);
    const expected = [...mlp(params, valuesOf(2n)), ...mlp(params, valuesOf(8n))];
    prediction.outputs.scores?.values.forEach((value, i) => {
      expect(value).toBeCloseTo(expected[i] as number, 4);
    });
  });
});

describe("deployments", () => {
  it("splits a sticky canary, compares shadows with stable, promotes and rolls back with history", async () => {
    await upload("churn", lr([0.5, -1.25, 2.0001], BIAS)); // v3: nearly v1, a shadow that agrees
    await t.client.applyDeployment({
      endpoint: "ab",
      stable: "churn@1",
      canary: { version: "churn@2", percent: 30 },
      shadows: ["churn@3"],
      actor: "bob",
      reason: "try v2 on 30%",
    });
    const roles = new Map<bigint, string>();
    for (const id of customers) {
      const prediction = await t.client.predict({ endpoint: "ab", entities: { customer_id: [id] } });
      roles.set(id, prediction.modelVersion);
      // Sticky: the same key gets the same version.
      expect((await t.client.predict({ endpoint: "ab", entities: { customer_id: [id] } })).modelVersion).toBe(prediction.modelVersion);
    }
    const canaries = [...roles.values()].filter((v) => v.endsWith("/2")).length;
    expect(canaries).toBeGreaterThan(0);
    expect(canaries).toBeLessThan(customers.length);

    await waitFor(async () => (await t.client.getDeploymentReport("ab")).some((r) => r.role === "shadow" && r.requestCount >= 40n));
    const report = await t.client.getDeploymentReport("ab");
    const shadow = report.find((r) => r.role === "shadow");
    expect(shadow?.modelVersion).toBe("projects/default/models/churn/versions/3");
    expect(shadow?.agreementRate).toBe(1);
    expect(shadow?.meanAbsoluteDifference).toBeLessThan(0.001);
    expect(report.find((r) => r.role === "canary")?.requestCount).toBe(BigInt(canaries * 2));

    const promoted = await t.client.promoteCanary("ab", { actor: "carol", reason: "v2 looks good" });
    expect([promoted.stableVersion, promoted.previousStableVersion, promoted.canary]).toEqual([
      "projects/default/models/churn/versions/2",
      "projects/default/models/churn/versions/1",
      undefined,
    ]);
    await waitFor(async () => (await t.client.predict({ endpoint: "ab", entities: { customer_id: [1n] } })).modelVersion.endsWith("/2"));
    const rolledBack = await t.client.rollbackDeployment("ab", { actor: "dave", reason: "complaints" });
    expect(rolledBack.stableVersion).toBe("projects/default/models/churn/versions/1");
    const history = [];
    for await (const revision of t.client.listDeploymentRevisions("ab"))
      history.push([revision.revision, revision.updatedBy, revision.changeReason]);
    expect(history).toEqual([
      [3n, "dave", "complaints"],
      [2n, "carol", "v2 looks good"],
      [1n, "bob", "try v2 on 30%"],
    ]);
    expect((await failure(t.client.promoteCanary("ab"))).reason).toBe("NO_CANARY");
  });

  it("refuses bad deployments, naming every problem, and changes nothing", async () => {
    const before = await t.client.getDeployment("churn");
    const invalid = await failure(
      t.client.applyDeployment({
        endpoint: "churn",
        stable: "churn@1",
        canary: { version: "churn@1", percent: 150 },
        shadows: ["churn@2", "churn@2"],
      }),
    );
    expect([invalid.codeName, invalid.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_DEPLOYMENT"]);
    expect(invalid.fieldViolations.map((v) => v.field)).toEqual([
      "deployment.canary.traffic_percent",
      "deployment.canary.model_version",
      "deployment.shadow_versions[1]",
    ]);
    const unknown = await failure(t.client.applyDeployment({ endpoint: "churn", stable: "churn@99" }));
    expect([unknown.codeName, unknown.reason]).toEqual(["NOT_FOUND", "MODEL_VERSION_NOT_FOUND"]);
    expect((await failure(t.client.applyDeployment({ endpoint: "Bad-Name", stable: "churn@1" }))).codeName).toBe("INVALID_ARGUMENT");
    await t.client.applyDeployment({ endpoint: "fresh", stable: "churn@1" });
    expect((await failure(t.client.rollbackDeployment("fresh"))).reason).toBe("NO_PREVIOUS_STABLE");
    expect((await t.client.getDeployment("churn")).revision).toBe(before.revision);
  });

  it("rolls a failing canary back by itself", async () => {
    // The canary reads "visits" as a table index; every customer with visits >= 2 makes it fail.
    await t.client.uploadModel({
      model: "fragile",
      file: lookupModel([0.1, 0.2]),
      bindings: [{ input: "index", features: ["stats@1:visits"] }],
    });
    await t.client.uploadModel({
      model: "fragile",
      file: lookupModel([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]),
      bindings: [{ input: "index", features: ["stats@1:visits"] }],
    });
    await t.client.applyDeployment({
      endpoint: "guarded",
      stable: "fragile@2",
      canary: { version: "fragile@1", percent: 50 },
      canaryGuard: { minRequests: 5, maxErrorRateIncrease: 0.05 },
    });
    for (const id of customers) await t.client.predict({ endpoint: "guarded", entities: { customer_id: [id] } }).catch(() => undefined);
    await waitFor(async () => (await t.client.getDeployment("guarded")).canary === undefined);
    const deployment = await t.client.getDeployment("guarded");
    expect(deployment.updatedBy).toBe("canary-guard");
    expect(deployment.changeReason).toMatch(/canary error rate .* exceeds stable's/);
    // Traffic is all stable again and succeeds.
    await waitFor(async () => (await t.client.predict({ endpoint: "guarded", entities: { customer_id: [6n] } })).role === "stable");
  });

  it("keeps a failing shadow's errors out of every response, and counts them per request", async () => {
    // fragile@1 fails for customers with visits >= 2; fragile@2 serves everyone, and both agree below that.
    await t.client.applyDeployment({ endpoint: "shadowed", stable: "fragile@2", shadows: ["fragile@1"] });
    const predictions = await Promise.all(
      customers.map((id) => t.client.predict({ endpoint: "shadowed", entities: { customer_id: [id] } })),
    );
    expect(predictions.every((p) => p.role === "stable")).toBe(true);
    await waitFor(async () => (await t.client.getDeploymentReport("shadowed")).some((r) => r.role === "shadow" && r.requestCount === 40n));
    const shadow = (await t.client.getDeploymentReport("shadowed")).find((r) => r.role === "shadow");
    expect([shadow?.errorCount, shadow?.agreementRate]).toEqual([BigInt(customers.filter((id) => id % 7n >= 2n).length), 1]);
  });

  it("swaps versions under load without failing a single request", async () => {
    await t.client.applyDeployment({ endpoint: "busy", stable: "churn@1" });
    let stop = false;
    let served = 0;
    const failures: unknown[] = [];
    const load = async () => {
      while (!stop) {
        await t.client
          .predict({ endpoint: "busy", entities: { customer_id: [BigInt(1 + (served % 40))] } })
          .then(() => served++)
          .catch((error: unknown) => failures.push(error));
      }
    };
    const clients = Array.from({ length: 8 }, load);
    for (let swap = 0; swap < 6; swap++) {
      await t.client.applyDeployment({ endpoint: "busy", stable: swap % 2 === 0 ? "churn@2" : "churn@1", reason: `swap ${swap}` });
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(50);
  });

  it("releases a version's session once no endpoint routes to it", async () => {
    await t.client.uploadModel({ model: "short_lived", file: lr([9, 9, 9], 0), bindings: [{ input: "features", features: FEATURES }] });
    await t.client.applyDeployment({ endpoint: "short", stable: "short_lived@1" });
    await t.client.predict({ endpoint: "short", entities: { customer_id: [1n] } });
    const loaded = async () =>
      Number(/^sluice_loaded_models (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text())?.[1]);
    const before = await loaded();
    await t.client.applyDeployment({ endpoint: "short", stable: "churn@1" });
    await waitFor(async () => (await loaded()) === before - 1);
    expect((await t.client.predict({ endpoint: "short", entities: { customer_id: [1n] } })).modelVersion).toBe(
      "projects/default/models/churn/versions/1",
    );
  });
});

describe("the prediction log", () => {
  it("is in the offline store, where the next training set can read it", async () => {
    await t.client.predict({ endpoint: "churn", entities: { customer_id: [21n] }, requestId: "log-me" });
    const sql =
      "SELECT toInt64(JSONExtractString(entity_keys, 'customer_id', 1)) AS customer_id, time AS event_time, model_version, role, latency_us, outputs " +
      "FROM sluice_default.predictions WHERE request_id = 'log-me'";
    let rows: Array<Record<string, unknown>> = [];
    await waitFor(async () => {
      rows = [];
      for await (const row of t.client.getHistoricalRows({ features: ["stats:spend"], spine: { sql } })) rows.push(row);
      return rows.length > 0;
    });
    expect(rows[0]).toMatchObject({
      customer_id: 21n,
      model_version: "projects/default/models/churn/versions/1",
      role: "stable",
      spend: 2.1,
    });
    expect(JSON.parse(rows[0]?.outputs as string).probability[0]).toBeCloseTo(logisticRegression(WEIGHTS, BIAS, valuesOf(21n)), 5);
  });
});

describe("KServe v2", () => {
  const definition = loadSync(join(import.meta.dirname, "../../proto/inference/grpc_predict_v2.proto"), {
    keepCase: true,
    longs: String,
    defaults: true,
  });
  // biome-ignore lint/suspicious/noExplicitAny: a client built at run time from the standard proto
  const inference = (loadPackageDefinition(definition) as any).inference;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const call = (client: any, method: string, request: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      client[method](request, (e: unknown, r: Record<string, unknown>) => (e ? reject(e) : resolve(r))),
    );

  it("serves the same models to a client of the standard proto, with typed and raw tensors", async () => {
    const client = new inference.GRPCInferenceService(t.server.address, credentials.createInsecure());
    expect(await call(client, "ServerLive", {})).toEqual({ live: true });
    expect(await call(client, "ServerReady", {})).toEqual({ ready: true });
    expect(await call(client, "ModelReady", { name: "churn", version: "1" })).toEqual({ ready: true });
    const metadata = await call(client, "ModelMetadata", { name: "churn", version: "" });
    expect(metadata).toMatchObject({ platform: "onnxruntime_onnx", inputs: [{ name: "features", datatype: "FP32", shape: ["-1", "3"] }] });
    expect(metadata.versions).toContain("1");

    const rows = [valuesOf(3n), valuesOf(4n)];
    const typed = await call(client, "ModelInfer", {
      model_name: "churn",
      model_version: "1",
      id: "k1",
      inputs: [{ name: "features", datatype: "FP32", shape: [2, 3], contents: { fp32_contents: rows.flat() } }],
    });
    const outputs = typed.outputs as Array<{ name: string; datatype: string; shape: string[]; contents: { fp32_contents: number[] } }>;
    expect([typed.id, outputs[0]?.name, outputs[0]?.datatype, outputs[0]?.shape]).toEqual(["k1", "probability", "FP32", ["2", "1"]]);
    rows.forEach((row, i) => {
      expect(outputs[0]?.contents.fp32_contents[i]).toBeCloseTo(logisticRegression(WEIGHTS, BIAS, row), 5);
    });

    const raw = await call(client, "ModelInfer", {
      model_name: "projects/default/models/churn",
      inputs: [{ name: "features", datatype: "FP32", shape: [2, 3] }],
      raw_input_contents: [Buffer.from(Float32Array.from(rows.flat()).buffer)],
    });
    const rawOut = (raw.raw_output_contents as Buffer[])[0] as Buffer;
    const values = new Float32Array(new Uint8Array(rawOut).buffer);
    expect(raw.model_version).toBe("3"); // no version: the latest
    expect(values).toHaveLength(2);

    const bad = await call(client, "ModelInfer", {
      model_name: "churn",
      inputs: [{ name: "features", datatype: "INT64", shape: [1, 3], contents: { int64_contents: [1, 2, 3] } }],
    }).catch((e: { code: number }) => e);
    expect((bad as { code: number }).code).toBe(status.INVALID_ARGUMENT);
    const missing = await call(client, "ModelReady", { name: "nope", version: "" }).catch((e: { code: number }) => e);
    expect((missing as { code: number }).code).toBe(status.NOT_FOUND);
    client.close();
  });
});

describe("metrics", () => {
  it("exports predictions, latency, batch sizes and shadow figures for Prometheus", async () => {
    const text = await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text();
    expect(text).toMatch(
      /sluice_predictions_total\{endpoint="default\/churn",model_version="projects\/default\/models\/churn\/versions\/1",role="stable"\} \d+/,
    );
    expect(text).toContain("sluice_prediction_latency_seconds_bucket");
    expect(text).toContain("sluice_inference_batch_rows_bucket");
    expect(text).toMatch(
      /sluice_shadow_runs_total\{endpoint="default\/ab",model_version="projects\/default\/models\/churn\/versions\/3",outcome="agree"\} \d+/,
    );
    expect(text).toContain("sluice_prediction_errors_total");
    expect(text).toMatch(/^sluice_prediction_log_dropped_total 0$/m);
    expect(text).toMatch(/^sluice_loaded_models \d+$/m);
  });
});

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

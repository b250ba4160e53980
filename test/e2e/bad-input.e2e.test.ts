/**
 * Issue 12: the probes an attacker ran against the server, each replayed against the real
 * server and answered at once with a status that says what is wrong, the server staying
 * healthy and its memory in bounds. The fuzz suite (fuzz.e2e.test.ts) covers the classes.
 */
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequest, ErrorInfo } from "../../src/gen/google/rpc/error_details.pb.js";
import { Status } from "../../src/gen/google/rpc/status.pb.js";
import { PredictRequest } from "../../src/gen/sluice/v1/inference.pb.js";
import { FeatureRow, WriteFeatureBatchRequest } from "../../src/gen/sluice/v1/ingestion.pb.js";
import { GetOnlineFeaturesRequest } from "../../src/gen/sluice/v1/online.pb.js";
import { ApplyFeatureViewRequest, GetFeatureViewRequest, ResolveFeaturesRequest } from "../../src/gen/sluice/v1/registry.pb.js";
import { GetHistoricalFeaturesRequest, ReadTrainingDatasetRequest } from "../../src/gen/sluice/v1/training.pb.js";
import { ValueType } from "../../src/gen/sluice/v1/types.pb.js";
import { constantOutputModel, hugeDeclaredInputModel, squareOutputModel } from "../support/bomb-models.js";
import { failure } from "../support/expect-failure.js";
import { repeatedMessage } from "../support/proto-arbitrary.js";
import { healthStatus, type RawClient as Raw, RawClient, type RawOutcome, trailerBytes } from "../support/raw-grpc.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** How long a refusal may take: "at once", with room for a loaded CI machine. */
const AT_ONCE_MS = 5000;

let t: TestServer;
let raw: Raw;

beforeAll(async () => {
  t = await startTestServer();
  raw = new RawClient(t.server.address);
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "customer_stats",
    entity: "customer",
    features: [
      { name: "orders", type: "int64" },
      { name: "spend", type: "double" },
    ],
  });
}, 60_000);

afterAll(async () => {
  raw?.close();
  await t?.stop();
});

const unary = (path: string) => ({ path, clientStreaming: false, serverStreaming: false });
const WRITE = unary("/sluice.v1.IngestionService/WriteFeatureBatch");
const bytesOf = <T>(type: { encode(message: T): { finish(): Uint8Array }; fromPartial(object: never): T }, message: unknown) =>
  type.encode(type.fromPartial(message as never)).finish();

/** A protobuf varint. */
function varintOf(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) {
      bytes.push(rest);
      return Buffer.from(bytes);
    }
    bytes.push((rest % 128) | 0x80);
  }
}

/** The reason and field violations a status carries in its details. */
function detailsOf(outcome: RawOutcome) {
  const bin = outcome.trailers.get("grpc-status-details-bin")[0] as Buffer | undefined;
  const details = bin ? Status.decode(bin).details : [];
  const info = details.find((d) => d.typeUrl.endsWith("ErrorInfo"));
  const badRequest = details.find((d) => d.typeUrl.endsWith("BadRequest"));
  return {
    reason: info ? ErrorInfo.decode(info.value).reason : "",
    fields: badRequest ? BadRequest.decode(badRequest.value).fieldViolations.map((v) => v.field) : [],
  };
}

/** Expects `outcome` to be a prompt refusal with `code` (and `reason`, `field` when given), then a healthy server. */
async function expectRefused(outcome: RawOutcome, code: status, reason?: string, field?: string) {
  expect({ code: status[outcome.code], details: outcome.details.slice(0, 300) }).toMatchObject({ code: status[code] });
  expect(outcome.ms).toBeLessThan(AT_ONCE_MS);
  const details = detailsOf(outcome);
  if (reason) expect(details.reason).toBe(reason);
  if (field) expect(details.fields).toContain(field);
  expect(await healthStatus(raw)).toBe("SERVING");
}

describe("oversized lists are refused before any work in proportion to them", () => {
  it("an 8 MB WriteFeatureBatch of four million empty rows", async () => {
    const rows = Buffer.alloc(8_000_000);
    for (let i = 0; i < rows.length; i += 2) rows[i] = 0x1a;
    const rss = process.memoryUsage().rss;
    await expectRefused(await raw.call(WRITE, [rows], {}, 30_000), status.INVALID_ARGUMENT, "TOO_MANY_ITEMS", "rows");
    expect(process.memoryUsage().rss - rss).toBeLessThan(300 * 1024 * 1024);
  });

  it("a million feature refs in ResolveFeatures", async () => {
    const refs = Array.from({ length: 1_000_000 }, (_, i) => `customer_stats:f${i}`);
    const outcome = await raw.call(
      unary("/sluice.v1.RegistryService/ResolveFeatures"),
      [bytesOf(ResolveFeaturesRequest, { features: refs })],
      {},
      30_000,
    );
    await expectRefused(outcome, status.INVALID_ARGUMENT, "TOO_MANY_ITEMS", "features");
  });

  it("a hundred thousand refs in GetOnlineFeatures", async () => {
    const request = {
      features: Array.from({ length: 100_000 }, () => "customer_stats:orders"),
      entities: { customer_id: { values: [{ int64Value: 1n }] } },
    };
    const outcome = await raw.call(
      unary("/sluice.v1.OnlineService/GetOnlineFeatures"),
      [bytesOf(GetOnlineFeaturesRequest, request)],
      {},
      30_000,
    );
    await expectRefused(outcome, status.INVALID_ARGUMENT, "TOO_MANY_ITEMS", "features");
  });

  it("a hundred thousand duplicate, then invalid, feature names in ApplyFeatureView", async () => {
    for (const name of ["orders", "9 not a name!"]) {
      const view = {
        name: "projects/default/featureViews/wide",
        entity: "customer",
        features: Array.from({ length: 100_000 }, () => ({ name, type: ValueType.VALUE_TYPE_INT64 })),
      };
      const outcome = await raw.call(
        unary("/sluice.v1.RegistryService/ApplyFeatureView"),
        [bytesOf(ApplyFeatureViewRequest, { featureView: view })],
        {},
        30_000,
      );
      await expectRefused(outcome, status.INVALID_ARGUMENT, undefined, "feature_view.features");
    }
  });

  it("a 200,000-row inline spine", async () => {
    const query = bytesOf(GetHistoricalFeaturesRequest, { query: { features: ["customer_stats:orders"], inlineSpine: true } });
    const spine = bytesOf(GetHistoricalFeaturesRequest, {
      spineBatch: {
        rows: Array.from({ length: 200_000 }, (_, i) => ({
          entityKey: { customer_id: { int64Value: BigInt(i) } },
          eventTime: { seconds: 1_700_000_000n, nanos: 0 },
        })),
      },
    });
    const method = { path: "/sluice.v1.TrainingService/GetHistoricalFeatures", clientStreaming: true, serverStreaming: true };
    await expectRefused(await raw.call(method, [query, spine], {}, 30_000), status.INVALID_ARGUMENT, "TOO_MANY_ITEMS", "spine_batch.rows");
  });

  it("one row with a million unknown features, and one with a thousand (answered row by row, hints for a few)", async () => {
    // The row's bytes: its key and time, then one features entry repeated a million times (protobuf merges them).
    const head = FeatureRow.encode(
      FeatureRow.fromPartial({
        entityKey: { customer_id: { int64Value: 1n } },
        eventTime: { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 },
      }),
    ).finish();
    const entry = FeatureRow.encode(FeatureRow.fromPartial({ features: { unknown_feature: { int64Value: 1n } } })).finish();
    const row = Buffer.concat([head, repeatedMessage(entry, 1_000_000, 64 * 1024 * 1024)]);
    const request = Buffer.concat([
      bytesOf(WriteFeatureBatchRequest, { featureView: "customer_stats" }),
      Buffer.from([0x1a]),
      varintOf(row.length),
      row,
    ]);
    const million = await raw.call(WRITE, [request], {}, 30_000);
    await expectRefused(million, status.INVALID_ARGUMENT, "TOO_MANY_ITEMS", "rows[0].features");
    const started = performance.now();
    const thousand = await t.client.writeFeatureBatch({
      featureView: "customer_stats",
      rows: [
        {
          entityKey: { customer_id: 1n },
          eventTime: new Date(Date.now() - 60_000),
          features: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`ordrs_${i}`, 1])),
        },
      ],
    });
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS);
    const violations = thousand.rejectedRows[0]?.violations ?? [];
    expect(violations.length).toBeLessThanOrEqual(21);
    expect(violations.at(-1)?.description).toMatch(/more violations in this row$/);
  });
});

describe("errors fit in trailers", () => {
  it("600 duplicate names: the details stay under 8 KiB and the channel keeps working", async () => {
    const view = {
      name: "projects/default/featureViews/dups",
      entity: "customer",
      features: Array.from({ length: 600 }, () => ({ name: "orders", type: ValueType.VALUE_TYPE_INT64 })),
    };
    const outcome = await raw.call(
      unary("/sluice.v1.RegistryService/ApplyFeatureView"),
      [bytesOf(ApplyFeatureViewRequest, { featureView: view })],
      {},
      10_000,
    );
    await expectRefused(outcome, status.INVALID_ARGUMENT, "INVALID_FEATURE_VIEW");
    expect(trailerBytes(outcome)).toBeLessThanOrEqual(8 * 1024);
    expect(detailsOf(outcome).fields.length).toBeGreaterThan(3);
    // The same channel answers the next call at once.
    const next = await raw.call(
      unary("/sluice.v1.RegistryService/GetFeatureView"),
      [bytesOf(GetFeatureViewRequest, { name: "projects/default/featureViews/customer_stats" })],
      {},
      5000,
    );
    expect(status[next.code]).toBe("OK");
  });
});

describe("values are range-checked at the edge", () => {
  const writeRow = (eventTime: unknown, extra: Record<string, unknown> = {}) =>
    raw.call(
      WRITE,
      [
        bytesOf(WriteFeatureBatchRequest, {
          featureView: "customer_stats",
          rows: [{ entityKey: { customer_id: { int64Value: 1n } }, eventTime }],
          ...extra,
        }),
      ],
      {},
      10_000,
    );

  it("timestamps outside 0001..9999, and nanos outside [0, 1e9)", async () => {
    await expectRefused(
      await writeRow({ seconds: 2n ** 62n, nanos: 0 }),
      status.INVALID_ARGUMENT,
      "INVALID_TIMESTAMP",
      "rows[0].event_time",
    );
    await expectRefused(await writeRow({ seconds: 1_700_000_000n, nanos: -1 }), status.INVALID_ARGUMENT, "INVALID_TIMESTAMP");
    await expectRefused(await writeRow({ seconds: 1_700_000_000n, nanos: 1_000_000_000 }), status.INVALID_ARGUMENT, "INVALID_TIMESTAMP");
  });

  it("int64 extremes as event micros", async () => {
    for (const micros of [-(2n ** 63n), 2n ** 63n - 1n]) {
      const columns = { eventTimeMicros: [micros], entityKey: { customer_id: { int64Values: { values: [1n] } } }, features: {} };
      const outcome = await raw.call(WRITE, [bytesOf(WriteFeatureBatchRequest, { featureView: "customer_stats", columns })], {}, 10_000);
      await expectRefused(outcome, status.INVALID_ARGUMENT, "INVALID_TIMESTAMP", "columns.event_time_micros[0]");
    }
  });

  it("a 10 MB write id", async () => {
    const outcome = await writeRow({ seconds: 1_700_000_000n, nanos: 0 }, { writeId: "w".repeat(10_000_000) });
    await expectRefused(outcome, status.INVALID_ARGUMENT, "FIELD_TOO_LONG", "write_id");
  });

  it("an enum value the proto does not define (format 99)", async () => {
    const method = { path: "/sluice.v1.TrainingService/GetHistoricalFeatures", clientStreaming: true, serverStreaming: true };
    const query = bytesOf(GetHistoricalFeaturesRequest, {
      query: { features: ["customer_stats:orders"], entityTimeRange: { endTime: { seconds: 1n, nanos: 0 } }, format: 99 },
    });
    await expectRefused(await raw.call(method, [query], {}, 10_000), status.INVALID_ARGUMENT, "UNKNOWN_ENUM_VALUE", "query.format");
    const read = { path: "/sluice.v1.TrainingService/ReadTrainingDataset", clientStreaming: false, serverStreaming: true };
    await expectRefused(
      await raw.call(read, [bytesOf(ReadTrainingDatasetRequest, { name: "projects/default/trainingDatasets/x", format: 99 })], {}, 10_000),
      status.INVALID_ARGUMENT,
      "UNKNOWN_ENUM_VALUE",
      "format",
    );
  });
});

describe("models are bounded at upload and at prediction", () => {
  it("a model declaring an input of fifty million rows is refused at upload, without the memory", async () => {
    const rss = process.memoryUsage().rss;
    const error = await failure(
      t.client.uploadModel({ model: "huge_input", file: hugeDeclaredInputModel(), bindings: [{ input: "x", request: "x" }] }),
    );
    expect([error.codeName, error.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_MODEL"]);
    expect(error.message).toContain("limits.maxModelInputElements");
    expect(process.memoryUsage().rss - rss).toBeLessThan(300 * 1024 * 1024);
    expect(await healthStatus(raw)).toBe("SERVING");
  });

  it("a 300-byte model whose output is 8000 x 8000 is refused at upload", async () => {
    const error = await failure(
      t.client.uploadModel({ model: "constant", file: constantOutputModel(8000), bindings: [{ input: "x", request: "x" }] }),
    );
    expect([error.codeName, error.reason]).toEqual(["INVALID_ARGUMENT", "INVALID_MODEL"]);
    expect(error.message).toContain("limits.maxModelOutputElements");
    expect(await healthStatus(raw)).toBe("SERVING");
  });

  it("a prediction whose output exceeds the limit is refused before it is returned or logged, and the next one is served", async () => {
    await t.client.uploadModel({ model: "square", file: squareOutputModel(), bindings: [{ input: "x", request: "x" }] });
    await t.client.applyDeployment({ endpoint: "square", stable: "square@1" });
    const predict = (rows: number) =>
      raw.call(
        unary("/sluice.v1.InferenceService/Predict"),
        [
          bytesOf(PredictRequest, {
            endpoint: "projects/default/endpoints/square",
            entities: { customer_id: { values: Array.from({ length: rows }, (_, i) => ({ int64Value: BigInt(i) })) } },
            requestFeatures: { x: { values: Array.from({ length: rows }, () => ({ doubleValue: 1 })) } },
          }),
        ],
        {},
        30_000,
      );
    // 2000 rows make 4,000,000 output values: over limits.maxModelOutputElements (1,000,000).
    await expectRefused(await predict(2000), status.RESOURCE_EXHAUSTED, "MODEL_OUTPUT_TOO_LARGE");
    const served = await predict(100);
    expect(status[served.code]).toBe("OK");
    // Give the prediction log its turn (it runs after the response), then check the server again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await healthStatus(raw)).toBe("SERVING");
  });
});

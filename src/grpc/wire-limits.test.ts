import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { messageBytes, repeatedMessage, requestBytes, servedMethods } from "../../test/support/proto-arbitrary.js";
import { ValidationError } from "../common/errors.js";
import { DEFAULT_CONFIG } from "../config/config.js";
import { HealthService } from "../gen/grpc/health/v1/health.pb.js";
import { GRPCInferenceServiceService } from "../gen/inference/grpc_predict_v2.pb.js";
import { AccessServiceService } from "../gen/sluice/v1/access.pb.js";
import { InferenceServiceService } from "../gen/sluice/v1/inference.pb.js";
import { ImportFeaturesRequest, IngestionServiceService, WriteFeatureBatchRequest } from "../gen/sluice/v1/ingestion.pb.js";
import { ModelServiceService } from "../gen/sluice/v1/model.pb.js";
import { MonitoringServiceService } from "../gen/sluice/v1/monitoring.pb.js";
import { GetOnlineFeaturesRequest, OnlineServiceService } from "../gen/sluice/v1/online.pb.js";
import { ApplyFeatureViewRequest, RegistryServiceService, ResolveFeaturesRequest } from "../gen/sluice/v1/registry.pb.js";
import { GetHistoricalFeaturesRequest, ReadTrainingDatasetRequest, TrainingServiceService } from "../gen/sluice/v1/training.pb.js";
import { createWireLimits, WIRE_REASONS } from "./wire-limits.js";

/** The check with the default limits. */
const wireViolation = createWireLimits(DEFAULT_CONFIG.limits);

const WRITE = "/sluice.v1.IngestionService/WriteFeatureBatch";
/** A WriteFeatureBatch request's bytes (loosely typed: tests build odd messages). */
const write = (message: Record<string, unknown>) =>
  Buffer.from(WriteFeatureBatchRequest.encode(WriteFeatureBatchRequest.fromPartial(message as never)).finish());

/** The refusal's reason and its one violation. */
function refusal(path: string, bytes: Uint8Array, check = wireViolation) {
  const error = check(path, bytes);
  if (!(error instanceof ValidationError)) return undefined;
  return { reason: error.reason, field: error.violations[0]?.field, description: error.violations[0]?.description };
}

describe("wireViolation: counts", () => {
  it("accepts ordinary requests of every form", () => {
    const row = {
      entityKey: { customer_id: { int64Value: 1n } },
      eventTime: { seconds: 1_700_000_000n, nanos: 5 },
      features: {
        spend: { doubleValue: 9.5 },
        tags: { stringListValue: { values: ["a", "b"] } },
        when: { timestampValue: { seconds: 0n, nanos: 0 } },
      },
    };
    expect(wireViolation(WRITE, write({ featureView: "customer_stats", rows: [row, row], writeId: "w-1" }))).toBeUndefined();
    const columns = {
      eventTimeMicros: [1n, 2n],
      entityKey: { customer_id: { int64Values: { values: [1n, 2n] } } },
      features: { spend: { doubleValues: { values: [1, 2] } }, note: { values: { values: [{ stringValue: "x" }, {}] } } },
    };
    expect(wireViolation(WRITE, write({ columns }))).toBeUndefined();
    expect(wireViolation("/unknown.Service/Method", Buffer.from([0xff]))).toBeUndefined();
  });

  it("refuses four million empty rows at once, naming the field and the limit", () => {
    const bytes = Buffer.alloc(8_000_000);
    for (let i = 0; i < bytes.length; i += 2) bytes[i] = 0x1a;
    const started = performance.now();
    expect(refusal(WRITE, bytes)).toEqual({
      reason: WIRE_REASONS.tooManyItems,
      field: "rows",
      description: expect.stringContaining("at most 100000 are allowed (limits.maxRowsPerBatch)"),
    });
    // It stops at the first row over the limit: a fraction of the message is read.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("counts per message, at every depth, packed or not, with the limit of where a list appears", () => {
    const features = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}`, {}]));
    expect(refusal(WRITE, write({ rows: [{}, {}, { features }] }))?.field).toBe("rows[2].features");
    // A list value over limits.maxListLength rejects only its row (the core's check); the wire bounds it by maxRepeatedItems.
    const list = (n: number) => ({ int64ListValue: { values: Array.from({ length: n }, () => 1n) } });
    expect(wireViolation(WRITE, write({ rows: [{ features: { big: list(4097) } }] }))).toBeUndefined();
    expect(refusal(WRITE, write({ rows: [{ features: { big: list(100_001) } }] }))).toMatchObject({
      field: 'rows[0].features["big"].int64_list_value.values',
      description: expect.stringContaining("limits.maxRepeatedItems"),
    });
    // A column is as long as a batch may be, not as a list value.
    const column = (n: number) => ({
      eventTimeMicros: [1n],
      features: { f: { int64Values: { values: Array.from({ length: n }, () => 1n) } } },
    });
    expect(wireViolation(WRITE, write({ columns: column(5000) }))).toBeUndefined();
    expect(refusal(WRITE, write({ columns: column(100_001) }))?.field).toBe('columns.features["f"].int64_values.values');
    // Entity columns of an online read are as long as a read may be.
    const read = (rows: number) =>
      Buffer.from(
        GetOnlineFeaturesRequest.encode(
          GetOnlineFeaturesRequest.fromPartial({ entities: { id: { values: Array.from({ length: rows }, () => ({ int64Value: 1n })) } } }),
        ).finish(),
      );
    expect(wireViolation("/sluice.v1.OnlineService/GetOnlineFeatures", read(10_000))).toBeUndefined();
    expect(refusal("/sluice.v1.OnlineService/GetOnlineFeatures", read(10_001))).toMatchObject({
      field: 'entities["id"].values',
      description: expect.stringContaining("limits.maxEntityRowsPerRead"),
    });
    // Unpacked numbers count the same as packed ones.
    const times = Buffer.alloc(100_001 * 2).fill(Buffer.from([0x10, 0x01]));
    const unpacked = Buffer.concat([
      Buffer.from([0x2a, 0x80 | (times.length & 0x7f), 0x80 | ((times.length >> 7) & 0x7f), times.length >> 14]),
      times,
    ]);
    expect(refusal(WRITE, unpacked)?.field).toBe("columns.event_time_micros");
  });

  it("refuses too many feature refs, definitions items and names before anything is decoded", () => {
    const refs = Array.from({ length: 1_000_000 }, (_, i) => `v:f${i}`);
    const resolve = Buffer.from(ResolveFeaturesRequest.encode(ResolveFeaturesRequest.fromPartial({ features: refs })).finish());
    expect(refusal("/sluice.v1.RegistryService/ResolveFeatures", resolve)).toMatchObject({
      field: "features",
      description: expect.stringContaining("limits.maxFeatureRefs"),
    });
    const view = ApplyFeatureViewRequest.fromPartial({
      featureView: { name: "v", entity: "e", features: Array.from({ length: 600 }, () => ({ name: "same", type: 2 })) },
    });
    expect(
      wireViolation("/sluice.v1.RegistryService/ApplyFeatureView", Buffer.from(ApplyFeatureViewRequest.encode(view).finish())),
    ).toBeUndefined();
    view.featureView?.features.push(
      ...Array.from({ length: 500 }, () => ({ name: "x", type: 2, description: "", tags: {}, aggregation: undefined })),
    );
    expect(refusal("/sluice.v1.RegistryService/ApplyFeatureView", Buffer.from(ApplyFeatureViewRequest.encode(view).finish()))?.field).toBe(
      "feature_view.features",
    );
  });

  it("keeps a budget for the whole message", () => {
    const check = createWireLimits({ ...DEFAULT_CONFIG.limits, maxRequestItems: 1000 });
    const row = { features: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, {}])) };
    expect(check(WRITE, write({ rows: Array.from({ length: 90 }, () => row) }))).toBeUndefined();
    expect(refusal(WRITE, write({ rows: Array.from({ length: 100 }, () => row) }), check)).toMatchObject({
      reason: WIRE_REASONS.requestTooLarge,
      description: expect.stringContaining("limits.maxRequestItems"),
    });
  });
});

describe("wireViolation: lengths, enums and times", () => {
  it("refuses long strings and ids, but not streamed chunks", () => {
    expect(refusal(WRITE, write({ writeId: "x".repeat(10_000_000) }))).toMatchObject({
      reason: WIRE_REASONS.fieldTooLong,
      field: "write_id",
      description: expect.stringContaining("at most 128 are allowed (limits.maxWriteIdBytes)"),
    });
    // A value over limits.maxStringBytes rejects only its row (the core's check), so it passes the wire; a name does not.
    expect(wireViolation(WRITE, write({ rows: [{ features: { s: { stringValue: "x".repeat(70_000) } } }] }))).toBeUndefined();
    expect(refusal(WRITE, write({ featureView: "x".repeat(70_000) }))?.field).toBe("feature_view");
    expect(refusal(WRITE, write({ rows: [{ features: { ["k".repeat(70_000)]: {} } }] }))?.field).toMatch(/^rows\[0\]\.features\["k+…"\]$/);
    const chunk = Buffer.from(ImportFeaturesRequest.encode({ chunk: Buffer.alloc(5 * 1024 * 1024) }).finish());
    expect(wireViolation("/sluice.v1.IngestionService/ImportFeatures", chunk)).toBeUndefined();
    // An Arrow spine batch is bounded by its rows (counted once read), not by limits.maxBytesLength.
    const arrowSpine = GetHistoricalFeaturesRequest.encode({
      spineBatch: { rows: [], columns: undefined, arrowIpc: Buffer.alloc(5 * 1024 * 1024) },
    }).finish();
    expect(wireViolation("/sluice.v1.TrainingService/GetHistoricalFeatures", Buffer.from(arrowSpine))).toBeUndefined();
  });

  it("refuses enum values the proto does not define, naming the field", () => {
    const query = GetHistoricalFeaturesRequest.fromPartial({ query: { format: 99 as never } });
    expect(refusal("/sluice.v1.TrainingService/GetHistoricalFeatures", GetHistoricalFeaturesRequest.encode(query).finish())).toMatchObject({
      reason: WIRE_REASONS.unknownEnumValue,
      field: "query.format",
      description: expect.stringContaining("99 is not a value of sluice.v1.OutputFormat"),
    });
    const read = ReadTrainingDatasetRequest.fromPartial({ name: "x", format: -1 as never });
    expect(refusal("/sluice.v1.TrainingService/ReadTrainingDataset", ReadTrainingDatasetRequest.encode(read).finish())?.field).toBe(
      "format",
    );
    // A feature's type is left to the registry, which reports it with the definition's other problems.
    const view = ApplyFeatureViewRequest.fromPartial({ featureView: { features: [{ name: "a", type: 99 as never }] } });
    expect(wireViolation("/sluice.v1.RegistryService/ApplyFeatureView", ApplyFeatureViewRequest.encode(view).finish())).toBeUndefined();
  });

  it("refuses timestamps outside 0001..9999 and nanos outside [0, 1e9), and malformed durations", () => {
    const at = (seconds: bigint, nanos: number) => refusal(WRITE, write({ rows: [{}, { eventTime: { seconds, nanos } }] }));
    expect(at(2n ** 62n, 0)).toMatchObject({ reason: WIRE_REASONS.invalidTimestamp, field: "rows[1].event_time" });
    expect(at(-(2n ** 63n), 0)?.reason).toBe(WIRE_REASONS.invalidTimestamp);
    expect(at(1n, -1)?.description).toContain("nanos -1");
    expect(at(1n, 1_000_000_000)?.reason).toBe(WIRE_REASONS.invalidTimestamp);
    expect(at(253_402_300_799n, 999_999_999)).toBeUndefined();
    expect(at(-62_135_596_800n, 0)).toBeUndefined();
    const view = (seconds: bigint, nanos: number) =>
      ApplyFeatureViewRequest.encode(ApplyFeatureViewRequest.fromPartial({ featureView: { ttl: { seconds, nanos } } })).finish();
    expect(refusal("/sluice.v1.RegistryService/ApplyFeatureView", view(5n, -3))?.field).toBe("feature_view.ttl");
    expect(wireViolation("/sluice.v1.RegistryService/ApplyFeatureView", view(5n, 3))).toBeUndefined();
  });

  it("refuses bytes that are not protobuf, naming where they break", () => {
    const malformed = (bytes: number[] | Buffer) => refusal(WRITE, Buffer.from(bytes))?.reason;
    expect(malformed([0xff, 0xff, 0xff])).toBe(WIRE_REASONS.malformed);
    expect(malformed(write({ featureView: "abcdef" }).subarray(0, 4))).toBe(WIRE_REASONS.malformed);
    expect(malformed([0x0b, 0x0c])).toBe(WIRE_REASONS.malformed);
    expect(malformed([0x00])).toBe(WIRE_REASONS.malformed);
    expect(malformed([0x08, ...Array(10).fill(0xff), 0x01])).toBe(WIRE_REASONS.malformed);
    // Unknown fields of valid wire types are skipped, as the decoder skips them.
    expect(
      wireViolation(WRITE, Buffer.concat([write({ featureView: "v" }), Buffer.from([0xb8, 0x3e, 0x01, 0xc2, 0x3e, 0x01, 0x00])])),
    ).toBeUndefined();
  });
});

/** Every generated request decoder, by method path. */
function requestDecoders(): Map<string, (bytes: Buffer) => unknown> {
  const definitions = [
    HealthService,
    GRPCInferenceServiceService,
    AccessServiceService,
    InferenceServiceService,
    IngestionServiceService,
    ModelServiceService,
    MonitoringServiceService,
    OnlineServiceService,
    RegistryServiceService,
    TrainingServiceService,
  ];
  const decoders = new Map<string, (bytes: Buffer) => unknown>();
  for (const definition of definitions) {
    for (const method of Object.values(definition) as Array<{ path: string; requestDeserialize: (bytes: Buffer) => unknown }>) {
      decoders.set(method.path, method.requestDeserialize);
    }
  }
  return decoders;
}

describe("wireViolation: properties", () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const methods = servedMethods();
  const decoders = requestDecoders();

  it(`never throws, and whatever it accepts decodes without an error (seed ${seed})`, () => {
    const check = createWireLimits({ ...DEFAULT_CONFIG.limits, maxRequestItems: 200_000 });
    for (const method of methods) {
      const decode = decoders.get(method.path);
      fc.assert(
        fc.property(requestBytes(method.input, { maxLongBytes: 2000, maxBytes: 256 * 1024 }), (bytes) => {
          const violation = check(method.path, bytes);
          if (violation === undefined && decode) decode(Buffer.from(bytes));
        }),
        { seed, numRuns: 60 },
      );
    }
  });

  it(`accepts every well-formed message within the limits (seed ${seed})`, () => {
    for (const method of methods) {
      fc.assert(
        fc.property(messageBytes(method.input, { maxLongBytes: 100, words: ["default"] }), (bytes) => {
          const violation = wireViolation(method.path, bytes);
          // Only the time, enum and nesting checks can refuse a small message with short strings.
          if (violation)
            expect([WIRE_REASONS.invalidTimestamp, WIRE_REASONS.unknownEnumValue]).toContain((violation as ValidationError).reason);
        }),
        { seed, numRuns: 40 },
      );
    }
  });

  it("a message repeated until its lists are huge is refused by count, never decoded", () => {
    const one = write({ rows: [{}] });
    expect(refusal(WRITE, repeatedMessage(one, 1_000_000, 8_000_000))?.field).toBe("rows");
  });
});

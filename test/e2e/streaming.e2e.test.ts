/**
 * Event streams and aggregation feature views end to end, through the TypeScript SDK: definitions
 * and their versions, writes and their refusals, backfill from a file, lateness, online reads and
 * Predict over aggregated features, and training sets computed from the raw events.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeatureStatus, HistoryOutcome } from "../../clients/typescript/src/index.js";
import { failure } from "../support/expect-failure.js";
import { logisticRegressionModel } from "../support/onnx-models.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const FIELDS = [
  { name: "amount", type: "double" as const },
  { name: "merchant", type: "string" as const },
  { name: "country", type: "string" as const },
];
const FEATURES = ["card_stats:txn_10m", "card_stats:amount_sum_1h", "card_stats:amount_max_1d"];
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "card", joinKeys: [{ name: "card_id", type: "int64" }] });
  const stream = await t.client.applyEventStream({
    name: "card_txn",
    entity: "card",
    fields: FIELDS,
    allowedLatenessSeconds: 600,
    retentionSeconds: 30 * 86_400,
  });
  expect(stream.eventStream?.granularity?.seconds).toBe(60n);
  await t.client.applyFeatureView({
    name: "card_stats",
    entity: "card",
    stream: "card_txn",
    features: [
      { name: "txn_10m", aggregation: { function: "count", windowSeconds: 600 } },
      { name: "amount_sum_1h", aggregation: { function: "sum", field: "amount", windowSeconds: 3600 } },
      { name: "amount_max_1d", aggregation: { function: "max", field: "amount", windowSeconds: 86_400 } },
    ],
  });
});
afterAll(() => t?.stop());

describe("definitions", () => {
  it("fills in result types, versions streams like views, and pins streams and views", async () => {
    const view = await t.client.getFeatureView("card_stats");
    expect(view.features.map((f) => [f.name, f.type])).toEqual([
      ["txn_10m", 2],
      ["amount_sum_1h", 4],
      ["amount_max_1d", 4],
    ]);
    expect([view.stream, view.streamVersion]).toEqual(["projects/default/eventStreams/card_txn", 1]);

    const added = await t.client.applyEventStream({
      name: "card_txn",
      entity: "card",
      fields: [...FIELDS, { name: "channel", type: "string" }],
      allowedLatenessSeconds: 600,
      retentionSeconds: 30 * 86_400,
    });
    expect([added.eventStream?.version, added.eventStream?.historyVersion, added.history]).toEqual([
      2,
      1,
      HistoryOutcome.HISTORY_OUTCOME_SHARED,
    ]);
    const regranular = await t.client.applyEventStream({
      name: "card_txn",
      entity: "card",
      fields: [...FIELDS, { name: "channel", type: "string" }],
      granularitySeconds: 300,
      allowedLatenessSeconds: 600,
      retentionSeconds: 30 * 86_400,
    });
    expect([regranular.eventStream?.version, regranular.eventStream?.historyVersion]).toEqual([3, 3]);
    expect(regranular.changes).toContain("granularity changed from 1m to 5m");
    // Writes go to the stream's latest version unless pinned; the view keeps reading version 1's history.
    await t.client.writeEventBatch({
      eventStream: "card_txn@1",
      events: [{ entityKey: { card_id: 99n }, eventTime: new Date(), fields: { amount: 5, merchant: "x", country: "NL" } }],
    });
    const [count] = await t.client.getOnlineFeatures({ features: ["card_stats@1:txn_10m"], entities: { card_id: [99n] } });
    expect(count?.values).toEqual([1n]);
  });

  it("refuses bad definitions with the field and, for filters, the position of the error", async () => {
    const bad = await failure(
      t.client.applyFeatureView({
        name: "broken",
        entity: "card",
        stream: "card_txn@1",
        ttlSeconds: 60,
        features: [
          { name: "a", aggregation: { function: "sum", field: "merchant", windowSeconds: 600 } },
          { name: "b", aggregation: { function: "count", windowSeconds: 90 } },
          { name: "c", aggregation: { function: "count", windowSeconds: 40 * 86_400 } },
          { name: "d", aggregation: { function: "count", windowSeconds: 600, filter: "amount >> 3" } },
          { name: "e", aggregation: { function: "mean", field: "amont", windowSeconds: 600 } },
          { name: "f", aggregation: { function: "count" } },
          { name: "g", aggregation: { function: "last_n", field: "merchant", windowSeconds: 600, k: 0 } },
          { name: "h", type: "string", aggregation: { function: "count", windowSeconds: 600 } },
        ],
      }),
    );
    expect(bad.codeName).toBe("INVALID_ARGUMENT");
    const described = Object.fromEntries(bad.fieldViolations.map((v) => [v.field, v.description]));
    expect(described["feature_view.ttl"]).toContain("no TTL");
    expect(described["feature_view.features[0].aggregation.function"]).toContain("sum needs a numeric field");
    expect(described["feature_view.features[1].aggregation.window"]).toContain("multiple of the stream's granularity");
    expect(described["feature_view.features[2].aggregation.window"]).toContain("longer than the stream's retention");
    expect(described["feature_view.features[3].aggregation.filter"]).toMatch(/line 1, column 9/);
    expect(described["feature_view.features[4].aggregation.field"]).toContain('did you mean "amount"');
    expect(described["feature_view.features[5].aggregation.window"]).toContain("lifetime window needs a stream kept forever");
    expect(described["feature_view.features[6].aggregation.k"]).toContain("k from 1 to 1000");
    expect(described["feature_view.features[7].type"]).toContain("count of events is int64");

    const unknownStream = await failure(
      t.client.applyFeatureView({
        name: "x",
        entity: "card",
        stream: "nope",
        features: [{ name: "n", aggregation: { function: "count" } }],
      }),
    );
    expect(unknownStream.fieldViolations[0]?.field).toBe("feature_view.stream");
    const badStream = await failure(
      t.client.applyEventStream({ name: "s2", entity: "card", fields: [{ name: "card_id", type: "int64" }], granularitySeconds: 7 }),
    );
    expect(badStream.fieldViolations.map((v) => v.field).sort()).toEqual(["event_stream.fields[0].name", "event_stream.granularity"]);
  });
});

describe("writes", () => {
  it("rejects bad events with their field paths and keeps the good ones", async () => {
    const now = Date.now();
    const ack = await t.client.writeEventBatch({
      eventStream: "card_txn@1",
      events: [
        { entityKey: { card_id: 1n }, eventTime: new Date(now), fields: { amount: 10, merchant: "a", country: "NL" } },
        { entityKey: { card_id: 1n }, eventTime: new Date(now), fields: { amount: "ten", merchant: "a" } },
        { entityKey: { card_id: 1n }, eventTime: new Date(now + 3_600_000), fields: { amount: 1 } },
        { entityKey: { card_id: 1n }, eventTime: new Date(now), fields: { amont: 1 } },
        { entityKey: {}, eventTime: new Date(now), fields: {} },
      ],
    });
    expect(ack.acceptedCount).toBe(1);
    const fields = ack.rejectedRows.map((r) => [r.rowIndex, r.violations.map((v) => v.field)]);
    expect(fields).toEqual([
      [1, ['events[1].fields["amount"]']],
      [2, ["events[2].event_time"]],
      [3, ['events[3].fields["amont"]']],
      [4, ['events[4].entity_key["card_id"]']],
    ]);
    expect(ack.rejectedRows[2]?.violations[0]?.description).toContain('did you mean "amount"');
    const unknown = await failure(t.client.writeEventBatch({ eventStream: "nope", events: [] }));
    expect(unknown.codeName).toBe("NOT_FOUND");
    const view = await failure(t.client.writeFeatureBatch({ featureView: "card_stats", rows: [] }));
    expect([view.codeName, view.reason]).toEqual(["FAILED_PRECONDITION", "AGGREGATION_VIEW_NOT_WRITABLE"]);
  });

  it("applies a retried write id once, online and offline", async () => {
    const batch = {
      eventStream: "card_txn@1",
      writeId: "retry-1",
      events: [{ entityKey: { card_id: 2n }, eventTime: new Date(), fields: { amount: 7, merchant: "m", country: "FR" } }],
    };
    expect((await t.client.writeEventBatch(batch)).duplicate).toBe(false);
    expect((await t.client.writeEventBatch(batch)).duplicate).toBe(true);
    const [count] = await t.client.getOnlineFeatures({ features: ["card_stats:txn_10m"], entities: { card_id: [2n] } });
    expect(count?.values).toEqual([1n]);
  });

  it("counts too-late events, keeps them offline, and leaves them out online", async () => {
    const now = Date.now();
    const first = await t.client.writeEventBatch({
      eventStream: "card_txn@1",
      events: [
        { entityKey: { card_id: 3n }, eventTime: new Date(now), fields: { amount: 1 } },
        // 5 minutes late: within the 10 minutes allowed.
        { entityKey: { card_id: 3n }, eventTime: new Date(now - 5 * 60_000), fields: { amount: 2 } },
        // 50 minutes late: too late.
        { entityKey: { card_id: 3n }, eventTime: new Date(now - 50 * 60_000), fields: { amount: 100 } },
      ],
    });
    expect([first.acceptedCount, first.tooLateCount]).toEqual([3, 1]);
    const [, sum] = await t.client.getOnlineFeatures({ features: FEATURES.slice(0, 2), entities: { card_id: [3n] } });
    expect(sum?.values).toEqual([3]);
    const status = await t.client.getEventStreamStatus("card_txn@1");
    expect(Number(status.tooLateCount)).toBeGreaterThanOrEqual(1);
    expect(status.sources.map((s) => s.source)).toEqual(["api"]);
    const asKnown = await rows({
      features: ["card_stats:amount_sum_1h"],
      excludeLateIngested: true,
      spine: { rows: [{ entityKey: { card_id: 3n }, eventTime: new Date() }] },
    });
    const asHappened = await rows({
      features: ["card_stats:amount_sum_1h"],
      spine: { rows: [{ entityKey: { card_id: 3n }, eventTime: new Date() }] },
    });
    expect([asKnown[0]?.amount_sum_1h, asHappened[0]?.amount_sum_1h]).toEqual([3, 103]);
  });
});

async function rows(query: Parameters<TestServer["client"]["getHistoricalRows"]>[0]): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for await (const row of t.client.getHistoricalRows(query)) out.push(row);
  return out;
}

describe("history", () => {
  it("backfills events from a CSV file and builds a new view version's tiles from them", async () => {
    const now = Date.now();
    const csv = [
      "card_id,ts,amount,merchant,country",
      ...[0, 1, 2].map((i) => `10,${new Date(now - i * HOUR).toISOString()},${i + 1},m${i},NL`),
      "10,not a time,1,m,NL",
    ].join("\n");
    const path = join(t.dataDir, "backfill.csv");
    writeFileSync(path, csv);
    const imported = await t.client.importFeatures({
      eventStream: "card_txn@1",
      format: "csv",
      localPath: path,
      columnMapping: { event_time: "ts" },
    });
    expect([imported.rowsWritten, imported.rowsRejected]).toEqual([3n, 1n]);
    expect(imported.sampleRejections[0]?.violations[0]?.field).toBe("rows[3].ts");

    // A view version applied after the backfill starts with tiles built from the stored events.
    const applied = await t.client.applyFeatureView({
      name: "card_daily",
      entity: "card",
      stream: "card_txn@1",
      features: [
        { name: "txn_1d", aggregation: { function: "count", windowSeconds: 86_400 } },
        { name: "merchants_1d", aggregation: { function: "last_n", field: "merchant", windowSeconds: 86_400, k: 2 } },
      ],
    });
    expect(applied.featureView?.version).toBe(1);
    const [count, merchants] = await t.client.getOnlineFeatures({
      features: ["card_daily:txn_1d", "card_daily:merchants_1d"],
      entities: { card_id: [10n] },
    });
    expect(count?.values).toEqual([3n]);
    expect(count?.statuses).toEqual([FeatureStatus.FEATURE_STATUS_PRESENT]);
    expect(merchants?.values).toEqual([["m0", "m1"]]);

    // Training data as of two hours ago sees only what had happened by then.
    const past = await rows({
      features: ["card_daily:txn_1d", "card_stats:amount_sum_1h"],
      spine: { rows: [{ entityKey: { card_id: 10n }, eventTime: new Date(now - 2 * HOUR + 1000) }] },
    });
    expect(past).toEqual([expect.objectContaining({ txn_1d: 1n, amount_sum_1h: 3 })]);
  });

  it("stores training datasets with aggregated features", async () => {
    const sql = `SELECT toInt64(10) AS card_id, now64(6, 'UTC') AS event_time`;
    await t.client.createTrainingDataset({ name: "fraud_train", query: { features: ["card_daily:txn_1d"], spine: { sql } } });
    const done = await t.client.waitForTrainingDataset("fraud_train");
    expect([done.errorMessage, Number(done.rowCount)]).toEqual(["", 1]);
  });
});

describe("serving", () => {
  it("serves a model bound to aggregated features", async () => {
    const inputs = ["card_stats@1:txn_10m", "card_stats@1:amount_sum_1h", "card_stats@1:amount_max_1d"];
    await t.client.uploadModel({
      model: "fraud",
      file: logisticRegressionModel({ weights: [1, 0.01, 0], bias: -2 }),
      bindings: [{ input: "features", features: inputs }],
    });
    await t.client.applyDeployment({ endpoint: "fraud", stable: "fraud@1" });
    const prediction = await t.client.predict({ endpoint: "fraud", entities: { card_id: [3n, 404n] } });
    const logit = (count: number, sum: number) => 1 / (1 + Math.exp(-(count + 0.01 * sum - 2)));
    const probabilities = prediction.outputs.probability?.values ?? [];
    expect(probabilities[0]).toBeCloseTo(logit(2, 3), 5);
    // An entity without events has empty windows: count 0, sum 0, max null (missing).
    expect(prediction.usedFeatures.map((f) => f.statuses)).toEqual([
      [FeatureStatus.FEATURE_STATUS_PRESENT, FeatureStatus.FEATURE_STATUS_PRESENT],
      [FeatureStatus.FEATURE_STATUS_PRESENT, FeatureStatus.FEATURE_STATUS_PRESENT],
      [FeatureStatus.FEATURE_STATUS_PRESENT, FeatureStatus.FEATURE_STATUS_NULL_VALUE],
    ]);
  });
});

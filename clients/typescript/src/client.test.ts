/**
 * The SDK's boundary without a server: bad arguments are refused with SluiceClientError before
 * anything is sent, and names reach the wire as the naming rule says. The generated stubs'
 * methods are replaced on the client instance, so the requests the SDK builds can be seen.
 */
import { EventEmitter } from "node:events";
import { status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AggregationFunction, type FeatureView } from "../../../src/gen/sluice/v1/registry.pb.js";
import { OutputFormat } from "../../../src/gen/sluice/v1/training.pb.js";
import { ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
import { SluiceClient } from "./client.js";
import { SluiceClientError } from "./errors.js";
import type { SpineBatchInput } from "./inputs.js";
import { queryToWire } from "./requests.js";

let client: SluiceClient;

beforeEach(() => {
  // Nothing listens there; the channel connects lazily, and these tests never let a call through.
  client = new SluiceClient({ address: "127.0.0.1:1", project: "shop" });
});

afterEach(() => client.close());

type Callback = (error: null, response: unknown) => void;

/** Replaces a unary method of a stub: it records each request and answers `response`. */
function answer(stub: object, method: string, response: unknown): unknown[] {
  const requests: unknown[] = [];
  (stub as Record<string, unknown>)[method] = (request: unknown, _metadata: unknown, _options: unknown, callback: Callback) => {
    requests.push(request);
    callback(null, response);
    return {};
  };
  return requests;
}

/** Awaits a call that must be refused by the SDK itself and returns the error. */
async function refused(call: () => unknown): Promise<SluiceClientError> {
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SluiceClientError);
  const e = error as SluiceClientError;
  expect([e.code, e.codeName, e.requestId]).toEqual([status.INVALID_ARGUMENT, "INVALID_ARGUMENT", undefined]);
  return e;
}

/** A refused call's field violations as "field: description". */
async function problems(call: () => unknown): Promise<string[]> {
  return (await refused(call)).fieldViolations.map((v) => `${v.field}: ${v.description}`);
}

/** Reads an async generator to its end. */
async function drain(generator: AsyncGenerator<unknown>): Promise<void> {
  for await (const _ of generator);
}

// Calls with arguments TypeScript would refuse, as plain JavaScript can make them.
const js = (value: unknown) => value as never;

describe("argument checks", () => {
  it("refuses getOnlineFeatures({}) with the SDK's error naming the fields, not a TypeError", async () => {
    const error = await refused(() => client.getOnlineFeatures(js({})));
    expect(error.reason).toBe("MISSING_FIELD");
    expect(error.fieldViolations).toEqual([
      { field: "entities", description: "is required (an object of name -> values, e.g. { customer_id: [1n, 2n] })" },
      { field: "features", description: "or featureService is required: set exactly one of them" },
    ]);
    expect(error.message).toMatch(/^getOnlineFeatures: entities is required/);
  });

  it("names a missing object argument, and every bad member of one", async () => {
    expect(await problems(() => client.getOnlineFeatures(js(undefined)))).toEqual(["request: is required (an object)"]);
    expect(
      await problems(() =>
        client.getOnlineFeatures(
          js({ features: "view:f", featureService: "svc", entities: { customer_id: [1n, undefined] }, fullFeatureNames: "yes" }),
        ),
      ),
    ).toEqual([
      'features: must be an array of feature refs, not the string "view:f"',
      `entities["customer_id"][1]: must be a value (number, bigint, boolean, string, Uint8Array, Date, array, wire Value, or null), not undefined`,
      'fullFeatureNames: must be true or false, not the string "yes"',
      "featureService: cannot be set together with features",
    ]);
  });

  it("takes null as a value and an empty features list beside a feature service", async () => {
    const requests = answer(client.online, "getOnlineFeatures", { columns: [], featureNames: [], resolvedFeatures: [] });
    await client.getOnlineFeatures({ features: [], featureService: "svc@2", entities: { customer_id: [1n, null] } });
    expect(requests).toHaveLength(1);
  });

  it("checks writes, rows and columns", async () => {
    expect(await problems(() => client.writeFeatureBatch(js({ featureView: "v" })))).toEqual(["rows: is required (an array of rows)"]);
    expect(
      await problems(() =>
        client.writeFeatureBatch(js({ featureView: "", rows: [{ entityKey: { id: 1 }, eventTime: "today", features: {} }] })),
      ),
    ).toEqual([
      'featureView: must be a non-empty string, not the string ""',
      'rows[0].eventTime: must be a Date or a Timestamp, not the string "today"',
    ]);
    expect(
      await problems(() =>
        client.writeFeatureBatch(
          js({ featureView: "v", eventTimes: [new Date()], entityKey: { id: [1] }, features: { f: { type: "int46", values: [] } } }),
        ),
      ),
    ).toEqual([
      'entityKey["id"]: must be a Float64Array, Float32Array, Int32Array, BigInt64Array, or { type, values }, not an array',
      `features["f"].type: must be one of "int32", "int64", "float", "double", "bool", "string", "bytes", "timestamp", "int64_list", "float_list", "double_list", "string_list", not the string "int46"`,
    ]);
  });

  it("refuses a bad batch on a write stream without sending it", async () => {
    const written: unknown[] = [];
    const fakeStream = { on: () => fakeStream, write: (r: unknown) => written.push(r), end: () => undefined };
    (client.ingestion as unknown as Record<string, unknown>).writeFeatures = () => fakeStream;
    const stream = client.openWriteStream();
    expect((await refused(() => stream.write(js({ rows: [] })))).fieldViolations[0]?.field).toBe("featureView");
    expect(written).toEqual([]);
  });

  it("checks definitions' types but leaves their meaning to the server", async () => {
    expect(
      await problems(() => client.applyEntity(js({ name: "customer", joinKeys: [{ name: "id", type: "int46" }, { type: "int64" }] }))),
    ).toEqual([
      expect.stringMatching(/^joinKeys\[0\]\.type: must be one of "int32", .*, not the string "int46"$/),
      "joinKeys[1].name: is required (a string)",
    ]);
    expect(await problems(() => client.applyFeatureView(js({ name: "v", entity: "e", features: {}, ttlSeconds: "1d" })))).toEqual([
      "features: must be an array, not an object",
      'ttlSeconds: must be a number, not the string "1d"',
    ]);
    // An id the server refuses is sent, so it is reported beside the definition's other problems.
    const requests = answer(client.registry, "applyEntity", {});
    await client.applyEntity({ name: "Bad Name", joinKeys: [] });
    expect(requests).toMatchObject([{ entity: { name: "projects/shop/entities/Bad Name" } }]);
  });

  it("checks options, paging and iterables of generators when iterated", async () => {
    expect(await problems(() => drain(client.listFeatureViews(js({ pageSize: -1, showDeprecated: 1 }))))).toEqual([
      "pageSize: must be an integer >= 0, not number -1",
      "showDeprecated: must be true or false, not number 1",
    ]);
    expect(await problems(() => client.getFeatureView("v", js({ version: 0 })))).toEqual([
      "version: must be an integer >= 1, not number 0",
    ]);
    expect(await problems(() => client.getEntity(js(42)))).toEqual(["name: must be a non-empty string, not number 42"]);
    expect(await problems(() => drain(client.getHistoricalRows(js({ features: ["v:f"] }))))).toEqual(["spine: is required (an object)"]);
    expect(
      await problems(() => drain(client.getHistoricalRows(js({ features: ["v:f"], spine: { table: "t", sql: "SELECT 1" } })))),
    ).toEqual(["spine.sql: cannot be set together with spine.table"]);
  });

  it("checks imports, models and deployments", async () => {
    expect(await problems(() => client.importFeatures(js({ featureView: "v", format: "json", serverPath: "/a", localPath: "b" })))).toEqual(
      ['format: must be one of "parquet", "csv", not the string "json"', "localPath: cannot be set together with serverPath"],
    );
    expect(
      await problems(() =>
        client.uploadModel(
          js({ model: "churn", file: 3, bindings: [{ input: "x", features: ["v@1:f"], request: "basket" }, { input: "y" }] }),
        ),
      ),
    ).toEqual([
      "file: must be the model's bytes (a Uint8Array) or a local path, not number 3",
      "bindings[0].request: cannot be set together with bindings[0].features",
      "bindings[1].features: or bindings[1].featureService or bindings[1].request is required: set exactly one of them",
    ]);
    expect(
      await problems(() => client.applyDeployment(js({ endpoint: "churn", stable: "churn@1", canaryGuard: { minRequests: 1.5 } }))),
    ).toEqual(["canaryGuard.minRequests: must be an integer >= 0, not number 1.5"]);
    expect(await problems(() => client.predict(js({ endpoint: "churn" })))).toEqual([
      "entities: is required (an object of name -> values, e.g. { customer_id: [1n, 2n] })",
    ]);
  });

  it("checks the client's own options", async () => {
    expect(await problems(() => new SluiceClient(js({})))).toEqual(["address: is required (a non-empty string)"]);
    expect(await problems(() => new SluiceClient(js(undefined)))).toEqual(["options: is required (an object)"]);
    const badProject = await refused(() => new SluiceClient({ address: "x:1", project: "My Project" }));
    expect(badProject.reason).toBe("INVALID_RESOURCE_NAME");
  });

  it("checks each streamed spine batch as it comes", async () => {
    const good: SpineBatchInput = { rows: [{ entityKey: { id: 1n }, eventTime: new Date() }] };
    const { inlineSpine } = queryToWire(
      "getHistoricalRows",
      { features: ["v:f"], spine: { batches: [good, js({ rows: [{ entityKey: { id: 1n } }] })] } },
      "projects/shop",
      OutputFormat.OUTPUT_FORMAT_ROWS,
      0,
    );
    const sent: unknown[] = [];
    const error = await refused(async () => {
      for await (const batch of inlineSpine ?? []) sent.push(batch);
    });
    expect(sent).toHaveLength(1);
    expect(error.fieldViolations.map((v) => v.field)).toEqual(["spine.batches[1].rows[0].eventTime"]);
  });

  it("refuses an inline spine for a training dataset", async () => {
    const error = await refused(() => client.createTrainingDataset({ name: "set", query: { features: ["v:f"], spine: { rows: [] } } }));
    expect(error.fieldViolations[0]?.field).toBe("query.spine");
  });
});

describe("names on the wire", () => {
  it("puts ids in the call's project, or the client's, and passes full names unchanged", async () => {
    const requests = answer(client.registry, "getFeatureView", { featureView: {} });
    await client.getFeatureView("stats");
    await client.getFeatureView("stats", { version: 2, project: "projects/ml" });
    await client.getFeatureView("projects/ml/featureViews/stats/versions/4");
    await client.getFeatureView("projects/ml/featureViews/stats", { version: 5 });
    expect(requests.map((r) => (r as { name: string }).name)).toEqual([
      "projects/shop/featureViews/stats",
      "projects/ml/featureViews/stats/versions/2",
      "projects/ml/featureViews/stats/versions/4",
      "projects/ml/featureViews/stats/versions/5",
    ]);
  });

  it("refuses malformed names showing the full form, and a full name in another project than the call's", async () => {
    const bad = await refused(() => client.predict({ endpoint: "Bad-Name", entities: {} }));
    expect([bad.reason, bad.fieldViolations]).toEqual([
      "INVALID_RESOURCE_NAME",
      [
        {
          field: "endpoint",
          description: '"Bad-Name" is not valid; expected an endpoint id such as "churn", or "projects/{project}/endpoints/{id}"',
        },
      ],
    ]);
    const elsewhere = await refused(() => client.getDeployment("projects/ml/endpoints/churn", "shop"));
    expect(elsewhere.fieldViolations[0]?.description).toContain('expected a name in project "shop"');
    const wrongKind = await refused(() => client.getFeatureView("projects/ml/featureServices/stats"));
    expect(wrongKind.message).toContain('"projects/{project}/featureViews/{id}[/versions/{version}]"');
  });

  it("takes projects as ids or names", async () => {
    const requests = answer(client.online, "getOnlineFeatures", { columns: [], featureNames: [], resolvedFeatures: [] });
    const entities = { customer_id: [1n] };
    await client.getOnlineFeatures({ features: ["stats:f"], entities });
    await client.getOnlineFeatures({ features: ["stats:f"], entities, project: "ml" });
    await client.getOnlineFeatures({ features: ["projects/ml/featureViews/stats:f"], entities, project: "projects/ml" });
    expect(requests.map((r) => (r as { project: string }).project)).toEqual(["projects/shop", "projects/ml", "projects/ml"]);
    // Refs go as written: the server resolves them (and refuses a full one in another project).
    expect((requests[2] as { features: string[] }).features).toEqual(["projects/ml/featureViews/stats:f"]);
    const created = answer(client.registry, "createProject", { project: {} });
    await client.createProject("projects/ml");
    await client.createProject("ml");
    expect(created.map((r) => (r as { project: { name: string } }).project.name)).toEqual(["projects/ml", "projects/ml"]);
  });

  it("names model versions by model@n or full name, and training datasets with or without a version", async () => {
    const deployments = answer(client.models, "applyDeployment", { deployment: {} });
    await client.applyDeployment({
      endpoint: "projects/shop/endpoints/churn",
      stable: "churn@1",
      canary: { version: "projects/shop/models/churn/versions/2", percent: 10 },
      shadows: ["other@3"],
    });
    expect(deployments).toMatchObject([
      {
        deployment: {
          name: "projects/shop/endpoints/churn",
          stableVersion: "projects/shop/models/churn/versions/1",
          canary: { modelVersion: "projects/shop/models/churn/versions/2", trafficPercent: 10 },
          shadowVersions: ["projects/shop/models/other/versions/3"],
        },
      },
    ]);
    const missing = await refused(() => client.applyDeployment({ endpoint: "churn", stable: "churn", shadows: ["a@1", "b"] }));
    expect(missing.fieldViolations.map((v) => v.field)).toEqual(["stable"]);
    expect(missing.message).toContain('expected a model version such as "churn@3"');

    const versions = answer(client.models, "getModelVersion", { modelVersion: {} });
    answer(client.models, "getModel", { model: { latestVersion: 7 } });
    await client.getModelVersion("churn@2");
    await client.getModelVersion("projects/ml/models/churn/versions/3");
    await client.getModelVersion("churn");
    expect(versions.map((r) => (r as { name: string }).name)).toEqual([
      "projects/shop/models/churn/versions/2",
      "projects/ml/models/churn/versions/3",
      "projects/shop/models/churn/versions/7",
    ]);
  });

  it("names an upload's model and lineage", async () => {
    let header: unknown;
    (client.models as unknown as Record<string, unknown>).uploadModel = (
      _metadata: unknown,
      _options: unknown,
      callback: (error: null, response: unknown) => void,
    ) => ({
      write: (part: { header?: unknown }) => {
        if (part.header) header = part.header;
      },
      end: () => callback(null, { modelVersion: {} }),
    });
    await client.uploadModel({
      model: "churn",
      file: new Uint8Array([1]),
      bindings: [{ input: "x", features: ["s@1:f"] }],
      trainingDataset: "set@2",
    });
    expect(header).toMatchObject({ model: "projects/shop/models/churn", trainingDataset: "projects/shop/trainingDatasets/set/versions/2" });
  });

  it("times out waiting for a training dataset with DEADLINE_EXCEEDED", async () => {
    answer(client.training, "getTrainingDataset", { trainingDataset: { name: "projects/shop/trainingDatasets/set/versions/1", state: 1 } });
    const error = await client.waitForTrainingDataset("set", { timeoutMs: 0, pollMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceClientError);
    expect((error as SluiceClientError).codeName).toBe("DEADLINE_EXCEEDED");
  });
});

/** Stands in for a bidirectional call: records what is written and answers each request with `reply(request)`. */
class FakeDuplex<Req, Res> extends EventEmitter {
  readonly written: Req[] = [];

  constructor(private readonly reply: (request: Req) => Res | undefined) {
    super();
  }

  write(request: Req): boolean {
    this.written.push(request);
    const response = this.reply(request);
    if (response !== undefined) queueMicrotask(() => this.emit("data", response));
    return true;
  }

  end(): void {
    queueMicrotask(() => {
      this.emit("end");
      this.emit("status", { code: status.OK });
    });
  }
}

/** Replaces a bidirectional method of a stub with a {@link FakeDuplex}. */
function duplex<Req, Res>(stub: object, method: string, reply: (request: Req) => Res | undefined): FakeDuplex<Req, Res> {
  const fake = new FakeDuplex<Req, Res>(reply);
  (stub as Record<string, unknown>)[method] = () => fake;
  return fake;
}

describe("event streams and aggregated features", () => {
  const week = 7 * 86_400;

  it("applies an event stream: its name in the call's project, types by name, durations from seconds", async () => {
    const requests = answer(client.registry, "applyEventStream", {});
    await client.applyEventStream({
      name: "transactions",
      entity: "card",
      fields: [
        { name: "amount", type: "double", description: "in EUR" },
        { name: "merchant", type: ValueType.VALUE_TYPE_STRING },
      ],
      eventTimeField: "ts",
      granularitySeconds: 60,
      allowedLatenessSeconds: 0.5,
      retentionSeconds: 90 * 86_400,
      owner: "fraud",
    });
    await client.applyEventStream({ name: "projects/ml/eventStreams/clicks", entity: "user", fields: [], validateOnly: true });
    expect(requests).toEqual([
      {
        eventStream: {
          name: "projects/shop/eventStreams/transactions",
          version: 0,
          entity: "card",
          fields: [
            { name: "amount", type: ValueType.VALUE_TYPE_DOUBLE, description: "in EUR" },
            { name: "merchant", type: ValueType.VALUE_TYPE_STRING, description: "" },
          ],
          eventTimeField: "ts",
          granularity: { seconds: 60n, nanos: 0 },
          allowedLateness: { seconds: 0n, nanos: 500_000_000 },
          retention: { seconds: BigInt(90 * 86_400), nanos: 0 },
          description: "",
          owner: "fraud",
          tags: {},
          state: 0,
          compatibility: 0,
          changes: [],
          createTime: undefined,
          historyVersion: 0,
        },
        validateOnly: false,
      },
      expect.objectContaining({
        // Unset durations are left unset: the server's defaults (1 minute, 0, forever) apply.
        eventStream: expect.objectContaining({
          name: "projects/ml/eventStreams/clicks",
          granularity: undefined,
          allowedLateness: undefined,
          retention: undefined,
        }),
        validateOnly: true,
      }),
    ]);
  });

  it("checks an event stream's shape before sending it", async () => {
    expect(
      await problems(() =>
        client.applyEventStream(
          js({ name: "transactions", entity: "card", fields: [{ name: "amount", type: "decimal" }], granularitySeconds: "1m" }),
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^fields\[0\]\.type: must be one of "int32", .*, not the string "decimal"$/),
      'granularitySeconds: must be a number, not the string "1m"',
    ]);
    const wrongKind = await refused(() => client.getEventStream("projects/shop/featureViews/transactions"));
    expect(wrongKind.fieldViolations[0]?.description).toBe(
      '"projects/shop/featureViews/transactions" is not valid; expected an event stream id such as "transactions", or "projects/{project}/eventStreams/{id}[/versions/{version}]"',
    );
  });

  it("reads event streams by id or full name, one version or all, page by page", async () => {
    const gets = answer(client.registry, "getEventStream", { eventStream: {} });
    await client.getEventStream("transactions");
    await client.getEventStream("transactions", { version: 2, project: "ml" });
    await client.getEventStream("projects/ml/eventStreams/transactions/versions/3");
    expect(gets.map((r) => (r as { name: string }).name)).toEqual([
      "projects/shop/eventStreams/transactions",
      "projects/ml/eventStreams/transactions/versions/2",
      "projects/ml/eventStreams/transactions/versions/3",
    ]);

    const pages = [
      { eventStreams: [{ name: "a" }], nextPageToken: "next" },
      { eventStreams: [{ name: "b" }], nextPageToken: "" },
    ];
    const lists: unknown[] = [];
    (client.registry as unknown as Record<string, unknown>).listEventStreams = (
      request: unknown,
      _metadata: unknown,
      _options: unknown,
      callback: Callback,
    ) => {
      lists.push(request);
      callback(null, pages[lists.length - 1]);
      return {};
    };
    const names: string[] = [];
    for await (const stream of client.listEventStreams({ pageSize: 1 })) names.push(stream.name);
    expect(names).toEqual(["a", "b"]);
    expect(lists).toEqual([
      { parent: "projects/shop", pageSize: 1, pageToken: "" },
      { parent: "projects/shop", pageSize: 1, pageToken: "next" },
    ]);

    const versions = answer(client.registry, "listEventStreamVersions", { eventStreams: [], nextPageToken: "" });
    await drain(client.listEventStreamVersions("transactions", { project: "projects/ml" }));
    expect(versions).toEqual([{ parent: "projects/ml/eventStreams/transactions", pageSize: 0, pageToken: "" }]);
  });

  it("applies an aggregation view: functions by name, windows from seconds, types left to the server", async () => {
    const requests = answer(client.registry, "applyFeatureView", {});
    await client.applyFeatureView({
      name: "card_stats",
      entity: "card",
      stream: "transactions@2",
      logServedValues: true,
      features: [
        { name: "amount_sum_7d", aggregation: { function: "sum", field: "amount", windowSeconds: week } },
        { name: "txn_count", type: "int64", aggregation: { function: "count" } },
        {
          name: "big_merchants",
          aggregation: { function: "last_n", field: "merchant", k: 5, filter: "amount > 100 and country = 'FR'" },
        },
        { name: "distinct", aggregation: { function: AggregationFunction.AGGREGATION_FUNCTION_COUNT_DISTINCT, field: "merchant" } },
      ],
    });
    const view = (requests[0] as { featureView: FeatureView }).featureView;
    expect(view).toMatchObject({
      name: "projects/shop/featureViews/card_stats",
      stream: "transactions@2",
      streamVersion: 0,
      logServedValues: true,
    });
    expect(view.features).toEqual([
      {
        name: "amount_sum_7d",
        type: ValueType.VALUE_TYPE_UNSPECIFIED,
        description: "",
        tags: {},
        aggregation: {
          function: AggregationFunction.AGGREGATION_FUNCTION_SUM,
          field: "amount",
          window: { seconds: BigInt(week), nanos: 0 },
          k: 0,
          filter: "",
        },
      },
      {
        name: "txn_count",
        type: ValueType.VALUE_TYPE_INT64,
        description: "",
        tags: {},
        // No window: a lifetime count.
        aggregation: { function: AggregationFunction.AGGREGATION_FUNCTION_COUNT, field: "", window: undefined, k: 0, filter: "" },
      },
      expect.objectContaining({
        aggregation: {
          function: AggregationFunction.AGGREGATION_FUNCTION_LAST_N,
          field: "merchant",
          window: undefined,
          k: 5,
          filter: "amount > 100 and country = 'FR'",
        },
      }),
      expect.objectContaining({
        aggregation: expect.objectContaining({ function: AggregationFunction.AGGREGATION_FUNCTION_COUNT_DISTINCT }),
      }),
    ]);
    // A plain view still sends every new field, unset.
    await client.applyFeatureView({ name: "plain", entity: "card", features: [{ name: "f", type: "double" }] });
    expect((requests[1] as { featureView: FeatureView }).featureView).toMatchObject({
      stream: "",
      logServedValues: false,
      features: [{ name: "f", type: ValueType.VALUE_TYPE_DOUBLE, aggregation: undefined }],
    });
  });

  it("requires a type only of plain features, and checks aggregations' shapes", async () => {
    expect(
      await problems(() =>
        client.applyFeatureView(
          js({
            name: "card_stats",
            entity: "card",
            stream: "",
            features: [
              { name: "plain" },
              { name: "avg", aggregation: { function: "avg", field: "amount", windowSeconds: "7d" } },
              { name: "last", aggregation: { function: "last_n", k: 2.5 } },
              { name: "none", aggregation: {} },
            ],
          }),
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^features\[0\]\.type: is required \(a type name \(int32, .*\) or a ValueType\) unless aggregation is set$/),
      expect.stringMatching(
        /^features\[1\]\.aggregation\.function: must be one of "count", "sum", .*"count_distinct", not the string "avg"$/,
      ),
      'features[1].aggregation.windowSeconds: must be a number, not the string "7d"',
      "features[2].aggregation.k: must be an integer, not number 2.5",
      expect.stringMatching(
        /^features\[3\]\.aggregation\.function: is required \(an aggregation function \(count, sum, .*\) or an AggregationFunction\)$/,
      ),
      'stream: must be a non-empty string, not the string ""',
    ]);
  });

  it("applies a feature service with request inputs and derived features", async () => {
    const requests = answer(client.registry, "applyFeatureService", {});
    await client.applyFeatureService({
      name: "fraud_inputs",
      features: ["card_stats:amount_mean_7d"],
      requestInputs: [{ name: "amount", type: "double", description: "of the payment" }],
      derivedFeatures: [{ name: "amount_ratio", expression: "amount / card_stats:amount_mean_7d" }],
    });
    await client.applyFeatureService({ name: "plain", features: ["card_stats:amount_mean_7d"] });
    expect(requests).toMatchObject([
      {
        featureService: {
          name: "projects/shop/featureServices/fraud_inputs",
          requestInputs: [{ name: "amount", type: ValueType.VALUE_TYPE_DOUBLE, description: "of the payment" }],
          derivedFeatures: [{ name: "amount_ratio", expression: "amount / card_stats:amount_mean_7d", description: "", type: 0 }],
        },
      },
      { featureService: { requestInputs: [], derivedFeatures: [] } },
    ]);
    expect(
      await problems(() =>
        client.applyFeatureService(js({ name: "s", features: [], requestInputs: [{ name: "amount" }], derivedFeatures: [{ name: "r" }] })),
      ),
    ).toEqual([
      expect.stringMatching(/^requestInputs\[0\]\.type: is required \(a type name \(int32, .*\) or a ValueType\)$/),
      "derivedFeatures[0].expression: is required (a string)",
    ]);
  });

  it("writes events as rows or columns, with the stream ref as written", async () => {
    const requests = answer(client.ingestion, "writeEventBatch", { acceptedCount: 1, tooLateCount: 0 });
    const at = new Date("2026-01-02T03:04:05.006Z");
    await client.writeEventBatch({
      eventStream: "transactions@2",
      events: [{ entityKey: { card_id: 7n }, eventTime: at, fields: { amount: 12.5, merchant: "m1" } }],
      writeId: "w1",
    });
    await client.writeEventBatch({
      eventStream: "projects/ml/eventStreams/transactions",
      project: "ml",
      eventTimes: [at],
      entityKey: { card_id: BigInt64Array.from([7n]) },
      fields: { amount: Float64Array.from([3]), merchant: { type: "string", values: [null] } },
      createdTimes: BigInt64Array.from([1n]),
    });
    expect(requests).toEqual([
      {
        project: "projects/shop",
        eventStream: "transactions@2",
        writeId: "w1",
        columns: undefined,
        events: [
          {
            entityKey: { card_id: { int64Value: 7n } },
            eventTime: { seconds: BigInt(Math.floor(at.getTime() / 1000)), nanos: 6_000_000 },
            fields: { amount: { doubleValue: 12.5 }, merchant: { stringValue: "m1" } },
            createdTime: undefined,
          },
        ],
      },
      {
        project: "projects/ml",
        eventStream: "projects/ml/eventStreams/transactions",
        writeId: "",
        events: [],
        columns: {
          eventTimeMicros: [BigInt(at.getTime()) * 1000n],
          entityKey: { card_id: { int64Values: { values: [7n] }, nullRows: [] } },
          features: {
            amount: { doubleValues: { values: [3] }, nullRows: [] },
            merchant: { stringValues: { values: [""] }, nullRows: [0] },
          },
          createdTimeMicros: [1n],
        },
      },
    ]);
    expect(await problems(() => client.writeEventBatch(js({ eventStream: "transactions" })))).toEqual([
      "events: is required (an array of events)",
    ]);
    expect(
      await problems(() =>
        client.writeEventBatch(js({ eventStream: "", events: [{ entityKey: { card_id: 1 }, eventTime: at, features: {} }] })),
      ),
    ).toEqual(['eventStream: must be a non-empty string, not the string ""', "events[0].fields: is required (an object)"]);
  });

  it("streams event batches, one acknowledgement each in order, refusing a bad batch without sending it", async () => {
    const call = duplex(client.ingestion, "writeEvents", (request: { writeId: string; events: unknown[] }) => ({
      writeId: request.writeId,
      acceptedCount: request.events.length,
    }));
    const stream = client.openEventWriteStream();
    const event = { entityKey: { card_id: 1n }, eventTime: new Date(), fields: { amount: 1 } };
    const first = stream.write({ eventStream: "transactions", events: [event], writeId: "a" });
    const bad = refused(() => stream.write(js({ eventStream: "transactions", events: [{ ...event, eventTime: "now" }] })));
    const second = stream.write({ eventStream: "transactions", events: [event, event], writeId: "b" });
    expect(await Promise.all([first, second])).toEqual([
      { writeId: "a", acceptedCount: 1 },
      { writeId: "b", acceptedCount: 2 },
    ]);
    expect((await bad).message).toBe('EventWriteStream.write: events[0].eventTime must be a Date or a Timestamp, not the string "now"');
    expect(call.written.map((r) => (r as unknown as { writeId: string }).writeId)).toEqual(["a", "b"]);
    await stream.close();
  });

  it("asks for a stream's status and a view's served consistency", async () => {
    const statuses = answer(client.ingestion, "getEventStreamStatus", { sources: [] });
    await client.getEventStreamStatus("transactions@2");
    await client.getEventStreamStatus("projects/ml/eventStreams/transactions", "projects/ml");
    expect(statuses).toEqual([
      { project: "projects/shop", eventStream: "transactions@2" },
      { project: "projects/ml", eventStream: "projects/ml/eventStreams/transactions" },
    ]);
    expect(await problems(() => client.getEventStreamStatus(js(undefined)))).toEqual(["eventStream: is required (a non-empty string)"]);

    const checks = answer(client.monitoring, "checkServedConsistency", { features: [] });
    const start = new Date("2026-01-01T00:00:00Z");
    await client.checkServedConsistency({ featureView: "card_stats@3", start, maxValues: 1000, maxExamples: 2 });
    await client.checkServedConsistency({ featureView: "card_stats" });
    expect(checks).toEqual([
      {
        project: "projects/shop",
        featureView: "card_stats@3",
        window: { startTime: { seconds: BigInt(start.getTime() / 1000), nanos: 0 }, endTime: undefined },
        maxValues: 1000,
        maxExamples: 2,
      },
      { project: "projects/shop", featureView: "card_stats", window: undefined, maxValues: 0, maxExamples: 0 },
    ]);
    expect(await problems(() => client.checkServedConsistency(js({ featureView: "v", end: "today", maxValues: -1 })))).toEqual([
      'end: must be a valid Date, not the string "today"',
      "maxValues: must be an integer >= 0, not number -1",
    ]);
  });

  it("imports raw events into a stream, or feature rows into a view, exactly one", async () => {
    const call = duplex(client.ingestion, "importFeatures", () => undefined);
    call.end = () => {
      queueMicrotask(() => {
        call.emit("data", { rowsRead: 2n, done: true });
        call.emit("end");
      });
    };
    await client.importFeatures({
      eventStream: "transactions",
      format: "csv",
      serverPath: "/data/t.csv",
      columnMapping: { event_time: "ts" },
    });
    expect(call.written).toMatchObject([
      {
        config: {
          project: "projects/shop",
          featureView: "",
          eventStream: "transactions",
          sourcePath: "/data/t.csv",
          columnMapping: { event_time: "ts" },
        },
      },
    ]);
    expect(
      await problems(() => client.importFeatures(js({ featureView: "v", eventStream: "transactions", format: "csv", serverPath: "/a" }))),
    ).toEqual(["eventStream: cannot be set together with featureView"]);
    expect(await problems(() => client.importFeatures(js({ format: "csv", serverPath: "/a" })))).toEqual([
      "featureView: or eventStream or featureViews is required: set exactly one of them",
    ]);
    expect(
      await problems(() =>
        client.importFeatures(js({ featureView: "v", featureViews: [{ featureView: "w" }], format: "csv", serverPath: "/a" })),
      ),
    ).toEqual(["featureViews: cannot be set together with featureView"]);
    expect(
      await problems(() => client.importFeatures(js({ featureViews: [{ columnMapping: {} }], format: "csv", serverPath: "/a" }))),
    ).toEqual(["featureViews[0].featureView: is required (a non-empty string)"]);
  });
});

describe("promotions", () => {
  const endpoint = "projects/shop/endpoints/churn";
  const pending = { canaryVersion: "projects/shop/models/churn/versions/2", requestedBy: "alice", reason: "v2 did well", revision: 3n };

  it("sends requirePromotionApproval with a deployment, false unless asked", async () => {
    const requests = answer(client.models, "applyDeployment", { deployment: {} });
    await client.applyDeployment({ endpoint: "churn", stable: "churn@1" });
    await client.applyDeployment({ endpoint: "churn", stable: "churn@1", requirePromotionApproval: true });
    expect(requests.map((r) => (r as { deployment: { requirePromotionApproval: boolean } }).deployment.requirePromotionApproval)).toEqual([
      false,
      true,
    ]);
    expect(
      await problems(() => client.applyDeployment(js({ endpoint: "churn", stable: "churn@1", requirePromotionApproval: "yes" }))),
    ).toEqual(['requirePromotionApproval: must be true or false, not the string "yes"']);
  });

  it("returns the routing from promoteCanary, with the pending promotion on it when approval is required", async () => {
    answer(client.models, "promoteCanary", { deployment: { name: endpoint, revision: 3n }, pendingPromotion: pending });
    const requested = await client.promoteCanary("churn", { reason: "v2 did well" });
    expect([requested.name, requested.revision, requested.pendingPromotion]).toEqual([endpoint, 3n, pending]);
    // The deployment's own pendingPromotion, when the server sets it, is kept.
    const own = { ...pending, requestedBy: "bob" };
    answer(client.models, "promoteCanary", { deployment: { name: endpoint, pendingPromotion: own }, pendingPromotion: pending });
    expect((await client.promoteCanary("churn")).pendingPromotion).toEqual(own);
    const requests = answer(client.models, "promoteCanary", { deployment: { name: endpoint, revision: 4n } });
    const promoted = await client.promoteCanary(endpoint, { actor: "carol" });
    expect([promoted.revision, promoted.pendingPromotion]).toEqual([4n, undefined]);
    expect(requests).toEqual([{ name: endpoint, actor: "carol", reason: "" }]);
  });

  it("approves or rejects a pending promotion by endpoint, with the canary version as a full name", async () => {
    const approvals = answer(client.models, "approvePromotion", { deployment: { name: endpoint, revision: 4n } });
    const rejections = answer(client.models, "rejectPromotion", { deployment: { name: endpoint, revision: 3n } });
    expect((await client.approvePromotion("churn", { reason: "looked at the report", canaryVersion: "churn@2" })).revision).toBe(4n);
    await client.approvePromotion("projects/ml/endpoints/fraud");
    expect((await client.rejectPromotion("fraud", { project: "ml", canaryVersion: "projects/ml/models/fraud/versions/7" })).revision).toBe(
      3n,
    );
    expect(approvals).toEqual([
      { name: endpoint, reason: "looked at the report", canaryVersion: "projects/shop/models/churn/versions/2" },
      { name: "projects/ml/endpoints/fraud", reason: "", canaryVersion: "" },
    ]);
    expect(rejections).toEqual([{ name: "projects/ml/endpoints/fraud", reason: "", canaryVersion: "projects/ml/models/fraud/versions/7" }]);
  });

  it("refuses a decision without an endpoint, or naming a canary without its version", async () => {
    expect(await problems(() => client.approvePromotion(js(undefined)))).toEqual(["endpoint: is required (a non-empty string)"]);
    expect(await problems(() => client.rejectPromotion("churn", js({ reason: 3 })))).toEqual(["reason: must be a string, not number 3"]);
    const unversioned = await refused(() => client.approvePromotion("churn", { canaryVersion: "churn" }));
    expect(unversioned.fieldViolations.map((v) => v.field)).toEqual(["canaryVersion"]);
  });
});

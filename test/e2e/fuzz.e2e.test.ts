/**
 * Fuzzing every RPC the server answers (every method of every service in the served
 * descriptors, so a new RPC is fuzzed the day it is added) with requests generated from its
 * request type: extreme values (int64 limits, NaN and infinities, unknown enum values, long
 * strings and bytes, out-of-range timestamps), unknown fields, huge repeated counts (a message
 * repeated until its lists hold up to a few million items, within the message-size limit), and
 * bytes that are not protobuf (cut short, flipped, garbage, groups, overlong varints), all sent
 * by a byte-level client.
 *
 * For every request: a status that is neither INTERNAL nor UNKNOWN, within {@link ANSWER_MS}.
 * After every method: the health check answers SERVING. At the end: the process's RSS, after a
 * garbage collection, is within {@link RSS_BOUND_BYTES} of its baseline.
 *
 * Seeded: the seed is printed; rerun with FUZZ_SEED=<seed> to replay a run. Bounded in time: each
 * method gets {@link CASES_PER_METHOD} cases or {@link METHOD_BUDGET_MS}, whichever ends first.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { credentials, status } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logisticRegressionModel } from "../support/onnx-models.js";
import { requestBytes, type ServedMethod, servedMethods } from "../support/proto-arbitrary.js";
import { healthStatus, RawClient } from "../support/raw-grpc.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
/** Requests per method, at most. */
const CASES_PER_METHOD = Number(process.env.FUZZ_CASES ?? 12);
/** Time per method, at most (the whole file stays under two minutes on CI). */
const METHOD_BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 800);
/** How long one request may take to be answered. */
const ANSWER_MS = 15_000;
/** How far RSS may end above its baseline, after a garbage collection. */
const RSS_BOUND_BYTES = 300 * 1024 * 1024;
/** Largest generated request: well past every count limit, well under grpc.maxReceiveMessageBytes. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Methods that hold a call open by design: a deadline is their normal end. */
const OPEN_ENDED = new Set(["/grpc.health.v1.Health/Watch"]);

/** Names of resources that exist, so generated requests reach past "not found". */
const WORDS = [
  "default",
  "projects/default",
  "customer",
  "customer_id",
  "customer_stats",
  "orders",
  "spend",
  "customer_stats:orders",
  "customer_stats@1:spend",
  "projects/default/featureViews/customer_stats",
  "projects/default/entities/customer",
  "projects/default/models/churn",
  "projects/default/models/churn/versions/1",
  "projects/default/endpoints/churn",
  "churn",
  "1",
  "features",
  "event_time",
];

// A collection on demand, for the RSS check (the flag must be set before the function is made).
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

let t: TestServer;
let raw: RawClient;
let baselineRss = 0;

console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

beforeAll(async () => {
  t = await startTestServer();
  raw = new RawClient(t.server.address, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024 });
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "customer_stats",
    entity: "customer",
    features: [
      { name: "orders", type: "int64" },
      { name: "spend", type: "double" },
    ],
  });
  await t.client.writeFeatureBatch({
    featureView: "customer_stats",
    rows: [1n, 2n, 3n].map((id) => ({
      entityKey: { customer_id: id },
      eventTime: new Date(Date.now() - 60_000),
      features: { orders: id, spend: 1.5 },
    })),
  });
  await t.client.uploadModel({
    model: "churn",
    file: logisticRegressionModel({ weights: [0.5, -0.25], bias: 0.1 }),
    bindings: [{ input: "features", features: ["customer_stats@1:orders", "customer_stats@1:spend"] }],
  });
  await t.client.applyDeployment({ endpoint: "churn", stable: "churn@1" });
  // The baseline is taken once every method has answered a few generated requests, so lazily
  // built state and the allocator's working set count in it.
  for (const [index, method] of servedMethods().entries()) {
    for (const messages of casesOf(method, index, SEED + 1_000_000, 3))
      await raw.call(method, messages, {}, OPEN_ENDED.has(method.path) ? 500 : ANSWER_MS);
  }
  collectGarbage();
  baselineRss = process.memoryUsage().rss;
}, 120_000);

afterAll(async () => {
  raw?.close();
  await t?.stop();
});

/** Generated cases of a method: the messages of each call (a client-streaming call gets up to three). */
function casesOf(method: ServedMethod, methodIndex: number, seed = SEED, count = CASES_PER_METHOD): Uint8Array[][] {
  const message = requestBytes(method.input, { words: WORDS, maxLongBytes: 200_000, maxBytes: MAX_REQUEST_BYTES });
  const messages = method.clientStreaming ? fc.array(message, { minLength: 1, maxLength: 3 }) : message.map((bytes) => [bytes]);
  return fc.sample(messages, { seed: seed + methodIndex, numRuns: count });
}

/** A short, replayable description of a request. */
function describeCase(messages: readonly Uint8Array[]): string {
  return messages.map((m) => `${m.length} bytes ${Buffer.from(m.subarray(0, 24)).toString("hex")}${m.length > 24 ? "…" : ""}`).join(" | ");
}

describe(`fuzz every RPC (seed ${SEED})`, () => {
  const methods = servedMethods();

  it("covers every served method", () => {
    expect(methods.length).toBeGreaterThan(60);
    expect(methods.map((m) => m.path)).toContain("/sluice.v1.IngestionService/WriteFeatureBatch");
  });

  methods.forEach((method, index) => {
    it(`${method.path}: answers every request with a status that is neither INTERNAL nor UNKNOWN, in time`, async () => {
      const started = performance.now();
      const cases = casesOf(method, index);
      const problems: string[] = [];
      for (const messages of cases) {
        if (performance.now() - started > METHOD_BUDGET_MS) break;
        // An open-ended call is ended by its deadline, so it gets a short one.
        const outcome = await raw.call(method, messages, {}, OPEN_ENDED.has(method.path) ? 500 : ANSWER_MS);
        const late = outcome.code === status.DEADLINE_EXCEEDED && !OPEN_ENDED.has(method.path);
        if (outcome.code === status.INTERNAL || outcome.code === status.UNKNOWN || late) {
          problems.push(
            `${status[outcome.code]} after ${Math.round(outcome.ms)} ms: "${outcome.details.slice(0, 200)}" for ${describeCase(messages)}`,
          );
        }
      }
      expect(problems, `seed ${SEED}`).toEqual([]);
      expect(await healthStatus(raw)).toBe("SERVING");
    });
  });

  it("answers damaged bytes on the services outside the descriptors (reflection) without INTERNAL", async () => {
    const reflection = [
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ];
    const damaged = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 64 }), { seed: SEED, numRuns: 8 });
    const problems: string[] = [];
    for (const path of reflection) {
      for (const bytes of damaged) {
        const outcome = await raw.call({ path, clientStreaming: true, serverStreaming: true }, [bytes], {}, ANSWER_MS);
        if (outcome.code === status.INTERNAL || outcome.code === status.UNKNOWN || outcome.code === status.DEADLINE_EXCEEDED)
          problems.push(`${path}: ${status[outcome.code]} "${outcome.details.slice(0, 100)}" for ${describeCase([bytes])}`);
      }
    }
    expect(problems, `seed ${SEED}`).toEqual([]);
  });

  it(`ends with RSS within ${RSS_BOUND_BYTES / 1024 / 1024} MB of its baseline`, async () => {
    // Buffers freed by the calls are returned to the allocator over a few collections.
    for (let i = 0; i < 3; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const memory = process.memoryUsage();
    const grown = memory.rss - baselineRss;
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
    console.log(
      `RSS grew ${mb(grown)} over the fuzz run (bound ${mb(RSS_BOUND_BYTES)}): RSS ${mb(memory.rss)}, ` +
        `heap ${mb(memory.heapUsed)}, external ${mb(memory.external)}`,
    );
    expect(grown).toBeLessThan(RSS_BOUND_BYTES);
    expect(await healthStatus(raw)).toBe("SERVING");
  });
});

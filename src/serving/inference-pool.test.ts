import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  BATCH_DIM,
  buildModel,
  floatTensor,
  identityModel,
  logisticRegression,
  logisticRegressionModel,
  lookupModel,
  mixedTypesModel,
  mlp,
  mlpModel,
  seededMlp,
  seededValues,
  sequenceOutputModel,
  twoInputModel,
} from "../../test/support/onnx-models.js";
import { SluiceError, ValidationError } from "../common/errors.js";
import { type BatchEvent, InferencePool, type InferencePoolOptions } from "./inference-pool.js";
import { ELEMENT_TYPES, type ElementType, type Tensor, type TensorData } from "./tensors.js";

const WEIGHTS = [0.5, -1.25, 2, 0.75];
const BIAS = -0.375;
const LR = logisticRegressionModel({ weights: WEIGHTS, bias: BIAS });
const MLP_PARAMS = seededMlp(4, 16, 3, 11);
const MLP = mlpModel(MLP_PARAMS);

const pools: InferencePool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

/** A pool, the batches it reports, and its log lines (parsed). */
async function startPool(
  options: Partial<InferencePoolOptions> = {},
): Promise<{ pool: InferencePool; batches: BatchEvent[]; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const pool = await InferencePool.start(
    { workers: 1, maxBatchSize: 32, maxQueueDelayMicros: 2000, maxQueuedRequests: 1000, ...options },
    logger,
  );
  pools.push(pool);
  const batches: BatchEvent[] = [];
  pool.onBatch((event) => batches.push(event));
  return { pool, batches, logs };
}

/** `rows` rows of 4 float32 features, deterministic per seed. */
function featureRows(rows: number, seed: number): Float32Array {
  return Float32Array.from(seededValues(rows * 4, seed, 3));
}

function features(data: Float32Array, rows = data.length / 4): Record<string, Tensor> {
  return { features: { type: "float32", data, dims: [rows, 4] } };
}

function expectedProbabilities(x: Float32Array): number[] {
  const rows = x.length / 4;
  return Array.from({ length: rows }, (_, r) => logisticRegression(WEIGHTS, BIAS, x.subarray(r * 4, r * 4 + 4)));
}

/** The data of output `name`, which must be there. */
function numbers(result: Record<string, Tensor>, name: string): ArrayLike<number> {
  const tensor = result[name];
  if (tensor === undefined) throw new Error(`no output ${name} in ${Object.keys(result).join(", ")}`);
  return tensor.data as ArrayLike<number>;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i] as number;
    expect(Math.abs((actual[i] as number) - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
  }
}

async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => expect.unreachable("the call should have failed"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

describe("InferencePool", () => {
  it("runs logistic regression in a worker, one row and many rows", async () => {
    const { pool } = await startPool();
    const signature = await pool.load("lr", LR);
    expect(signature).toEqual({
      inputs: [{ name: "features", elementType: "float32", shape: [-1, 4] }],
      outputs: [{ name: "probability", elementType: "float32", shape: [-1, 1] }],
      batchable: true,
    });
    expect(pool.isLoaded("lr")).toBe(true);

    const one = featureRows(1, 1);
    const expectedOne = expectedProbabilities(one);
    const { probability } = await pool.run("lr", features(one), 1);
    expect(probability?.dims).toEqual([1, 1]);
    expect(probability?.type).toBe("float32");
    expectClose(probability?.data as Float32Array, expectedOne);

    // 100 rows is more than maxBatchSize: one request never splits, it runs as a batch of its own.
    const many = featureRows(100, 2);
    const expectedMany = expectedProbabilities(many);
    const result = await pool.run("lr", features(many), 100);
    expect(result.probability?.dims).toEqual([100, 1]);
    expectClose(numbers(result, "probability"), expectedMany);
  });

  it("runs the MLP, and keeps each request's rows apart when several share a batch", async () => {
    const { pool, batches } = await startPool();
    await pool.load("mlp", MLP);
    const sizes = [1, 3, 7, 2, 5];
    const inputs = sizes.map((rows, i) => featureRows(rows, 10 + i));
    const expected = inputs.map((x) =>
      Array.from({ length: x.length / 4 }, (_, r) => mlp(MLP_PARAMS, x.subarray(r * 4, r * 4 + 4))).flat(),
    );
    const results = await Promise.all(inputs.map((x) => pool.run("mlp", features(x), x.length / 4)));
    results.forEach((result, i) => {
      expect(result.scores?.dims).toEqual([sizes[i], 3]);
      expectClose(numbers(result, "scores"), expected[i] as number[]);
    });
    expect(batches).toEqual([expect.objectContaining({ key: "mlp", rows: 18, requests: 5 })]);
  });

  it("binds several inputs and the int64, bool and float64 element types", async () => {
    const { pool } = await startPool();
    await pool.load("two", twoInputModel({ weights: [0.25, -0.5, 1.5], bias: 0.125 }));
    const two = await pool.run(
      "two",
      {
        features: { type: "float32", data: Float32Array.of(1, 2, -3, 4), dims: [2, 2] },
        extra: { type: "float32", data: Float32Array.of(0.5, -2), dims: [2, 1] },
      },
      2,
    );
    expectClose(numbers(two, "probability"), [
      logisticRegression([0.25, -0.5, 1.5], 0.125, [1, 2, 0.5]),
      logisticRegression([0.25, -0.5, 1.5], 0.125, [-3, 4, -2]),
    ]);

    await pool.load("mixed", mixedTypesModel());
    const row = (count: bigint, flag: number, score: number): Record<string, Tensor> => ({
      count: { type: "int64", data: BigInt64Array.of(count), dims: [1, 1] },
      flag: { type: "bool", data: Uint8Array.of(flag), dims: [1, 1] },
      score: { type: "float64", data: Float64Array.of(score), dims: [1, 1] },
    });
    const [a, b] = await Promise.all([pool.run("mixed", row(3n, 1, 0.25), 1), pool.run("mixed", row(-5n, 0, 1.5), 1)]);
    expect(Array.from(a?.total?.data as Float64Array)).toEqual([4.25]);
    expect(Array.from(b?.total?.data as Float64Array)).toEqual([-3.5]);
    expect(a?.positive).toEqual({ type: "bool", data: Uint8Array.of(1), dims: [1, 1] });
    expect(Array.from(b?.positive?.data as Uint8Array)).toEqual([0]);
  });

  it("carries every element type through batching unchanged", async () => {
    const { pool, batches } = await startPool({ maxBatchSize: 8, maxQueueDelayMicros: 2000 });
    const samples: Record<ElementType, (i: number) => TensorData> = {
      float32: (i) => Float32Array.of(i + 0.5, -i),
      float64: (i) => Float64Array.of(i / 3, 1e300),
      int8: (i) => Int8Array.of(-128 + i, 127),
      uint8: (i) => Uint8Array.of(i, 255),
      int16: (i) => Int16Array.of(-32768 + i, i),
      uint16: (i) => Uint16Array.of(65535 - i, i),
      int32: (i) => Int32Array.of(-(2 ** 31) + i, i),
      uint32: (i) => Uint32Array.of(2 ** 32 - 1 - i, i),
      int64: (i) => BigInt64Array.of(-(2n ** 63n) + BigInt(i), 2n ** 53n + 1n),
      uint64: (i) => BigUint64Array.of(2n ** 64n - 1n - BigInt(i), BigInt(i)),
      bool: (i) => Uint8Array.of(i % 2, 1 - (i % 2)),
      string: (i) => [`row ${i}`, "é ✓"],
    };
    for (const type of ELEMENT_TYPES) {
      await pool.load(type, identityModel(type, 2));
      batches.length = 0;
      const results = await Promise.all([0, 1, 2].map((i) => pool.run(type, { x: { type, data: samples[type](i), dims: [1, 2] } }, 1)));
      expect(batches.map((b) => b.requests)).toEqual([3]);
      for (const [i, result] of results.entries()) expect(result.y).toEqual({ type, data: samples[type](i), dims: [1, 2] });
    }
  });

  it("serves the tensor outputs of a model that also has a sequence output", async () => {
    const { pool } = await startPool();
    const signature = await pool.load("seq", sequenceOutputModel({ weights: WEIGHTS, bias: BIAS }));
    expect(signature.outputs).toEqual([{ name: "probability", elementType: "float32", shape: [-1, 1] }]);
    expect(signature.batchable).toBe(true);
    const inputs = [featureRows(1, 1), featureRows(2, 2)];
    const expected = inputs.map(expectedProbabilities);
    const results = await Promise.all(inputs.map((x) => pool.run("seq", features(x), x.length / 4)));
    for (const [i, result] of results.entries()) {
      expect(Object.keys(result)).toEqual(["probability"]);
      expectClose(numbers(result, "probability"), expected[i] as number[]);
    }
  });

  it("batches 64 concurrent single-row requests into full batches, each caller getting its own row", async () => {
    const { pool, batches } = await startPool({ maxBatchSize: 32, maxQueueDelayMicros: 20_000 });
    await pool.load("lr", LR);
    const inputs = Array.from({ length: 64 }, (_, i) => featureRows(1, 100 + i));
    const expected = inputs.map(expectedProbabilities);
    const results = await Promise.all(inputs.map((x) => pool.run("lr", features(x), 1)));
    for (const [i, result] of results.entries()) expectClose(numbers(result, "probability"), expected[i] as number[]);
    // Full batches go at once, without waiting out the 20 ms delay.
    expect(batches.map((b) => [b.rows, b.requests])).toEqual([
      [32, 32],
      [32, 32],
    ]);
    expect(Math.max(...batches.map((b) => b.queueMicros))).toBeLessThan(20_000);
  });

  it("flushes a partial batch once the oldest request has waited the queue delay", async () => {
    const { pool, batches } = await startPool({ maxBatchSize: 32, maxQueueDelayMicros: 30_000 });
    await pool.load("lr", LR);
    const started = performance.now();
    await Promise.all([1, 2, 3].map((seed) => pool.run("lr", features(featureRows(1, seed)), 1)));
    const waited = performance.now() - started;
    expect(batches.map((b) => b.requests)).toEqual([3]);
    expect(waited).toBeGreaterThanOrEqual(29);
    expect(batches[0]?.queueMicros).toBeGreaterThanOrEqual(29_000);
  });

  it("property: any mix of concurrent requests gets exactly its own rows back, in batches within the limit", async () => {
    const { pool, batches } = await startPool({ workers: 2, maxBatchSize: 16, maxQueueDelayMicros: 500 });
    await pool.load("lr", LR);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ rows: fc.integer({ min: 1, max: 20 }), seed: fc.nat(), pauseBefore: fc.boolean() }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (requests) => {
          batches.length = 0;
          const pending: Promise<void>[] = [];
          for (const { rows, seed, pauseBefore } of requests) {
            // Some requests arrive in a later event-loop turn, so batches form from staggered arrivals too.
            if (pauseBefore) await new Promise((resolve) => setImmediate(resolve));
            const x = featureRows(rows, seed);
            const expected = expectedProbabilities(x);
            pending.push(
              pool.run("lr", features(x, rows), rows).then((result) => {
                expect(result.probability?.dims).toEqual([rows, 1]);
                expectClose(numbers(result, "probability"), expected);
              }),
            );
          }
          await Promise.all(pending);
          expect(batches.reduce((sum, b) => sum + b.requests, 0)).toBe(requests.length);
          expect(batches.reduce((sum, b) => sum + b.rows, 0)).toBe(requests.reduce((sum, r) => sum + r.rows, 0));
          for (const batch of batches) if (batch.requests > 1) expect(batch.rows).toBeLessThanOrEqual(16);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("maxBatchSize 1 disables batching", async () => {
    const { pool, batches } = await startPool({ maxBatchSize: 1 });
    await pool.load("lr", LR);
    const inputs = Array.from({ length: 20 }, (_, i) => featureRows(1, i));
    const expected = inputs.map(expectedProbabilities);
    const results = await Promise.all(inputs.map((x) => pool.run("lr", features(x), 1)));
    for (const [i, result] of results.entries()) expectClose(numbers(result, "probability"), expected[i] as number[]);
    expect(batches).toHaveLength(20);
    expect(batches.every((b) => b.requests === 1 && b.rows === 1)).toBe(true);
  });

  it("runs a model without a dynamic batch dim one request per session.run", async () => {
    const { pool, batches } = await startPool({ maxBatchSize: 32 });
    const signature = await pool.load("fixed", logisticRegressionModel({ weights: WEIGHTS, bias: BIAS, fixedBatch: 1 }));
    expect(signature.batchable).toBe(false);
    expect(signature.inputs[0]?.shape).toEqual([1, 4]);
    const inputs = Array.from({ length: 10 }, (_, i) => featureRows(1, 50 + i));
    const expected = inputs.map(expectedProbabilities);
    const results = await Promise.all(inputs.map((x) => pool.run("fixed", features(x), 1)));
    for (const [i, result] of results.entries()) expectClose(numbers(result, "probability"), expected[i] as number[]);
    expect(batches.map((b) => b.requests)).toEqual(new Array(10).fill(1));
    const error = await rejection(pool.run("fixed", features(featureRows(2, 1)), 2));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).violations).toEqual([
      { field: "inputs.features.dims[0]", description: "the model expects 1, got 2" },
    ]);
  });

  it("release lets queued and in-flight runs finish, refuses new ones, and the key can be loaded again", async () => {
    const { pool } = await startPool({ maxBatchSize: 8, maxQueueDelayMicros: 1000 });
    await pool.load("lr", LR);
    const inputs = Array.from({ length: 50 }, (_, i) => featureRows(1, 200 + i));
    const expected = inputs.map(expectedProbabilities);
    const runs = inputs.map((x) => pool.run("lr", features(x), 1));
    const released = pool.release("lr");
    expect(pool.isLoaded("lr")).toBe(false);
    const refused = await rejection(pool.run("lr", features(featureRows(1, 1)), 1));
    expect(refused.reason).toBe("MODEL_NOT_LOADED");
    expect(refused.kind).toBe("not_found");
    const results = await Promise.all(runs);
    for (const [i, result] of results.entries()) expectClose(numbers(result, "probability"), expected[i] as number[]);
    await released;
    expect((await rejection(pool.run("lr", features(featureRows(1, 1)), 1))).reason).toBe("MODEL_NOT_LOADED");

    await pool.load("lr", LR);
    const again = featureRows(1, 3);
    const expectedAgain = expectedProbabilities(again);
    expectClose((await pool.run("lr", features(again), 1)).probability?.data as Float32Array, expectedAgain);
    await pool.release("never-loaded");
  });

  it("shares one load between concurrent loads of a key, and loading a loaded key is a no-op", async () => {
    const { pool } = await startPool({ workers: 2 });
    const [a, b] = await Promise.all([pool.load("lr", LR), pool.load("lr", LR)]);
    expect(a).toBe(b);
    expect(await pool.load("lr", LR)).toBe(a);
    expect(pool.isLoaded("lr")).toBe(true);
  });

  it("rejects inputs that do not match the signature, naming each bad field", async () => {
    const { pool } = await startPool();
    await pool.load("lr", LR);
    await pool.load("two", twoInputModel({ weights: [1, 2, 3], bias: 0 }));
    const violations = async (key: string, inputs: Record<string, Tensor>, rows: number) => {
      const error = await rejection(pool.run(key, inputs, rows));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.reason).toBe("INVALID_MODEL_INPUT");
      expect(error.kind).toBe("invalid_argument");
      return (error as ValidationError).violations;
    };
    expect(await violations("lr", { feature: { type: "float32", data: new Float32Array(4), dims: [1, 4] } }, 1)).toEqual([
      { field: "inputs.features", description: "missing: the model's inputs are features" },
      { field: "inputs.feature", description: "not an input of the model; its inputs are features" },
    ]);
    expect(await violations("lr", { features: { type: "float64", data: new Float64Array(4), dims: [1, 4] } }, 1)).toEqual([
      { field: "inputs.features.type", description: "the model expects float32, got float64" },
    ]);
    expect(await violations("lr", { features: { type: "float32", data: new Float64Array(4), dims: [1, 4] } }, 1)).toEqual([
      { field: "inputs.features.data", description: "the array does not hold float32 elements" },
    ]);
    expect(await violations("lr", { features: { type: "float32", data: new Float32Array(5), dims: [1, 5] } }, 1)).toEqual([
      { field: "inputs.features.dims[1]", description: "the model expects 4, got 5" },
    ]);
    expect(await violations("lr", { features: { type: "float32", data: new Float32Array(8), dims: [2, 4] } }, 1)).toEqual([
      { field: "inputs.features.dims[0]", description: "the first dimension is the row count 1, got 2" },
    ]);
    expect(await violations("lr", { features: { type: "float32", data: new Float32Array(4), dims: [4] } }, 1)).toEqual([
      { field: "inputs.features.dims", description: "the model expects 2 dimensions [?, 4], got [4]" },
    ]);
    expect(await violations("lr", { features: { type: "float32", data: new Float32Array(3), dims: [1, 4] } }, 1)).toEqual([
      { field: "inputs.features.data", description: "dims [1, 4] need 4 elements, got 3" },
    ]);
    expect(await violations("lr", features(featureRows(1, 1)), 0)).toContainEqual({
      field: "rows",
      description: "must be a positive integer, got 0",
    });
    expect(await violations("two", { features: { type: "float32", data: new Float32Array(2), dims: [1, 2] } }, 1)).toEqual([
      { field: "inputs.extra", description: "missing: the model's inputs are features, extra" },
    ]);
    const extra = { ...features(featureRows(1, 1)), bonus: { type: "float32", data: new Float32Array(1), dims: [1] } } as Record<
      string,
      Tensor
    >;
    expect(await violations("lr", extra, 1)).toEqual([
      { field: "inputs.bonus", description: "not an input of the model; its inputs are features" },
    ]);
  });

  it("rejects an unknown key as not found, and garbage bytes as an invalid model", async () => {
    const { pool } = await startPool();
    const unknown = await rejection(pool.run("nope", features(featureRows(1, 1)), 1));
    expect(unknown.kind).toBe("not_found");
    expect(unknown.reason).toBe("MODEL_NOT_LOADED");
    expect(unknown.message).toContain("nope");

    const garbage = new Uint8Array([8, 1, 18, 200, 1, 2, 3, 4, 5]);
    for (const attempt of [pool.inspect(garbage), pool.load("bad", garbage)]) {
      const error = await rejection(attempt);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.reason).toBe("INVALID_MODEL");
      expect((error as ValidationError).violations).toEqual([
        { field: "chunk", description: expect.stringMatching(/^not a model Sluice can serve: .*protobuf parsing failed/) },
      ]);
    }
    expect(pool.isLoaded("bad")).toBe(false);

    const float16 = await rejection(pool.inspect(identityModel("float16", 2)));
    expect((float16 as ValidationError).violations[0]?.description).toBe(
      "not a model Sluice can serve: input x has element type float16, which Sluice does not serve",
    );
    // Loads, but cannot run even on zeros: an empty lookup table has no index 0.
    const unrunnable = await rejection(pool.load("empty", lookupModel([])));
    expect(unrunnable.reason).toBe("INVALID_MODEL");
    expect((unrunnable as ValidationError).violations[0]?.description).toMatch(/^not a model Sluice can serve: warm-up run failed: /);
    expect(pool.isLoaded("empty")).toBe(false);
    expect(await pool.inspect(MLP)).toEqual({
      inputs: [{ name: "features", elementType: "float32", shape: [-1, 4] }],
      outputs: [{ name: "scores", elementType: "float32", shape: [-1, 3] }],
      batchable: true,
    });
    expect(pool.isLoaded("mlp")).toBe(false);
  });

  it("an onnxruntime run error names the model, and fails only the request at fault in a batch", async () => {
    const { pool } = await startPool({ maxBatchSize: 8, maxQueueDelayMicros: 5000 });
    await pool.load("lookup", lookupModel([10, 20, 30]));
    const lookup = (index: bigint) => pool.run("lookup", { index: { type: "int64", data: BigInt64Array.of(index), dims: [1, 1] } }, 1);
    const alone = await rejection(lookup(7n));
    expect(alone.reason).toBe("INFERENCE_FAILED");
    expect(alone.message).toMatch(/^model lookup failed to run: .*out of data bounds/);

    const outcomes = await Promise.allSettled([lookup(0n), lookup(9n), lookup(2n), lookup(1n)]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    const values = outcomes.map((o) => (o.status === "fulfilled" ? numbers(o.value, "value")[0] : undefined));
    expect(values).toEqual([10, undefined, 30, 20]);
  });

  it("rejects with INFERENCE_OVERLOADED beyond maxQueuedRequests, and serves what it accepted", async () => {
    const { pool } = await startPool({ maxBatchSize: 1, maxQueuedRequests: 5 });
    await pool.load("lr", LR);
    // The first two requests go straight to the idle worker (it holds up to two batches); five more queue;
    // the rest are refused.
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => pool.run("lr", features(featureRows(1, i)), 1)));
    expect(outcomes.map((o) => o.status)).toEqual([...new Array(7).fill("fulfilled"), ...new Array(3).fill("rejected")]);
    const refused = (outcomes[9] as PromiseRejectedResult).reason as SluiceError;
    expect(refused.kind).toBe("unavailable");
    expect(refused.reason).toBe("INFERENCE_OVERLOADED");
    expect(refused.metadata).toEqual({ model_key: "lr", max_queued_requests: "5" });
  });

  it("does not block the event loop while a big batch runs", async () => {
    const params = seededMlp(512, 2048, 8, 5);
    const bytes = mlpModel(params);
    const rows = 8192;
    const x = Float32Array.from(seededValues(rows * 512, 9));
    const { pool } = await startPool({ maxBatchSize: rows });
    await pool.load("big", bytes);

    /** One big run, with the event loop's ticks around it. */
    const measure = async () => {
      const ticks: number[] = [];
      const interval = setInterval(() => ticks.push(performance.now()), 2);
      const started = performance.now();
      const result = await pool.run("big", { features: { type: "float32", data: x.slice(), dims: [rows, 512] } }, rows);
      const elapsed = performance.now() - started;
      clearInterval(interval);
      expect(result.scores?.dims).toEqual([rows, 8]);
      expectClose((numbers(result, "scores") as Float32Array).subarray(0, 8), mlp(params, x.subarray(0, 512)));
      const gaps = ticks.slice(1).map((t, i) => t - (ticks[i] as number));
      return { elapsed, ticks: ticks.length, maxGap: Math.max(...gaps) };
    };
    // A loop the pool blocked would stall for about the whole run at every attempt; a stall of
    // another process's making (the machine runs other tests at the same time) comes and goes, so
    // a run may be measured again, up to three times.
    const runs = [await measure()];
    while ((runs.at(-1)?.maxGap ?? 0) >= 30 && runs.length < 3) runs.push(await measure());
    const { elapsed, ticks, maxGap } = runs.at(-1) as Awaited<ReturnType<typeof measure>>;
    // The run takes long enough to matter, and the loop kept ticking throughout it.
    expect(elapsed).toBeGreaterThan(40);
    expect(ticks).toBeGreaterThan(elapsed / 10);
    expect(maxGap, `longest event-loop gaps of the runs: ${runs.map((r) => r.maxGap.toFixed(1)).join(", ")} ms`).toBeLessThan(30);

    // For contrast: the same run on this thread stalls the loop for about its whole duration.
    const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 4 });
    const stalled: number[] = [];
    const probe = setInterval(() => stalled.push(performance.now()), 2);
    await sleep(10);
    const before = performance.now();
    await session.run({ features: new OrtTensor("float32", x, [rows, 512]) });
    const blocked = performance.now() - before;
    clearInterval(probe);
    await session.release();
    expect(blocked).toBeGreaterThan(elapsed / 4);
  });

  it("a worker that dies mid-batch fails that batch's requests instead of hanging, and a replacement serves the next", async () => {
    const { pool, batches } = await startPool({ workers: 1, maxBatchSize: 8, maxQueueDelayMicros: 1000 });
    await pool.load("lr", LR);
    await pool.load("mlp", MLP);
    pool.crashWorkerForTesting(0, "next-run");
    const doomed = await Promise.allSettled([1, 2, 3].map((seed) => pool.run("lr", features(featureRows(1, seed)), 1)));
    for (const outcome of doomed) {
      expect(outcome.status).toBe("rejected");
      const error = (outcome as PromiseRejectedResult).reason as SluiceError;
      expect(error.kind).toBe("unavailable");
      expect(error.reason).toBe("INFERENCE_WORKER_CRASHED");
      expect(error.message).toBe("inference worker 0 exited with code 1 while running model lr");
    }
    expect(batches).toEqual([]);

    // Sent while no worker is up: served once the replacement has reloaded both models.
    const x = featureRows(3, 4);
    const expected = expectedProbabilities(x);
    const result = await pool.run("lr", features(x), 3);
    expectClose(numbers(result, "probability"), expected);
    expect(pool.isLoaded("mlp")).toBe(true);
    expect((await pool.run("mlp", features(featureRows(1, 5)), 1)).scores?.dims).toEqual([1, 3]);
  });

  it("with two workers, spreads batches over both and survives one of them crashing", async () => {
    const { pool, batches } = await startPool({ workers: 2, maxBatchSize: 4, maxQueueDelayMicros: 0 });
    await pool.load("lr", LR);
    await Promise.all(Array.from({ length: 64 }, (_, i) => pool.run("lr", features(featureRows(1, i)), 1)));
    expect(batches.length).toBeGreaterThanOrEqual(16);
    expect(new Set(batches.map((b) => b.worker))).toEqual(new Set([0, 1]));

    pool.crashWorkerForTesting(1);
    // Batches sent to worker 1 before its exit is seen fail as crashed; every other request succeeds.
    const inputs = Array.from({ length: 40 }, (_, i) => featureRows(1, 300 + i));
    const expected = inputs.map(expectedProbabilities);
    const outcomes = await Promise.allSettled(inputs.map((x) => pool.run("lr", features(x), 1)));
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "fulfilled") expectClose(numbers(outcome.value, "probability"), expected[i] as number[]);
      else expect((outcome.reason as SluiceError).reason).toBe("INFERENCE_WORKER_CRASHED");
    });
    expect(outcomes.some((outcome) => outcome.status === "fulfilled")).toBe(true);

    await sleep(300);
    const after = Array.from({ length: 40 }, (_, i) => featureRows(1, 400 + i));
    const expectedAfter = after.map(expectedProbabilities);
    const results = await Promise.all(after.map((x) => pool.run("lr", features(x), 1)));
    for (const [i, result] of results.entries()) expectClose(numbers(result, "probability"), expectedAfter[i] as number[]);
  });

  it("copies inputs that are views onto a larger buffer, and may take whole buffers", async () => {
    const { pool } = await startPool();
    await pool.load("lr", LR);
    const backing = featureRows(3, 8);
    const view = backing.subarray(4, 8);
    const expected = expectedProbabilities(view);
    const result = await pool.run("lr", features(view, 1), 1);
    expectClose(numbers(result, "probability"), expected);
    expect(backing.length).toBe(12);
    expect(Array.from(view)).toEqual(Array.from(backing.subarray(4, 8)));

    // A request sent on its own hands its whole buffer to the worker, without a copy.
    const whole = featureRows(1, 9);
    const expectedWhole = expectedProbabilities(whole);
    expectClose(numbers(await pool.run("lr", features(whole), 1), "probability"), expectedWhole);
    expect(whole.byteLength).toBe(0);
  });

  describe("inline runs (serving.inlineMaxMicros)", () => {
    // A bound no tiny model misses on a loaded machine, and one no model meets.
    const GENEROUS = 5000;

    it("runs a model measured tiny on the main thread, up to the rows it was measured at, with the workers' answers", async () => {
      const { pool, batches } = await startPool({ inlineMaxMicros: GENEROUS });
      await pool.load("lr", LR);
      const one = featureRows(1, 1);
      expectClose(numbers(await pool.run("lr", features(one), 1), "probability"), expectedProbabilities(one));
      const many = featureRows(64, 2);
      expectClose(numbers(await pool.run("lr", features(many), 64), "probability"), expectedProbabilities(many));
      // More rows than measured: to a worker.
      const more = featureRows(65, 3);
      const expectedMore = expectedProbabilities(more);
      // (A worker takes the input's buffer: the expectation is computed first.)
      expectClose(numbers(await pool.run("lr", features(more), 65), "probability"), expectedMore);
      expect(batches.map((b) => [b.rows, b.worker])).toEqual([
        [1, -1],
        [64, -1],
        [65, 0],
      ]);
    });

    it("keeps a model in the workers when it is slower than the bound", async () => {
      // onnxruntime only: the graph evaluator may run this small MLP within a microsecond.
      const { pool, batches } = await startPool({ inlineMaxMicros: 1, graphEvaluator: false });
      await pool.load("mlp", MLP);
      await pool.run("mlp", features(featureRows(1, 4)), 1);
      expect(batches.map((b) => b.worker)).toEqual([0]);
    });

    it("runs a graph the evaluator supports and agrees on in the evaluator, and in onnxruntime with graphEvaluator off", async () => {
      for (const graphEvaluator of [true, false]) {
        const { pool, batches, logs } = await startPool({ inlineMaxMicros: GENEROUS, graphEvaluator });
        await pool.load("lr", LR);
        await pool.load("lookup", lookupModel([10, 20, 30]));
        const rows = featureRows(3, 8);
        expectClose(numbers(await pool.run("lr", features(rows), 3), "probability"), expectedProbabilities(rows));
        expect(batches.map((b) => b.worker)).toEqual([-1]);
        const inline = logs.filter((log) => log.msg === "model runs inline");
        // The lookup model reads int64: onnxruntime runs it inline either way.
        expect(inline.map((log) => log.engines)).toEqual([
          [`${graphEvaluator ? "evaluator" : "onnxruntime"} up to 64 rows`],
          ["onnxruntime up to 64 rows"],
        ]);
        expect(
          logs.some((log) => log.msg === "model is not evaluated by the graph evaluator" && log.reason === "index is int64, not float32"),
        ).toBe(graphEvaluator);
      }
    });

    it("keeps onnxruntime inline for a graph the evaluator compiles but cannot run (a MatMul by a vector)", async () => {
      const { pool, batches, logs } = await startPool({ inlineMaxMicros: GENEROUS });
      const byVector = buildModel({
        name: "by_vector",
        inputs: [{ name: "features", type: "float32", shape: [BATCH_DIM, 4] }],
        outputs: [{ name: "score", type: "float32", shape: [BATCH_DIM] }],
        initializers: [floatTensor("w", [4], WEIGHTS)],
        nodes: [{ op: "MatMul", inputs: ["features", "w"], outputs: ["score"] }],
      });
      await pool.load("by_vector", byVector);
      const rows = featureRows(2, 6);
      const expected = [0, 1].map((r) => WEIGHTS.reduce((sum, w, f) => sum + w * (rows[r * 4 + f] as number), 0));
      expectClose(numbers(await pool.run("by_vector", features(rows), 2), "score"), expected);
      expect(batches.map((b) => b.worker)).toEqual([-1]);
      const refusal = logs.find((log) => log.msg === "the graph evaluator disagrees with onnxruntime on this model; it is not used");
      expect(refusal?.disagreement).toMatch(/^the evaluator failed: MatMul cannot combine shapes/);
      expect(logs.find((log) => log.msg === "model runs inline")?.engines).toEqual(["onnxruntime up to 64 rows"]);
    });

    it("checks the evaluator with other dynamic dimensions above 1, and serves any width then", async () => {
      const { pool, batches, logs } = await startPool({ inlineMaxMicros: GENEROUS });
      const softmax = buildModel({
        name: "softmax_any_width",
        inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, "width"] }],
        outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, "width"] }],
        nodes: [{ op: "Softmax", inputs: ["x"], outputs: ["y"] }],
      });
      await pool.load("softmax", softmax);
      expect(logs.find((log) => log.msg === "model runs inline")?.engines).toEqual(["evaluator up to 64 rows"]);
      const x = Float32Array.of(1, 2, 3, 4, 5, 0, 0, 0, 0, 0);
      const y = numbers(await pool.run("softmax", { x: { type: "float32", data: x, dims: [2, 5] } }, 2), "y");
      const total = [1, 2, 3, 4, 5].reduce((sum, v) => sum + Math.exp(v), 0);
      expectClose(y, [...[1, 2, 3, 4, 5].map((v) => Math.exp(v) / total), ...new Array<number>(5).fill(0.2)]);
      expect(batches.map((b) => b.worker)).toEqual([-1]);
    });

    it("fails an inline run as a worker's run fails: the error names the model, and the limits hold", async () => {
      const { pool } = await startPool({ inlineMaxMicros: GENEROUS, maxOutputElements: 3 });
      await pool.load("lookup", lookupModel([10, 20, 30]));
      const lookup = (indices: bigint[]) =>
        pool.run("lookup", { index: { type: "int64", data: BigInt64Array.from(indices), dims: [indices.length, 1] } }, indices.length);
      expect(numbers(await lookup([2n]), "value")).toEqual(Float32Array.of(30));
      const failed = await rejection(lookup([7n]));
      expect([failed.reason, failed.kind]).toEqual(["INFERENCE_FAILED", "internal"]);
      expect(failed.message).toMatch(/^model lookup failed to run: .*out of data bounds/);
      expect((await rejection(lookup([0n, 1n, 2n, 0n]))).reason).toBe("MODEL_OUTPUT_TOO_LARGE");
    });

    it("release and close wait for inline runs, and a released key runs again once reloaded", async () => {
      const { pool, batches } = await startPool({ inlineMaxMicros: GENEROUS });
      await pool.load("lr", LR);
      const inputs = Array.from({ length: 20 }, (_, i) => featureRows(1, 300 + i));
      const runs = inputs.map((x) => pool.run("lr", features(x), 1));
      const released = pool.release("lr");
      expect((await rejection(pool.run("lr", features(featureRows(1, 1)), 1))).reason).toBe("MODEL_NOT_LOADED");
      const results = await Promise.all(runs);
      for (const [i, result] of results.entries())
        expectClose(numbers(result, "probability"), expectedProbabilities(inputs[i] as Float32Array));
      await released;
      await pool.load("lr", LR);
      const last = pool.run("lr", features(featureRows(1, 5)), 1);
      await pool.close();
      expectClose(numbers(await last, "probability"), expectedProbabilities(featureRows(1, 5)));
      expect(batches.every((b) => b.worker === -1)).toBe(true);
    });
  });

  it("close rejects queued requests and refuses new calls", async () => {
    const { pool } = await startPool({ maxBatchSize: 32, maxQueueDelayMicros: 1_000_000 });
    await pool.load("lr", LR);
    const queued = rejection(pool.run("lr", features(featureRows(1, 1)), 1));
    await pool.close();
    expect((await queued).reason).toBe("INFERENCE_POOL_CLOSED");
    expect((await rejection(pool.run("lr", features(featureRows(1, 1)), 1))).reason).toBe("INFERENCE_POOL_CLOSED");
    expect((await rejection(pool.load("lr2", LR))).reason).toBe("INFERENCE_POOL_CLOSED");
  });
});

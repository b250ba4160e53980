import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
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
} from "./onnx-models.js";

/** float32 arithmetic against the float64 reference: a relative tolerance of a few ulps of float32. */
function expectClose(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i] as number;
    expect(Math.abs((actual[i] as number) - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
  }
}

async function open(bytes: Uint8Array): Promise<InferenceSession> {
  return InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 4 });
}

describe("test ONNX models", () => {
  it("logistic regression matches sigmoid(x·w + b) with a dynamic batch dim", async () => {
    const weights = [0.5, -1.25, 2, 0.03125];
    const bias = -0.375;
    const session = await open(logisticRegressionModel({ weights, bias }));
    expect(session.inputMetadata).toEqual([{ name: "features", isTensor: true, type: "float32", shape: ["batch", 4] }]);
    expect(session.outputMetadata).toEqual([{ name: "probability", isTensor: true, type: "float32", shape: ["batch", 1] }]);
    for (const rows of [1, 3, 50]) {
      const x = Float32Array.from(seededValues(rows * 4, rows, 3));
      const { probability } = await session.run({ features: new Tensor("float32", x, [rows, 4]) });
      expect(probability?.dims).toEqual([rows, 1]);
      const expected = Array.from({ length: rows }, (_, r) => logisticRegression(weights, bias, x.subarray(r * 4, r * 4 + 4)));
      expectClose(probability?.data as Float32Array, expected);
    }
    await session.release();
  });

  it("names inputs and outputs as asked and can fix the batch size", async () => {
    const session = await open(logisticRegressionModel({ weights: [1, 2], bias: 0, inputName: "x", outputName: "y", fixedBatch: 1 }));
    expect(session.inputMetadata).toEqual([{ name: "x", isTensor: true, type: "float32", shape: [1, 2] }]);
    expect(session.outputNames).toEqual(["y"]);
    const { y } = await session.run({ x: new Tensor("float32", Float32Array.of(0.5, -0.25), [1, 2]) });
    expectClose(y?.data as Float32Array, [logisticRegression([1, 2], 0, [0.5, -0.25])]);
    await expect(session.run({ x: new Tensor("float32", new Float32Array(4), [2, 2]) })).rejects.toThrow(/dimensions/);
    await session.release();
  });

  it("the MLP matches a hand-computed forward pass, ReLU included", async () => {
    const params = seededMlp(6, 16, 3, 7);
    const session = await open(mlpModel(params));
    const rows = 20;
    const x = Float32Array.from(seededValues(rows * 6, 99, 2));
    const { scores } = await session.run({ features: new Tensor("float32", x, [rows, 6]) });
    expect(scores?.dims).toEqual([rows, 3]);
    const expected = Array.from({ length: rows }, (_, r) => mlp(params, x.subarray(r * 6, r * 6 + 6))).flat();
    expectClose(scores?.data as Float32Array, expected);
    // Some hidden units must be cut by ReLU, or the test would not tell ReLU from identity.
    const hiddenNegative = params.b1.some(
      (_, h) => params.w1.reduce((sum, row, f) => sum + (row[h] as number) * (x[f] as number), params.b1[h] as number) < 0,
    );
    expect(hiddenNegative).toBe(true);
    await session.release();
  });

  it("the two-input model binds both inputs", async () => {
    const weights = [0.25, -0.5, 1.5];
    const session = await open(twoInputModel({ weights, bias: 0.125 }));
    expect(session.inputNames).toEqual(["features", "extra"]);
    const features = Float32Array.of(1, 2, -3, 4);
    const extra = Float32Array.of(0.5, -2);
    const { probability } = await session.run({
      features: new Tensor("float32", features, [2, 2]),
      extra: new Tensor("float32", extra, [2, 1]),
    });
    expectClose(probability?.data as Float32Array, [
      logisticRegression(weights, 0.125, [1, 2, 0.5]),
      logisticRegression(weights, 0.125, [-3, 4, -2]),
    ]);
    await session.release();
  });

  it("the mixed-types model takes int64, bool and float64 and returns float64 and bool", async () => {
    const session = await open(mixedTypesModel());
    const outputs = await session.run({
      count: new Tensor("int64", BigInt64Array.of(3n, -5n), [2, 1]),
      flag: new Tensor("bool", Uint8Array.of(1, 0), [2, 1]),
      score: new Tensor("float64", Float64Array.of(0.25, 1.5), [2, 1]),
    });
    expect(Array.from(outputs.total?.data as Float64Array)).toEqual([4.25, -3.5]);
    expect(outputs.positive?.type).toBe("bool");
    expect(Array.from(outputs.positive?.data as Uint8Array)).toEqual([1, 0]);
    await session.release();
  });

  it("the lookup model returns table entries and fails the run on an index outside the table", async () => {
    const session = await open(lookupModel([10, 20, 30]));
    const { value } = await session.run({ index: new Tensor("int64", BigInt64Array.of(2n, 0n), [2, 1]) });
    expect(Array.from(value?.data as Float32Array)).toEqual([30, 10]);
    await expect(session.run({ index: new Tensor("int64", BigInt64Array.of(7n), [1, 1]) })).rejects.toThrow(/out of|bounds|indices/i);
    await session.release();
  });

  it("the sequence-output model declares a non-tensor output", async () => {
    const session = await open(sequenceOutputModel({ weights: [1, -1], bias: 0 }));
    expect(session.outputMetadata).toEqual([
      { name: "history", isTensor: false },
      { name: "probability", isTensor: true, type: "float32", shape: ["batch", 1] },
    ]);
    const { probability } = await session.run({ features: new Tensor("float32", Float32Array.of(2, 1), [1, 2]) }, ["probability"]);
    expectClose(probability?.data as Float32Array, [logisticRegression([1, -1], 0, [2, 1])]);
    await session.release();
  });

  it("garbage and truncated bytes do not load", async () => {
    await expect(open(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).rejects.toThrow(/protobuf parsing failed/);
    const bytes = logisticRegressionModel({ weights: [1, 2, 3], bias: 0 });
    await expect(open(bytes.subarray(0, bytes.length - 20))).rejects.toThrow();
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidCheckpointError } from "./errors.js";
import type { FeatureValues } from "./features.js";
import { createLearner, type LearnerSpec } from "./learners.js";
import type { OptimizerSpec } from "./optimizers.js";
import { type EvaluationTask, PrequentialEvaluator } from "./prequential.js";
import { decodeCheckpoint, encodeCheckpoint } from "./state.js";

const features = { numeric: ["a", "b"], categorical: ["c", "d"], buckets: 7 };
const optimizers: OptimizerSpec[] = [
  { kind: "sgd", learningRate: 0.05, schedule: "inverse_scaling", power: 0.5 },
  { kind: "adagrad", learningRate: 0.1, epsilon: 1e-8 },
  { kind: "ftrl", alpha: 0.1, beta: 1, l1: 0.01, l2: 0.1 },
];
const specs = (optimizer: OptimizerSpec): Array<[LearnerSpec, EvaluationTask]> => [
  [{ kind: "logistic", features, optimizer, l2: 0.001 }, "binary"],
  [{ kind: "multinomial", classes: 3, features, optimizer }, "multiclass"],
  [{ kind: "linear", features, optimizer: optimizer.kind === "sgd" ? { ...optimizer, learningRate: 0.005 } : optimizer }, "regression"],
];

const example = fc.record({
  a: fc.double({ min: -100, max: 100, noNaN: true }),
  b: fc.double({ min: -1, max: 1, noNaN: true }),
  c: fc.constantFrom("x", "y", "z", "w"),
  d: fc.option(fc.constantFrom("p", "q"), { nil: undefined }),
  y: fc.nat(2),
});
type Example = typeof example extends fc.Arbitrary<infer T> ? T : never;

function labelFor(task: EvaluationTask, e: Example): number {
  return task === "binary" ? e.y % 2 : task === "multiclass" ? e.y : e.a * 0.3 - e.y;
}

function run(spec: LearnerSpec, task: EvaluationTask, stream: Example[], split?: number) {
  let learner = createLearner(spec);
  let evaluator = new PrequentialEvaluator(task, 5, 20);
  stream.forEach((e, i) => {
    if (i === split) {
      const restored = decodeCheckpoint(encodeCheckpoint({ learner, evaluator }));
      learner = restored.learner;
      evaluator = restored.evaluator as PrequentialEvaluator;
    }
    evaluator.testThenTrain(learner, e as FeatureValues, labelFor(task, e));
  });
  return { learner, evaluator, bytes: encodeCheckpoint({ learner, evaluator }) };
}

describe("learner checkpoints", () => {
  it("a run restored at any split point ends bit-identical to the uninterrupted run", () => {
    fc.assert(
      fc.property(fc.array(example, { minLength: 1, maxLength: 60 }), fc.nat(), fc.nat(2), fc.nat(2), (stream, cut, o, s) => {
        const [spec, task] = specs(optimizers[o] as OptimizerSpec)[s] as [LearnerSpec, EvaluationTask];
        const split = cut % (stream.length + 1);
        const straight = run(spec, task, stream);
        const resumed = run(spec, task, stream, split);
        expect(resumed.bytes).toEqual(straight.bytes);
        expect(Buffer.from(resumed.learner.weights.buffer).equals(Buffer.from(straight.learner.weights.buffer))).toBe(true);
        const probe = stream[0] as FeatureValues;
        expect(resumed.learner.predict(probe)).toEqual(straight.learner.predict(probe));
        expect(resumed.evaluator.cumulative()).toEqual(straight.evaluator.cumulative());
      }),
      { numRuns: 150 },
    );
  });

  it("is deterministic: the same stream twice gives the same bytes", () => {
    const stream = fc.sample(example, { seed: 42, numRuns: 200 });
    for (const optimizer of optimizers) {
      for (const [spec, task] of specs(optimizer)) expect(run(spec, task, stream).bytes).toEqual(run(spec, task, stream).bytes);
    }
  });

  it("round-trips a checkpoint without an evaluator, and refuses corrupt or foreign bytes", () => {
    const learner = createLearner({ kind: "logistic", features, optimizer: optimizers[2] as OptimizerSpec });
    learner.learn({ a: 1, b: 2, c: "x" }, 1);
    const bytes = encodeCheckpoint({ learner });
    const restored = decodeCheckpoint(bytes);
    expect(restored.evaluator).toBeUndefined();
    expect(encodeCheckpoint(restored)).toEqual(bytes);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 3))).toThrow(InvalidCheckpointError);
    const future = Uint8Array.from(bytes);
    future[4] = 2;
    expect(() => decodeCheckpoint(future)).toThrow(/format 2/);
    expect(() => decodeCheckpoint(Uint8Array.of(1, 2, 3, 4, 5))).toThrow(/bad magic/);
  });
});

import { describe, expect, it } from "vitest";
import type { LogRecord } from "./example-log.js";
import { decodeLogRecord, encodeLogRecord } from "./example-log.js";
import { decodeLiveState, encodeLiveState, LiveLearner } from "./live-learner.js";
import type { LearnerDefinition } from "./model.js";

const definition: LearnerDefinition = {
  project: "p",
  name: "ctr",
  kind: "logistic",
  classes: 0,
  inputs: [
    { name: "x", type: "numeric", source: { kind: "request", name: "x" } },
    { name: "c", type: "categorical", source: { kind: "request", name: "c" } },
  ],
  hashBuckets: 8,
  optimizer: { kind: "adagrad", learningRate: 0.1, epsilon: 1e-8 },
  l2: 0,
  interceptLearningRate: 0.01,
  divergenceThreshold: 1e12,
  checkpoint: { everyExamples: 10, everySeconds: 10 },
  metricsWindowSeconds: 60,
  description: "",
  createTime: new Date(0),
  createdBy: "test",
};

const example = (i: number): LogRecord => ({
  kind: "example",
  features: { x: Math.sin(i), c: `v${i % 3}` },
  label: Math.sin(i) > 0 ? 1 : 0,
  eventTime: 1_000_000 * i,
  requestId: "",
});

describe("LiveLearner", () => {
  it("learns entries in log order, counting unmatched and refused ones without learning them", () => {
    const state = new LiveLearner(definition);
    expect(state.apply(1, example(1))).toBe("learned");
    expect(state.apply(2, { kind: "unmatched", requestId: "r", label: 1, reason: "none", time: 0 })).toBe("unmatched");
    expect(state.apply(3, { ...(example(3) as Extract<LogRecord, { kind: "example" }>), features: { x: Number.NaN, c: null } })).toBe(
      "refused",
    );
    expect(() => state.apply(5, example(5))).toThrow(/applied after 3/);
    expect([state.learner.examples, state.position, state.unmatchedLabels, state.refusedExamples]).toEqual([1, 3, 1, 1]);
    expect(state.evaluator.cumulative().examples).toBe(1);
    expect(state.windows.metrics().map((w) => [w.start, w.end])).toEqual([[0, 60_000_000]]);
  });

  it("resumes from its encoded state exactly where an uninterrupted run is", () => {
    const whole = new LiveLearner(definition);
    const first = new LiveLearner(definition);
    for (let i = 1; i <= 200; i++) {
      whole.apply(i, decodeLogRecord(encodeLogRecord(example(i))));
      if (i <= 120) first.apply(i, example(i));
    }
    const resumed = decodeLiveState(definition, encodeLiveState(first));
    for (let i = 121; i <= 200; i++) resumed.apply(i, example(i));
    expect(encodeLiveState(resumed)).toEqual(encodeLiveState(whole));
    expect(resumed.windows.metrics()).toEqual(whole.windows.metrics());
  });

  it("predicts every row of a request from one state, and refuses to once diverged", () => {
    const state = new LiveLearner(definition);
    for (let i = 1; i <= 50; i++) state.apply(i, example(i));
    const outputs = state.predict(
      { x: { type: "float64", data: Float64Array.of(0.5, -0.5), dims: [2, 1] }, c: { type: "string", data: ["v1", ""], dims: [2, 1] } },
      2,
    );
    expect(outputs.probability?.dims).toEqual([2]);
    expect(Array.from(outputs.probability?.data as Float64Array)).toEqual([
      state.learner.predict({ x: 0.5, c: "v1" }),
      state.learner.predict({ x: -0.5, c: null }),
    ]);
    const wild = new LiveLearner({ ...definition, optimizer: { kind: "sgd", learningRate: 1e200, schedule: "constant", power: 0 } });
    let outcome = "learned";
    for (let i = 1; i <= 20 && outcome !== "diverged"; i++)
      outcome = wild.apply(i, { ...(example(i) as Extract<LogRecord, { kind: "example" }>), features: { x: i * 1e10, c: null } });
    expect(outcome).toBe("diverged");
    expect(() => wild.predict({ x: { type: "float64", data: Float64Array.of(1), dims: [1, 1] } }, 1)).toThrow(/diverged/);
  });
});

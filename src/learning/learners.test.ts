import { describe, expect, it } from "vitest";
import type { SluiceError } from "../common/errors.js";
import { InvalidExampleError, LearnerDivergedError } from "./errors.js";
import { LinearRegression, LogisticRegression, MultinomialLogisticRegression, sigmoid } from "./learners.js";

const sgd = { kind: "sgd" as const, learningRate: 0.1, schedule: "constant" as const, power: 0 };
const features = { numeric: ["a"], categorical: ["c"], buckets: 4 };

describe("LogisticRegression", () => {
  it("takes one step by hand: scaler first, loss gradient sigmoid(z) - y, intercept by intercept_lr", () => {
    const model = new LogisticRegression({
      features: { numeric: [], categorical: ["c"], buckets: 1 },
      optimizer: sgd,
      interceptLearningRate: 0.05,
    });
    model.learn({ c: "x" }, 1);
    // z = 0 → d = 0.5 - 1 = -0.5; b = 0.025; w = 0.05.
    expect(Array.from(model.intercepts)).toEqual([0.025]);
    expect(Array.from(model.weights)).toEqual([0.05]);
    expect(model.predict({ c: "x" })).toBe(sigmoid(0.025 + 0.05));
  });

  it("learns a separable stream and stays healthy", () => {
    const model = new LogisticRegression({ features, optimizer: sgd });
    for (let i = 0; i < 2000; i++) {
      const a = (i * 7919) % 100;
      model.learn({ a, c: a > 50 ? "hi" : "lo" }, a > 50 ? 1 : 0);
    }
    expect(model.predict({ a: 90, c: "hi" })).toBeGreaterThan(0.9);
    expect(model.predict({ a: 10, c: "lo" })).toBeLessThan(0.1);
    expect(model.health()).toEqual({ status: "ok" });
    expect(model.examples).toBe(2000);
  });

  it("refuses NaN, non-binary and non-numeric labels with an invalid_argument SluiceError", () => {
    const model = new LogisticRegression({ features, optimizer: sgd });
    const refused = (y: unknown) => {
      try {
        model.learn({ a: 1 }, y as number);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const y of [Number.NaN, 2, -1, "1", Number.POSITIVE_INFINITY]) {
      const error = refused(y);
      expect(error).toBeInstanceOf(InvalidExampleError);
      expect((error as SluiceError).kind).toBe("invalid_argument");
    }
    expect(model.examples).toBe(0);
    expect(model.encoder.statistics(0).count).toBe(0);
  });
});

describe("MultinomialLogisticRegression", () => {
  it("predicts a distribution and learns the class of a category", () => {
    const model = new MultinomialLogisticRegression({
      classes: 3,
      features: { numeric: [], categorical: ["c"], buckets: 16 },
      optimizer: sgd,
    });
    const p0 = model.predict({ c: "a" });
    expect(Array.from(p0)).toEqual([1 / 3, 1 / 3, 1 / 3]);
    for (let i = 0; i < 300; i++) model.learn({ c: ["a", "b", "c"][i % 3] as string }, i % 3);
    const p = model.predict({ c: "b" });
    expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(p[1]).toBeGreaterThan(0.8);
  });

  it("refuses a class index out of range or not an integer", () => {
    const model = new MultinomialLogisticRegression({ classes: 3, features, optimizer: sgd });
    expect(() => model.learn({ a: 1 }, 3)).toThrow(/class index/);
    expect(() => model.learn({ a: 1 }, 1.5)).toThrow(InvalidExampleError);
    expect(() => model.learn({ a: 1 }, true)).toThrow(InvalidExampleError);
  });
});

describe("LinearRegression", () => {
  it("uses the squared-loss gradient 2(ŷ - y)", () => {
    const model = new LinearRegression({
      features: { numeric: [], categorical: ["c"], buckets: 1 },
      optimizer: sgd,
      interceptLearningRate: 0.1,
    });
    model.learn({ c: "x" }, 3);
    // d = 2 * (0 - 3) = -6 → b = 0.6, w = 0.6.
    expect(model.intercepts[0]).toBe(0 - 0.1 * -6);
    expect(model.weights[0]).toBe(0 - 0.1 * (1 * -6));
  });

  it("reports divergence when the rolling loss explodes, then refuses to learn", () => {
    const model = new LinearRegression({
      features: { numeric: ["a"], categorical: [], buckets: 0 },
      optimizer: { ...sgd, learningRate: 5 },
      divergenceThreshold: 1e6,
      healthWindow: 10,
    });
    for (let i = 0; i < 200 && model.health().status === "ok"; i++) model.learn({ a: i % 2 === 0 ? 1 : -1 }, i % 2 === 0 ? 10 : -10);
    const health = model.health();
    expect(health.status).toBe("diverged");
    expect(health.status === "diverged" && health.reason).toMatch(/rolling training loss|weight|intercept|loss is/);
    expect(() => model.learn({ a: 1 }, 1)).toThrow(LearnerDivergedError);
  });

  it("refuses an infinite label", () => {
    const model = new LinearRegression({ features, optimizer: sgd });
    expect(() => model.learn({ a: 1 }, Number.NEGATIVE_INFINITY)).toThrow(/must be finite/);
  });

  it("predictThenLearn gives predict's answer and learn's state, bit for bit, for every kind", () => {
    const spec = {
      features: { numeric: ["a", "b"], categorical: ["c", "d"], buckets: 16 },
      optimizer: { kind: "adagrad" as const, learningRate: 0.1, epsilon: 1e-8 },
    };
    const pairs = [
      [new LogisticRegression(spec), new LogisticRegression(spec), (i: number) => i % 3 === 0],
      [
        new MultinomialLogisticRegression({ ...spec, classes: 3 }),
        new MultinomialLogisticRegression({ ...spec, classes: 3 }),
        (i: number) => i % 3,
      ],
      [new LinearRegression(spec), new LinearRegression(spec), (i: number) => Math.sin(i) * 5],
    ] as const;
    for (const [split, fused, labelOf] of pairs) {
      for (let i = 0; i < 300; i++) {
        const x = { a: Math.cos(i), b: i % 7, c: `v${i % 5}`, d: i % 4 === 0 ? null : `w${i % 11}` };
        const expected = split.predict(x);
        split.learn(x, labelOf(i) as never);
        expect(fused.predictThenLearn(x, labelOf(i) as never)).toEqual(expected);
      }
      expect(Array.from(fused.weights)).toEqual(Array.from(split.weights));
      expect(Array.from(fused.intercepts)).toEqual(Array.from(split.intercepts));
      expect(fused.encoder.statistics(0)).toEqual(split.encoder.statistics(0));
      // A refused label changes nothing, the scaler included.
      const before = Array.from(fused.weights);
      expect(() => fused.predictThenLearn({ a: 1, b: 2, c: null, d: null }, Number.NaN)).toThrow(InvalidExampleError);
      expect(Array.from(fused.weights)).toEqual(before);
      expect(fused.encoder.statistics(0)).toEqual(split.encoder.statistics(0));
    }
  });
});

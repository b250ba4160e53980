import { describe, expect, it } from "vitest";
import { LogisticRegression } from "./learners.js";
import { PrequentialEvaluator } from "./prequential.js";

describe("PrequentialEvaluator", () => {
  it("computes log loss, accuracy and binned AUC cumulatively and over the window", () => {
    const e = new PrequentialEvaluator("binary", 2, 10);
    e.record(0.9, 1);
    e.record(0.2, 0);
    e.record(0.6, 0);
    const all = e.cumulative();
    expect(all.examples).toBe(3);
    expect(all.accuracy).toBe(2 / 3);
    expect(all.logLoss).toBeCloseTo((-Math.log(0.9) - Math.log(0.8) - Math.log(0.4)) / 3, 12);
    expect(all.auc).toBe(1); // the positive outscores both negatives
    const last = e.rolling();
    expect(last.examples).toBe(2);
    expect(last.accuracy).toBe(0.5);
    expect(last.auc).toBeNaN(); // the window holds no positive
  });

  it("counts scores in one bin as ties", () => {
    const e = new PrequentialEvaluator("binary", 10, 10);
    e.record(0.51, 1);
    e.record(0.55, 0);
    expect(e.cumulative().auc).toBe(0.5);
  });

  it("computes RMSE and MAE for regression", () => {
    const e = new PrequentialEvaluator("regression", 10);
    e.record(1, 2);
    e.record(3, 0);
    expect(e.cumulative()).toEqual({ examples: 2, rmse: Math.sqrt((1 + 9) / 2), mae: 2 });
  });

  it("scores each example before the learner learns it", () => {
    const learner = new LogisticRegression({
      features: { numeric: [], categorical: ["c"], buckets: 1 },
      optimizer: { kind: "sgd", learningRate: 0.1, schedule: "constant", power: 0 },
    });
    const e = new PrequentialEvaluator("binary");
    e.testThenTrain(learner, { c: "x" }, 1);
    // The first score is the untrained 0.5.
    expect(e.cumulative().logLoss).toBe(-Math.log(0.5));
    expect(learner.examples).toBe(1);
  });
});

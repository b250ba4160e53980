import { describe, expect, it } from "vitest";
import { InvalidLearnerSpecError } from "./errors.js";
import { createOptimizer } from "./optimizers.js";

const idx = Uint32Array.of(0, 2);

describe("optimizers, against the formulas computed by hand", () => {
  it("SGD with inverse scaling uses lr / t^power at 1-based step t", () => {
    const opt = createOptimizer({ kind: "sgd", learningRate: 0.5, schedule: "inverse_scaling", power: 0.5 }, 3);
    const w = new Float64Array(3);
    opt.step(w, idx, Float64Array.of(1, -2), 2);
    expect(Array.from(w)).toEqual([-0.5, 0, 1]);
    opt.step(w, idx, Float64Array.of(1, -2), 2);
    const lr2 = 0.5 / Math.sqrt(2);
    expect(Array.from(w)).toEqual([-0.5 - lr2 * 1, 0, 1 - lr2 * -2]);
    expect(opt.steps).toBe(2);
  });

  it("constant SGD", () => {
    const opt = createOptimizer({ kind: "sgd", learningRate: 0.1, schedule: "constant", power: 0 }, 1);
    const w = Float64Array.of(1);
    opt.step(w, Uint32Array.of(0), Float64Array.of(3), 1);
    opt.step(w, Uint32Array.of(0), Float64Array.of(3), 1);
    expect(w[0]).toBe(1 - 0.1 * 3 - 0.1 * 3);
  });

  it("AdaGrad divides by the root of the accumulated squared gradients plus epsilon", () => {
    const opt = createOptimizer({ kind: "adagrad", learningRate: 0.1, epsilon: 1e-8 }, 3);
    const w = new Float64Array(3);
    opt.step(w, idx, Float64Array.of(2, -1), 2);
    let w0 = 0 - (0.1 / Math.sqrt(4 + 1e-8)) * 2;
    let w2 = 0 - (0.1 / Math.sqrt(1 + 1e-8)) * -1;
    expect(Array.from(w)).toEqual([w0, 0, w2]);
    opt.step(w, idx, Float64Array.of(1, 3), 2);
    w0 = w0 - (0.1 / Math.sqrt(4 + 1 + 1e-8)) * 1;
    w2 = w2 - (0.1 / Math.sqrt(1 + 9 + 1e-8)) * 3;
    expect(Array.from(w)).toEqual([w0, 0, w2]);
  });

  it("FTRL-Proximal follows McMahan et al. (2013), including the L1 dead zone", () => {
    const [alpha, beta, l1, l2] = [0.5, 1, 0.3, 0.2];
    const opt = createOptimizer({ kind: "ftrl", alpha, beta, l1, l2 }, 1);
    const w = new Float64Array(1);
    const at = Uint32Array.of(0);
    const weight = (z: number, n: number) => (Math.abs(z) <= l1 ? 0 : -(z - Math.sign(z) * l1) / ((beta + Math.sqrt(n)) / alpha + l2));
    // Step 1: g = 0.2, n = 0 → sigma = sqrt(0.04) / alpha; z = 0.2 - sigma * 0 = 0.2 ≤ l1 → w = 0.
    opt.step(w, at, Float64Array.of(0.2), 1);
    expect(w[0]).toBe(0);
    // Step 2: g = 0.5 with w = 0: sigma irrelevant; z = 0.7, n = 0.29.
    opt.step(w, at, Float64Array.of(0.5), 1);
    const z2 = 0.2 + 0.5;
    const n2 = 0.2 * 0.2 + 0.5 * 0.5;
    expect(w[0]).toBe(weight(z2, n2));
    // Step 3: g = -0.4 with w ≠ 0: the sigma * w correction matters.
    const w2 = w[0] as number;
    opt.step(w, at, Float64Array.of(-0.4), 1);
    const sigma = (Math.sqrt(n2 + 0.4 * 0.4) - Math.sqrt(n2)) / alpha;
    const z3 = z2 + -0.4 - sigma * w2;
    expect(w[0]).toBe(weight(z3, n2 + 0.4 * 0.4));
  });

  it("refuses bad hyperparameters", () => {
    expect(() => createOptimizer({ kind: "sgd", learningRate: 0, schedule: "constant", power: 0 }, 1)).toThrow(InvalidLearnerSpecError);
    expect(() => createOptimizer({ kind: "adagrad", learningRate: Number.NaN, epsilon: 1e-8 }, 1)).toThrow(InvalidLearnerSpecError);
    expect(() => createOptimizer({ kind: "ftrl", alpha: 0.1, beta: 1, l1: -1, l2: 0 }, 1)).toThrow(InvalidLearnerSpecError);
  });
});

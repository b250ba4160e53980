/**
 * Optimizers over sparse gradients. Each owns its per-coordinate accumulators (sized to the weight
 * vector) and updates only the coordinates a gradient names, so a step costs O(non-zeros).
 * Step numbers `t` are 1-based: the first step is t = 1.
 */
import type { StateReader, StateWriter } from "./binary.js";
import { InvalidLearnerSpecError } from "./errors.js";

/** Plain SGD; `inverse_scaling` uses `learningRate / t^power` at step t (River's `InverseScaling`). */
export interface SgdSpec {
  kind: "sgd";
  learningRate: number;
  schedule: "constant" | "inverse_scaling";
  /** Exponent of the inverse-scaling schedule; ignored when constant. */
  power: number;
}

/** AdaGrad: `w -= learningRate / sqrt(G + epsilon) * g`, G the accumulated squared gradient (River's form). */
export interface AdaGradSpec {
  kind: "adagrad";
  learningRate: number;
  epsilon: number;
}

/** FTRL-Proximal (McMahan et al. 2013, Algorithm 1) with per-coordinate z and n. */
export interface FtrlSpec {
  kind: "ftrl";
  alpha: number;
  beta: number;
  l1: number;
  l2: number;
}

/** Which optimizer a learner uses, with its hyperparameters. */
export type OptimizerSpec = SgdSpec | AdaGradSpec | FtrlSpec;

/** Updates weights in place from a sparse gradient. */
export interface Optimizer {
  readonly spec: OptimizerSpec;
  /** Steps taken so far. */
  readonly steps: number;
  /** One step: `weights[indices[k]]` moves against `gradients[k]` for k < `count`; indices must be unique. */
  step(weights: Float64Array, indices: Uint32Array, gradients: Float64Array, count: number): void;
  write(w: StateWriter): void;
  read(r: StateReader): void;
}

/** Checks the hyperparameters, throwing {@link InvalidLearnerSpecError} for the first bad one. */
export function validateOptimizerSpec(spec: OptimizerSpec): void {
  const positive = (field: string, value: number) => {
    if (!(Number.isFinite(value) && value > 0))
      throw new InvalidLearnerSpecError(`optimizer.${field}`, `must be a finite number > 0, got ${value}`);
  };
  const nonNegative = (field: string, value: number) => {
    if (!(Number.isFinite(value) && value >= 0))
      throw new InvalidLearnerSpecError(`optimizer.${field}`, `must be a finite number >= 0, got ${value}`);
  };
  switch (spec.kind) {
    case "sgd":
      positive("learningRate", spec.learningRate);
      nonNegative("power", spec.power);
      if (spec.schedule !== "constant" && spec.schedule !== "inverse_scaling") {
        throw new InvalidLearnerSpecError("optimizer.schedule", `unknown schedule "${spec.schedule}"`);
      }
      return;
    case "adagrad":
      positive("learningRate", spec.learningRate);
      positive("epsilon", spec.epsilon);
      return;
    case "ftrl":
      positive("alpha", spec.alpha);
      nonNegative("beta", spec.beta);
      nonNegative("l1", spec.l1);
      nonNegative("l2", spec.l2);
      return;
    default:
      throw new InvalidLearnerSpecError("optimizer.kind", `unknown optimizer "${(spec as { kind: string }).kind}"`);
  }
}

/** Builds the optimizer a spec names for a weight vector of `dimension` coordinates. */
export function createOptimizer(spec: OptimizerSpec, dimension: number): Optimizer {
  validateOptimizerSpec(spec);
  switch (spec.kind) {
    case "sgd":
      return new Sgd(spec);
    case "adagrad":
      return new AdaGrad(spec, dimension);
    case "ftrl":
      return new Ftrl(spec, dimension);
  }
}

class Sgd implements Optimizer {
  steps = 0;

  constructor(readonly spec: SgdSpec) {}

  step(weights: Float64Array, indices: Uint32Array, gradients: Float64Array, count: number): void {
    this.steps++;
    const rate = this.spec.schedule === "constant" ? this.spec.learningRate : this.spec.learningRate / this.steps ** this.spec.power;
    for (let k = 0; k < count; k++) {
      const i = indices[k] as number;
      weights[i] = (weights[i] as number) - rate * (gradients[k] as number);
    }
  }

  write(w: StateWriter): void {
    w.f64(this.steps);
  }

  read(r: StateReader): void {
    this.steps = r.f64();
  }
}

class AdaGrad implements Optimizer {
  steps = 0;
  private readonly squaredGradients: Float64Array;

  constructor(
    readonly spec: AdaGradSpec,
    dimension: number,
  ) {
    this.squaredGradients = new Float64Array(dimension);
  }

  step(weights: Float64Array, indices: Uint32Array, gradients: Float64Array, count: number): void {
    this.steps++;
    const { learningRate, epsilon } = this.spec;
    for (let k = 0; k < count; k++) {
      const i = indices[k] as number;
      const g = gradients[k] as number;
      const accumulated = (this.squaredGradients[i] as number) + g * g;
      this.squaredGradients[i] = accumulated;
      weights[i] = (weights[i] as number) - (learningRate / Math.sqrt(accumulated + epsilon)) * g;
    }
  }

  write(w: StateWriter): void {
    w.f64(this.steps);
    w.f64s(this.squaredGradients);
  }

  read(r: StateReader): void {
    this.steps = r.f64();
    this.squaredGradients.set(r.f64s(this.squaredGradients.length));
  }
}

/**
 * FTRL-Proximal. The paper computes `w_i` lazily from `(z_i, n_i)` when coordinate i is next used;
 * since `z_i` and `n_i` change only when coordinate i is in a gradient, computing `w_i` right after
 * that update and storing it yields the same values as the lazy form, and keeps prediction free of
 * optimizer state. (River's `FTRLProximal` differs: it recomputes w from the z and n of the previous
 * step, and leaves w unchanged rather than 0 when |z| <= l1.)
 */
class Ftrl implements Optimizer {
  steps = 0;
  private readonly z: Float64Array;
  private readonly n: Float64Array;

  constructor(
    readonly spec: FtrlSpec,
    dimension: number,
  ) {
    this.z = new Float64Array(dimension);
    this.n = new Float64Array(dimension);
  }

  step(weights: Float64Array, indices: Uint32Array, gradients: Float64Array, count: number): void {
    this.steps++;
    const { alpha, beta, l1, l2 } = this.spec;
    for (let k = 0; k < count; k++) {
      const i = indices[k] as number;
      const g = gradients[k] as number;
      const n = this.n[i] as number;
      const sigma = (Math.sqrt(n + g * g) - Math.sqrt(n)) / alpha;
      const z = (this.z[i] as number) + g - sigma * (weights[i] as number);
      const nNext = n + g * g;
      this.z[i] = z;
      this.n[i] = nNext;
      weights[i] = Math.abs(z) <= l1 ? 0 : -(z - Math.sign(z) * l1) / ((beta + Math.sqrt(nNext)) / alpha + l2);
    }
  }

  write(w: StateWriter): void {
    w.f64(this.steps);
    w.f64s(this.z);
    w.f64s(this.n);
  }

  read(r: StateReader): void {
    this.steps = r.f64();
    this.z.set(r.f64s(this.z.length));
    this.n.set(r.f64s(this.n.length));
  }
}

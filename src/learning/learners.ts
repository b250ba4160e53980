/**
 * Online linear learners: binary logistic regression, multinomial (softmax) logistic regression and
 * linear regression. Each learns one example at a time from the sparse encoding of
 * {@link FeatureEncoder} and can predict between any two updates (serve while learning).
 *
 * One learning step, in this order (River's GLM `_fit`):
 * 1. validate the label, then update the scaler and encode x (see features.ts for the order);
 * 2. raw scores `z_k = b_k + w_k · x` with the pre-step weights;
 * 3. loss gradient `d_k` w.r.t. `z_k`, clamped to ±clipGradient;
 * 4. intercepts: `b_k -= interceptLearningRate * d_k` — plain SGD with a constant rate, never
 *    regularised and never passed through the optimizer (River's `intercept_lr`);
 * 5. weights: one optimizer step on `g_{k,i} = x_i * d_k + l2 * w_{k,i}` over the non-zeros of x.
 */
import type { StateReader, StateWriter } from "./binary.js";
import { InvalidExampleError, InvalidLearnerSpecError, LearnerDivergedError } from "./errors.js";
import { FeatureEncoder, type FeatureSpec, type FeatureValues, type SparseVector } from "./features.js";
import { createOptimizer, type Optimizer, type OptimizerSpec } from "./optimizers.js";
import { RollingMean } from "./rolling.js";

/** Options every learner kind shares; defaults follow River's `LogisticRegression`. */
export interface LearnerOptions {
  features: FeatureSpec;
  optimizer: OptimizerSpec;
  /** Constant SGD rate of the intercepts (default 0.01). */
  interceptLearningRate?: number;
  /** L2 penalty added to each weight's gradient, intercepts excluded (default 0). */
  l2?: number;
  /** Bound on |loss gradient| per example (default 1e12). */
  clipGradient?: number;
  /** Examples in the rolling training loss that health watches (default 1000). */
  healthWindow?: number;
  /** Rolling mean training loss above which the learner counts as diverged (default 1e12). */
  divergenceThreshold?: number;
}

/** A learner's full specification: its kind and options. */
export type LearnerSpec =
  | ({ kind: "logistic" } & LearnerOptions)
  | ({ kind: "multinomial"; classes: number } & LearnerOptions)
  | ({ kind: "linear" } & LearnerOptions);

/** Whether a learner can still be trusted. Divergence is sticky until the learner is replaced. */
export type LearnerHealth = { status: "ok" } | { status: "diverged"; reason: string; atExample: number };

/** The label each kind learns: 0/1 (or boolean), a class index, or a real value. */
export type Label = number | boolean;

/** Fills the defaults of {@link LearnerOptions} and validates, throwing {@link InvalidLearnerSpecError}. */
export function resolveOptions(spec: LearnerSpec): Required<LearnerOptions> {
  const resolved = {
    features: spec.features,
    optimizer: spec.optimizer,
    interceptLearningRate: spec.interceptLearningRate ?? 0.01,
    l2: spec.l2 ?? 0,
    clipGradient: spec.clipGradient ?? 1e12,
    healthWindow: spec.healthWindow ?? 1000,
    divergenceThreshold: spec.divergenceThreshold ?? 1e12,
  };
  const check = (field: string, ok: boolean, value: number) => {
    if (!ok) throw new InvalidLearnerSpecError(field, `out of range: ${value}`);
  };
  check(
    "interceptLearningRate",
    Number.isFinite(resolved.interceptLearningRate) && resolved.interceptLearningRate >= 0,
    resolved.interceptLearningRate,
  );
  check("l2", Number.isFinite(resolved.l2) && resolved.l2 >= 0, resolved.l2);
  check("clipGradient", resolved.clipGradient > 0, resolved.clipGradient);
  check("healthWindow", Number.isInteger(resolved.healthWindow) && resolved.healthWindow >= 1, resolved.healthWindow);
  check("divergenceThreshold", resolved.divergenceThreshold > 0, resolved.divergenceThreshold);
  if (spec.kind === "multinomial" && !(Number.isInteger(spec.classes) && spec.classes >= 2)) {
    throw new InvalidLearnerSpecError("classes", `a multinomial learner needs an integer number of classes >= 2, got ${spec.classes}`);
  }
  return resolved;
}

/** Loss of one example and its gradient w.r.t. each raw score, written into `gradient`. */
type LossFunction = (scores: Float64Array, label: number, gradient: Float64Array) => number;

/** The shared machinery; subclasses choose the output count, link, loss and label rule. */
abstract class LinearLearner<P> {
  readonly encoder: FeatureEncoder;
  readonly optimizer: Optimizer;
  /** Row-major: output k's weights at `[k * dimension, (k + 1) * dimension)`. */
  readonly weights: Float64Array;
  readonly intercepts: Float64Array;
  protected readonly options: Required<LearnerOptions>;
  private readonly rollingLoss: RollingMean;
  private examplesLearned = 0;
  private healthState: LearnerHealth = { status: "ok" };
  // Buffers of one learning step, reused so that learning allocates nothing per example.
  private readonly lossGradient: Float64Array;
  private readonly scoreBuffer: Float64Array;
  private readonly stepIndices: Uint32Array;
  private readonly stepGradients: Float64Array;

  constructor(
    readonly spec: LearnerSpec,
    readonly outputs: number,
  ) {
    this.options = resolveOptions(spec);
    this.encoder = new FeatureEncoder(spec.features);
    this.weights = new Float64Array(outputs * this.encoder.dimension);
    this.intercepts = new Float64Array(outputs);
    this.optimizer = createOptimizer(spec.optimizer, this.weights.length);
    this.rollingLoss = new RollingMean(this.options.healthWindow);
    const inputs = spec.features.numeric.length + spec.features.categorical.length;
    this.lossGradient = new Float64Array(outputs);
    this.scoreBuffer = new Float64Array(outputs);
    this.stepIndices = new Uint32Array(inputs * outputs);
    this.stepGradients = new Float64Array(inputs * outputs);
  }

  /** The options with their defaults filled in. */
  resolvedOptions(): Required<LearnerOptions> {
    return this.options;
  }

  /** Examples learned so far. */
  get examples(): number {
    return this.examplesLearned;
  }

  /** "ok", or "diverged" with the reason and the example at which it was seen. */
  health(): LearnerHealth {
    return this.healthState;
  }

  /** Mean training loss over the health window (each loss taken before its own update). */
  rollingTrainingLoss(): number {
    return this.rollingLoss.mean();
  }

  /** Predicts with the current weights and scaler statistics; changes nothing. */
  predict(x: FeatureValues): P {
    return this.output(this.scores(this.encoder.encode(x)));
  }

  /** Learns one example (see the module comment for the step order). Refuses bad input before any change. */
  learn(x: FeatureValues, y: Label): void {
    if (this.healthState.status === "diverged") throw new LearnerDivergedError(this.healthState.reason, this.healthState.atExample);
    const label = this.checkLabel(y);
    this.step(this.encoder.learnAndEncode(x), label);
  }

  /**
   * Test-then-train in one pass: the prediction of `predict(x)`, then the step of `learn(x, y)`,
   * with the same results bit for bit, encoding the example once. Refuses bad input before any change.
   */
  predictThenLearn(x: FeatureValues, y: Label): P {
    if (this.healthState.status === "diverged") throw new LearnerDivergedError(this.healthState.reason, this.healthState.atExample);
    const encoded = this.encoder.encode(x, true);
    const prediction = this.output(this.scores(encoded));
    const label = this.checkLabel(y);
    this.step(this.encoder.learnEncoded(encoded), label);
    return prediction;
  }

  /** Steps 2 to 5 of the module comment, for an example encoded with its statistics learned. */
  private step(encoded: SparseVector, label: number): void {
    const scores = this.scores(encoded);
    const lossGradient = this.lossGradient;
    const loss = this.loss(scores, label, lossGradient);
    this.examplesLearned++;
    if (!Number.isFinite(loss)) {
      this.diverge(`training loss is ${loss}`);
      return;
    }
    const clip = this.options.clipGradient;
    for (let k = 0; k < this.outputs; k++) lossGradient[k] = Math.min(clip, Math.max(-clip, lossGradient[k] as number));
    this.applyStep(encoded, lossGradient);
    this.rollingLoss.push(loss);
    this.checkHealth(encoded);
  }

  private applyStep(x: SparseVector, lossGradient: Float64Array): void {
    const dimension = this.encoder.dimension;
    const nnz = x.indices.length;
    const indices = this.stepIndices;
    const gradient = this.stepGradients;
    const { l2, interceptLearningRate } = this.options;
    for (let k = 0; k < this.outputs; k++) {
      const d = lossGradient[k] as number;
      this.intercepts[k] = (this.intercepts[k] as number) - interceptLearningRate * d;
      for (let j = 0; j < nnz; j++) {
        const at = k * dimension + (x.indices[j] as number);
        const xj = x.values[j] as number;
        indices[k * nnz + j] = at;
        // The L2 term only when asked, so l2 = 0 adds no rounding step.
        gradient[k * nnz + j] = l2 === 0 ? xj * d : xj * d + l2 * (this.weights[at] as number);
      }
    }
    this.optimizer.step(this.weights, indices, gradient, nnz * this.outputs);
  }

  private checkHealth(x: SparseVector): void {
    const dimension = this.encoder.dimension;
    for (let k = 0; k < this.outputs; k++) {
      if (!Number.isFinite(this.intercepts[k] as number)) {
        this.diverge(`intercept ${k} is ${this.intercepts[k]}`);
        return;
      }
      // Only the coordinates this step touched can have changed.
      for (const i of x.indices) {
        const w = this.weights[k * dimension + i];
        if (!Number.isFinite(w)) {
          this.diverge(`weight ${k * dimension + i} is ${w}`);
          return;
        }
      }
    }
    const mean = this.rollingLoss.mean();
    if (mean > this.options.divergenceThreshold) {
      this.diverge(`rolling training loss ${mean} exceeds the threshold ${this.options.divergenceThreshold}`);
    }
  }

  private diverge(reason: string): void {
    this.healthState = { status: "diverged", reason, atExample: this.examplesLearned };
  }

  /** Raw scores `b_k + w_k · x`, in a buffer the next call reuses. */
  protected scores(x: SparseVector): Float64Array {
    const dimension = this.encoder.dimension;
    const out = this.scoreBuffer;
    for (let k = 0; k < this.outputs; k++) {
      let sum = this.intercepts[k] as number;
      const base = k * dimension;
      for (let j = 0; j < x.indices.length; j++) sum += (this.weights[base + (x.indices[j] as number)] as number) * (x.values[j] as number);
      out[k] = sum;
    }
    return out;
  }

  protected abstract output(scores: Float64Array): P;
  protected abstract loss: LossFunction;
  /** Validates and converts a label, throwing {@link InvalidExampleError}. */
  protected abstract checkLabel(y: Label): number;

  /** Writes everything that changes while learning (the spec is written by state.ts). */
  writeState(w: StateWriter): void {
    w.f64(this.examplesLearned);
    w.f64s(this.weights);
    w.f64s(this.intercepts);
    this.encoder.write(w);
    this.optimizer.write(w);
    this.rollingLoss.write(w);
    w.u8(this.healthState.status === "ok" ? 0 : 1);
    if (this.healthState.status === "diverged") {
      w.string(this.healthState.reason);
      w.f64(this.healthState.atExample);
    }
  }

  /** Reads what {@link writeState} wrote, into a learner built from the same spec. */
  readState(r: StateReader): void {
    this.examplesLearned = r.f64();
    this.weights.set(r.f64s(this.weights.length));
    this.intercepts.set(r.f64s(this.intercepts.length));
    this.encoder.read(r);
    this.optimizer.read(r);
    this.rollingLoss.read(r);
    this.healthState = r.u8() === 0 ? { status: "ok" } : { status: "diverged", reason: r.string(), atExample: r.f64() };
  }
}

/** Numerically stable log(1 + e^a). */
function softplus(a: number): number {
  return Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
}

/** Numerically stable logistic function. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function checkFiniteLabel(y: Label): number {
  if (typeof y !== "number") throw new InvalidExampleError("label", `expected a number, got ${typeof y}`);
  if (!Number.isFinite(y)) throw new InvalidExampleError("label", `must be finite, got ${y}`);
  return y;
}

/** Binary logistic regression: `predict` is P(y = 1); log loss; loss gradient `sigmoid(z) - y`. */
export class LogisticRegression extends LinearLearner<number> {
  constructor(spec: Omit<Extract<LearnerSpec, { kind: "logistic" }>, "kind">) {
    super({ ...spec, kind: "logistic" }, 1);
  }

  protected output(scores: Float64Array): number {
    return sigmoid(scores[0] as number);
  }

  protected loss: LossFunction = (scores, label, gradient) => {
    const z = scores[0] as number;
    gradient[0] = sigmoid(z) - label;
    // -log(sigmoid(z)) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z): finite for any finite z.
    return label === 1 ? softplus(-z) : softplus(z);
  };

  protected checkLabel(y: Label): number {
    if (typeof y === "boolean") return y ? 1 : 0;
    const value = checkFiniteLabel(y);
    if (value !== 0 && value !== 1) throw new InvalidExampleError("label", `a binary label must be 0, 1, true or false, got ${value}`);
    return value;
  }
}

/** Multinomial logistic regression over K classes: `predict` is the softmax distribution. */
export class MultinomialLogisticRegression extends LinearLearner<Float64Array> {
  constructor(spec: Omit<Extract<LearnerSpec, { kind: "multinomial" }>, "kind">) {
    super({ ...spec, kind: "multinomial" }, spec.classes);
  }

  protected output(scores: Float64Array): Float64Array {
    const out = new Float64Array(scores.length);
    const max = Math.max(...scores);
    let total = 0;
    for (let k = 0; k < scores.length; k++) {
      const e = Math.exp((scores[k] as number) - max);
      out[k] = e;
      total += e;
    }
    for (let k = 0; k < scores.length; k++) out[k] = (out[k] as number) / total;
    return out;
  }

  protected loss: LossFunction = (scores, label, gradient) => {
    const p = this.output(scores);
    for (let k = 0; k < p.length; k++) gradient[k] = (p[k] as number) - (k === label ? 1 : 0);
    // Cross-entropy as log-sum-exp minus the true score, stable for any finite scores.
    const max = Math.max(...scores);
    let total = 0;
    for (const s of scores) total += Math.exp(s - max);
    return max + Math.log(total) - (scores[label] as number);
  };

  protected checkLabel(y: Label): number {
    const value = checkFiniteLabel(y);
    const classes = this.outputs;
    if (!Number.isInteger(value) || value < 0 || value >= classes) {
      throw new InvalidExampleError("label", `a class index must be an integer in [0, ${classes - 1}], got ${value}`);
    }
    return value;
  }
}

/** Linear regression: `predict` is the value; squared loss `(ŷ - y)^2`, gradient `2(ŷ - y)` as in River. */
export class LinearRegression extends LinearLearner<number> {
  constructor(spec: Omit<Extract<LearnerSpec, { kind: "linear" }>, "kind">) {
    super({ ...spec, kind: "linear" }, 1);
  }

  protected output(scores: Float64Array): number {
    return scores[0] as number;
  }

  protected loss: LossFunction = (scores, label, gradient) => {
    const error = (scores[0] as number) - label;
    gradient[0] = 2 * error;
    return error * error;
  };

  protected checkLabel(y: Label): number {
    return checkFiniteLabel(y);
  }
}

/** Any of the learners. */
export type Learner = LogisticRegression | MultinomialLogisticRegression | LinearRegression;

/** Builds the learner a spec names, with fresh state. */
export function createLearner(spec: LearnerSpec): Learner {
  switch (spec.kind) {
    case "logistic":
      return new LogisticRegression(spec);
    case "multinomial":
      return new MultinomialLogisticRegression(spec);
    case "linear":
      return new LinearRegression(spec);
    default:
      throw new InvalidLearnerSpecError("kind", `unknown learner kind "${(spec as { kind: string }).kind}"`);
  }
}

/**
 * Prequential (test-then-train) evaluation: each example is scored by the learner BEFORE the learner
 * learns it, so every score is an honest out-of-sample prediction. Metrics are kept both cumulatively
 * and over a rolling window of the last N examples.
 *
 * AUC is approximate: scores fall into `bins` equal-width bins over [0, 1] and pairs in the same bin
 * count as half-concordant (ties). The error is at most half the fraction of positive/negative pairs
 * that share a bin; with 1000 bins that is negligible unless scores crowd into one bin.
 */
import type { StateReader, StateWriter } from "./binary.js";
import type { FeatureValues } from "./features.js";
import type { Label, Learner } from "./learners.js";
import { RollingMean } from "./rolling.js";

/** What is being predicted, which fixes the metrics that apply. */
export type EvaluationTask = "binary" | "multiclass" | "regression";

/** Metrics over one span of examples; fields that do not apply to the task are absent. */
export interface Metrics {
  examples: number;
  logLoss?: number;
  accuracy?: number;
  auc?: number;
  rmse?: number;
  mae?: number;
}

/** Probabilities are clipped to [EPS, 1 - EPS] for log loss so one confident miss stays finite. */
const EPS = 1e-15;

/** Score-bin counts of positives and negatives, for the approximate AUC. */
class ScoreHistogram {
  readonly positives: Float64Array;
  readonly negatives: Float64Array;

  constructor(bins: number) {
    this.positives = new Float64Array(bins);
    this.negatives = new Float64Array(bins);
  }

  add(bin: number, positive: boolean, delta: number): void {
    const counts = positive ? this.positives : this.negatives;
    counts[bin] = (counts[bin] as number) + delta;
  }

  /** Probability that a random positive scores above a random negative, ties counting half. */
  auc(): number {
    let negativesBelow = 0;
    let area = 0;
    let positives = 0;
    for (let b = 0; b < this.positives.length; b++) {
      const pos = this.positives[b] as number;
      const neg = this.negatives[b] as number;
      area += pos * (negativesBelow + 0.5 * neg);
      negativesBelow += neg;
      positives += pos;
    }
    return positives === 0 || negativesBelow === 0 ? Number.NaN : area / (positives * negativesBelow);
  }
}

/** Cumulative and rolling metrics of a stream of (prediction, label) pairs. */
export class PrequentialEvaluator {
  private examples = 0;
  // Cumulative sums of the per-example quantities.
  private sumLogLoss = 0;
  private sumCorrect = 0;
  private sumSquaredError = 0;
  private sumAbsoluteError = 0;
  private readonly rollingLogLoss: RollingMean;
  private readonly rollingCorrect: RollingMean;
  private readonly rollingSquaredError: RollingMean;
  private readonly rollingAbsoluteError: RollingMean;
  private readonly cumulativeScores: ScoreHistogram;
  private readonly windowScores: ScoreHistogram;
  /** Ring of `bin * 2 + label` for the window, so an evicted example leaves the window histogram. */
  private readonly windowBins: Uint32Array;

  constructor(
    readonly task: EvaluationTask,
    readonly window = 1000,
    readonly bins = 1000,
  ) {
    this.rollingLogLoss = new RollingMean(window);
    this.rollingCorrect = new RollingMean(window);
    this.rollingSquaredError = new RollingMean(window);
    this.rollingAbsoluteError = new RollingMean(window);
    this.cumulativeScores = new ScoreHistogram(bins);
    this.windowScores = new ScoreHistogram(bins);
    this.windowBins = new Uint32Array(window);
  }

  /** Scores `x` with the learner, lets the learner learn it, and records the score (taken before the step) against `y`. */
  testThenTrain(learner: Learner, x: FeatureValues, y: Label): void {
    this.record(learner.predictThenLearn(x, y), y);
  }

  /** Records one prediction (P(y=1), class distribution, or value) against its label. */
  record(prediction: number | Float64Array, y: Label): void {
    const label = typeof y === "boolean" ? (y ? 1 : 0) : y;
    if (this.task === "regression") {
      const error = (prediction as number) - label;
      this.push(Number.NaN, Number.NaN, error * error, Math.abs(error));
    } else if (this.task === "binary") {
      const p = prediction as number;
      const clipped = Math.min(1 - EPS, Math.max(EPS, p));
      const loss = label === 1 ? -Math.log(clipped) : -Math.log(1 - clipped);
      this.push(loss, (p >= 0.5 ? 1 : 0) === label ? 1 : 0, Number.NaN, Number.NaN);
      this.recordScore(Math.min(this.bins - 1, Math.max(0, Math.floor(p * this.bins))), label === 1);
    } else {
      const p = prediction as Float64Array;
      let best = 0;
      for (let k = 1; k < p.length; k++) if ((p[k] as number) > (p[best] as number)) best = k;
      const loss = -Math.log(Math.min(1 - EPS, Math.max(EPS, p[label] ?? 0)));
      this.push(loss, best === label ? 1 : 0, Number.NaN, Number.NaN);
    }
  }

  private push(logLoss: number, correct: number, squaredError: number, absoluteError: number): void {
    this.examples++;
    if (this.task === "regression") {
      this.sumSquaredError += squaredError;
      this.sumAbsoluteError += absoluteError;
      this.rollingSquaredError.push(squaredError);
      this.rollingAbsoluteError.push(absoluteError);
    } else {
      this.sumLogLoss += logLoss;
      this.sumCorrect += correct;
      this.rollingLogLoss.push(logLoss);
      this.rollingCorrect.push(correct);
    }
  }

  private recordScore(bin: number, positive: boolean): void {
    const slot = (this.examples - 1) % this.window;
    if (this.examples > this.window) {
      const evicted = this.windowBins[slot] as number;
      this.windowScores.add(evicted >>> 1, (evicted & 1) === 1, -1);
    }
    this.windowBins[slot] = bin * 2 + (positive ? 1 : 0);
    this.windowScores.add(bin, positive, 1);
    this.cumulativeScores.add(bin, positive, 1);
  }

  /** Metrics over every example recorded. */
  cumulative(): Metrics {
    const n = this.examples;
    return this.metrics(
      n,
      this.sumLogLoss / n,
      this.sumCorrect / n,
      this.sumSquaredError / n,
      this.sumAbsoluteError / n,
      this.cumulativeScores,
    );
  }

  /** Metrics over the last `window` examples. */
  rolling(): Metrics {
    const n = Math.min(this.examples, this.window);
    return this.metrics(
      n,
      this.rollingLogLoss.mean(),
      this.rollingCorrect.mean(),
      this.rollingSquaredError.mean(),
      this.rollingAbsoluteError.mean(),
      this.windowScores,
    );
  }

  private metrics(examples: number, logLoss: number, accuracy: number, mse: number, mae: number, scores: ScoreHistogram): Metrics {
    if (this.task === "regression") return { examples, rmse: Math.sqrt(mse), mae };
    if (this.task === "multiclass") return { examples, logLoss, accuracy };
    return { examples, logLoss, accuracy, auc: scores.auc() };
  }

  write(w: StateWriter): void {
    w.f64(this.examples);
    for (const sum of [this.sumLogLoss, this.sumCorrect, this.sumSquaredError, this.sumAbsoluteError]) w.f64(sum);
    for (const rolling of [this.rollingLogLoss, this.rollingCorrect, this.rollingSquaredError, this.rollingAbsoluteError]) rolling.write(w);
    for (const histogram of [this.cumulativeScores, this.windowScores]) {
      w.f64s(histogram.positives);
      w.f64s(histogram.negatives);
    }
    w.u32s(this.windowBins);
  }

  read(r: StateReader): void {
    this.examples = r.f64();
    this.sumLogLoss = r.f64();
    this.sumCorrect = r.f64();
    this.sumSquaredError = r.f64();
    this.sumAbsoluteError = r.f64();
    for (const rolling of [this.rollingLogLoss, this.rollingCorrect, this.rollingSquaredError, this.rollingAbsoluteError]) rolling.read(r);
    for (const histogram of [this.cumulativeScores, this.windowScores]) {
      histogram.positives.set(r.f64s(this.bins));
      histogram.negatives.set(r.f64s(this.bins));
    }
    this.windowBins.set(r.u32s(this.window));
  }
}

/**
 * A learner's whole state — spec, weights, intercepts, optimizer accumulators, scaler statistics,
 * example count, health and (optionally) its prequential metrics — to and from bytes. Every number
 * is a raw little-endian IEEE-754 double, so restoring and continuing gives bit-identical weights to
 * never having stopped.
 *
 * Layout: "SLRN" magic, format byte (1), then the spec, the learner state, a flag byte and, when set,
 * the evaluator (task, window, bins, state).
 */
import { StateReader, StateWriter } from "./binary.js";
import { InvalidCheckpointError } from "./errors.js";
import type { FeatureSpec } from "./features.js";
import { createLearner, type Learner, type LearnerSpec, resolveOptions } from "./learners.js";
import type { OptimizerSpec } from "./optimizers.js";
import { type EvaluationTask, PrequentialEvaluator } from "./prequential.js";

/** The checkpoint format this code writes and the only one it reads. */
export const CHECKPOINT_FORMAT = 1;
const MAGIC = [0x53, 0x4c, 0x52, 0x4e]; // "SLRN"
const KINDS = ["logistic", "multinomial", "linear"] as const;
const OPTIMIZERS = ["sgd", "adagrad", "ftrl"] as const;
const TASKS: readonly EvaluationTask[] = ["binary", "multiclass", "regression"];

/** A learner with, optionally, the prequential evaluator that watches it. */
export interface LearnerCheckpoint {
  learner: Learner;
  evaluator?: PrequentialEvaluator;
}

/** Serialises a learner (and evaluator) exactly; the same state always gives the same bytes. */
export function encodeCheckpoint({ learner, evaluator }: LearnerCheckpoint): Uint8Array {
  const w = new StateWriter();
  for (const byte of MAGIC) w.u8(byte);
  w.u8(CHECKPOINT_FORMAT);
  writeSpec(w, learner.spec);
  learner.writeState(w);
  w.u8(evaluator ? 1 : 0);
  if (evaluator) {
    w.u8(TASKS.indexOf(evaluator.task));
    w.u32(evaluator.window);
    w.u32(evaluator.bins);
    evaluator.write(w);
  }
  return w.bytes();
}

/** Rebuilds a learner (and evaluator) from {@link encodeCheckpoint}'s bytes; throws {@link InvalidCheckpointError}. */
export function decodeCheckpoint(bytes: Uint8Array): LearnerCheckpoint {
  const r = new StateReader(bytes);
  for (const byte of MAGIC) if (r.u8() !== byte) throw new InvalidCheckpointError("not a learner checkpoint (bad magic)");
  const format = r.u8();
  if (format !== CHECKPOINT_FORMAT)
    throw new InvalidCheckpointError(`format ${format} is not supported (this build reads ${CHECKPOINT_FORMAT})`);
  const learner = createLearner(readSpec(r));
  learner.readState(r);
  let evaluator: PrequentialEvaluator | undefined;
  if (r.u8() === 1) {
    const task = TASKS[r.u8()];
    if (!task) throw new InvalidCheckpointError("unknown evaluation task");
    evaluator = new PrequentialEvaluator(task, r.u32(), r.u32());
    evaluator.read(r);
  }
  r.end();
  return evaluator ? { learner, evaluator } : { learner };
}

function writeSpec(w: StateWriter, spec: LearnerSpec): void {
  w.u8(KINDS.indexOf(spec.kind));
  if (spec.kind === "multinomial") w.u32(spec.classes);
  w.strings(spec.features.numeric);
  w.strings(spec.features.categorical);
  w.u32(spec.features.buckets);
  const o = spec.optimizer;
  w.u8(OPTIMIZERS.indexOf(o.kind));
  if (o.kind === "sgd") {
    w.f64(o.learningRate);
    w.u8(o.schedule === "constant" ? 0 : 1);
    w.f64(o.power);
  } else if (o.kind === "adagrad") {
    w.f64(o.learningRate);
    w.f64(o.epsilon);
  } else {
    for (const value of [o.alpha, o.beta, o.l1, o.l2]) w.f64(value);
  }
  // Options are written resolved, so a restored learner does not depend on today's defaults.
  const resolved = resolveOptions(spec);
  for (const value of [
    resolved.interceptLearningRate,
    resolved.l2,
    resolved.clipGradient,
    resolved.healthWindow,
    resolved.divergenceThreshold,
  ])
    w.f64(value);
}

function readSpec(r: StateReader): LearnerSpec {
  const kind = KINDS[r.u8()];
  if (!kind) throw new InvalidCheckpointError("unknown learner kind");
  const classes = kind === "multinomial" ? r.u32() : 0;
  const features: FeatureSpec = { numeric: r.strings(), categorical: r.strings(), buckets: r.u32() };
  const optimizerKind = OPTIMIZERS[r.u8()];
  let optimizer: OptimizerSpec;
  if (optimizerKind === "sgd") {
    optimizer = { kind: "sgd", learningRate: r.f64(), schedule: r.u8() === 0 ? "constant" : "inverse_scaling", power: r.f64() };
  } else if (optimizerKind === "adagrad") {
    optimizer = { kind: "adagrad", learningRate: r.f64(), epsilon: r.f64() };
  } else if (optimizerKind === "ftrl") {
    optimizer = { kind: "ftrl", alpha: r.f64(), beta: r.f64(), l1: r.f64(), l2: r.f64() };
  } else {
    throw new InvalidCheckpointError("unknown optimizer kind");
  }
  const options = {
    features,
    optimizer,
    interceptLearningRate: r.f64(),
    l2: r.f64(),
    clipGradient: r.f64(),
    healthWindow: r.f64(),
    divergenceThreshold: r.f64(),
  };
  return kind === "multinomial" ? { kind, classes, ...options } : { kind, ...options };
}

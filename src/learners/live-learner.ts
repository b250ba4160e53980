/**
 * A learner's live state: the model, its prequential metrics, and how far into the example log it
 * has learned. It learns from log entries one at a time (test-then-train), predicts for serving,
 * and is checkpointed whole (see {@link encodeLiveState}). Pure: no I/O, no clocks except the
 * checkpoint time it is given.
 */
import { pack, unpack } from "msgpackr";
import { PreconditionError } from "../common/errors.js";
import { StateReader, StateWriter } from "../learning/binary.js";
import { InvalidCheckpointError, InvalidExampleError } from "../learning/errors.js";
import type { FeatureValues } from "../learning/features.js";
import { createLearner, type Learner } from "../learning/learners.js";
import { type EvaluationTask, PrequentialEvaluator } from "../learning/prequential.js";
import { decodeCheckpoint, encodeCheckpoint } from "../learning/state.js";
import { WindowedEvaluator } from "../learning/windows.js";
import type { Tensor } from "../serving/tensors.js";
import type { LogRecord } from "./example-log.js";
import { type LearnerDefinition, learnerOutput, learnerSpecOf } from "./model.js";

/** Rolling metrics cover this many examples; the health window of the learner too. */
const ROLLING_WINDOW = 1000;
const STATE_FORMAT = 1;

/** What {@link LiveLearner.apply} did with an entry. */
export type ApplyOutcome = "learned" | "unmatched" | "refused" | "diverged";

/** A learner's state and progress. */
export class LiveLearner {
  learner: Learner;
  evaluator: PrequentialEvaluator;
  windows: WindowedEvaluator;
  /** The last log position applied (0: none): also the number of entries consumed, positions being dense from 1. */
  position = 0;
  unmatchedLabels = 0;
  refusedExamples = 0;
  /** Event time (µs) of the newest example learned. */
  watermark = 0;
  /** The RestoreLearner generation last applied, so each restore is applied once. */
  restoreGeneration = 0;
  /** When the state was last checkpointed (ms since the epoch), and at how many examples. */
  checkpointTime = 0;
  checkpointExamples = 0;

  constructor(readonly definition: LearnerDefinition) {
    this.learner = createLearner(learnerSpecOf(definition));
    const task = taskOf(definition);
    this.evaluator = new PrequentialEvaluator(task, ROLLING_WINDOW);
    this.windows = new WindowedEvaluator(task, definition.metricsWindowSeconds * 1e6);
  }

  /** Whether the learner's loss or weights blew up (sticky until a restore). */
  get diverged(): boolean {
    return this.learner.health().status === "diverged";
  }

  /**
   * Applies the entry at `position` (which must follow the last one applied): an example is
   * scored, then learned, and the score (taken before the step) recorded in the metrics; an unmatched label is counted; an
   * example the learner refuses (a non-finite value) is counted and changes nothing else.
   */
  apply(position: number, record: LogRecord): ApplyOutcome {
    if (position !== this.position + 1) throw new Error(`log entry ${position} applied after ${this.position}`);
    this.position = position;
    if (record.kind === "unmatched") {
      this.unmatchedLabels++;
      return "unmatched";
    }
    let prediction: number | Float64Array;
    try {
      prediction = this.learner.predictThenLearn(record.features, record.label);
    } catch (error) {
      if (!(error instanceof InvalidExampleError)) throw error;
      this.refusedExamples++;
      return "refused";
    }
    this.evaluator.record(prediction, record.label);
    this.windows.record(record.eventTime, prediction, record.label);
    this.watermark = Math.max(this.watermark, record.eventTime);
    return this.diverged ? "diverged" : "learned";
  }

  /**
   * The outputs for `rows` rows of input tensors (one per learner input, as the serving path builds
   * them), computed in one synchronous pass: no learning step can interleave, so every row of a
   * request sees the same weights. FAILED_PRECONDITION when the learner has diverged.
   */
  predict(inputs: Record<string, Tensor>, rows: number): Record<string, Tensor> {
    if (this.diverged) {
      const health = this.learner.health();
      throw new PreconditionError(
        "LEARNER_DIVERGED",
        `learner ${this.definition.name} diverged (${health.status === "diverged" ? health.reason : ""}) and serves no predictions until it is restored`,
      );
    }
    const output = learnerOutput(this.definition);
    const width = this.definition.kind === "multinomial" ? this.definition.classes : 1;
    const data = new Float64Array(rows * width);
    for (let row = 0; row < rows; row++) {
      const x: Record<string, number | string | null> = {};
      for (const input of this.definition.inputs) {
        const value = inputs[input.name]?.data[row];
        x[input.name] = input.type === "numeric" ? Number(value ?? 0) : typeof value === "string" ? value : null;
      }
      let prediction: number | Float64Array;
      try {
        prediction = this.learner.predict(x as FeatureValues);
      } catch (error) {
        // A non-finite stored value: not the caller's argument, so not INVALID_ARGUMENT.
        if (!(error instanceof InvalidExampleError)) throw error;
        throw new PreconditionError("INVALID_FEATURE_VALUE", `row ${row}: ${error.message}; the learner predicts from finite values only`);
      }
      if (typeof prediction === "number") data[row] = prediction;
      else data.set(prediction, row * width);
    }
    return { [output.name]: { type: "float64", data, dims: width === 1 ? [rows] : [rows, width] } };
  }

  /** Replaces the model (weights, optimizer, scaler) by another state's, keeping progress and metrics. */
  restoreModelFrom(other: LiveLearner, generation: number): void {
    this.learner = other.learner;
    this.restoreGeneration = generation;
  }
}

/** The metrics a learner kind is judged by. */
function taskOf(definition: LearnerDefinition): EvaluationTask {
  return definition.kind === "logistic" ? "binary" : definition.kind === "multinomial" ? "multiclass" : "regression";
}

/** The state as checkpoint bytes: the learner (with its evaluator) exactly, the windows, the progress. */
export function encodeLiveState(state: LiveLearner): Uint8Array {
  const windows = new StateWriter();
  state.windows.write(windows);
  return pack({
    format: STATE_FORMAT,
    learner: encodeCheckpoint({ learner: state.learner, evaluator: state.evaluator }),
    windows: windows.bytes(),
    position: state.position,
    unmatchedLabels: state.unmatchedLabels,
    refusedExamples: state.refusedExamples,
    watermark: state.watermark,
    restoreGeneration: state.restoreGeneration,
    checkpointTime: state.checkpointTime,
    checkpointExamples: state.checkpointExamples,
  });
}

/** The state {@link encodeLiveState} wrote; INVALID_CHECKPOINT (thrown as such) when unreadable. */
export function decodeLiveState(definition: LearnerDefinition, bytes: Uint8Array): LiveLearner {
  const stored = unpack(bytes) as {
    format: number;
    learner: Uint8Array;
    windows: Uint8Array;
  } & Pick<
    LiveLearner,
    "position" | "unmatchedLabels" | "refusedExamples" | "watermark" | "restoreGeneration" | "checkpointTime" | "checkpointExamples"
  >;
  if (stored?.format !== STATE_FORMAT) throw new InvalidCheckpointError(`learner state format ${stored?.format} is not supported`);
  const state = new LiveLearner(definition);
  const { learner, evaluator } = decodeCheckpoint(stored.learner);
  state.learner = learner;
  if (evaluator) state.evaluator = evaluator;
  const windows = new StateReader(stored.windows);
  state.windows.read(windows);
  windows.end();
  state.position = stored.position;
  state.unmatchedLabels = stored.unmatchedLabels;
  state.refusedExamples = stored.refusedExamples;
  state.watermark = stored.watermark;
  state.restoreGeneration = stored.restoreGeneration;
  state.checkpointTime = stored.checkpointTime;
  state.checkpointExamples = stored.checkpointExamples;
  return state;
}

/**
 * Learners as the core sees them: a definition (immutable once created), the control state an
 * operator changes (paused, restored), and the status a replica reports. A learner
 * "projects/p/learners/l" owns the model "projects/p/models/l": its live state serves as version
 * LIVE_VERSION ("…/versions/live"), and every publication adds an ONNX version 1, 2, ….
 */

import type { LearnerSpec } from "../learning/learners.js";
import type { OptimizerSpec } from "../learning/optimizers.js";
import type { Metrics } from "../learning/prequential.js";
import { type InputBinding, LIVE_VERSION, type ModelVersion, type TensorSpec } from "../models/model.js";

/** One input of a learner. */
export interface LearnerInput {
  /** [a-z][a-z0-9_]*: the learner's feature name and the ONNX input name of its published versions. */
  name: string;
  type: "numeric" | "categorical";
  /** A pinned feature ref ("view@3:feature"), or a value sent with each request under `name`. */
  source: { kind: "feature"; ref: string } | { kind: "request"; name: string };
}

/** When the leader checkpoints: after this many examples or seconds, whichever comes first. */
export interface CheckpointPolicy {
  everyExamples: number;
  everySeconds: number;
}

/** A learner's definition. */
export interface LearnerDefinition {
  project: string;
  name: string;
  kind: LearnerSpec["kind"];
  /** Multinomial only. */
  classes: number;
  inputs: LearnerInput[];
  hashBuckets: number;
  optimizer: OptimizerSpec;
  l2: number;
  interceptLearningRate: number;
  divergenceThreshold: number;
  checkpoint: CheckpointPolicy;
  metricsWindowSeconds: number;
  description: string;
  createTime: Date;
  createdBy: string;
}

/** What an operator asked of a learner; every replica follows it (a registry document). */
export interface LearnerControl {
  paused: boolean;
  reason: string;
  /** Set by RestoreLearner: the published version whose checkpoint the leader loads, once per `generation`. */
  restore?: { version: number; generation: number };
}

/** How a learner is doing, on the replica answering. */
export type LearnerState = "learning" | "paused" | "diverged" | "standby";

/** Prequential metrics of the examples of one event-time window. */
export interface WindowMetrics {
  /** Microseconds since the epoch; the window is [start, end). */
  start: number;
  end: number;
  metrics: Metrics;
}

/** A learner's status. */
export interface LearnerStatus {
  state: LearnerState;
  reason: string;
  examplesLearned: number;
  entriesConsumed: number;
  unmatchedLabels: number;
  refusedExamples: number;
  /** The example log position learned up to (0: none). */
  logPosition: number;
  lag: number;
  cumulative: Metrics;
  rolling: Metrics;
  windows: WindowMetrics[];
  /** Milliseconds since the epoch; 0 when never checkpointed. */
  lastCheckpointTime: number;
  lastCheckpointExamples: number;
  leader: string;
  /** Event time (µs) of the newest example learned; 0 when none. */
  watermark: number;
}

/** The learner spec of the learning core for a definition. */
export function learnerSpecOf(definition: LearnerDefinition): LearnerSpec {
  const features = {
    numeric: definition.inputs.filter((i) => i.type === "numeric").map((i) => i.name),
    categorical: definition.inputs.filter((i) => i.type === "categorical").map((i) => i.name),
    buckets: definition.hashBuckets,
  };
  const options = {
    features,
    optimizer: definition.optimizer,
    l2: definition.l2,
    interceptLearningRate: definition.interceptLearningRate,
    divergenceThreshold: definition.divergenceThreshold,
  };
  if (definition.kind === "multinomial") return { kind: "multinomial", classes: definition.classes, ...options };
  return { kind: definition.kind, ...options };
}

/** The model output a learner kind serves (live and as ONNX): its name and shape. */
export function learnerOutput(definition: Pick<LearnerDefinition, "kind" | "classes">): TensorSpec {
  if (definition.kind === "multinomial") return { name: "probabilities", elementType: "float64", shape: [-1, definition.classes] };
  return { name: definition.kind === "logistic" ? "probability" : "prediction", elementType: "float64", shape: [-1] };
}

/** The model inputs of a learner, one per learner input, in numeric-then-categorical order (as ONNX export). */
export function learnerInputs(definition: Pick<LearnerDefinition, "inputs">): TensorSpec[] {
  const ordered = [...definition.inputs.filter((i) => i.type === "numeric"), ...definition.inputs.filter((i) => i.type === "categorical")];
  return ordered.map((input) => ({
    name: input.name,
    elementType: input.type === "numeric" ? "float64" : "string",
    shape: [-1, 1],
  }));
}

/** The input bindings of a learner's versions (live and published): one per input. */
export function learnerBindings(definition: Pick<LearnerDefinition, "inputs">): InputBinding[] {
  return definition.inputs.map((input) => ({
    inputName: input.name,
    source: input.source.kind === "feature" ? { kind: "features", refs: [input.source.ref] } : { kind: "request", name: input.source.name },
  }));
}

/** The address the serving path keeps a live version under, in place of an artifact's SHA-256. */
export function liveArtifactKey(project: string, name: string): string {
  return `live:${project}/${name}`;
}

/** The model version that stands for a learner's live state. */
export function liveModelVersion(definition: LearnerDefinition): ModelVersion {
  return {
    project: definition.project,
    model: definition.name,
    version: LIVE_VERSION,
    bindings: learnerBindings(definition),
    sha256: liveArtifactKey(definition.project, definition.name),
    sizeBytes: 0,
    inputs: learnerInputs(definition),
    outputs: [learnerOutput(definition)],
    featureRefs: Object.fromEntries(definition.inputs.flatMap((i) => (i.source.kind === "feature" ? [[i.name, [i.source.ref]]] : []))),
    trainingDataset: "",
    description: `the live state of learner ${definition.name}`,
    labels: { "sluice.learner": `projects/${definition.project}/learners/${definition.name}` },
    createTime: definition.createTime,
    uploadedBy: definition.createdBy,
  };
}

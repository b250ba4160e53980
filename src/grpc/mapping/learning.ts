/** Wire <-> core conversions of sluice.v1.LearningService messages. */
import { ViolationCollector } from "../../common/errors.js";
import {
  type LabelRecord,
  LearnerInputType,
  LearnerKind,
  type PrequentialMetrics,
  type Learner as WireLearner,
  LearnerState as WireLearnerState,
  type LearnerStatus as WireLearnerStatus,
} from "../../gen/sluice/v1/learning.pb.js";
import type { LabelInput } from "../../learners/label-joiner.js";
import type { LearnerRequest } from "../../learners/learner-definitions.js";
import type { LearnerView } from "../../learners/learning.js";
import type { LearnerDefinition, LearnerInput, LearnerState, LearnerStatus } from "../../learners/model.js";
import type { OptimizerSpec } from "../../learning/optimizers.js";
import type { Metrics } from "../../learning/prequential.js";
import { resourceName } from "../../registry/names.js";
import { microsToTimestamp, taggedFromWire, timestampToMicros } from "./values.js";

const KINDS: Record<LearnerDefinition["kind"], LearnerKind> = {
  logistic: LearnerKind.LEARNER_KIND_LOGISTIC_REGRESSION,
  multinomial: LearnerKind.LEARNER_KIND_MULTINOMIAL_LOGISTIC_REGRESSION,
  linear: LearnerKind.LEARNER_KIND_LINEAR_REGRESSION,
};

const STATES: Record<LearnerState, WireLearnerState> = {
  learning: WireLearnerState.LEARNER_STATE_LEARNING,
  paused: WireLearnerState.LEARNER_STATE_PAUSED,
  diverged: WireLearnerState.LEARNER_STATE_DIVERGED,
  standby: WireLearnerState.LEARNER_STATE_STANDBY,
};

/** A CreateLearner request's learner in core terms; INVALID_ARGUMENT (INVALID_LEARNER) for what the wire alone shows is wrong. */
export function learnerFromWire(learner: WireLearner, project: string, name: string): LearnerRequest {
  const v = new ViolationCollector();
  const kind =
    (Object.entries(KINDS).find(([, wire]) => wire === learner.kind)?.[0] as LearnerDefinition["kind"] | undefined) ?? "logistic";
  if (!Object.values(KINDS).includes(learner.kind))
    v.add("learner.kind", "choose LOGISTIC_REGRESSION, MULTINOMIAL_LOGISTIC_REGRESSION or LINEAR_REGRESSION");
  const inputs = learner.inputs.map((input, i): LearnerInput => {
    const type = input.type === LearnerInputType.LEARNER_INPUT_TYPE_NUMERIC ? "numeric" : "categorical";
    if (input.type !== LearnerInputType.LEARNER_INPUT_TYPE_NUMERIC && input.type !== LearnerInputType.LEARNER_INPUT_TYPE_CATEGORICAL) {
      v.add(`learner.inputs[${i}].type`, "choose NUMERIC or CATEGORICAL");
    }
    if (input.feature === undefined && input.requestFeature === undefined) v.add(`learner.inputs[${i}]`, "set feature or request_feature");
    const source =
      input.feature !== undefined
        ? { kind: "feature" as const, ref: input.feature }
        : { kind: "request" as const, name: input.requestFeature ?? "" };
    return { name: input.name, type, source };
  });
  let optimizer: OptimizerSpec = { kind: "sgd", learningRate: 0, schedule: "constant", power: 0 };
  if (learner.sgd) {
    const { learningRate, power } = learner.sgd;
    optimizer = { kind: "sgd", learningRate, schedule: power === 0 ? "constant" : "inverse_scaling", power };
  } else if (learner.adagrad)
    optimizer = {
      kind: "adagrad",
      learningRate: learner.adagrad.learningRate,
      epsilon: learner.adagrad.epsilon === 0 ? 1e-8 : learner.adagrad.epsilon,
    };
  else if (learner.ftrl) optimizer = { kind: "ftrl", ...learner.ftrl };
  else v.add("learner.optimizer", "choose sgd, adagrad or ftrl");
  v.throwIfAny("INVALID_LEARNER");
  return {
    project,
    name,
    kind,
    classes: learner.classes,
    inputs,
    hashBuckets: learner.hashBuckets,
    optimizer,
    l2: learner.l2,
    interceptLearningRate: learner.interceptLearningRate,
    divergenceThreshold: learner.divergenceThreshold,
    checkpoint: {
      everyExamples: Number(learner.checkpoint?.everyExamples ?? 0n),
      everySeconds: Number(learner.checkpoint?.everySeconds ?? 0n),
    },
    metricsWindowSeconds: Number(learner.metricsWindowSeconds),
    description: learner.description,
  };
}

/** A learner and its status on the wire. */
export function learnerToWire({ definition: d, status }: LearnerView): WireLearner {
  const o = d.optimizer;
  return {
    name: resourceName(d.project, "learners", d.name),
    kind: KINDS[d.kind],
    classes: d.kind === "multinomial" ? d.classes : 0,
    inputs: d.inputs.map((input) => ({
      name: input.name,
      type: input.type === "numeric" ? LearnerInputType.LEARNER_INPUT_TYPE_NUMERIC : LearnerInputType.LEARNER_INPUT_TYPE_CATEGORICAL,
      ...(input.source.kind === "feature" ? { feature: input.source.ref } : { requestFeature: input.source.name }),
    })),
    hashBuckets: d.hashBuckets,
    ...(o.kind === "sgd" ? { sgd: { learningRate: o.learningRate, power: o.schedule === "constant" ? 0 : o.power } } : {}),
    ...(o.kind === "adagrad" ? { adagrad: { learningRate: o.learningRate, epsilon: o.epsilon } } : {}),
    ...(o.kind === "ftrl" ? { ftrl: { alpha: o.alpha, beta: o.beta, l1: o.l1, l2: o.l2 } } : {}),
    l2: d.l2,
    interceptLearningRate: d.interceptLearningRate,
    divergenceThreshold: d.divergenceThreshold,
    checkpoint: { everyExamples: BigInt(d.checkpoint.everyExamples), everySeconds: BigInt(d.checkpoint.everySeconds) },
    metricsWindowSeconds: BigInt(d.metricsWindowSeconds),
    description: d.description,
    status: statusToWire(status),
    createTime: microsToTimestamp(d.createTime.getTime() * 1000),
    createdBy: d.createdBy,
  };
}

function statusToWire(s: LearnerStatus): WireLearnerStatus {
  return {
    state: STATES[s.state],
    reason: s.reason,
    examplesLearned: BigInt(s.examplesLearned),
    entriesConsumed: BigInt(s.entriesConsumed),
    unmatchedLabels: BigInt(s.unmatchedLabels),
    refusedExamples: BigInt(s.refusedExamples),
    logPosition: String(s.logPosition),
    lag: BigInt(s.lag),
    cumulative: metricsToWire(s.cumulative),
    rolling: metricsToWire(s.rolling),
    windows: s.windows.map((w) => ({
      startTime: microsToTimestamp(w.start),
      endTime: microsToTimestamp(w.end),
      metrics: metricsToWire(w.metrics),
    })),
    lastCheckpointTime: s.lastCheckpointTime > 0 ? microsToTimestamp(s.lastCheckpointTime * 1000) : undefined,
    lastCheckpointExamples: BigInt(s.lastCheckpointExamples),
    leader: s.leader,
    watermark: s.watermark > 0 ? microsToTimestamp(s.watermark) : undefined,
  };
}

/** Metrics on the wire; a metric that does not apply, or has no examples yet, is 0. */
export function metricsToWire(m: Metrics): PrequentialMetrics {
  const finite = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? value : 0);
  return {
    examples: BigInt(m.examples),
    logLoss: finite(m.logLoss),
    accuracy: finite(m.accuracy),
    auc: finite(m.auc),
    rmse: finite(m.rmse),
    mae: finite(m.mae),
  };
}

/** A wire label in core terms (checked by the joiner, which knows the learner). */
export function labelFromWire(label: LabelRecord, field: string): LabelInput {
  const requestFeatures = Object.fromEntries(Object.entries(label.requestFeatures).map(([name, value]) => [name, taggedFromWire(value)]));
  return {
    ...(label.requestId !== undefined ? { requestId: label.requestId } : {}),
    row: label.row,
    ...(label.entity
      ? {
          entity: {
            joinKeys: Object.fromEntries(Object.entries(label.entity.joinKeys).map(([key, value]) => [key, taggedFromWire(value)])),
            eventTime: label.entity.eventTime ? timestampToMicros(label.entity.eventTime, `${field}.entity.event_time`) : 0,
          },
        }
      : {}),
    label: taggedFromWire(label.label),
    requestFeatures,
  };
}

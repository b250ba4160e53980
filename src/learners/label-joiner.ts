/**
 * Turns labels into log entries: each label is checked, then joined with the learner's inputs as
 * they were at its event — the values logged when the prediction was served (a label keyed by
 * request id) or the point-in-time values at the event time (a label keyed by entity). Never a
 * value from after the event. A request id that matches no logged prediction gives an
 * "unmatched" entry: kept and reported, not lost.
 */
import { type FieldViolation, ViolationCollector } from "../common/errors.js";
import type { FeatureValue, TaggedValue } from "../common/feature-value.js";
import { MAX_LOGGED_VALUE_CHARS, REQUEST_FEATURE_PREFIX } from "../inference/predictor.js";
import type { PredictionRecord } from "../storage/offline/offline-store.js";
import type { ExampleEntry, LogRecord } from "./example-log.js";
import type { LearnerDefinition, LearnerInput } from "./model.js";

/** One label as received. */
export interface LabelInput {
  /** The served prediction it is the outcome of; or `entity`. */
  requestId?: string;
  /** With `requestId`: the entity row of that request. */
  row: number;
  entity?: { joinKeys: Record<string, TaggedValue>; eventTime: number };
  label: TaggedValue;
  /** With `entity`: the learner's request-time inputs. */
  requestFeatures: Record<string, TaggedValue>;
}

/** Where logged predictions are found by request id. */
export interface PredictionLookup {
  /** Stable and canary predictions with these ids, served at or after `since` (µs). */
  find(project: string, requestIds: readonly string[], since: number): Promise<PredictionRecord[]>;
}

/** Point-in-time feature values. */
export interface PointInTimeLookup {
  /**
   * For each row, the value of each ref (pinned) as of the row's event time: the latest with an
   * event time at or before it and ingested by then; null when there is none (or it expired).
   */
  valuesAt(
    project: string,
    refs: readonly string[],
    rows: ReadonlyArray<{ joinKeys: Record<string, TaggedValue>; eventTime: number }>,
  ): Promise<Array<Record<string, FeatureValue>>>;
}

/** A label kept without an example, as reported to the sender. */
export interface UnmatchedLabel {
  /** Its index in the labels given to {@link LabelJoiner.join}. */
  index: number;
  requestId: string;
  reason: string;
}

/** Joins labels with the inputs they were predicted (or would have been predicted) from. */
export class LabelJoiner {
  constructor(
    private readonly predictions: PredictionLookup,
    private readonly pointInTime: PointInTimeLookup,
    /** How far back a request id is looked for (µs): labels later than this after their prediction are unmatched. */
    private readonly maxLabelDelayMicros: number,
  ) {}

  /**
   * Checks every label (INVALID_ARGUMENT with a violation per bad field, nothing joined) and joins
   * them all, in order: one entry per label.
   */
  async join(
    definition: LearnerDefinition,
    labels: readonly LabelInput[],
    now: number,
  ): Promise<{ records: LogRecord[]; unmatched: UnmatchedLabel[] }> {
    const values = checkLabels(definition, labels);
    const records: Array<LogRecord | undefined> = new Array(labels.length);
    const unmatched: UnmatchedLabel[] = [];
    const byRequest = labels.flatMap((label, i) => (label.requestId !== undefined ? [i] : []));
    if (byRequest.length > 0) {
      const ids = [...new Set(byRequest.map((i) => labels[i]?.requestId as string))];
      const found = new Map<string, PredictionRecord>();
      for (const record of await this.predictions.find(definition.project, ids, now - this.maxLabelDelayMicros)) {
        if (record.error === "") found.set(record.requestId, record);
      }
      for (const i of byRequest) {
        const label = labels[i] as LabelInput;
        const requestId = label.requestId as string;
        const prediction = found.get(requestId);
        const joined = prediction ? fromPrediction(definition, prediction, label.row) : "no logged prediction has this request id";
        if (typeof joined === "string") {
          records[i] = { kind: "unmatched", requestId, label: values[i] as number, reason: joined, time: now };
          unmatched.push({ index: i, requestId, reason: joined });
        } else {
          records[i] = { kind: "example", features: joined.features, label: values[i] as number, eventTime: joined.time, requestId };
        }
      }
    }
    const byEntity = labels.flatMap((label, i) => (label.entity ? [i] : []));
    if (byEntity.length > 0) {
      const featureInputs = definition.inputs.filter((input) => input.source.kind === "feature");
      const rows = byEntity.map((i) => labels[i]?.entity as NonNullable<LabelInput["entity"]>);
      const looked: Array<Record<string, FeatureValue>> =
        featureInputs.length === 0
          ? rows.map(() => ({}))
          : await this.pointInTime.valuesAt(
              definition.project,
              featureInputs.map((input) => (input.source as { ref: string }).ref),
              rows,
            );
      byEntity.forEach((i, j) => {
        const label = labels[i] as LabelInput;
        const features: ExampleEntry["features"] = {};
        for (const input of definition.inputs) {
          const raw =
            input.source.kind === "feature"
              ? (looked[j]?.[input.source.ref] ?? null)
              : (label.requestFeatures[input.source.name]?.value ?? null);
          features[input.name] = inputValue(input, raw);
        }
        records[i] = {
          kind: "example",
          features,
          label: values[i] as number,
          eventTime: (label.entity as { eventTime: number }).eventTime,
          requestId: "",
        };
      });
    }
    return { records: records as LogRecord[], unmatched };
  }
}

/** The learner's inputs from a logged prediction's row, or why they cannot be had. */
function fromPrediction(
  definition: LearnerDefinition,
  prediction: PredictionRecord,
  row: number,
): { features: ExampleEntry["features"]; time: number } | string {
  let logged: Record<string, unknown[]>;
  try {
    logged = JSON.parse(prediction.features) as Record<string, unknown[]>;
  } catch {
    return "the logged prediction's features are unreadable";
  }
  const features: ExampleEntry["features"] = {};
  for (const input of definition.inputs) {
    const key = input.source.kind === "feature" ? input.source.ref : `${REQUEST_FEATURE_PREFIX}${input.source.name}`;
    const column = logged[key];
    if (!column) return `the prediction (by ${prediction.modelVersion}) did not read input "${input.name}" (${key})`;
    if (row >= column.length) return `the prediction has no row ${row} (its log keeps ${column.length})`;
    const value = column[row];
    if (typeof value === "string" && value.length > MAX_LOGGED_VALUE_CHARS) {
      return `input "${input.name}" was longer than the prediction log keeps (${MAX_LOGGED_VALUE_CHARS} characters)`;
    }
    features[input.name] = inputValue(input, value as FeatureValue);
  }
  return { features, time: prediction.time };
}

/**
 * A value as the learner takes it, exactly as the serving path fills the model's inputs: numeric
 * inputs read a missing value as 0, a bool as 0/1 and int64 (logged as text) as a number;
 * categorical inputs read a missing value or "" as absent. A non-finite number is kept: the
 * learner refuses that example when it reaches it (counted, not learned).
 */
function inputValue(input: LearnerInput, value: FeatureValue | unknown): number | string | null {
  if (input.type === "categorical") return typeof value === "string" && value !== "" ? value : null;
  if (value === null || value === undefined) return 0;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint" || typeof value === "string") return Number(value);
  return typeof value === "number" ? value : 0;
}

/** Every label's value as the learner takes it; INVALID_ARGUMENT naming each bad field. */
function checkLabels(definition: LearnerDefinition, labels: readonly LabelInput[]): number[] {
  const v = new ViolationCollector();
  const values = labels.map((label, i) => {
    for (const violation of labelViolations(definition, label, `labels[${i}]`)) v.add(violation.field, violation.description);
    return labelValue(definition, label.label).value;
  });
  v.throwIfAny("INVALID_LABEL");
  return values;
}

/** What is wrong with one label for a learner (nothing: it can be joined); fields under `at`. */
export function labelViolations(definition: LearnerDefinition, label: LabelInput, at: string): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string) => violations.push({ field, description });
  if (label.requestId === undefined && !label.entity) add(at, "set request_id or entity");
  if (label.requestId !== undefined) {
    if (label.requestId === "") add(`${at}.request_id`, "must not be empty");
    if (!(Number.isInteger(label.row) && label.row >= 0)) add(`${at}.row`, "must be a non-negative row index");
  }
  if (label.entity) {
    if (Object.keys(label.entity.joinKeys).length === 0) add(`${at}.entity.join_keys`, "give the entity's join keys");
    if (!Number.isFinite(label.entity.eventTime) || label.entity.eventTime <= 0) add(`${at}.entity.event_time`, "is required");
    for (const input of definition.inputs) {
      if (input.source.kind !== "request") continue;
      const problem = requestValueProblem(input, label.requestFeatures[input.source.name]);
      if (problem) add(`${at}.request_features["${input.source.name}"]`, problem);
    }
  }
  const { problem } = labelValue(definition, label.label);
  if (problem) add(`${at}.label`, problem);
  return violations;
}

/** Why a request-time value cannot feed `input`, or undefined when it can. */
function requestValueProblem(input: LearnerInput, value: TaggedValue | undefined): string | undefined {
  if (!value || value.kind === "null") return `is required by learner input "${input.name}"`;
  if (input.type === "categorical") return typeof value.value === "string" ? undefined : `must be a string, got ${value.kind}`;
  const number = typeof value.value === "boolean" ? 0 : Number(value.value);
  if (!["int32", "int64", "float", "double", "bool"].includes(value.kind)) return `must be a number, got ${value.kind}`;
  return Number.isFinite(number) ? undefined : `must be finite, got ${value.value}`;
}

/** A label's value for the learner's kind, or the problem with it. */
export function labelValue(
  definition: Pick<LearnerDefinition, "kind" | "classes">,
  label: TaggedValue,
): { value: number; problem?: string } {
  const { kind, value } = label;
  if (kind === "null") return { value: 0, problem: "is required" };
  if (kind === "bool") {
    return definition.kind === "logistic"
      ? { value: value ? 1 : 0 }
      : { value: 0, problem: `a ${definition.kind} learner takes a number, got a bool` };
  }
  if (!["int32", "int64", "float", "double"].includes(kind)) return { value: 0, problem: `must be a number or a bool, got ${kind}` };
  const number = Number(value);
  if (!Number.isFinite(number)) return { value: 0, problem: `must be finite, got ${number}` };
  if (definition.kind === "logistic" && number !== 0 && number !== 1)
    return { value: 0, problem: `a logistic learner takes 0, 1 or a bool, got ${number}` };
  if (definition.kind === "multinomial" && !(Number.isInteger(number) && number >= 0 && number < definition.classes)) {
    return { value: 0, problem: `a multinomial learner takes a class index in [0, ${definition.classes - 1}], got ${number}` };
  }
  return { value: number };
}

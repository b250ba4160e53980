/**
 * Online learning as the gRPC service offers it: learners created and read, labels joined into
 * their example logs, live states published as ONNX model versions and restored from them. The
 * state itself lives in {@link LearnerRuntime}; this is the use-case layer over it.
 */
import { createHash } from "node:crypto";
import { PreconditionError, ResourceNotFoundError, SluiceError, ValidationError } from "../common/errors.js";
import type { Page } from "../common/pagination.js";
import { exportOnnx } from "../learning/onnx-export.js";
import type { ModelVersion } from "../models/model.js";
import type { ModelRegistry } from "../models/model-registry.js";
import { resourceName } from "../registry/names.js";
import type { LearningStore } from "../storage/learning/learning-store.js";
import { encodeLogRecord, type LogRecord } from "./example-log.js";
import { type LabelInput, type LabelJoiner, labelViolations, type UnmatchedLabel } from "./label-joiner.js";
import type { LearnerDefinitions, LearnerRequest } from "./learner-definitions.js";
import { type LearnerRuntime, publishedSlot } from "./learner-runtime.js";
import { encodeLiveState, type LiveLearner } from "./live-learner.js";
import { type LearnerDefinition, type LearnerStatus, learnerBindings } from "./model.js";

/** A learner with its status on this replica. */
export interface LearnerView {
  definition: LearnerDefinition;
  status: LearnerStatus;
}

/** One message of a label stream. */
export interface LabelBatch {
  project: string;
  learner: string;
  labels: LabelInput[];
  /** "" or an id that makes a retried message a no-op (its labels are appended once). */
  writeId: string;
}

/** What a label stream did. */
export interface LabelsWritten {
  accepted: number;
  unmatched: number;
  /** The first {@link MAX_REPORTED_UNMATCHED}, indexed over the whole stream. */
  unmatchedLabels: UnmatchedLabel[];
  logPosition: number;
}

/** Unmatched labels a response lists at most (all are counted). */
export const MAX_REPORTED_UNMATCHED = 1000;

/** Flushes this replica's buffered prediction log, so a label right after its prediction finds it. */
export type FlushPredictions = () => Promise<void>;

/** The learning use cases. */
export class Learning {
  constructor(
    private readonly definitions: LearnerDefinitions,
    private readonly runtime: LearnerRuntime,
    private readonly store: LearningStore,
    private readonly joiner: LabelJoiner,
    private readonly models: ModelRegistry,
    private readonly flushPredictions: FlushPredictions,
  ) {}

  /** Creates a learner and starts it (see {@link LearnerDefinitions.create} for the errors). */
  async create(request: LearnerRequest, createdBy: string): Promise<LearnerView> {
    const definition = await this.definitions.create(request, createdBy);
    return this.get(definition.project, definition.name);
  }

  /** A learner with its status; NOT_FOUND when there is none. */
  async get(project: string, name: string): Promise<LearnerView> {
    const worker = await this.runtime.worker(project, name);
    return { definition: worker.definition, status: await worker.status() };
  }

  /** A project's learners with their statuses, by name. */
  async list(project: string, pageSize: number, pageToken: string): Promise<Page<LearnerView>> {
    const page = await this.definitions.list(project, pageSize, pageToken);
    return { ...page, items: await Promise.all(page.items.map((d) => this.get(d.project, d.name))) };
  }

  /**
   * Appends each message's labels, joined, to its learner's log: a message is checked and joined
   * whole before anything of it is appended, and appended in one atomic step. NOT_FOUND for an
   * unknown learner, INVALID_ARGUMENT for bad labels; messages appended before stay appended.
   */
  async writeLabels(batches: AsyncIterable<LabelBatch>): Promise<LabelsWritten> {
    const written: LabelsWritten = { accepted: 0, unmatched: 0, unmatchedLabels: [], logPosition: 0 };
    let index = 0;
    for await (const batch of batches) {
      const definition = await this.definitions.get(batch.project, batch.learner);
      const key = `${batch.project}/${batch.learner}`;
      // A write id is a cursor that exists once its batch is appended: set in the append itself, so
      // a retry (even one racing the first send) appends nothing.
      const writeCursor = { name: `write:${batch.writeId}`, expected: undefined, value: "appended" };
      const seen = batch.writeId !== "" && (await this.store.cursor(key, writeCursor.name)) !== undefined;
      let position: number | undefined;
      let joined: Awaited<ReturnType<LabelJoiner["join"]>> | undefined;
      if (!seen) {
        if (batch.labels.some((label) => label.requestId !== undefined)) await this.flushPredictions();
        joined = await this.joiner.join(definition, batch.labels, Date.now() * 1000);
        const entries = joined.records.map(encodeLogRecord);
        position =
          batch.writeId === "" ? await this.store.append(key, entries) : await this.store.appendMovingCursor(key, entries, writeCursor);
      }
      if (position === undefined || !joined) {
        written.logPosition = await this.store.lastPosition(key);
        index += batch.labels.length;
        continue;
      }
      const { records, unmatched } = joined;
      this.runtime.appended(batch.project, batch.learner);
      written.accepted += records.length;
      written.unmatched += unmatched.length;
      for (const label of unmatched) {
        if (written.unmatchedLabels.length < MAX_REPORTED_UNMATCHED) written.unmatchedLabels.push({ ...label, index: index + label.index });
      }
      written.logPosition = position;
      index += batch.labels.length;
    }
    return written;
  }

  /**
   * Appends labels consumed from a source partition (Kafka), each message once: messages before
   * the partition's cursor in the learning store were appended already and are skipped (counted as
   * replayed); every new message is checked and joined, and the bad ones (with why) are handed to
   * `deliverRefused` (the dead-letter topic) *before* the good ones are appended together with the
   * cursor's move past the last offset, so a crash in between replays the batch and delivers its
   * refusals again rather than losing them (refusals are at least once, examples exactly once).
   * Throws when another consumer moved the cursor meanwhile: the caller retries, and the retry
   * skips what that consumer appended.
   */
  async appendFromSource(
    project: string,
    learner: string,
    source: string,
    messages: ReadonlyArray<{ offset: number; label: LabelInput | string }>,
    deliverRefused: (refused: ReadonlyArray<{ offset: number; error: string }>) => Promise<void>,
  ): Promise<{ accepted: number; replayed: number; refused: number }> {
    const definition = await this.definitions.get(project, learner);
    const key = `${project}/${learner}`;
    const cursor = await this.store.cursor(key, source);
    const fresh = messages.filter((m) => cursor === undefined || m.offset >= Number(cursor));
    const last = messages.at(-1);
    if (fresh.length === 0 || !last) return { accepted: 0, replayed: messages.length, refused: 0 };
    const refused: Array<{ offset: number; error: string }> = [];
    const good: Array<{ offset: number; label: LabelInput }> = [];
    for (const { offset, label } of fresh) {
      // A string is the source's own reason the message is no label (it did not decode).
      const problems = typeof label === "string" ? [] : labelViolations(definition, label, "label");
      if (typeof label === "string") refused.push({ offset, error: label });
      else if (problems.length > 0) refused.push({ offset, error: problems.map((p) => `${p.field}: ${p.description}`).join("; ") });
      else good.push({ offset, label });
    }
    if (good.some(({ label }) => label.requestId !== undefined)) await this.flushPredictions();
    const records = await this.joinEach(definition, good, refused);
    if (refused.length > 0) await deliverRefused(refused);
    const position = await this.store.appendMovingCursor(key, records.map(encodeLogRecord), {
      name: source,
      expected: cursor,
      value: String(last.offset + 1),
    });
    if (position === undefined) throw new Error(`${source} of learner ${key} was appended by another consumer meanwhile`);
    this.runtime.appended(project, learner);
    return { accepted: records.length, replayed: messages.length - fresh.length, refused: refused.length };
  }

  /**
   * Joins a source's labels together; when the join refuses them (a label wrong in a way only the
   * join sees, such as a join key of the wrong type), joins them one by one and adds the ones it
   * refuses to `refused`, so one bad message cannot hold its partition up.
   */
  private async joinEach(
    definition: LearnerDefinition,
    labels: ReadonlyArray<{ offset: number; label: LabelInput }>,
    refused: Array<{ offset: number; error: string }>,
  ): Promise<LogRecord[]> {
    const now = Date.now() * 1000;
    try {
      return (
        await this.joiner.join(
          definition,
          labels.map((l) => l.label),
          now,
        )
      ).records;
    } catch (error) {
      if (!(error instanceof SluiceError) || error.kind !== "invalid_argument") throw error;
    }
    const records: LogRecord[] = [];
    for (const { offset, label } of labels) {
      try {
        records.push(...(await this.joiner.join(definition, [label], now)).records);
      } catch (error) {
        if (!(error instanceof SluiceError) || error.kind !== "invalid_argument") throw error;
        refused.push({ offset, error: error.message });
      }
    }
    refused.sort((a, b) => a.offset - b.offset);
    return records;
  }

  /**
   * Publishes the learner's state as the next ONNX version of the model of its name, with its
   * lineage in the version's labels, and keeps the checkpoint for RestoreLearner.
   * FAILED_PRECONDITION for a diverged learner.
   */
  async publish(project: string, name: string, description: string, publishedBy: string): Promise<ModelVersion> {
    const worker = await this.runtime.worker(project, name);
    // Exported in the same turn as the checkpoint it comes from: nothing is learned in between.
    const { lineage, checkpoint, onnx } = await worker.snapshot((state) => {
      if (state.diverged) {
        throw new PreconditionError(
          "LEARNER_DIVERGED",
          `learner ${resourceName(project, "learners", name)} has diverged; restore it before publishing`,
        );
      }
      return {
        lineage: lineageOf(resourceName(project, "learners", name), state),
        checkpoint: encodeLiveState(state),
        onnx: exportOnnx(state.learner, { docString: `Published from learner ${resourceName(project, "learners", name)}` }),
      };
    });
    const sha256 = createHash("sha256").update(onnx).digest("hex");
    const version = await this.models.upload(
      {
        project,
        model: name,
        bindings: learnerBindings(worker.definition),
        sha256,
        trainingDataset: "",
        description: description || `published from learner ${name} after ${lineage["sluice.examples"]} examples`,
        labels: lineage,
        uploadedBy: publishedBy,
      },
      (async function* () {
        yield onnx;
      })(),
    );
    await this.store.putCheckpoint(`${project}/${name}`, publishedSlot(version.version), checkpoint);
    return version;
  }

  /** Pauses learning (serving goes on). */
  async pause(project: string, name: string, reason: string): Promise<LearnerView> {
    await this.definitions.updateControl(project, name, (current) => ({
      ...current,
      paused: true,
      reason: reason || "paused by PauseLearner",
    }));
    return this.settled(project, name);
  }

  /** Resumes learning; FAILED_PRECONDITION for a diverged learner (restore it first). */
  async resume(project: string, name: string): Promise<LearnerView> {
    const view = await this.get(project, name);
    if (view.status.state === "diverged") {
      throw new PreconditionError(
        "LEARNER_DIVERGED",
        `learner ${resourceName(project, "learners", name)} has diverged (${view.status.reason}); restore it from a published version first`,
      );
    }
    await this.definitions.updateControl(project, name, (current) => ({ ...current, paused: false, reason: "" }));
    return this.settled(project, name);
  }

  /**
   * Rolls the learner's model back to the checkpoint a published version was exported from and
   * pauses it. INVALID_ARGUMENT for a version of another model; NOT_FOUND for an unknown version
   * or one published before its checkpoint was kept.
   */
  async restore(project: string, name: string, model: string, version: number): Promise<LearnerView> {
    if (model !== name) {
      throw new ValidationError("NOT_FROM_THIS_LEARNER", [
        { field: "model_version", description: `must be a version of ${resourceName(project, "models", name)}, the learner's own model` },
      ]);
    }
    await this.models.getVersion(project, model, version);
    if (!(await this.store.getCheckpoint(`${project}/${name}`, publishedSlot(version)))) {
      throw new ResourceNotFoundError(
        "learner checkpoint",
        `${resourceName(project, "models", model, version)}`,
        "that version was not published from this learner's state",
      );
    }
    await this.definitions.updateControl(project, name, (current) => ({
      paused: true,
      reason: `restored from version ${version}; resume to learn`,
      restore: { version, generation: (current.restore?.generation ?? 0) + 1 },
    }));
    return this.settled(project, name);
  }

  /** The learner once this replica's worker has followed a control change (the registry announces it). */
  private async settled(project: string, name: string): Promise<LearnerView> {
    const worker = await this.runtime.worker(project, name);
    await worker.controlChanged();
    return { definition: worker.definition, status: await worker.status() };
  }
}

/** A published version's lineage, as model version labels. */
function lineageOf(learner: string, state: LiveLearner): Record<string, string> {
  const metrics = state.evaluator.cumulative();
  const labels: Record<string, string> = {
    "sluice.learner": learner,
    "sluice.examples": String(state.learner.examples),
    "sluice.log_position": String(state.position),
    "sluice.checkpoint_time": new Date(state.checkpointTime).toISOString(),
  };
  for (const [key, value] of Object.entries({
    log_loss: metrics.logLoss,
    accuracy: metrics.accuracy,
    auc: metrics.auc,
    rmse: metrics.rmse,
    mae: metrics.mae,
  })) {
    if (value !== undefined && Number.isFinite(value)) labels[`sluice.${key}`] = String(value);
  }
  return labels;
}

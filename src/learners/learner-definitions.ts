/**
 * Learner definitions and their control state, kept as registry documents ("learner",
 * "learnerControl"), so every replica sees them and hears of changes. A definition is checked
 * whole on creation and never changes afterwards; its feature inputs are pinned then, as a model
 * version's bindings are.
 */
import { PreconditionError, ResourceAlreadyExistsError, ResourceNotFoundError, ViolationCollector } from "../common/errors.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import { InvalidLearnerSpecError } from "../learning/errors.js";
import { resolveOptions } from "../learning/learners.js";
import { validateOptimizerSpec } from "../learning/optimizers.js";
import { pinnedRef } from "../models/model-registry.js";
import { parseFeatureRef } from "../registry/feature-refs.js";
import { describeInvalidResourceId, resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { RegistryStore, StoredDocument } from "../storage/registry/registry-store.js";
import { type LearnerControl, type LearnerDefinition, learnerSpecOf } from "./model.js";

/** A learner as a client asks for it: what the server does not fill in. */
export type LearnerRequest = Omit<LearnerDefinition, "createTime" | "createdBy">;

/** Checkpoint policy when a request leaves both at 0. */
export const DEFAULT_CHECKPOINT = { everyExamples: 10_000, everySeconds: 10 };
const DEFAULT_METRICS_WINDOW_SECONDS = 3600;
const INPUT_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const NUMERIC_TYPES = new Set(["int32", "int64", "float", "double", "bool"]);
/** Inputs and hash buckets a learner may declare at most: its weights live in memory, per output. */
const MAX_INPUTS = 1000;
const MAX_BUCKETS = 1 << 24;
/** Weights a learner may hold, `(numeric inputs + hash_buckets) × outputs`: with the optimizer's accumulators, 400 MB at most on every replica. */
const MAX_WEIGHTS = 1 << 24;

const NO_CONTROL: LearnerControl = { paused: false, reason: "" };

/** Creates, reads and controls learner definitions. */
export class LearnerDefinitions {
  constructor(
    private readonly store: RegistryStore,
    private readonly registry: Registry,
  ) {}

  /**
   * Checks and stores a new learner. INVALID_ARGUMENT (INVALID_LEARNER) with every bad field;
   * NOT_FOUND for unknown features; ALREADY_EXISTS when a learner or a model has the name.
   */
  async create(request: LearnerRequest, createdBy: string): Promise<LearnerDefinition> {
    const { project, name } = request;
    await this.registry.getProject(project);
    const definition = await this.checked({
      ...request,
      checkpoint: request.checkpoint.everyExamples === 0 && request.checkpoint.everySeconds === 0 ? DEFAULT_CHECKPOINT : request.checkpoint,
      // 0 (unset on the wire) takes the default; anything else, NaN included, is checked as given.
      metricsWindowSeconds: request.metricsWindowSeconds === 0 ? DEFAULT_METRICS_WINDOW_SECONDS : request.metricsWindowSeconds,
      interceptLearningRate: request.interceptLearningRate === 0 ? 0.01 : request.interceptLearningRate,
      divergenceThreshold: request.divergenceThreshold === 0 ? 1e12 : request.divergenceThreshold,
      createTime: new Date(),
      createdBy,
    });
    if (await this.store.getDocument("learner", project, name))
      throw new ResourceAlreadyExistsError("learner", resourceName(project, "learners", name));
    if (await this.store.getDocument("model", project, name)) {
      throw new PreconditionError(
        "MODEL_NAME_TAKEN",
        `a model named ${resourceName(project, "models", name)} exists; a learner publishes its versions under a model of its own name, so pick another name`,
      );
    }
    if ((await this.store.putDocument("learner", project, name, definition, 0)) === undefined) {
      throw new ResourceAlreadyExistsError("learner", resourceName(project, "learners", name));
    }
    return definition;
  }

  /** A learner's definition; NOT_FOUND when there is none. */
  async get(project: string, name: string): Promise<LearnerDefinition> {
    const stored = await this.store.getDocument<LearnerDefinition>("learner", project, name);
    if (!stored) throw new ResourceNotFoundError("learner", resourceName(project, "learners", name));
    return stored.value;
  }

  /** A project's learners by name. */
  async list(project: string, pageSize: number, pageToken: string): Promise<Page<LearnerDefinition>> {
    const scope = `learners:${project}`;
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const documents = await this.store.listDocuments<LearnerDefinition>("learner", project, { after: page.after, limit: page.limit + 1 });
    return toPage(
      scope,
      documents.map((d) => d.value),
      page.limit,
      (learner) => learner.name,
    );
  }

  /** Every learner of every project (a replica starting up). */
  async all(): Promise<LearnerDefinition[]> {
    const found: LearnerDefinition[] = [];
    let after: string | undefined;
    for (;;) {
      const projects = await this.store.listProjects({ after, limit: 100 });
      for (const { project } of projects) {
        let afterName: string | undefined;
        for (;;) {
          const page = await this.store.listDocuments<LearnerDefinition>("learner", project, { after: afterName, limit: 100 });
          found.push(...page.map((d) => d.value));
          if (page.length < 100) break;
          afterName = page.at(-1)?.id;
        }
      }
      if (projects.length < 100) return found;
      after = projects.at(-1)?.project;
    }
  }

  /** What operators asked of a learner (not paused, when never asked). */
  async control(project: string, name: string): Promise<LearnerControl> {
    return (await this.store.getDocument<LearnerControl>("learnerControl", project, name))?.value ?? NO_CONTROL;
  }

  /** Changes a learner's control state by compare-and-set, retrying on a concurrent change. */
  async updateControl(project: string, name: string, change: (current: LearnerControl) => LearnerControl): Promise<LearnerControl> {
    await this.get(project, name);
    for (;;) {
      const stored: StoredDocument<LearnerControl> | undefined = await this.store.getDocument("learnerControl", project, name);
      const next = change(stored?.value ?? NO_CONTROL);
      if ((await this.store.putDocument("learnerControl", project, name, next, stored?.revision ?? 0)) !== undefined) return next;
    }
  }

  /** The definition with its inputs checked and feature refs pinned; throws every violation at once. */
  private async checked(definition: LearnerDefinition): Promise<LearnerDefinition> {
    const v = new ViolationCollector();
    const nameProblem = describeInvalidResourceId(definition.name);
    if (nameProblem) v.add("learner.name", nameProblem);
    if (definition.inputs.length === 0) v.add("learner.inputs", "declare at least one input");
    if (definition.inputs.length > MAX_INPUTS) v.add("learner.inputs", `at most ${MAX_INPUTS} inputs`);
    const names = new Set<string>();
    definition.inputs.forEach((input, i) => {
      if (!INPUT_NAME.test(input.name)) v.add(`learner.inputs[${i}].name`, `"${input.name}" must match [a-z][a-z0-9_]*`);
      else if (names.has(input.name)) v.add(`learner.inputs[${i}].name`, `input "${input.name}" is declared twice`);
      names.add(input.name);
      const refProblem = input.source.kind === "feature" ? parseFeatureRef(input.source.ref, definition.project) : undefined;
      if (typeof refProblem === "string") v.add(`learner.inputs[${i}].feature`, refProblem);
      if (input.source.kind === "request" && input.source.name === "") v.add(`learner.inputs[${i}].request_feature`, "must not be empty");
    });
    const categorical = definition.inputs.some((i) => i.type === "categorical");
    if (categorical && definition.hashBuckets < 1) {
      v.add("learner.hash_buckets", `categorical inputs need at least 1 hash bucket, got ${definition.hashBuckets}`);
    }
    if (definition.hashBuckets < 0 || definition.hashBuckets > MAX_BUCKETS) v.add("learner.hash_buckets", `must be in [0, ${MAX_BUCKETS}]`);
    if (definition.kind === "multinomial" && !(definition.classes >= 2 && definition.classes <= 1000)) {
      v.add("learner.classes", `a multinomial learner needs 2 to 1000 classes, got ${definition.classes}`);
    }
    const outputs = definition.kind === "multinomial" ? Math.max(definition.classes, 1) : 1;
    const weights = (definition.inputs.filter((i) => i.type === "numeric").length + Math.max(definition.hashBuckets, 0)) * outputs;
    if (weights > MAX_WEIGHTS) {
      v.add(
        "learner.hash_buckets",
        `the learner would hold ${weights} weights ((numeric inputs + hash_buckets) × outputs); at most ${MAX_WEIGHTS}`,
      );
    }
    if (definition.checkpoint.everyExamples < 0) v.add("learner.checkpoint.every_examples", "must not be negative");
    if (definition.checkpoint.everySeconds < 0) v.add("learner.checkpoint.every_seconds", "must not be negative");
    if (!(definition.metricsWindowSeconds >= 1)) v.add("learner.metrics_window_seconds", "must be at least 1 second");
    this.checkOptions(definition, v);
    v.throwIfAny("INVALID_LEARNER");
    return { ...definition, inputs: await this.pinned(definition, v) };
  }

  /** Optimizer and options, checked by the learning core itself so the rules live in one place. */
  private checkOptions(definition: LearnerDefinition, v: ViolationCollector): void {
    try {
      validateOptimizerSpec(definition.optimizer);
      resolveOptions(
        learnerSpecOf({ ...definition, classes: Math.max(2, definition.classes), hashBuckets: Math.max(1, definition.hashBuckets) }),
      );
    } catch (error) {
      if (!(error instanceof InvalidLearnerSpecError)) throw error;
      // The core names fields as its spec does ("optimizer.learningRate"); the request names them in snake case.
      const field = error.field.replace("optimizer.", `${definition.optimizer.kind}.`).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      v.add(`learner.${field}`, error.message.replace(/^invalid learner spec: [^:]+: /, ""));
    }
  }

  /** The inputs with feature refs pinned and typed: numbers for numeric inputs, strings for categorical ones. */
  private async pinned(definition: LearnerDefinition, v: ViolationCollector): Promise<LearnerDefinition["inputs"]> {
    const inputs = [];
    for (const [i, input] of definition.inputs.entries()) {
      if (input.source.kind !== "feature") {
        inputs.push(input);
        continue;
      }
      const field = `learner.inputs[${i}].feature`;
      const [feature] = await this.registry.resolveFeatureRefs(definition.project, [input.source.ref], field);
      if (!feature) continue;
      const fits = input.type === "numeric" ? NUMERIC_TYPES.has(feature.type) : feature.type === "string";
      if (!fits)
        v.add(
          field,
          `feature ${input.source.ref} is ${feature.type}; a ${input.type} input takes ${input.type === "numeric" ? "int, float, double or bool" : "string"} features`,
        );
      inputs.push({ ...input, source: { kind: "feature" as const, ref: pinnedRef(feature) } });
    }
    v.throwIfAny("INVALID_LEARNER");
    return inputs;
  }
}

/**
 * Models and their versions. An upload is checked completely before anything is stored: the
 * bytes against their declared SHA-256, the file by loading it into ONNX Runtime, and every
 * input of the model against its binding (pinned feature refs or a pinned feature service of
 * numeric features, or a request-time value), with shapes and types that must fit. A version is
 * immutable; its artifact is stored once by content address and can be loaded by any replica.
 */
import { readFile } from "node:fs/promises";
import { ResourceNotFoundError, ValidationError, ViolationCollector } from "../common/errors.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import type { ValueType } from "../common/value-type.js";
import { parseFeatureRef, parseViewRef } from "../registry/feature-refs.js";
import type { ResolvedFeature } from "../registry/model.js";
import { describeInvalidResourceId, parseResourceName, resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { RegistryStore, StoredDocument } from "../storage/registry/registry-store.js";
import type { ArtifactStore } from "./artifact-store.js";
import { type InputBinding, LIVE_VERSION, type Model, type ModelVersion, type TensorSpec, type VersionRef } from "./model.js";

/** The live version of a model whose learner it is (docs/learning.md); NOT_FOUND when no learner has the name. */
export type LiveVersionLookup = (project: string, model: string) => Promise<ModelVersion>;

/** What loads a model file to tell whether it is valid and what its signature is. */
export interface ModelInspector {
  inspect(bytes: Uint8Array): Promise<{ inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] }>;
}

/** What checks that a training dataset named for lineage exists. */
export interface DatasetLookup {
  get(project: string, name: string, version?: number): Promise<unknown>;
}

/** The metadata sent before a model's bytes. */
export interface UploadHeader {
  project: string;
  model: string;
  bindings: InputBinding[];
  /** Hex SHA-256 of the whole file. */
  sha256: string;
  /** "projects/p/trainingDatasets/d[/versions/n]", or "". */
  trainingDataset: string;
  description: string;
  labels: Record<string, string>;
  /** The authenticated principal uploading it, recorded on the version (never a client's claim). */
  uploadedBy: string;
}

/** One bound input, with the features that fill it (none for a request-time input). */
export interface ResolvedBinding {
  binding: InputBinding;
  spec: TensorSpec;
  features: ResolvedFeature[];
}

/** ONNX element types Sluice fills from feature values. */
const NUMERIC_ELEMENTS = new Set(["float32", "float64", "int32", "int64", "float", "double"]);
/** Feature types that convert to a number. */
const NUMERIC_FEATURES = new Set<ValueType>(["int32", "int64", "float", "double", "bool"]);
/** Attempts at a version number when uploads of one model race. */
const VERSION_ATTEMPTS = 5;

/** Uploads, reads and resolves model versions. */
export class ModelRegistry {
  constructor(
    private readonly store: RegistryStore,
    private readonly registry: Registry,
    private readonly artifacts: ArtifactStore,
    private readonly inspector: ModelInspector,
    private readonly datasets: DatasetLookup,
    private readonly maxModelBytes: number,
    private readonly liveVersion: LiveVersionLookup,
  ) {}

  /**
   * Receives a model file and records it as the next version of its model. INVALID_ARGUMENT for a
   * checksum mismatch, a file ONNX Runtime cannot load, or bindings that do not fit the model;
   * NOT_FOUND for unknown features, feature services or training datasets. Nothing is stored then.
   */
  async upload(header: UploadHeader, chunks: AsyncIterable<Uint8Array>): Promise<ModelVersion> {
    const v = new ViolationCollector();
    const nameProblem = describeInvalidResourceId(header.model);
    if (nameProblem) v.add("header.model", nameProblem);
    if (!/^[0-9a-f]{64}$/.test(header.sha256)) v.add("header.sha256", "must be the file's SHA-256 as 64 lowercase hex digits");
    v.throwIfAny("INVALID_MODEL_UPLOAD");

    const staged = await this.artifacts.stage(chunks, this.maxModelBytes);
    let kept = false;
    try {
      if (staged.sha256 !== header.sha256) {
        throw new ValidationError("CHECKSUM_MISMATCH", [
          {
            field: "header.sha256",
            description: `is ${header.sha256} but the ${staged.sizeBytes} bytes received hash to ${staged.sha256}`,
          },
        ]);
      }
      const signature = await this.inspector.inspect(await readFile(staged.path));
      const resolved = await this.resolveBindings(header.project, signature.inputs, header.bindings, "header.input_bindings");
      const featureRefs = Object.fromEntries(
        resolved.filter((r) => r.features.length > 0).map((r) => [r.binding.inputName, r.features.map(pinnedRef)]),
      );
      if (header.trainingDataset !== "") {
        const dataset = parseResourceName(header.trainingDataset, "trainingDatasets", "header.training_dataset", true);
        await this.datasets.get(dataset.project, dataset.id, dataset.version);
      }
      await this.artifacts.keep(staged);
      kept = true;
      return await this.record(header, {
        sha256: staged.sha256,
        sizeBytes: staged.sizeBytes,
        inputs: signature.inputs.map(plainSpec),
        outputs: signature.outputs.map(plainSpec),
        featureRefs,
      });
    } finally {
      if (!kept) await this.artifacts.discard(staged);
    }
  }

  /** A model; NOT_FOUND when it does not exist. */
  async getModel(project: string, name: string): Promise<Model> {
    const stored = await this.store.getDocument<Model>("model", project, name);
    if (!stored) throw new ResourceNotFoundError("model", resourceName(project, "models", name));
    return stored.value;
  }

  /** A project's models by name. */
  async listModels(project: string, pageSize: number, pageToken: string): Promise<Page<Model>> {
    const scope = `models:${project}`;
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const documents = await this.store.listDocuments<Model>("model", project, { after: page.after, limit: page.limit + 1 });
    return toPage(
      scope,
      documents.map((d) => d.value),
      page.limit,
      (model) => model.name,
    );
  }

  /**
   * A model version; the latest when `version` is unset; the live state of the model's learner
   * for {@link LIVE_VERSION}. NOT_FOUND when it does not exist.
   */
  async getVersion(project: string, model: string, version?: number): Promise<ModelVersion> {
    if (version === LIVE_VERSION) return this.liveVersion(project, model);
    const number = version ?? (await this.getModel(project, model)).latestVersion;
    const stored = await this.store.getDocument<ModelVersion>("modelVersion", project, versionId(model, number));
    if (!stored) throw new ResourceNotFoundError("model version", resourceName(project, "models", model, version));
    return stored.value;
  }

  /** A model's versions, newest first. */
  async listVersions(project: string, model: string, pageSize: number, pageToken: string): Promise<Page<ModelVersion>> {
    const latest = (await this.getModel(project, model)).latestVersion;
    const scope = `modelVersions:${project}/${model}`;
    const page = readPageRequest<number>(scope, pageSize, pageToken, "version");
    const newest = Math.min(latest, (page.after ?? latest + 1) - 1);
    const numbers = Array.from({ length: Math.max(0, Math.min(page.limit + 1, newest)) }, (_, i) => newest - i);
    const versions: ModelVersion[] = [];
    for (const number of numbers) {
      const stored = await this.store.getDocument<ModelVersion>("modelVersion", project, versionId(model, number));
      if (stored) versions.push(stored.value);
    }
    return toPage(scope, versions, page.limit, (version) => version.version);
  }

  /**
   * The features that fill each input of a model's signature, checked: every input bound once,
   * numeric element types, rank 2 ([rows, values]) for features and rank 1 or 2 for request
   * values, feature refs and services pinned, numeric features, and as many features as the
   * input's last dimension holds.
   */
  async resolveBindings(
    project: string,
    inputs: readonly TensorSpec[],
    bindings: InputBinding[],
    field: string,
  ): Promise<ResolvedBinding[]> {
    const v = new ViolationCollector();
    const specs = new Map(inputs.map((input) => [input.name, input]));
    const seen = new Set<string>();
    bindings.forEach((binding, i) => {
      if (!specs.has(binding.inputName)) {
        v.add(
          `${field}[${i}].input_name`,
          `the model has no input "${binding.inputName}"; its inputs: ${inputs.map((x) => x.name).join(", ")}`,
        );
      } else if (seen.has(binding.inputName)) {
        v.add(`${field}[${i}].input_name`, `input "${binding.inputName}" is bound twice`);
      }
      seen.add(binding.inputName);
    });
    for (const input of inputs) if (!seen.has(input.name)) v.add(field, `model input "${input.name}" has no binding`);
    v.throwIfAny("INVALID_INPUT_BINDINGS");

    const resolved: ResolvedBinding[] = [];
    // Feature view:feature -> the version read, across all inputs.
    const read = new Map<string, number>();
    for (const [i, binding] of bindings.entries()) {
      const spec = specs.get(binding.inputName) as TensorSpec;
      const at = `${field}[${i}]`;
      const describe = `input "${spec.name}" (${spec.elementType} [${spec.shape.join(", ")}])`;
      const textInput = spec.elementType === "string";
      if (!NUMERIC_ELEMENTS.has(spec.elementType) && !textInput) v.add(at, `${describe}: Sluice fills numeric and string inputs only`);
      const { source } = binding;
      if (source.kind === "request") {
        if (spec.shape.length < 1 || spec.shape.length > 2) v.add(at, `${describe}: a request value fills an input of rank 1 or 2`);
        resolved.push({ binding, spec, features: [] });
        continue;
      }
      if (spec.shape.length !== 2) v.add(at, `${describe}: features fill an input of shape [rows, features]`);
      let features: ResolvedFeature[] = [];
      if (source.kind === "features") {
        source.refs.forEach((ref, j) => {
          const parsed = parseFeatureRef(ref, project);
          if (typeof parsed === "string") v.add(`${at}.features.refs[${j}]`, parsed);
          else if (parsed.version === undefined)
            v.add(
              `${at}.features.refs[${j}]`,
              `"${ref}" must pin a version (e.g. ${parsed.view}@1:${parsed.feature}) so the model always reads the same features`,
            );
        });
        v.throwIfAny("INVALID_INPUT_BINDINGS");
        features = await this.registry.resolveFeatureRefs(project, source.refs, `${at}.features.refs`);
      } else {
        const parsed = parseViewRef(source.service, project, "feature service");
        if (typeof parsed === "string") v.add(`${at}.feature_service`, parsed);
        else if (parsed.version === undefined)
          v.add(`${at}.feature_service`, `"${source.service}" must pin a version (e.g. ${parsed.view}@1)`);
        v.throwIfAny("INVALID_INPUT_BINDINGS");
        features = await this.registry.resolveFeatureService(project, source.service, `${at}.feature_service`);
      }
      for (const feature of features) {
        if (textInput ? feature.type !== "string" : !NUMERIC_FEATURES.has(feature.type))
          v.add(
            at,
            `feature ${feature.ref} is ${feature.type}; ${textInput ? "a string input takes string" : "a numeric input takes numeric"} features`,
          );
        const clash = read.get(`${feature.featureView}:${feature.feature}`);
        if (clash !== undefined && clash !== feature.version) {
          v.add(
            at,
            `feature ${feature.featureView}:${feature.feature} is read at versions ${clash} and ${feature.version}; read one version of it`,
          );
        }
        read.set(`${feature.featureView}:${feature.feature}`, feature.version);
      }
      const width = spec.shape[1];
      if (width !== undefined && width !== -1 && width !== features.length) {
        v.add(at, `${describe} takes ${width} values per row, but ${features.length} features are bound`);
      }
      resolved.push({ binding, spec, features });
    }
    v.throwIfAny("INVALID_INPUT_BINDINGS");
    await this.checkDerivedBindings(project, bindings, field, v);
    v.throwIfAny("INVALID_INPUT_BINDINGS");
    return resolved;
  }

  /**
   * A request binding named after a derived feature of a bound feature service is filled with that
   * feature's value at Predict: it must be a number or a bool (a model input is numeric), and only
   * one bound service may derive that name.
   */
  private async checkDerivedBindings(project: string, bindings: InputBinding[], field: string, v: ViolationCollector): Promise<void> {
    const derived = new Map<string, { service: string; type: string }>();
    for (const binding of bindings) {
      if (binding.source.kind !== "featureService") continue;
      const parsed = parseViewRef(binding.source.service, project, "feature service");
      if (typeof parsed === "string") continue;
      const service = await this.registry.getFeatureService(project, parsed.view, parsed.version);
      for (const feature of service.derivedFeatures ?? []) {
        const other = derived.get(feature.name);
        if (other && other.service !== binding.source.service)
          v.add(
            field,
            `derived feature "${feature.name}" is defined by both ${other.service} and ${binding.source.service}; bind one of them`,
          );
        derived.set(feature.name, { service: binding.source.service, type: feature.type ?? "double" });
      }
    }
    bindings.forEach((binding, i) => {
      if (binding.source.kind !== "request") return;
      const feature = derived.get(binding.source.name);
      if (feature?.type === "string")
        v.add(
          `${field}[${i}]`,
          `derived feature "${binding.source.name}" of ${feature.service} is a string; a model input takes numbers or bools`,
        );
    });
  }

  /** Creates the model when new and records the next version of it. */
  private async record(
    header: UploadHeader,
    artifact: Pick<ModelVersion, "sha256" | "sizeBytes" | "inputs" | "outputs" | "featureRefs">,
  ): Promise<ModelVersion> {
    const { project, model } = header;
    if (!(await this.store.getDocument<Model>("model", project, model))) {
      const created: Model = { project, name: model, description: header.description, latestVersion: 0, createTime: new Date() };
      // A concurrent upload may create it first; either way it exists afterwards.
      await this.store.putDocument("model", project, model, created, 0);
    }
    for (let attempt = 0; attempt < VERSION_ATTEMPTS; attempt++) {
      const current = (await this.store.getDocument<Model>("model", project, model)) as StoredDocument<Model>;
      // The model's latest may lag a concurrent upload's version by a moment: step past taken numbers.
      let number = current.value.latestVersion + 1;
      while (await this.store.getDocument("modelVersion", project, versionId(model, number))) number++;
      const version: ModelVersion = {
        project,
        model,
        version: number,
        bindings: header.bindings,
        ...artifact,
        trainingDataset: header.trainingDataset,
        description: header.description,
        labels: header.labels,
        createTime: new Date(),
        uploadedBy: header.uploadedBy,
      };
      if ((await this.store.putDocument("modelVersion", project, versionId(model, number), version, 0)) === undefined) continue;
      await this.raiseLatest(project, model, number);
      return version;
    }
    throw new Error(`could not allocate a version of model ${model}: too many concurrent uploads`);
  }

  /** Sets a model's latest version to at least `version`, by compare-and-set. */
  private async raiseLatest(project: string, model: string, version: number): Promise<void> {
    for (;;) {
      const current = (await this.store.getDocument<Model>("model", project, model)) as StoredDocument<Model>;
      if (current.value.latestVersion >= version) return;
      const next = { ...current.value, latestVersion: version };
      if ((await this.store.putDocument("model", project, model, next, current.revision)) !== undefined) return;
    }
  }
}

/** A resolved feature as a pinned ref. */
export function pinnedRef(feature: ResolvedFeature): string {
  return `${feature.featureView}@${feature.version}:${feature.feature}`;
}

/** A signature tensor as a plain record (shape copied). */
function plainSpec(spec: { name: string; elementType: string; shape: readonly number[] }): TensorSpec {
  return { name: spec.name, elementType: spec.elementType, shape: [...spec.shape] };
}

/** `{model}/{version}`, the version zero-padded so ids sort by version. */
function versionId(model: string, version: number): string {
  return `${model}/${String(version).padStart(10, "0")}`;
}

const LIVE_SUFFIX = "/versions/live";

/**
 * Parses "projects/p/models/m/versions/3" (or "…/versions/live", a learner's live state) into a
 * version ref; INVALID_ARGUMENT when it is not one.
 */
export function parseVersionName(name: string, field: string): VersionRef {
  if (name.endsWith(LIVE_SUFFIX)) {
    const model = parseResourceName(name.slice(0, -LIVE_SUFFIX.length), "models", field);
    return { project: model.project, model: model.id, version: LIVE_VERSION };
  }
  const parsed = parseResourceName(name, "models", field, true);
  if (parsed.version === undefined) {
    throw new ValidationError("INVALID_RESOURCE_NAME", [
      { field, description: `"${name}" must name a version: projects/{project}/models/{model}/versions/{version}` },
    ]);
  }
  return { project: parsed.project, model: parsed.id, version: parsed.version };
}

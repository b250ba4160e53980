/**
 * Predict: an endpoint and entity keys in, model outputs out. The endpoint's routing picks the
 * version (a sticky canary split by routing key, else stable); the version's features come from
 * the online store in one read; missing or expired features follow the endpoint's policy; the
 * model runs in the inference pool (batched with concurrent requests). After the response, and
 * never in its way: shadows get a copy of the request through a bounded queue and are compared
 * with stable's outputs, the prediction is logged, and the canary guard judges the canary.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { encodeEntityKey } from "../common/entity-key.js";
import { PreconditionError, ValidationError } from "../common/errors.js";
import type { FeatureValue, TaggedValue } from "../common/feature-value.js";
import type { Deployments } from "../models/deployments.js";
import type { FeatureColumn, FeatureStatus, OnlineReader } from "../online/online-reader.js";
import type { ResolvedFeature } from "../registry/model.js";
import { resourceName } from "../registry/names.js";
import type { InferencePool } from "../serving/inference-pool.js";
import type { ElementType, Tensor } from "../serving/tensors.js";
import type { PredictionRecord } from "../storage/offline/offline-store.js";
import { goesToCanary } from "./canary-split.js";
import { computeDerivedColumns, type DerivedColumn } from "./derived-inputs.js";
import type { EndpointStats, Role } from "./endpoint-stats.js";
import { derivedTensor, featureTensor, type OutputValues, outputValues, requestTensor } from "./model-inputs.js";
import type { PredictionLog } from "./prediction-log.js";
import type { Routing, ServingRouter, ServingVersion } from "./serving-router.js";
import { ShadowQueue } from "./shadow-queue.js";

/** A prediction request. */
export interface PredictInput {
  project: string;
  endpoint: string;
  /** Join key name -> one value per entity row. */
  entities: Record<string, TaggedValue[]>;
  /** Request-time input name -> one value per entity row. */
  requestFeatures: Record<string, TaggedValue[]>;
  /** Overrides the routing key value; "" for the endpoint's routing key. */
  routingKey: string;
  /** "" to have one assigned. */
  requestId: string;
}

/** The features a prediction read, with each row's status. */
export interface UsedFeature {
  feature: ResolvedFeature;
  statuses: FeatureStatus[];
  /**
   * A derived feature, computed for the request: `feature` then names its feature service (as
   * featureView and version) and the derived feature (as ref and feature).
   */
  derived?: boolean;
}

/** A prediction. */
export interface PredictResult {
  requestId: string;
  /** The version that served: "projects/p/models/m/versions/3". */
  modelVersion: string;
  role: Role;
  outputs: OutputValues[];
  usedFeatures: UsedFeature[];
}

/** Hooks that see every prediction and shadow run (metrics). */
export interface ServingObserver {
  predicted(event: { endpoint: string; modelVersion: string; role: Role; micros: number; ok: boolean }): void;
  shadowed(event: {
    endpoint: string;
    modelVersion: string;
    micros: number;
    ok: boolean;
    agreed: boolean;
    absoluteDifference: number;
  }): void;
  shed(event: { endpoint: string; modelVersion: string }): void;
}

/** How shadows run and are judged. */
export interface ShadowOptions {
  /** Copies waiting to run at most; more are shed. */
  queueSize: number;
  /** Largest absolute difference of any output value from stable's for a shadow to agree. */
  tolerance: number;
}

/** The feature values one version read for one request. */
interface ReadFeatures {
  columns: FeatureColumn[];
  /** Pinned ref -> column. */
  byRef: Map<string, FeatureColumn>;
  /** The derived features the version binds, computed from the request and `columns`. */
  derived: DerivedColumn[];
}

/** A served request's copy for its shadows: what it read and stable's (or the canary's) outputs. */
type ShadowCopy = ServedRequest & { outputs: OutputValues[] };

/** A request as served, for the work done after its response. */
interface ServedRequest {
  requestId: string;
  routing: Routing;
  version: ServingVersion;
  role: Role;
  input: PredictInput;
  features?: ReadFeatures;
  outputs?: OutputValues[];
  micros: number;
  failure: unknown;
}

/** Serves predictions. */
export class Predictor {
  /** Endpoints whose canary is being rolled back by the guard, so it is judged once. */
  private readonly guarding = new Set<string>();
  private readonly shadows: ShadowQueue<ShadowCopy>;

  constructor(
    private readonly router: ServingRouter,
    private readonly reader: OnlineReader,
    private readonly pool: InferencePool,
    private readonly stats: EndpointStats,
    private readonly log: PredictionLog,
    private readonly deployments: Deployments,
    private readonly observer: ServingObserver,
    private readonly shadowOptions: ShadowOptions,
    private readonly logger: Logger,
  ) {
    this.shadows = new ShadowQueue(shadowOptions.queueSize, (copies) => this.runShadows(copies));
  }

  /** Resolves once every queued shadow copy has run (at shutdown). */
  shadowsIdle(): Promise<void> {
    return this.shadows.idle();
  }

  /**
   * Predicts for every entity row. NOT_FOUND for an unknown endpoint; INVALID_ARGUMENT for bad
   * entity keys or request values; FAILED_PRECONDITION (MISSING_FEATURES) when the endpoint
   * rejects missing or expired features; UNAVAILABLE when the model's queue is full.
   */
  async predict(input: PredictInput): Promise<PredictResult> {
    const started = performance.now();
    const requestId = input.requestId || randomUUID();
    const routing = await this.router.routing(input.project, input.endpoint);
    const rows = rowCount(input.entities);
    const { canary } = routing;
    const toCanary = canary !== undefined && goesToCanary(routingKeyOf(input, routing), canary.trafficPercent);
    const chosen = toCanary ? canary.version : routing.stable;
    const role: Role = toCanary ? "canary" : "stable";
    // Taken at once, in the same turn the routing was read: a version is never released under a request.
    const release = this.router.acquire(chosen);
    let features: ReadFeatures | undefined;
    let outputs: OutputValues[] | undefined;
    let failure: unknown;
    try {
      features = this.withDerived(chosen, await this.readFeatures(chosen, input), input, rows);
      const used = usedFeatures(features);
      if (routing.deployment.missingFeaturePolicy === "reject") rejectMissing(used, input.endpoint);
      const result = await this.run(chosen, this.inputs(chosen, features, input, rows), rows);
      outputs = outputValues(
        result,
        chosen.version.outputs.map((o) => o.name),
      );
      return { requestId, modelVersion: chosen.name, role, outputs, usedFeatures: used };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      release();
      const micros = (performance.now() - started) * 1000;
      const served: ServedRequest = { requestId, routing, version: chosen, role, input, features, outputs, micros, failure };
      // Logged now, before the answer leaves, so that a label sent right after it finds the
      // prediction (WriteLabels flushes the log first); its JSON is made when the batch is written.
      const time = Date.now() * 1000;
      this.log.record(input.project, () => predictionRecord(served, time));
      // After the response is on its way: bookkeeping, shadows and the guard never delay it, and
      // never take the process down (this runs outside any call, so a throw here would). A timer,
      // not an immediate: an immediate ran before http2 flushed the response, and the log's JSON
      // and the stats then held every response up (measured: 50-70 µs of Predict's p50).
      setTimeout(() => {
        try {
          this.afterResponse(served);
        } catch (error) {
          this.logger.error({ err: error, endpoint: `${input.project}/${input.endpoint}` }, "bookkeeping after a prediction failed");
        }
      });
    }
  }

  /** Stats, metrics, shadow copies and the canary guard for one served request. */
  private afterResponse(served: ServedRequest): void {
    const { routing, version, role, input, micros } = served;
    const endpoint = `${input.project}/${input.endpoint}`;
    const ok = served.failure === undefined;
    this.stats.recordRequest(endpoint, routing.deployment.revision, version.name, role, micros, ok);
    this.observer.predicted({ endpoint, modelVersion: version.name, role, micros, ok });
    if (served.outputs && routing.shadows.length > 0) {
      if (!this.shadows.submit({ ...served, outputs: served.outputs })) {
        for (const shadow of routing.shadows) {
          this.stats.recordShed(endpoint, routing.deployment.revision, shadow.name);
          this.observer.shed({ endpoint, modelVersion: shadow.name });
        }
      }
    }
    if (role !== "shadow" && routing.canary && routing.deployment.canaryGuard) this.judgeCanary(endpoint, routing);
  }

  /**
   * Runs a batch of shadow copies: per routing, stable first for the copies the canary served
   * (they have no stable outputs to compare with), then each shadow version once over all the
   * copies' rows; each copy's outputs are compared with its stable outputs and recorded.
   */
  private async runShadows(copies: ShadowCopy[]): Promise<void> {
    for (const group of groupBy(copies, (copy) => copy.routing).values()) {
      const { routing } = group[0] as ShadowCopy;
      const endpoint = `${routing.deployment.project}/${routing.deployment.endpoint}`;
      const canaryServed = group.filter((copy) => copy.role !== "stable");
      const rerun = canaryServed.length > 0 ? await this.runOffPath(routing.stable, canaryServed) : [];
      const baselines = new Map(canaryServed.map((copy, i) => [copy, rerun[i]?.outputs]));
      for (const shadow of routing.shadows) {
        const started = performance.now();
        const results = await this.runOffPath(shadow, group);
        // Each copy's latency is that of the batched run it was part of.
        const micros = (performance.now() - started) * 1000;
        group.forEach((copy, i) => {
          const { outputs, error } = results[i] ?? {};
          const baseline = copy.role === "stable" ? copy.outputs : baselines.get(copy);
          const comparison = outputs && baseline ? compareOutputs(baseline, outputs, this.shadowOptions.tolerance) : undefined;
          this.stats.recordShadow(endpoint, routing.deployment.revision, shadow.name, micros, outputs !== undefined, comparison);
          this.observer.shadowed({
            endpoint,
            modelVersion: shadow.name,
            micros,
            ok: outputs !== undefined,
            agreed: comparison?.agreed ?? false,
            absoluteDifference: comparison?.absoluteDifferenceSum ?? 0,
          });
          this.log.record(copy.input.project, {
            time: Date.now() * 1000,
            requestId: copy.requestId,
            endpoint: copy.input.endpoint,
            modelVersion: shadow.name,
            role: "shadow",
            entityKeys: jsonOf(copy.input.entities),
            features: "{}",
            outputs: outputs ? outputsJson(outputs) : "{}",
            latencyMicros: micros,
            error: error === undefined ? "" : errorText(error),
          });
        });
      }
    }
  }

  /**
   * Runs a version over several served requests off the response path, reusing the features they
   * read when those cover its inputs. The runs are queued together, so the pool batches them into
   * one model run (and re-runs a failed batch request by request, so a bad request fails alone).
   */
  private async runOffPath(version: ServingVersion, copies: ShadowCopy[]): Promise<Array<{ outputs?: OutputValues[]; error?: unknown }>> {
    const release = this.router.acquire(version);
    const names = version.version.outputs.map((o) => o.name);
    try {
      return await Promise.all(
        copies.map(async ({ input, features: known }) => {
          try {
            const rows = rowCount(input.entities);
            const covered = known !== undefined && version.featureRefs.every((ref) => known.byRef.has(ref));
            const features = this.withDerived(version, covered ? known : await this.readFeatures(version, input), input, rows);
            const outputs = await this.run(version, this.inputs(version, features, input, rows), rows);
            return { outputs: outputValues(outputs, names) };
          } catch (error) {
            return { error };
          }
        }),
      );
    } finally {
      release();
    }
  }

  /** Runs a version: a live learner in process, any other in the inference pool (batched with concurrent requests). */
  private async run(version: ServingVersion, inputs: Record<string, Tensor>, rows: number): Promise<Record<string, Tensor>> {
    return version.live ? version.live.predict(inputs, rows) : this.pool.run(version.version.sha256, inputs, rows);
  }

  /** Rolls the canary back once the guard finds it worse than stable. */
  private judgeCanary(endpoint: string, routing: Routing): void {
    const guard = routing.deployment.canaryGuard;
    if (!guard || this.guarding.has(endpoint)) return;
    const verdict = this.stats.judgeCanary(endpoint, guard);
    if (!verdict) return;
    this.guarding.add(endpoint);
    const { project, endpoint: name, revision } = routing.deployment;
    this.logger.warn({ endpoint, canary: routing.canary?.version.name, verdict }, "canary guard: rolling the canary back");
    this.deployments
      .dropCanary(project, name, revision, { actor: "canary-guard", reason: verdict })
      .catch((error: unknown) => this.logger.error({ err: error, endpoint }, "canary guard could not roll the canary back"))
      .finally(() => this.guarding.delete(endpoint));
  }

  /** The features a version reads, for every entity row: one online read. */
  private async readFeatures(version: ServingVersion, input: PredictInput): Promise<ReadFeatures> {
    if (version.featureRefs.length === 0) return { columns: [], byRef: new Map(), derived: [] };
    const { columns } = await this.reader.read({
      project: input.project,
      features: version.featureRefs,
      featureService: "",
      entities: input.entities,
      fullFeatureNames: true,
      ignoreUnusedEntityColumns: true,
    });
    return { columns, byRef: new Map(columns.map((column, i) => [version.featureRefs[i] as string, column])), derived: [] };
  }

  /** The features read, with the derived features `version` binds computed for the request (see derived-inputs.ts). */
  private withDerived(version: ServingVersion, features: ReadFeatures, input: PredictInput, rows: number): ReadFeatures {
    if (version.featureServices.length === 0) return features.derived.length === 0 ? features : { ...features, derived: [] };
    return { ...features, derived: computeDerivedColumns(version, features.byRef, input.requestFeatures, rows) };
  }

  /** The model's input tensors: feature-bound inputs from the features read, others from the request. */
  private inputs(version: ServingVersion, features: ReadFeatures, input: PredictInput, rows: number): Record<string, Tensor> {
    const tensors: Record<string, Tensor> = {};
    for (const binding of version.version.bindings) {
      const spec = version.version.inputs.find((i) => i.name === binding.inputName);
      if (!spec) continue;
      const type = spec.elementType as ElementType;
      if (binding.source.kind === "request") {
        const name = binding.source.name;
        const derived = features.derived.find((column) => column.name === name);
        tensors[spec.name] = derived
          ? derivedTensor(type, spec, derived, rows)
          : requestTensor(type, spec.shape, input.requestFeatures[name], rows, `request_features["${name}"]`);
      } else {
        const refs = version.version.featureRefs[spec.name] ?? [];
        const columns = refs.map((ref) => withDefaults(features.byRef.get(ref) as FeatureColumn));
        tensors[spec.name] = featureTensor(type, columns, rows);
      }
    }
    return tensors;
  }
}

/** A column whose values that are not PRESENT read as null (the default, 0). */
function withDefaults(column: FeatureColumn): FeatureColumn {
  if (column.statuses.every((status) => status === "present")) return column;
  return { ...column, values: column.values.map((value, row) => (column.statuses[row] === "present" ? value : null)) };
}

function usedFeatures(features: ReadFeatures): UsedFeature[] {
  return [
    ...features.columns.map((column) => ({ feature: column.feature, statuses: column.statuses })),
    ...features.derived.map((column) => ({ feature: column.feature, statuses: column.statuses, derived: true })),
  ];
}

/**
 * What the prediction log records of a request's inputs: each feature read by pinned ref, each
 * derived one by name, each request value as "request:{name}" (outcome labels join with these).
 */
function loggedFeatures(features: ReadFeatures, requestFeatures: PredictInput["requestFeatures"]): Record<string, ReadonlyArray<unknown>> {
  return Object.fromEntries([
    ...[...features.byRef].map(([ref, column]) => [ref, column.values]),
    ...features.derived.map((column) => [column.name, column.values]),
    ...Object.entries(requestFeatures).map(([name, values]) => [`${REQUEST_FEATURE_PREFIX}${name}`, values]),
  ]);
}

/** Prefix of request values' keys in a logged prediction's features. */
export const REQUEST_FEATURE_PREFIX = "request:";

/** FAILED_PRECONDITION naming every feature that is not PRESENT, and where. */
function rejectMissing(used: UsedFeature[], endpoint: string): void {
  const missing = used.flatMap(({ feature, statuses }) => {
    const rows = statuses.flatMap((status, row) => (status === "present" ? [] : [`row ${row}: ${status.toUpperCase()}`]));
    return rows.length === 0
      ? []
      : [`${feature.featureView}@${feature.version}:${feature.feature} (${rows.slice(0, 5).join(", ")}${rows.length > 5 ? ", ..." : ""})`];
  });
  if (missing.length > 0) {
    throw new PreconditionError("MISSING_FEATURES", `endpoint ${endpoint} rejects missing or expired features: ${missing.join("; ")}`, {
      features: missing.map((m) => m.split(" ")[0]).join(","),
    });
  }
}

/** The number of entity rows; INVALID_ARGUMENT unless every key column has the same, non-zero length. */
function rowCount(entities: Record<string, TaggedValue[]>): number {
  const lengths = Object.values(entities).map((column) => column.length);
  const rows = lengths[0] ?? 0;
  if (rows === 0 || lengths.some((length) => length !== rows)) {
    throw new ValidationError("INVALID_ENTITY_ROWS", [
      { field: "entities", description: "give every join key column the same, non-zero number of values" },
    ]);
  }
  return rows;
}

/**
 * The value that picks canary or stable: the request's override, else the endpoint's routing
 * key field (a request value or join key of the first row), else every row's entity key.
 */
function routingKeyOf(input: PredictInput, routing: Routing): string {
  if (input.routingKey !== "") return input.routingKey;
  const field = routing.deployment.routingKey;
  if (field !== "") {
    const value = (input.requestFeatures[field] ?? input.entities[field])?.[0]?.value ?? null;
    return encodeEntityKey([value]);
  }
  const names = Object.keys(input.entities).sort();
  const rows = input.entities[names[0] as string]?.length ?? 0;
  return Array.from({ length: rows }, (_, row) =>
    encodeEntityKey(names.map((name) => (input.entities[name]?.[row]?.value ?? null) as FeatureValue)),
  ).join("|");
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Agreement and absolute differences of a shadow's outputs against stable's (outputs of the same name). */
function compareOutputs(served: OutputValues[], shadow: OutputValues[], tolerance: number) {
  let sum = 0;
  let count = 0;
  let agreed = true;
  for (const output of served) {
    const other = shadow.find((o) => o.name === output.name);
    if (!other || other.values.length !== output.values.length) {
      agreed = false;
      continue;
    }
    output.values.forEach((value, i) => {
      const difference = Math.abs(value - (other.values[i] as number));
      sum += difference;
      count++;
      if (!(difference <= tolerance)) agreed = false;
    });
  }
  return { agreed, absoluteDifferenceSum: sum, valueCount: count };
}

/**
 * Characters one column group of a prediction log record (entity keys, features or outputs) may
 * take. A request may carry megabytes and a model may return a million values; the log keeps a
 * bounded prefix of each column (still valid JSON), so its buffer is bounded in bytes too.
 */
export const MAX_LOGGED_JSON_CHARS = 64 * 1024;
/** Characters of one logged text or bytes value; a longer text is logged cut, ending in "…". */
export const MAX_LOGGED_VALUE_CHARS = 256;

/** Model outputs as logged: `{name: [values]}`. */
function outputsJson(outputs: readonly OutputValues[]): string {
  return jsonOf(Object.fromEntries(outputs.map((o) => [o.name, o.values])));
}

/** The prediction log's record of a served request, made when the log writes it. */
function predictionRecord(served: ServedRequest, time: number): PredictionRecord {
  const { input } = served;
  return {
    time,
    requestId: served.requestId,
    endpoint: input.endpoint,
    modelVersion: served.version.name,
    role: served.role,
    entityKeys: jsonOf(input.entities),
    features: served.features ? jsonOf(loggedFeatures(served.features, input.requestFeatures)) : "{}",
    outputs: served.outputs ? outputsJson(served.outputs) : "{}",
    latencyMicros: served.micros,
    error: served.failure === undefined ? "" : errorText(served.failure),
  };
}

/**
 * Columns of values (tagged or plain) as JSON: int64 as text, bytes as base64, long text cut. At
 * most {@link MAX_LOGGED_JSON_CHARS}: past it, each column keeps the values that fit.
 */
export function jsonOf(columns: Record<string, ReadonlyArray<unknown>>): string {
  const plain = (value: unknown): unknown => {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Uint8Array) return Buffer.from(value.subarray(0, MAX_LOGGED_VALUE_CHARS)).toString("base64");
    if (typeof value === "string") return value.length > MAX_LOGGED_VALUE_CHARS ? `${value.slice(0, MAX_LOGGED_VALUE_CHARS)}…` : value;
    if (Array.isArray(value)) return value.slice(0, MAX_LOGGED_VALUE_CHARS).map(plain);
    // A tagged value (a request's): its value; nested values pass through here again.
    if (value !== null && typeof value === "object" && "kind" in value && "value" in value) return plain(value.value);
    return value;
  };
  const parts: string[] = [];
  let size = 2;
  for (const [name, values] of Object.entries(columns)) {
    const head = `${JSON.stringify(name)}:[`;
    if (size + head.length + 1 > MAX_LOGGED_JSON_CHARS) break;
    size += head.length + 2;
    const whole = plainJsonOf(values, MAX_LOGGED_JSON_CHARS - size);
    if (whole !== undefined) {
      // As the value-by-value loop below would count it: each item and a comma.
      parts.push(`${head}${whole.slice(1)}`);
      size += whole.length - 1;
      continue;
    }
    const items: string[] = [];
    for (const value of values) {
      const item = JSON.stringify(plain(value)) ?? "null";
      if (size + item.length + 1 > MAX_LOGGED_JSON_CHARS) break;
      items.push(item);
      size += item.length + 1;
    }
    parts.push(`${head}${items.join(",")}]`);
  }
  return `{${parts.join(",")}}`;
}

/**
 * A column of numbers, booleans and nulls (model outputs, most features) as JSON in one native
 * call, when all of it fits in `room` characters as {@link jsonOf} counts them (each item and a
 * comma); undefined otherwise, or for any other value. Value by value, the 256 outputs of a model
 * took about a quarter of the main thread's time at 2,000 Predict calls/s. JSON.stringify writes
 * an array's NaN and ±Infinity as null, as the value-by-value path does.
 */
function plainJsonOf(values: ReadonlyArray<unknown>, room: number): string | undefined {
  // Each item takes at least two characters: a longer column cannot fit, and is not written whole.
  if (!Array.isArray(values) || values.length === 0 || 2 * values.length > room) return undefined;
  for (const value of values) {
    const type = typeof value;
    if (value !== null && type !== "number" && type !== "boolean") return undefined;
  }
  const json = JSON.stringify(values);
  return json.length - 1 <= room ? json : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The resource name of an endpoint. */
export function endpointName(project: string, endpoint: string): string {
  return resourceName(project, "endpoints", endpoint);
}

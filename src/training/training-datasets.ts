/**
 * Training datasets: a point-in-time retrieval run as a job whose result is kept, in the offline
 * store and as a Parquet file, under a versioned name with its exact lineage (feature view
 * versions, spine hash, row count, event-time range). Records live in the registry store, so
 * every replica sees them; a job runs on the replica that created it and says it is alive while
 * it runs, so a job whose server died is reported as failed rather than running forever.
 */
import { join } from "node:path";
import type { Logger } from "pino";
import { PreconditionError, ResourceNotFoundError, ValidationError, ViolationCollector } from "../common/errors.js";
import { type Page, readPageRequest, toPage } from "../common/pagination.js";
import type { DerivedFeatureService } from "../expressions/derived-features.js";
import { describeInvalidResourceId, resourceName } from "../registry/names.js";
import type { ArrowChunks, OfflineStore, Spine } from "../storage/offline/offline-store.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import { appendDerivedColumns, derivedColumnsPlanOf } from "./derived-columns.js";
import { type HistoricalRetriever, joinOf, outputColumns, type RetrievalPlan } from "./historical-retriever.js";
import type { HistoricalQuery, OutputColumn, TrainingDataset } from "./model.js";

/** How often a running job records that it is alive. */
const HEARTBEAT_MS = 10_000;
/** A running job silent for this long has lost its server. */
const HEARTBEAT_EXPIRY_MS = 60_000;
/** Attempts at a version number when other creators race for the same name. */
const VERSION_ATTEMPTS = 5;

/** What a client asks for: a name, a query whose spine is in the offline store, a description. */
export interface TrainingDatasetSpec {
  project: string;
  name: string;
  query: HistoricalQuery;
  description: string;
}

/** Creates, runs and serves training datasets. */
export class TrainingDatasets {
  private readonly running = new Set<Promise<void>>();
  private readonly jobs = new AbortController();

  constructor(
    private readonly store: RegistryStore,
    private readonly retriever: HistoricalRetriever,
    private readonly offline: OfflineStore,
    /** Parquet files go to `{directory}/{project}/{name}/v{version}.parquet`. */
    private readonly directory: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Records version N+1 of a dataset as running and starts its job; returns at once. NOT_FOUND
   * for unknown features; INVALID_ARGUMENT for a bad name, an inline spine, or a bad selection.
   */
  async create(spec: TrainingDatasetSpec): Promise<TrainingDataset> {
    const v = new ViolationCollector();
    const nameProblem = describeInvalidResourceId(spec.name);
    if (nameProblem) v.add("training_dataset.name", nameProblem);
    if (spec.query.spine.kind === "inline") {
      v.add("training_dataset.query", "a training dataset needs a spine in the offline store or an entity time range, not an inline spine");
    }
    v.throwIfAny("INVALID_TRAINING_DATASET");
    const plan = await this.retriever.plan(spec.query);

    for (let attempt = 0; attempt < VERSION_ATTEMPTS; attempt++) {
      const version = (await this.latestVersion(spec.project, spec.name)) + 1;
      const now = new Date();
      const dataset: TrainingDataset = {
        project: spec.project,
        name: spec.name,
        version,
        query: spec.query,
        description: spec.description,
        resolvedFeatures: plan.features,
        ...(plan.derived ? { derivedFrom: derivedDefinitions(plan.derived.service) } : {}),
        state: "running",
        errorMessage: "",
        spineSha256: "",
        rowCount: 0,
        offlineTable: `td__${spec.name}__v${version}`,
        parquetPath: join(this.directory, spec.project, spec.name, `v${version}.parquet`),
        createTime: now,
        heartbeatTime: now,
      };
      const revision = await this.store.putDocument("trainingDataset", spec.project, documentId(spec.name, version), dataset, 0);
      if (revision === undefined) continue;
      this.start(dataset, revision, plan);
      return dataset;
    }
    throw new Error(`could not allocate a version of training dataset ${spec.name}: too many concurrent creations`);
  }

  /** A dataset version, or the latest one; NOT_FOUND when it does not exist. */
  async get(project: string, name: string, version?: number): Promise<TrainingDataset> {
    const resolved = version ?? (await this.latestVersion(project, name));
    const stored =
      resolved > 0 ? await this.store.getDocument<TrainingDataset>("trainingDataset", project, documentId(name, resolved)) : undefined;
    if (!stored) throw new ResourceNotFoundError("training dataset", resourceName(project, "trainingDatasets", name, version));
    return withLiveness(stored.value);
  }

  /** The latest version of each dataset of a project, by name. */
  async list(project: string, pageSize: number, pageToken: string): Promise<Page<TrainingDataset>> {
    const scope = `trainingDatasets:${project}`;
    const page = readPageRequest<string>(scope, pageSize, pageToken, "name");
    const latest: TrainingDataset[] = [];
    // Documents are ordered by name, then zero-padded version: the last of each name is its latest.
    let after = page.after === undefined ? undefined : `${page.after}/~`;
    while (latest.length <= page.limit) {
      const documents = await this.store.listDocuments<TrainingDataset>("trainingDataset", project, { after, limit: 200 });
      for (const { value } of documents) {
        if (latest.at(-1)?.name === value.name) latest[latest.length - 1] = value;
        else latest.push(value);
      }
      if (documents.length < 200) break;
      after = documents.at(-1)?.id;
    }
    // Every name but the last read is complete (a later name followed it); toPage returns only
    // those, and the one extra name merely says more follow.
    return toPage(scope, latest.map(withLiveness), page.limit, (dataset) => dataset.name);
  }

  /**
   * Streams a succeeded dataset's rows in spine order, with its columns; FAILED_PRECONDITION
   * while it runs or when it failed.
   */
  async read(
    project: string,
    name: string,
    version?: number,
    signal?: AbortSignal,
  ): Promise<{ columns: OutputColumn[]; chunks: ArrowChunks }> {
    const dataset = await this.get(project, name, version);
    if (dataset.state !== "succeeded") {
      throw new PreconditionError(
        "TRAINING_DATASET_NOT_READY",
        `training dataset ${name} version ${dataset.version} is ${dataset.state}; only a succeeded dataset can be read`,
        { resource_name: resourceName(project, "trainingDatasets", name, dataset.version) },
      );
    }
    const columns = dataset.columns ?? [];
    const saved = this.offline.readSavedJoin(
      project,
      dataset.offlineTable,
      dataset.query.emitSpineIndex,
      signal,
      this.retriever.queryLimits,
    );
    const derived =
      dataset.derivedFrom &&
      derivedColumnsPlanOf(
        dataset.derivedFrom,
        dataset.resolvedFeatures,
        columns.filter((c) => c.role === "feature").map((c) => c.name),
      );
    return { columns, chunks: appendDerivedColumns(saved, derived) };
  }

  /** Stops running jobs (they are recorded as failed) and waits for them to end. */
  async close(): Promise<void> {
    this.jobs.abort();
    await Promise.allSettled([...this.running]);
  }

  private async latestVersion(project: string, name: string): Promise<number> {
    let latest = 0;
    let after: string | undefined;
    for (;;) {
      const documents = await this.store.listDocuments<TrainingDataset>("trainingDataset", project, {
        prefix: `${name}/`,
        after,
        limit: 200,
      });
      latest = documents.at(-1)?.value.version ?? latest;
      if (documents.length < 200) return latest;
      after = documents.at(-1)?.id;
    }
  }

  private start(dataset: TrainingDataset, revision: number, plan: RetrievalPlan): void {
    const job = this.run(dataset, revision, plan).finally(() => this.running.delete(job));
    this.running.add(job);
  }

  /** The job: store the spine, summarize it, save the join, and record the outcome. */
  private async run(dataset: TrainingDataset, firstRevision: number, plan: RetrievalPlan): Promise<void> {
    let revision = firstRevision;
    let current = dataset;
    const log = this.logger.child({ trainingDataset: resourceName(dataset.project, "trainingDatasets", dataset.name, dataset.version) });
    const save = async (next: TrainingDataset) => {
      const written = await this.store.putDocument("trainingDataset", next.project, documentId(next.name, next.version), next, revision);
      if (written === undefined) throw new Error("the dataset record was changed by someone else");
      revision = written;
      current = next;
    };
    const heartbeat = setInterval(() => {
      save({ ...current, heartbeatTime: new Date() }).catch((error: unknown) =>
        log.warn({ err: error }, "could not record the job's heartbeat"),
      );
    }, HEARTBEAT_MS);
    heartbeat.unref();
    const started = performance.now();
    log.info({ features: plan.features.length }, "training dataset job started");
    let spine: Spine | undefined;
    try {
      // Shutting down stops the job's queries in the engine; each runs within the query limits.
      const { signal } = this.jobs;
      const limits = this.retriever.queryLimits;
      spine = await this.retriever.storeSpine(plan, undefined, signal);
      signal.throwIfAborted();
      const summary = await this.offline.summarizeSpine(spine, signal, limits);
      const columns = outputColumns(plan, spine);
      log.info({ spineRows: summary.rowCount }, "spine stored; joining");
      signal.throwIfAborted();
      const rowCount = await this.offline.saveJoin(
        joinOf(plan, spine, true, dataset.query.emitSpineIndex),
        dataset.offlineTable,
        dataset.parquetPath,
        signal,
        limits,
      );
      clearInterval(heartbeat);
      await save({
        ...current,
        state: "succeeded",
        rowCount,
        spineSha256: summary.sha256,
        minEventTime: summary.minEventTime,
        maxEventTime: summary.maxEventTime,
        columns,
        completeTime: new Date(),
        heartbeatTime: new Date(),
      });
      log.info({ rows: rowCount, seconds: Math.round(performance.now() - started) / 1000 }, "training dataset job succeeded");
    } catch (error) {
      clearInterval(heartbeat);
      const message = this.jobs.signal.aborted ? "the server shut down before the job finished" : errorMessage(error);
      log.warn({ err: error }, "training dataset job failed");
      await save({ ...current, state: "failed", errorMessage: message, completeTime: new Date(), heartbeatTime: new Date() }).catch(
        (saveError: unknown) => log.error({ err: saveError }, "could not record the job's failure"),
      );
    } finally {
      if (spine) await this.offline.dropSpine(spine).catch(() => undefined);
    }
  }
}

/** What a dataset keeps of a feature service version to compute its derived features when read. */
function derivedDefinitions(service: DerivedFeatureService): DerivedFeatureService {
  const { project, name, version, features, requestInputs, derivedFeatures } = service;
  return { project, name, version, features, requestInputs: requestInputs ?? [], derivedFeatures: derivedFeatures ?? [] };
}

/** `{name}/{version}`, the version zero-padded so ids sort by version. */
function documentId(name: string, version: number): string {
  return `${name}/${String(version).padStart(10, "0")}`;
}

/** A running dataset whose job stopped saying it is alive is reported as failed. */
function withLiveness(dataset: TrainingDataset): TrainingDataset {
  if (dataset.state !== "running" || Date.now() - dataset.heartbeatTime.getTime() < HEARTBEAT_EXPIRY_MS) return dataset;
  return { ...dataset, state: "failed", errorMessage: "the server running the job stopped before it finished" };
}

function errorMessage(error: unknown): string {
  if (error instanceof ValidationError) return error.violations.map((v) => `${v.field}: ${v.description}`).join("; ");
  return error instanceof Error ? error.message : String(error);
}

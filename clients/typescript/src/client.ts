/**
 * The TypeScript SDK: a typed, promise-based wrapper over the generated gRPC stubs. It fills in
 * resource names from short ids, converts friendly types ("int64", seconds) to wire types, sets a
 * deadline on every call, retries idempotent calls when the server is briefly unavailable, and
 * turns failures into {@link SluiceClientError}s with the server's reason and field violations.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { type CallOptions, type Client, type ClientUnaryCall, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { type Table, tableFromIPC } from "apache-arrow";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../../../src/gen/grpc/health/v1/health.pb.js";
import {
  AccessServiceClient,
  type ApiKey,
  type AuditEvent,
  type RoleBinding,
  type VerifyAuditChainResponse,
  type WhoAmIResponse,
} from "../../../src/gen/sluice/v1/access.pb.js";
import { InferenceServiceClient } from "../../../src/gen/sluice/v1/inference.pb.js";
import {
  FileFormat,
  type GetEventStreamStatusResponse,
  type ImportFeaturesResponse,
  IngestionServiceClient,
  type MaterializeResponse,
  type WriteEventBatchResponse,
  type WriteEventsRequest,
  type WriteEventsResponse,
  type WriteFeatureBatchResponse,
  type WriteFeaturesRequest,
  type WriteFeaturesResponse,
} from "../../../src/gen/sluice/v1/ingestion.pb.js";
import {
  type Learner,
  LearnerInputType,
  LearnerKind,
  LearningServiceClient,
  type WriteLabelsRequest,
  type WriteLabelsResponse,
} from "../../../src/gen/sluice/v1/learning.pb.js";
import {
  type Deployment,
  MissingFeaturePolicy,
  type Model,
  ModelServiceClient,
  type ModelUploadHeader,
  type ModelVersion,
  Deployment as WireDeployment,
} from "../../../src/gen/sluice/v1/model.pb.js";
import {
  type CheckServedConsistencyResponse,
  MonitoringServiceClient,
  type VersionReport,
} from "../../../src/gen/sluice/v1/monitoring.pb.js";
import { OnlineResponseLayout, OnlineServiceClient } from "../../../src/gen/sluice/v1/online.pb.js";
import {
  type ApplyEntityResponse,
  type ApplyEventStreamResponse,
  type ApplyFeatureServiceResponse,
  type ApplyFeatureViewResponse,
  type Entity,
  type EventStream,
  type FeatureService,
  type FeatureView,
  type Project,
  RegistryServiceClient,
} from "../../../src/gen/sluice/v1/registry.pb.js";
import {
  type GetHistoricalFeaturesResponse,
  OutputFormat,
  type ReadTrainingDatasetResponse,
  TrainingDataset,
  TrainingDatasetState,
  TrainingServiceClient,
} from "../../../src/gen/sluice/v1/training.pb.js";
import { FeatureStatus, type ResolvedFeature } from "../../../src/gen/sluice/v1/types.pb.js";
import { dateToTimestamp } from "../../../src/grpc/mapping/common.js";
import type { Collection } from "../../../src/registry/names.js";
import {
  type ApiKeyInput,
  type ApiKeyListOptions,
  type AuditEventListOptions,
  apiKeyCheck,
  apiKeyListCheck,
  apiKeyToWire,
  auditEventListCheck,
  auditEventsRequest,
  type RoleBindingInput,
  type RoleBindingListOptions,
  roleBindingCheck,
  roleBindingListCheck,
  roleBindingToWire,
} from "./access.js";
import { anyObject, argumentError, checkArguments, checkValue, func, nonEmptyString, number, string } from "./arguments.js";
import { connectionFor } from "./credentials.js";
import { SluiceClientError, toClientError } from "./errors.js";
import {
  type BatchInput,
  batchCheck,
  type ColumnarBatchInput,
  type ColumnarEventBatchInput,
  clientOptionsCheck,
  type DeploymentChangeInput,
  type DeploymentInput,
  deploymentChangeCheck,
  deploymentCheck,
  type EntityInput,
  type EventBatchInput,
  type EventStreamInput,
  type EventWriteStream,
  entityCheck,
  eventBatchCheck,
  eventStreamCheck,
  type FeatureSelectionInput,
  type FeatureServiceInput,
  type FeatureViewInput,
  featureServiceCheck,
  featureViewCheck,
  featureViewListCheck,
  type HistoricalQueryInput,
  type HistoricalSchema,
  historicalOptionsCheck,
  historicalQueryCheck,
  type ImportInput,
  importCheck,
  type LabelBatchInput,
  type LearnerCreateInput,
  type ListOptions,
  labelBatchCheck,
  learnerCreateCheck,
  listOptionsCheck,
  type MaterializeInput,
  type ModelUploadInput,
  materializeCheck,
  modelUploadCheck,
  type OnlineColumn,
  type OnlineFeaturesInput,
  onlineCheck,
  type PredictInput,
  type Prediction,
  type PromotionDecisionInput,
  predictCheck,
  projectCheck,
  promotionDecisionCheck,
  type ServedConsistencyInput,
  type SluiceClientOptions,
  selectionCheck,
  servedConsistencyCheck,
  type TrainingDatasetInput,
  trainingDatasetCheck,
  type VersionOptions,
  versionOptionsCheck,
  type WriteStream,
  waitOptionsCheck,
} from "./inputs.js";
import { fullName, LIVE_MODEL_VERSION, type NameContext, type NameOptions, projectId, versionedName } from "./names.js";
import { batchToWire, eventBatchToWire, featureToWire, optionalDuration, queryToWire, toValueType, valueColumns } from "./requests.js";
import { fromWireValue, type PlainValue, timestampToDate, toWireValue } from "./values.js";
import { acknowledgedWriteStream } from "./write-stream.js";

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Bytes per UploadModel chunk message. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * The channel retries idempotent calls on UNAVAILABLE: registry reads and applies (an apply
 * repeated is UNCHANGED), online reads and learner reads (labels retry safely with a write id, by the caller). CreateProject is not idempotent (a repeat is
 * ALREADY_EXISTS), so it is listed on its own without a retry policy, which overrides the service's.
 */
const SERVICE_CONFIG = {
  methodConfig: [
    {
      // Reads, and Predict (UNAVAILABLE also when a model's queue is full: backing off helps).
      name: [
        { service: "sluice.v1.RegistryService" },
        { service: "sluice.v1.OnlineService" },
        { service: "sluice.v1.InferenceService" },
        { service: "sluice.v1.LearningService", method: "GetLearner" },
        { service: "sluice.v1.LearningService", method: "ListLearners" },
      ],
      retryPolicy: {
        maxAttempts: 4,
        initialBackoff: "0.1s",
        maxBackoff: "2s",
        backoffMultiplier: 2,
        retryableStatusCodes: ["UNAVAILABLE"],
      },
    },
    { name: [{ service: "sluice.v1.RegistryService", method: "CreateProject" }] },
  ],
};

/**
 * A connection to one Sluice server.
 *
 * Every method checks its arguments before sending anything and throws a
 * {@link SluiceClientError} (INVALID_ARGUMENT, with a field violation per bad argument) instead of
 * failing on a TypeError. Resources are named by short id, placed in the call's `project` (or the
 * client's), or by full resource name (`projects/{project}/featureViews/{id}`, ...), used unchanged;
 * refs (`view`, `view@3:feature`, and their full forms) go to the server as written.
 */
export class SluiceClient {
  /** The generated stubs, for calls the wrapper does not cover. They share one channel. */
  readonly registry: RegistryServiceClient;
  readonly ingestion: IngestionServiceClient;
  readonly online: OnlineServiceClient;
  readonly training: TrainingServiceClient;
  readonly models: ModelServiceClient;
  readonly inference: InferenceServiceClient;
  readonly monitoring: MonitoringServiceClient;
  readonly access: AccessServiceClient;
  readonly learning: LearningServiceClient;
  private readonly health: HealthClient;
  private readonly deadlineMs: number;
  /** The id of the project calls use when they do not name one. */
  private readonly project: string;

  constructor(options: SluiceClientOptions) {
    checkArguments("new SluiceClient", ["options", options, clientOptionsCheck]);
    this.project = projectId(options.project ?? "default", { method: "new SluiceClient", field: "project" });
    // Credentials ride on the channel (call credentials over TLS, an interceptor over plaintext), so the
    // generated stubs' calls carry them as the wrappers' do.
    const connection = connectionFor(options, "new SluiceClient");
    const channelCredentials = connection.credentials;
    const channelOptions = {
      "grpc.service_config": JSON.stringify(SERVICE_CONFIG),
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      // HTTP/2 receive window: the 64 KiB default stalls large responses (training sets) on a
      // window update every 64 KiB, even on loopback.
      "grpc-node.flow_control_window": 16 * 1024 * 1024,
      ...connection.channelOptions,
    };
    this.registry = new RegistryServiceClient(options.address, channelCredentials, {
      ...channelOptions,
      interceptors: connection.interceptors,
    });
    // Every other stub shares the registry stub's channel rather than opening its own connection.
    const shared = { ...channelOptions, channelOverride: this.registry.getChannel(), interceptors: connection.interceptors };
    this.health = new HealthClient(options.address, channelCredentials, shared);
    this.ingestion = new IngestionServiceClient(options.address, channelCredentials, shared);
    this.online = new OnlineServiceClient(options.address, channelCredentials, shared);
    this.training = new TrainingServiceClient(options.address, channelCredentials, shared);
    this.models = new ModelServiceClient(options.address, channelCredentials, shared);
    this.inference = new InferenceServiceClient(options.address, channelCredentials, shared);
    this.monitoring = new MonitoringServiceClient(options.address, channelCredentials, shared);
    this.access = new AccessServiceClient(options.address, channelCredentials, shared);
    this.learning = new LearningServiceClient(options.address, channelCredentials, shared);
    this.deadlineMs = options.deadlineMs ?? 30_000;
  }

  /** Connects and waits until the channel is ready; UNAVAILABLE when it is not within `waitMs`. */
  static async connect(options: SluiceClientOptions, waitMs = 10_000): Promise<SluiceClient> {
    checkArguments("SluiceClient.connect", ["waitMs", waitMs, number({ min: 0 })]);
    const client = new SluiceClient(options);
    await new Promise<void>((resolve, reject) =>
      client.registry.waitForReady(Date.now() + waitMs, (error) =>
        error ? reject(localError(status.UNAVAILABLE, `no server ready at ${options.address}: ${error.message}`, error)) : resolve(),
      ),
    );
    return client;
  }

  /** Whether the server (or one service) reports SERVING. */
  async isServing(service = ""): Promise<boolean> {
    checkArguments("isServing", ["service", service, string]);
    const response = await this.call(this.health, this.health.check, { service });
    return response.status === HealthCheckResponse_ServingStatus.SERVING;
  }

  /** Closes the connection. */
  close(): void {
    this.registry.close();
  }

  // ---- projects ----

  /** Creates a project (an id, or "projects/{id}"); ALREADY_EXISTS when it exists. */
  async createProject(name: string, description = ""): Promise<Project> {
    checkArguments("createProject", ["name", name, nonEmptyString], ["description", description, string]);
    const response = await this.call(this.registry, this.registry.createProject, {
      project: { name: `projects/${projectId(name, { method: "createProject", field: "name" })}`, description, createTime: undefined },
    });
    return required(response.project);
  }

  /** Gets a project by id or by name ("projects/{id}"). */
  async getProject(name: string): Promise<Project> {
    checkArguments("getProject", ["name", name, nonEmptyString]);
    const fullProjectName = `projects/${projectId(name, { method: "getProject", field: "name" })}`;
    return required((await this.call(this.registry, this.registry.getProject, { name: fullProjectName })).project);
  }

  // ---- entities ----

  /** Creates an entity or updates its documentation; its join keys cannot change. */
  async applyEntity(input: EntityInput): Promise<ApplyEntityResponse> {
    const method = "applyEntity";
    checkArguments(method, ["input", input, entityCheck]);
    return this.call(this.registry, this.registry.applyEntity, {
      entity: {
        name: this.name(method, "name", "entities", input.name, input.project, { lenient: true }),
        joinKeys: input.joinKeys.map((k) => ({ name: k.name, type: toValueType(k.type) })),
        description: input.description ?? "",
        owner: input.owner ?? "",
        tags: input.tags ?? {},
        createTime: undefined,
        updateTime: undefined,
      },
      validateOnly: input.validateOnly ?? false,
    });
  }

  /** Gets an entity by id or full name. */
  async getEntity(name: string, project?: string): Promise<Entity> {
    const method = "getEntity";
    checkArguments(method, ["name", name, nonEmptyString], ["project", project, projectCheck]);
    const request = { name: this.name(method, "name", "entities", name, project) };
    return required((await this.call(this.registry, this.registry.getEntity, request)).entity);
  }

  // ---- feature views ----

  /** Applies a feature view; the response says CREATED, UNCHANGED or NEW_VERSION (and how compatible). */
  async applyFeatureView(input: FeatureViewInput): Promise<ApplyFeatureViewResponse> {
    const method = "applyFeatureView";
    checkArguments(method, ["input", input, featureViewCheck]);
    return this.call(this.registry, this.registry.applyFeatureView, {
      featureView: {
        name: this.name(method, "name", "featureViews", input.name, input.project, { lenient: true }),
        version: 0,
        entity: input.entity,
        features: input.features.map(featureToWire),
        ttl: optionalDuration(input.ttlSeconds),
        description: input.description ?? "",
        owner: input.owner ?? "",
        tags: input.tags ?? {},
        state: 0,
        compatibility: 0,
        changes: [],
        createTime: undefined,
        deprecateTime: undefined,
        historyVersion: 0,
        stream: input.stream ?? "",
        streamVersion: 0,
        logServedValues: input.logServedValues ?? false,
      },
      validateOnly: input.validateOnly ?? false,
    });
  }

  /**
   * The latest version of a feature view, or an exact one: by id ("customer_stats", with
   * `options.version`) or by full name ("projects/p/featureViews/customer_stats[/versions/3]").
   */
  async getFeatureView(name: string, options: VersionOptions = {}): Promise<FeatureView> {
    const method = "getFeatureView";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, versionOptionsCheck]);
    const response = await this.call(this.registry, this.registry.getFeatureView, {
      name: this.name(method, "name", "featureViews", name, options.project, { allowVersion: true, version: options.version }),
    });
    return required(response.featureView);
  }

  /** Every feature view of a project (latest versions), page by page. */
  async *listFeatureViews(options: ListOptions & { showDeprecated?: boolean } = {}): AsyncGenerator<FeatureView> {
    checkArguments("listFeatureViews", ["options", options, featureViewListCheck]);
    const parent = this.parent("listFeatureViews", options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.registry, this.registry.listFeatureViews, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
        showDeprecated: options.showDeprecated ?? false,
      });
      return [response.featureViews, response.nextPageToken];
    });
  }

  /** Every version of a feature view (an id or a full name), newest first. */
  async *listFeatureViewVersions(name: string, options: ListOptions = {}): AsyncGenerator<FeatureView> {
    const method = "listFeatureViewVersions";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, listOptionsCheck]);
    const parent = this.name(method, "name", "featureViews", name, options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.registry, this.registry.listFeatureViewVersions, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.featureViews, response.nextPageToken];
    });
  }

  /** Deprecates a feature view (soft delete), given by id or full name. */
  async deleteFeatureView(name: string, project?: string): Promise<FeatureView> {
    const method = "deleteFeatureView";
    checkArguments(method, ["name", name, nonEmptyString], ["project", project, projectCheck]);
    const request = { name: this.name(method, "name", "featureViews", name, project) };
    return required((await this.call(this.registry, this.registry.deleteFeatureView, request)).featureView);
  }

  // ---- feature services ----

  /** Applies a feature service; versioned like feature views, every ref must resolve. */
  async applyFeatureService(input: FeatureServiceInput): Promise<ApplyFeatureServiceResponse> {
    const method = "applyFeatureService";
    checkArguments(method, ["input", input, featureServiceCheck]);
    return this.call(this.registry, this.registry.applyFeatureService, {
      featureService: {
        name: this.name(method, "name", "featureServices", input.name, input.project, { lenient: true }),
        version: 0,
        features: input.features,
        description: input.description ?? "",
        owner: input.owner ?? "",
        tags: input.tags ?? {},
        compatibility: 0,
        changes: [],
        createTime: undefined,
        requestInputs: (input.requestInputs ?? []).map((r) => ({
          name: r.name,
          type: toValueType(r.type),
          description: r.description ?? "",
        })),
        derivedFeatures: (input.derivedFeatures ?? []).map((d) => ({
          name: d.name,
          expression: d.expression,
          description: d.description ?? "",
          type: 0,
        })),
      },
      validateOnly: input.validateOnly ?? false,
    });
  }

  /** The latest version of a feature service, or an exact one (by id and `version`, or by full name). */
  async getFeatureService(name: string, options: VersionOptions = {}): Promise<FeatureService> {
    const method = "getFeatureService";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, versionOptionsCheck]);
    const response = await this.call(this.registry, this.registry.getFeatureService, {
      name: this.name(method, "name", "featureServices", name, options.project, { allowVersion: true, version: options.version }),
    });
    return required(response.featureService);
  }

  /** Resolves feature refs, or a feature service ("name" or "name@2"), to concrete view versions. */
  async resolveFeatures(selection: FeatureSelectionInput): Promise<ResolvedFeature[]> {
    checkArguments("resolveFeatures", ["selection", selection, selectionCheck]);
    const response = await this.call(this.registry, this.registry.resolveFeatures, {
      project: this.parent("resolveFeatures", selection.project),
      features: selection.features ?? [],
      featureService: selection.featureService ?? "",
    });
    return response.features;
  }

  // ---- event streams ----

  /**
   * Applies an event stream: the raw events aggregation feature views aggregate. Versioned like
   * feature views; durations are in seconds, and unset ones take the server's defaults.
   */
  async applyEventStream(input: EventStreamInput): Promise<ApplyEventStreamResponse> {
    const method = "applyEventStream";
    checkArguments(method, ["input", input, eventStreamCheck]);
    return this.call(this.registry, this.registry.applyEventStream, {
      eventStream: {
        name: this.name(method, "name", "eventStreams", input.name, input.project, { lenient: true }),
        version: 0,
        entity: input.entity,
        fields: input.fields.map((f) => ({ name: f.name, type: toValueType(f.type), description: f.description ?? "" })),
        eventTimeField: input.eventTimeField ?? "",
        granularity: optionalDuration(input.granularitySeconds),
        allowedLateness: optionalDuration(input.allowedLatenessSeconds),
        retention: optionalDuration(input.retentionSeconds),
        description: input.description ?? "",
        owner: input.owner ?? "",
        tags: input.tags ?? {},
        state: 0,
        compatibility: 0,
        changes: [],
        createTime: undefined,
        historyVersion: 0,
      },
      validateOnly: input.validateOnly ?? false,
    });
  }

  /** The latest version of an event stream, or an exact one (by id and `version`, or by full name). */
  async getEventStream(name: string, options: VersionOptions = {}): Promise<EventStream> {
    const method = "getEventStream";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, versionOptionsCheck]);
    const response = await this.call(this.registry, this.registry.getEventStream, {
      name: this.name(method, "name", "eventStreams", name, options.project, { allowVersion: true, version: options.version }),
    });
    return required(response.eventStream);
  }

  /** Every event stream of a project (latest versions), page by page. */
  async *listEventStreams(options: ListOptions = {}): AsyncGenerator<EventStream> {
    checkArguments("listEventStreams", ["options", options, listOptionsCheck]);
    const parent = this.parent("listEventStreams", options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.registry, this.registry.listEventStreams, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.eventStreams, response.nextPageToken];
    });
  }

  /** Every version of an event stream (an id or a full name), newest first. */
  async *listEventStreamVersions(name: string, options: ListOptions = {}): AsyncGenerator<EventStream> {
    const method = "listEventStreamVersions";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, listOptionsCheck]);
    const parent = this.name(method, "name", "eventStreams", name, options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.registry, this.registry.listEventStreamVersions, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.eventStreams, response.nextPageToken];
    });
  }

  /**
   * Writes one batch of raw events, as events or as columns; acknowledged once the events are
   * stored offline and applied to the online tiles of every aggregation view over the stream.
   * `tooLateCount` counts accepted events older than the stream's watermark (stored, not applied online).
   */
  async writeEventBatch(batch: EventBatchInput | ColumnarEventBatchInput): Promise<WriteEventBatchResponse> {
    checkArguments("writeEventBatch", ["batch", batch, eventBatchCheck]);
    return this.call(
      this.ingestion,
      this.ingestion.writeEventBatch,
      eventBatchToWire(batch, this.parent("writeEventBatch", batch.project)),
    );
  }

  /**
   * Opens a WriteEvents stream: batches of events, acknowledged in order, as {@link openWriteStream}
   * does for feature rows. A batch retried with the same `writeId` is applied once.
   */
  openEventWriteStream(): EventWriteStream {
    const method = "EventWriteStream.write";
    return acknowledgedWriteStream<EventBatchInput | ColumnarEventBatchInput, WriteEventsRequest, WriteEventsResponse>(
      this.ingestion.writeEvents(this.metadata()),
      method,
      eventBatchCheck,
      (batch) => eventBatchToWire(batch, this.parent(method, batch.project)),
    );
  }

  /** A stream's event time and lateness per source (watermarks, event and too-late counts); `eventStream` is a stream ref. */
  async getEventStreamStatus(eventStream: string, project?: string): Promise<GetEventStreamStatusResponse> {
    const method = "getEventStreamStatus";
    checkArguments(method, ["eventStream", eventStream, nonEmptyString], ["project", project, projectCheck]);
    return this.call(this.ingestion, this.ingestion.getEventStreamStatus, { project: this.parent(method, project), eventStream });
  }

  // ---- writes and online reads ----

  /**
   * Writes one batch, as rows or as columns (the faster form for large batches); the answer counts
   * accepted rows and explains each rejected one.
   */
  async writeFeatureBatch(batch: BatchInput | ColumnarBatchInput): Promise<WriteFeatureBatchResponse> {
    checkArguments("writeFeatureBatch", ["batch", batch, batchCheck]);
    return this.call(this.ingestion, this.ingestion.writeFeatureBatch, batchToWire(batch, this.parent("writeFeatureBatch", batch.project)));
  }

  /**
   * Opens a WriteFeatures stream. Batches are acknowledged in order, each once it is stored; a
   * stream error rejects every batch still waiting for its acknowledgement. A malformed batch is
   * refused (its promise rejects) without being sent; the stream stays usable.
   */
  openWriteStream(): WriteStream {
    const method = "WriteStream.write";
    return acknowledgedWriteStream<BatchInput | ColumnarBatchInput, WriteFeaturesRequest, WriteFeaturesResponse>(
      this.ingestion.writeFeatures(this.metadata()),
      method,
      batchCheck,
      (batch) => batchToWire(batch, this.parent(method, batch.project)),
    );
  }

  /**
   * Imports a Parquet or CSV file: one on the server (`serverPath`) or a local one streamed up
   * (`localPath`), as feature rows into `featureView` (or into several `featureViews`, the file read
   * once) or as raw events into `eventStream`. Calls
   * `onProgress` after every server batch and resolves with the final summary.
   */
  async importFeatures(request: ImportInput): Promise<ImportFeaturesResponse> {
    checkArguments("importFeatures", ["request", request, importCheck]);
    const project = this.parent("importFeatures", request.project);
    const stream = this.ingestion.importFeatures(this.metadata());
    const finished = new Promise<ImportFeaturesResponse>((resolve, reject) => {
      let last: ImportFeaturesResponse | undefined;
      stream.on("data", (progress: ImportFeaturesResponse) => {
        last = progress;
        request.onProgress?.(progress);
      });
      stream.on("error", (error: ServiceError) => reject(toClientError(error)));
      stream.on("end", () => (last?.done ? resolve(last) : reject(new Error("the import stream ended without a summary"))));
    });
    stream.write({
      config: {
        project,
        featureView: request.featureView ?? "",
        eventStream: request.eventStream ?? "",
        featureViews: (request.featureViews ?? []).map((view) => ({
          featureView: view.featureView,
          columnMapping: view.columnMapping ?? {},
        })),
        format: request.format === "parquet" ? FileFormat.FILE_FORMAT_PARQUET : FileFormat.FILE_FORMAT_CSV,
        sourcePath: request.serverPath ?? "",
        columnMapping: request.columnMapping ?? {},
        materializeOnline: request.materializeOnline ?? false,
        writeId: request.writeId ?? "",
        createdTimeColumn: request.createdTimeColumn ?? "",
      },
    });
    if (request.localPath) {
      for await (const chunk of createReadStream(request.localPath, { highWaterMark: 1024 * 1024 })) {
        if (!stream.write({ chunk: chunk as Buffer })) await once(stream, "drain");
      }
    }
    stream.end();
    return finished;
  }

  /**
   * Copies the latest offline value per entity in an event-time range to the online store,
   * yielding progress after each chunk (the last has `done`).
   */
  async *materialize(request: MaterializeInput): AsyncGenerator<MaterializeResponse> {
    checkArguments("materialize", ["request", request, materializeCheck]);
    const stream = this.ingestion.materialize(
      {
        project: this.parent("materialize", request.project),
        featureView: request.featureView,
        startTime: request.start ? dateToTimestamp(request.start) : undefined,
        endTime: request.end ? dateToTimestamp(request.end) : undefined,
      },
      this.metadata(),
    );
    try {
      for await (const progress of stream) yield progress as MaterializeResponse;
    } catch (error) {
      throw toClientError(error as ServiceError);
    }
  }

  /** Reads the latest values of features (refs, or a feature service) for entity rows given as columns. */
  async getOnlineFeatures(request: OnlineFeaturesInput): Promise<OnlineColumn[]> {
    checkArguments("getOnlineFeatures", ["request", request, onlineCheck]);
    const response = await this.call(this.online, this.online.getOnlineFeatures, {
      project: this.parent("getOnlineFeatures", request.project),
      features: request.features ?? [],
      featureService: request.featureService ?? "",
      entities: valueColumns(request.entities),
      fullFeatureNames: request.fullFeatureNames ?? false,
      layout: OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_COLUMNS,
    });
    return response.columns.map((column, i) => ({
      name: response.featureNames[i] ?? "",
      values: column.values.map(fromWireValue),
      statuses: column.statuses,
      eventTimes: column.eventTimes.map((t, row) =>
        column.statuses[row] === FeatureStatus.FEATURE_STATUS_NOT_FOUND ? undefined : timestampToDate(t),
      ),
      feature: response.resolvedFeatures[i] as ResolvedFeature,
    }));
  }

  // ---- training data ----

  /**
   * Streams a point-in-time-correct training set as rows of plain values keyed by column name
   * (timestamps as Dates, int64 as bigint). `onSchema` receives the columns before the first row.
   */
  async *getHistoricalRows(
    query: HistoricalQueryInput,
    options: { chunkRows?: number; onSchema?: (schema: HistoricalSchema) => void } = {},
  ): AsyncGenerator<Record<string, PlainValue>> {
    const method = "getHistoricalRows";
    checkArguments(method, ["query", query, historicalQueryCheck], ["options", options, historicalOptionsCheck]);
    let names: string[] = [];
    for await (const part of this.historicalParts(method, query, OutputFormat.OUTPUT_FORMAT_ROWS, options.chunkRows ?? 0)) {
      if (part.schema) {
        names = part.schema.columns.map((c) => c.name);
        options.onSchema?.(part.schema);
      }
      for (const row of part.rows?.rows ?? [])
        yield Object.fromEntries(row.values.map((value, i) => [names[i] ?? `${i}`, fromWireValue(value)]));
    }
  }

  /** A point-in-time-correct training set as one Arrow table (the fast form: no per-value decoding). */
  async getHistoricalArrow(query: HistoricalQueryInput): Promise<{ table: Table; schema: HistoricalSchema }> {
    checkArguments("getHistoricalArrow", ["query", query, historicalQueryCheck]);
    const bytes: Uint8Array[] = [];
    let schema: HistoricalSchema = { columns: [], preservesSpineOrder: true };
    for await (const part of this.streamHistoricalArrow(query, { onSchema: (s) => (schema = s) })) bytes.push(part);
    return { table: tableFromIPC(Buffer.concat(bytes)), schema };
  }

  /**
   * Streams a point-in-time-correct training set as the bytes of one Arrow IPC stream, piece by
   * piece as they arrive (write them to a file, or feed an Arrow stream reader), never holding it whole.
   */
  async *streamHistoricalArrow(
    query: HistoricalQueryInput,
    options: { onSchema?: (schema: HistoricalSchema) => void } = {},
  ): AsyncGenerator<Uint8Array> {
    const method = "streamHistoricalArrow";
    checkArguments(method, ["query", query, historicalQueryCheck], ["options", options, historicalOptionsCheck]);
    for await (const part of this.historicalParts(method, query, OutputFormat.OUTPUT_FORMAT_ARROW, 0)) {
      if (part.schema) options.onSchema?.(part.schema);
      if (part.arrowIpc) yield part.arrowIpc;
    }
  }

  /** Records a training dataset (version N+1 of `name`) and starts its job; poll {@link getTrainingDataset}. */
  async createTrainingDataset(input: TrainingDatasetInput): Promise<TrainingDataset> {
    const method = "createTrainingDataset";
    checkArguments(method, ["input", input, trainingDatasetCheck]);
    const project = this.parent(method, input.query.project);
    const { query, inlineSpine } = queryToWire(method, input.query, project, OutputFormat.OUTPUT_FORMAT_UNSPECIFIED, 0);
    if (inlineSpine) {
      throw argumentError(method, "query.spine", "must be in the offline store (table, sql or entities), not inline rows");
    }
    const response = await this.call(this.training, this.training.createTrainingDataset, {
      trainingDataset: {
        ...TrainingDataset.fromPartial({}),
        name: this.name(method, "name", "trainingDatasets", input.name, input.query.project),
        query,
        description: input.description ?? "",
      },
    });
    return required(response.trainingDataset);
  }

  /** A training dataset version (the latest when `version` is unset), by id or full name. */
  async getTrainingDataset(name: string, options: VersionOptions = {}): Promise<TrainingDataset> {
    const method = "getTrainingDataset";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, versionOptionsCheck]);
    const response = await this.call(this.training, this.training.getTrainingDataset, {
      name: this.name(method, "name", "trainingDatasets", name, options.project, { allowVersion: true, version: options.version }),
    });
    return required(response.trainingDataset);
  }

  /**
   * Waits until a training dataset's job has finished (succeeded or failed) and returns it;
   * DEADLINE_EXCEEDED when it is still running after `timeoutMs` (10 minutes by default).
   */
  async waitForTrainingDataset(
    name: string,
    options: VersionOptions & { pollMs?: number; timeoutMs?: number } = {},
  ): Promise<TrainingDataset> {
    checkArguments("waitForTrainingDataset", ["name", name, nonEmptyString], ["options", options, waitOptionsCheck]);
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const dataset = await this.getTrainingDataset(name, { version: options.version, project: options.project });
      if (dataset.state !== TrainingDatasetState.TRAINING_DATASET_STATE_RUNNING) return dataset;
      if (Date.now() > deadline) throw localError(status.DEADLINE_EXCEEDED, `training dataset ${dataset.name} is still running`);
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
    }
  }

  /** The training datasets of a project, latest version of each. */
  async *listTrainingDatasets(options: ListOptions = {}): AsyncGenerator<TrainingDataset> {
    checkArguments("listTrainingDatasets", ["options", options, listOptionsCheck]);
    const parent = this.parent("listTrainingDatasets", options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.training, this.training.listTrainingDatasets, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.trainingDatasets, response.nextPageToken];
    });
  }

  /** A succeeded training dataset's rows as one Arrow table, in spine order. */
  async readTrainingDataset(name: string, options: VersionOptions = {}): Promise<Table> {
    const method = "readTrainingDataset";
    checkArguments(method, ["name", name, nonEmptyString], ["options", options, versionOptionsCheck]);
    const stream = this.training.readTrainingDataset(
      {
        name: this.name(method, "name", "trainingDatasets", name, options.project, { allowVersion: true, version: options.version }),
        format: OutputFormat.OUTPUT_FORMAT_ARROW,
        chunkRows: 0,
      },
      this.metadata(),
    );
    const bytes: Uint8Array[] = [];
    try {
      for await (const part of stream as AsyncIterable<ReadTrainingDatasetResponse>) if (part.arrowIpc) bytes.push(part.arrowIpc);
    } catch (error) {
      throw toClientError(error as ServiceError);
    }
    return tableFromIPC(Buffer.concat(bytes));
  }

  /**
   * The join keys of a query's features, for a spine of columns that can go as Arrow (spine-arrow.ts),
   * from one ResolveFeatures call; none when the call fails (the columns then go as they are, and
   * GetHistoricalFeatures reports what is wrong with the query).
   */
  private async spineJoinKeys(query: HistoricalQueryInput, project: string): Promise<string[]> {
    try {
      const resolved = await this.call(this.registry, this.registry.resolveFeatures, {
        project,
        features: query.features ?? [],
        featureService: query.featureService ?? "",
      });
      return resolved.joinKeys.map((key) => key.name);
    } catch {
      return [];
    }
  }

  /** Runs GetHistoricalFeatures: the query, then any inline spine batches, and yields the responses. */
  private async *historicalParts(
    method: string,
    query: HistoricalQueryInput,
    format: OutputFormat,
    chunkRows: number,
  ): AsyncGenerator<GetHistoricalFeaturesResponse> {
    const project = this.parent(method, query.project);
    let joinKeys: Promise<string[]> | undefined;
    const request = queryToWire(method, query, project, format, chunkRows, () => (joinKeys ??= this.spineJoinKeys(query, project)));
    const call = this.training.getHistoricalFeatures(this.metadata());
    let failure: unknown;
    const sending = (async () => {
      try {
        call.write({ query: request.query });
        for await (const batch of request.inlineSpine ?? []) {
          if (!call.write({ spineBatch: batch })) await once(call, "drain");
        }
      } catch (error) {
        failure = error;
        call.cancel();
      } finally {
        call.end();
      }
    })();
    try {
      for await (const part of call as AsyncIterable<GetHistoricalFeaturesResponse>) yield part;
    } catch (error) {
      throw failure ?? toClientError(error as ServiceError);
    } finally {
      await sending;
    }
    if (failure) throw failure;
  }

  // ---- models, deployments and predictions ----

  /**
   * Uploads an ONNX file as the next version of a model (created if new), streaming it in 1 MiB
   * chunks with its SHA-256. Each model input is bound to pinned feature refs, a pinned feature
   * service, or a value sent with each Predict request.
   */
  async uploadModel(input: ModelUploadInput): Promise<ModelVersion> {
    const method = "uploadModel";
    checkArguments(method, ["input", input, modelUploadCheck]);
    const context = this.context(method, input.project);
    const model = this.name(method, "model", "models", input.model, input.project);
    const lineage = input.trainingDataset
      ? versionedName("trainingDatasets", input.trainingDataset, { ...context, needVersion: false }, { method, field: "trainingDataset" })
      : undefined;
    const bytes = typeof input.file === "string" ? await readFile(input.file) : input.file;
    const header: ModelUploadHeader = {
      model,
      inputBindings: input.bindings.map((b) => ({
        inputName: b.input,
        features: "features" in b && b.features !== undefined ? { refs: b.features } : undefined,
        featureService: "featureService" in b ? b.featureService : undefined,
        requestFeature: "request" in b ? b.request : undefined,
      })),
      sha256: createHash("sha256").update(bytes).digest("hex"),
      trainingDataset: lineage === undefined ? "" : withVersion(lineage),
      description: input.description ?? "",
      labels: input.labels ?? {},
    };
    return new Promise<ModelVersion>((resolve, reject) => {
      const call = this.models.uploadModel(this.metadata(), { deadline: Date.now() + this.deadlineMs }, (error, response) =>
        error ? reject(toClientError(error)) : resolve(required(response?.modelVersion)),
      );
      call.write({ header });
      for (let offset = 0; offset < bytes.length; offset += UPLOAD_CHUNK_BYTES)
        call.write({ chunk: Buffer.from(bytes.subarray(offset, offset + UPLOAD_CHUNK_BYTES)) });
      call.end();
    });
  }

  /**
   * A model version: "churn@3" or "projects/p/models/churn/versions/3"; the latest one for
   * "churn" or "projects/p/models/churn".
   */
  async getModelVersion(ref: string, project?: string): Promise<ModelVersion> {
    const method = "getModelVersion";
    checkArguments(method, ["ref", ref, nonEmptyString], ["project", project, projectCheck]);
    const parsed = versionedName("models", ref, { ...this.context(method, project), needVersion: false }, { method, field: "ref" });
    const version = parsed.version ?? (await this.getModel(parsed.base)).latestVersion;
    const response = await this.call(this.models, this.models.getModelVersion, { name: withVersion({ base: parsed.base, version }) });
    return required(response.modelVersion);
  }

  /** A model, by id or full name. */
  async getModel(name: string, project?: string): Promise<Model> {
    const method = "getModel";
    checkArguments(method, ["name", name, nonEmptyString], ["project", project, projectCheck]);
    const response = await this.call(this.models, this.models.getModel, { name: this.name(method, "name", "models", name, project) });
    return required(response.model);
  }

  /**
   * Creates or changes an endpoint's routing: `stable` takes the traffic the canary does not;
   * versions are "model@3" (or full names). The new versions are loaded before traffic moves.
   */
  async applyDeployment(input: DeploymentInput): Promise<Deployment> {
    const method = "applyDeployment";
    checkArguments(method, ["input", input, deploymentCheck]);
    const context = { ...this.context(method, input.project), needVersion: true };
    const version = (ref: string, field: string) => withVersion(versionedName("models", ref, context, { method, field }));
    const response = await this.call(this.models, this.models.applyDeployment, {
      deployment: {
        ...WireDeployment.fromPartial({}),
        name: this.name(method, "endpoint", "endpoints", input.endpoint, input.project),
        stableVersion: version(input.stable, "stable"),
        canary: input.canary
          ? { modelVersion: version(input.canary.version, "canary.version"), trafficPercent: input.canary.percent }
          : undefined,
        shadowVersions: (input.shadows ?? []).map((shadow, i) => version(shadow, `shadows[${i}]`)),
        routingKey: input.routingKey ?? "",
        missingFeaturePolicy:
          input.missingFeatures === "reject"
            ? MissingFeaturePolicy.MISSING_FEATURE_POLICY_REJECT
            : MissingFeaturePolicy.MISSING_FEATURE_POLICY_USE_DEFAULT,
        canaryGuard: input.canaryGuard
          ? {
              minRequests: BigInt(input.canaryGuard.minRequests),
              maxErrorRateIncrease: input.canaryGuard.maxErrorRateIncrease ?? 0,
              maxP99LatencyRatio: input.canaryGuard.maxP99LatencyRatio ?? 0,
            }
          : undefined,
        requirePromotionApproval: input.requirePromotionApproval ?? false,
      },
      actor: input.actor ?? "",
      reason: input.reason ?? "",
    });
    return required(response.deployment);
  }

  /** An endpoint's current routing (an id or a full name). */
  async getDeployment(endpoint: string, project?: string): Promise<Deployment> {
    const method = "getDeployment";
    checkArguments(method, ["endpoint", endpoint, nonEmptyString], ["project", project, projectCheck]);
    const request = { name: this.name(method, "endpoint", "endpoints", endpoint, project) };
    return required((await this.call(this.models, this.models.getDeployment, request)).deployment);
  }

  /** An endpoint's past routings, newest first. */
  async *listDeploymentRevisions(endpoint: string, options: ListOptions = {}): AsyncGenerator<Deployment> {
    const method = "listDeploymentRevisions";
    checkArguments(method, ["endpoint", endpoint, nonEmptyString], ["options", options, listOptionsCheck]);
    const parent = this.name(method, "endpoint", "endpoints", endpoint, options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.models, this.models.listDeploymentRevisions, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.deployments, response.nextPageToken];
    });
  }

  /**
   * Makes the canary the stable version. On an endpoint that requires approval nothing is promoted:
   * the returned routing is unchanged but for its `pendingPromotion`, which waits for
   * {@link approvePromotion} by another principal.
   */
  async promoteCanary(endpoint: string, change: DeploymentChangeInput = {}): Promise<Deployment> {
    const response = await this.changeDeployment("promoteCanary", this.models.promoteCanary, endpoint, change);
    const deployment = required(response.deployment);
    return { ...deployment, pendingPromotion: deployment.pendingPromotion ?? response.pendingPromotion };
  }

  /** Returns to the previous stable version and drops the canary (and any pending promotion). */
  async rollbackDeployment(endpoint: string, change: DeploymentChangeInput = {}): Promise<Deployment> {
    return required((await this.changeDeployment("rollbackDeployment", this.models.rollbackDeployment, endpoint, change)).deployment);
  }

  private async changeDeployment<Res extends { deployment?: Deployment }>(
    method: string,
    rpc: UnaryMethod<{ name: string; actor: string; reason: string }, Res>,
    endpoint: string,
    change: DeploymentChangeInput,
  ): Promise<Res> {
    checkArguments(method, ["endpoint", endpoint, nonEmptyString], ["change", change, deploymentChangeCheck]);
    return this.call(this.models, rpc, {
      name: this.name(method, "endpoint", "endpoints", endpoint, change.project),
      actor: change.actor ?? "",
      reason: change.reason ?? "",
    });
  }

  /**
   * Approves an endpoint's pending promotion and performs it: the canary becomes stable in a new
   * revision by the caller, who must be authenticated and not the requester. With `canaryVersion`,
   * only if that is the version pending.
   */
  async approvePromotion(endpoint: string, decision: PromotionDecisionInput = {}): Promise<Deployment> {
    return this.decidePromotion("approvePromotion", this.models.approvePromotion, endpoint, decision);
  }

  /** Drops an endpoint's pending promotion without promoting anything; routing and revision stay as they are. */
  async rejectPromotion(endpoint: string, decision: PromotionDecisionInput = {}): Promise<Deployment> {
    return this.decidePromotion("rejectPromotion", this.models.rejectPromotion, endpoint, decision);
  }

  private async decidePromotion(
    method: string,
    rpc: UnaryMethod<{ name: string; reason: string; canaryVersion: string }, { deployment?: Deployment }>,
    endpoint: string,
    decision: PromotionDecisionInput,
  ): Promise<Deployment> {
    checkArguments(method, ["endpoint", endpoint, nonEmptyString], ["decision", decision, promotionDecisionCheck]);
    const context = { ...this.context(method, decision.project), needVersion: true };
    const canaryVersion =
      decision.canaryVersion === undefined || decision.canaryVersion === null
        ? ""
        : withVersion(versionedName("models", decision.canaryVersion, context, { method, field: "canaryVersion" }));
    const response = await this.call(this.models, rpc, {
      name: this.name(method, "endpoint", "endpoints", endpoint, decision.project),
      reason: decision.reason ?? "",
      canaryVersion,
    });
    return required(response.deployment);
  }

  /**
   * Predicts for entity rows: the server reads the model's features itself. Outputs come back by
   * name, values row-major (`rowShape` is one row's shape).
   */
  async predict(request: PredictInput): Promise<Prediction> {
    const method = "predict";
    checkArguments(method, ["request", request, predictCheck]);
    const response = await this.call(this.inference, this.inference.predict, {
      endpoint: this.name(method, "endpoint", "endpoints", request.endpoint, request.project),
      entities: valueColumns(request.entities),
      requestFeatures: valueColumns(request.requestFeatures ?? {}),
      routingKey: request.routingKey ?? "",
      requestId: request.requestId ?? "",
    });
    return {
      requestId: response.requestId,
      modelVersion: response.modelVersion,
      role: response.role,
      outputs: Object.fromEntries(
        response.outputs.map((o) => [o.name, { values: o.values, rowShape: o.rowShape.map(Number), elementType: o.elementType }]),
      ),
      usedFeatures: response.usedFeatures,
    };
  }

  // ---- online learners ----

  /**
   * Creates an online learner (docs/learning.md). It owns the model of its name: its live state
   * serves as "learner@live" and each {@link publishLearner} adds an ONNX version of that model.
   */
  async createLearner(input: LearnerCreateInput): Promise<Learner> {
    const method = "createLearner";
    checkArguments(method, ["input", input, learnerCreateCheck]);
    const kinds = {
      logistic: LearnerKind.LEARNER_KIND_LOGISTIC_REGRESSION,
      multinomial: LearnerKind.LEARNER_KIND_MULTINOMIAL_LOGISTIC_REGRESSION,
      linear: LearnerKind.LEARNER_KIND_LINEAR_REGRESSION,
    };
    const o = input.optimizer;
    const response = await this.call(this.learning, this.learning.createLearner, {
      learner: {
        name: this.name(method, "learner", "learners", input.learner, input.project),
        kind: kinds[input.kind],
        classes: input.classes ?? 0,
        inputs: input.inputs.map((i) => ({
          name: i.name,
          type: i.type === "numeric" ? LearnerInputType.LEARNER_INPUT_TYPE_NUMERIC : LearnerInputType.LEARNER_INPUT_TYPE_CATEGORICAL,
          feature: i.feature,
          requestFeature: i.request,
        })),
        hashBuckets: input.hashBuckets ?? 0,
        sgd: "sgd" in o ? { learningRate: o.sgd.learningRate, power: o.sgd.power ?? 0 } : undefined,
        adagrad: "adagrad" in o ? { learningRate: o.adagrad.learningRate, epsilon: o.adagrad.epsilon ?? 0 } : undefined,
        ftrl: "ftrl" in o ? { alpha: o.ftrl.alpha, beta: o.ftrl.beta, l1: o.ftrl.l1 ?? 0, l2: o.ftrl.l2 ?? 0 } : undefined,
        l2: input.l2 ?? 0,
        interceptLearningRate: input.interceptLearningRate ?? 0,
        divergenceThreshold: input.divergenceThreshold ?? 0,
        checkpoint: {
          everyExamples: BigInt(input.checkpoint?.everyExamples ?? 0),
          everySeconds: BigInt(input.checkpoint?.everySeconds ?? 0),
        },
        metricsWindowSeconds: BigInt(input.metricsWindowSeconds ?? 0),
        description: input.description ?? "",
        status: undefined,
        createTime: undefined,
        createdBy: "",
      },
    });
    return required(response.learner);
  }

  /** A learner with its status and prequential metrics. */
  async getLearner(name: string, project?: string): Promise<Learner> {
    const method = "getLearner";
    checkArguments(method, ["name", name, nonEmptyString], ["project", project, projectCheck]);
    const response = await this.call(this.learning, this.learning.getLearner, {
      name: this.name(method, "name", "learners", name, project),
    });
    return required(response.learner);
  }

  /** A project's learners with their statuses, by name. */
  async *listLearners(options: ListOptions = {}): AsyncGenerator<Learner> {
    const method = "listLearners";
    checkArguments(method, ["options", options, listOptionsCheck]);
    const parent = this.parent(method, options.project);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.learning, this.learning.listLearners, { parent, pageSize: options.pageSize ?? 0, pageToken });
      return [response.learners, response.nextPageToken];
    });
  }

  /**
   * Sends labels, one message per batch, on one stream; each batch is appended to its learner's
   * log whole or refused whole. Batches may be an array or an (async) iterable.
   */
  async writeLabels(batches: LabelBatchInput | Iterable<LabelBatchInput> | AsyncIterable<LabelBatchInput>): Promise<WriteLabelsResponse> {
    const method = "writeLabels";
    const toWire = (batch: LabelBatchInput, index: number): WriteLabelsRequest => {
      checkValue(method, `batches[${index}]`, batch, labelBatchCheck);
      return {
        learner: this.name(method, `batches[${index}].learner`, "learners", batch.learner, batch.project),
        writeId: batch.writeId ?? "",
        labels: batch.labels.map((label) => ({
          requestId: label.requestId,
          row: label.row ?? 0,
          entity: label.entity
            ? {
                joinKeys: Object.fromEntries(Object.entries(label.entity).map(([key, value]) => [key, toWireValue(value)])),
                eventTime: label.eventTime ? dateToTimestamp(label.eventTime) : undefined,
              }
            : undefined,
          label: typeof label.label === "boolean" ? { boolValue: label.label } : { doubleValue: label.label },
          requestFeatures: Object.fromEntries(Object.entries(label.requestFeatures ?? {}).map(([key, value]) => [key, toWireValue(value)])),
        })),
      };
    };
    const all = isBatch(batches) ? [batches] : batches;
    return new Promise<WriteLabelsResponse>((resolve, reject) => {
      const call = this.learning.writeLabels(this.metadata(), { deadline: Date.now() + this.deadlineMs }, (error, response) =>
        error ? reject(toClientError(error)) : resolve(required(response)),
      );
      (async () => {
        let index = 0;
        for await (const batch of all) {
          if (!call.write(toWire(batch, index++))) await new Promise((done) => call.once("drain", done));
        }
        call.end();
      })().catch((error: unknown) => {
        call.cancel();
        reject(error);
      });
    });
  }

  /** Publishes a learner's current state as the next ONNX version of its model; returns the version's name. */
  async publishLearner(name: string, options: { description?: string; project?: string } = {}): Promise<string> {
    const method = "publishLearner";
    checkArguments(method, ["name", name, nonEmptyString]);
    const response = await this.call(this.learning, this.learning.publishLearner, {
      name: this.name(method, "name", "learners", name, options.project),
      description: options.description ?? "",
    });
    return response.modelVersion;
  }

  /** Pauses a learner's learning (it goes on serving). */
  async pauseLearner(name: string, options: { reason?: string; project?: string } = {}): Promise<Learner> {
    const method = "pauseLearner";
    checkArguments(method, ["name", name, nonEmptyString]);
    const request = { name: this.name(method, "name", "learners", name, options.project), reason: options.reason ?? "" };
    return required((await this.call(this.learning, this.learning.pauseLearner, request)).learner);
  }

  /** Resumes a paused learner. */
  async resumeLearner(name: string, project?: string): Promise<Learner> {
    const method = "resumeLearner";
    checkArguments(method, ["name", name, nonEmptyString], ["project", project, projectCheck]);
    const request = { name: this.name(method, "name", "learners", name, project) };
    return required((await this.call(this.learning, this.learning.resumeLearner, request)).learner);
  }

  /** Rolls a learner back to the state a published version ("ctr@2") was exported from; it is then paused. */
  async restoreLearner(name: string, modelVersion: string, project?: string): Promise<Learner> {
    const method = "restoreLearner";
    checkArguments(
      method,
      ["name", name, nonEmptyString],
      ["modelVersion", modelVersion, nonEmptyString],
      ["project", project, projectCheck],
    );
    const context = { ...this.context(method, project), needVersion: true };
    const response = await this.call(this.learning, this.learning.restoreLearner, {
      name: this.name(method, "name", "learners", name, project),
      modelVersion: withVersion(versionedName("models", modelVersion, context, { method, field: "modelVersion" })),
    });
    return required(response.learner);
  }

  /** How each version of an endpoint is doing on this server (stable, canary, shadows). */
  async getDeploymentReport(endpoint: string, project?: string): Promise<VersionReport[]> {
    const method = "getDeploymentReport";
    checkArguments(method, ["endpoint", endpoint, nonEmptyString], ["project", project, projectCheck]);
    const response = await this.call(this.monitoring, this.monitoring.getDeploymentReport, {
      endpoint: this.name(method, "endpoint", "endpoints", endpoint, project),
      window: undefined,
    });
    return response.versions;
  }

  /**
   * Replays the values served from a feature view (one with `logServedValues`) through the
   * historical path, as of each serving time, and reports per feature how many differ: the
   * training/serving skew check on real traffic.
   */
  async checkServedConsistency(input: ServedConsistencyInput): Promise<CheckServedConsistencyResponse> {
    const method = "checkServedConsistency";
    checkArguments(method, ["input", input, servedConsistencyCheck]);
    return this.call(this.monitoring, this.monitoring.checkServedConsistency, {
      project: this.parent(method, input.project),
      featureView: input.featureView,
      window:
        input.start || input.end
          ? {
              startTime: input.start ? dateToTimestamp(input.start) : undefined,
              endTime: input.end ? dateToTimestamp(input.end) : undefined,
            }
          : undefined,
      maxValues: input.maxValues ?? 0,
      maxExamples: input.maxExamples ?? 0,
    });
  }

  // ---- access ----

  /** The caller as the server sees it: principal, how it authenticated (api_key, jwt, mtls, none) and roles. */
  async whoAmI(): Promise<WhoAmIResponse> {
    return this.call(this.access, this.access.whoAmI, {});
  }

  /**
   * Creates an API key; the result's `secret` ("sk_...") is shown this once, so keep it now. Granting
   * a role needs admin on its project.
   */
  async createApiKey(input: ApiKeyInput): Promise<{ apiKey: ApiKey; secret: string }> {
    checkArguments("createApiKey", ["input", input, apiKeyCheck]);
    const response = await this.call(this.access, this.access.createApiKey, { apiKey: apiKeyToWire(input) });
    return { apiKey: required(response.apiKey), secret: response.secret };
  }

  /** The API keys granting a role on the client's project (or `project`), or every key with `allProjects`; never their secrets. */
  async *listApiKeys(options: ApiKeyListOptions = {}): AsyncGenerator<ApiKey> {
    checkArguments("listApiKeys", ["options", options, apiKeyListCheck]);
    const project = options.allProjects ? "" : this.context("listApiKeys", options.project).project;
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.access, this.access.listApiKeys, {
        project,
        showRevoked: options.showRevoked ?? false,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.apiKeys, response.nextPageToken];
    });
  }

  /** Revokes an API key by id (the first 16 hex digits of its SHA-256), at once, on every replica. */
  async revokeApiKey(id: string): Promise<ApiKey> {
    checkArguments("revokeApiKey", ["id", id, nonEmptyString]);
    return required((await this.call(this.access, this.access.revokeApiKey, { id })).apiKey);
  }

  /** Grants a role on a project to a principal that authenticates by JWT or client certificate; needs admin on that project. */
  async grantRole(binding: RoleBindingInput): Promise<RoleBinding> {
    checkArguments("grantRole", ["binding", binding, roleBindingCheck]);
    return required((await this.call(this.access, this.access.grantRole, { binding: roleBindingToWire(binding) })).binding);
  }

  /** Takes a granted role back (NOT_FOUND when it was not granted; bindings from the server's config cannot be). */
  async revokeRole(binding: RoleBindingInput): Promise<void> {
    checkArguments("revokeRole", ["binding", binding, roleBindingCheck]);
    await this.call(this.access, this.access.revokeRole, { binding: roleBindingToWire(binding) });
  }

  /** The role bindings on the client's project (or `project`; "*" for the server-wide ones), page by page. */
  async *listRoleBindings(options: RoleBindingListOptions = {}): AsyncGenerator<RoleBinding> {
    checkArguments("listRoleBindings", ["options", options, roleBindingListCheck]);
    const project = options.project === "*" ? "*" : this.context("listRoleBindings", options.project).project;
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.access, this.access.listRoleBindings, { project, pageSize: options.pageSize ?? 0, pageToken });
      return [response.bindings, response.nextPageToken];
    });
  }

  /**
   * The audit trail, newest first, page by page: the events of the client's project (or `project`,
   * or every project with `allProjects`), narrowed by principal, method, outcome and time.
   */
  async *listAuditEvents(options: AuditEventListOptions = {}): AsyncGenerator<AuditEvent> {
    checkArguments("listAuditEvents", ["options", options, auditEventListCheck]);
    const project = options.allProjects ? "" : this.context("listAuditEvents", options.project).project;
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.access, this.access.listAuditEvents, auditEventsRequest(options, project, pageToken));
      return [response.events, response.nextPageToken];
    });
  }

  /**
   * Recomputes the audit trail's hash chains (one, by id, or every chain) and reports per chain its
   * records and the first that does not match; `intact` is true when every chain is. Server admins only.
   */
  async verifyAuditChain(chainId = ""): Promise<VerifyAuditChainResponse> {
    checkArguments("verifyAuditChain", ["chainId", chainId, string]);
    return this.call(this.access, this.access.verifyAuditChain, { chainId });
  }

  // ---- plumbing ----

  /** Calls a unary method of a generated stub with this client's deadline and credentials. */
  call<Req, Res>(stub: Client, method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    checkArguments("call", ["stub", stub, anyObject], ["method", method, func], ["request", request, anyObject]);
    return new Promise<Res>((resolve, reject) => {
      method.call(stub, request, this.metadata(), { deadline: Date.now() + this.deadlineMs }, (error, response) =>
        error ? reject(toClientError(error)) : resolve(response),
      );
    });
  }

  /** Metadata of a call; the credentials are added by the channel (see credentials.ts). */
  private metadata(): Metadata {
    return new Metadata();
  }

  private async *paginate<T>(fetchPage: (pageToken: string) => Promise<[T[], string]>): AsyncGenerator<T> {
    let pageToken = "";
    do {
      const [items, next] = await fetchPage(pageToken);
      yield* items;
      pageToken = next;
    } while (pageToken !== "");
  }

  /** The project a call works in: the one it names (an id or "projects/{id}"), else the client's. */
  private context(method: string, project: string | undefined): NameContext {
    if (project === undefined || project === null) return { project: this.project, projectGiven: false };
    return { project: projectId(project, { method, field: "project" }), projectGiven: true };
  }

  /** "projects/{id}" of the call's project. */
  private parent(method: string, project: string | undefined): string {
    return `projects/${this.context(method, project).project}`;
  }

  /** The full name of a resource given (as `field` of `method`) by id or full name. */
  private name(
    method: string,
    field: string,
    collection: Collection,
    idOrName: string,
    project: string | undefined,
    options: Omit<NameOptions, keyof NameContext> = {},
  ): string {
    return fullName(collection, idOrName, { ...this.context(method, project), ...options }, { method, field });
  }
}

/** A versioned name as text: `{base}/versions/{n}` (`…/versions/live` for a model's live state), or the base alone without a version. */
function withVersion(name: { base: string; version?: number }): string {
  if (name.version === undefined) return name.base;
  return `${name.base}/versions/${name.version === LIVE_MODEL_VERSION ? "live" : name.version}`;
}

function isBatch(value: unknown): value is LabelBatchInput {
  return typeof value === "object" && value !== null && "learner" in value && "labels" in value;
}

/** A failure the SDK detects itself (no request was answered), as a {@link SluiceClientError}. */
function localError(code: status, message: string, cause?: unknown): SluiceClientError {
  return new SluiceClientError(code, message, "", [], {}, undefined, { cause });
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("the server sent an incomplete response");
  return value;
}

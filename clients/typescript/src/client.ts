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
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { type Table, tableFromIPC } from "apache-arrow";
import type { ValueType as CoreValueType } from "../../../src/common/value-type.js";
import { Duration } from "../../../src/gen/google/protobuf/duration.pb.js";
import type { Timestamp } from "../../../src/gen/google/protobuf/timestamp.pb.js";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../../../src/gen/grpc/health/v1/health.pb.js";
import { InferenceServiceClient, type UsedFeature } from "../../../src/gen/sluice/v1/inference.pb.js";
import {
  FileFormat,
  type ImportFeaturesResponse,
  IngestionServiceClient,
  type MaterializeResponse,
  type WriteFeatureBatchRequest,
  type WriteFeatureBatchResponse,
  type WriteFeaturesResponse,
} from "../../../src/gen/sluice/v1/ingestion.pb.js";
import {
  type Deployment,
  MissingFeaturePolicy,
  type Model,
  ModelServiceClient,
  type ModelUploadHeader,
  type ModelVersion,
  Deployment as WireDeployment,
} from "../../../src/gen/sluice/v1/model.pb.js";
import { MonitoringServiceClient, type VersionReport } from "../../../src/gen/sluice/v1/monitoring.pb.js";
import { OnlineServiceClient } from "../../../src/gen/sluice/v1/online.pb.js";
import {
  type ApplyEntityResponse,
  type ApplyFeatureServiceResponse,
  type ApplyFeatureViewResponse,
  type Entity,
  type FeatureService,
  type FeatureView,
  type Project,
  RegistryServiceClient,
} from "../../../src/gen/sluice/v1/registry.pb.js";
import {
  type ColumnSchema,
  type GetHistoricalFeaturesResponse,
  HistoricalFeaturesQuery,
  OutputFormat,
  type ReadTrainingDatasetResponse,
  type SpineBatch,
  TrainingDataset,
  TrainingDatasetState,
  TrainingServiceClient,
} from "../../../src/gen/sluice/v1/training.pb.js";
import { FeatureStatus, type ResolvedFeature, type Value, type ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
import { dateToTimestamp, valueTypeToWire } from "../../../src/grpc/mapping/common.js";
import { type Collection, resourceName } from "../../../src/registry/names.js";
import { type ColumnValues, columnToWire } from "./columns.js";
import { toClientError } from "./errors.js";
import { fromWireValue, type PlainValue, timestampToDate, toWireValue } from "./values.js";

/** Feature and join key types by their short names ("int64", "float_list", ...); a wire enum number is accepted too. */
export type FeatureType = CoreValueType;

/** How to reach a server. */
export interface SluiceClientOptions {
  /** "host:port". */
  address: string;
  /** Use TLS (with the system roots, or the given credentials). Default: plaintext. */
  tls?: boolean | ChannelCredentials;
  /** Sent as `authorization: Bearer <apiKey>` on every call. */
  apiKey?: string;
  /** Deadline of each call, in milliseconds. Default 30 s. */
  deadlineMs?: number;
  /** Project used when a call does not name one. Default "default". */
  project?: string;
}

/** Documentation fields of every definition. */
export interface DocumentationInput {
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
}

/** An entity to apply. */
export interface EntityInput extends DocumentationInput {
  project?: string;
  name: string;
  joinKeys: Array<{ name: string; type: FeatureType | ValueType }>;
  validateOnly?: boolean;
}

/** A feature view to apply. */
export interface FeatureViewInput extends DocumentationInput {
  project?: string;
  name: string;
  entity: string;
  features: Array<{ name: string; type: FeatureType | ValueType; description?: string; tags?: Record<string, string> }>;
  /** Values older than this are stale; 0 or unset means never. */
  ttlSeconds?: number;
  validateOnly?: boolean;
}

/** A feature service to apply. */
export interface FeatureServiceInput extends DocumentationInput {
  project?: string;
  name: string;
  /** "view:feature" or "view@3:feature". */
  features: string[];
  validateOnly?: boolean;
}

/** One row to write: entity key values, event time, feature values (plain or wire values). */
export interface RowInput {
  entityKey: Record<string, PlainValue | Value>;
  eventTime: Date | Timestamp;
  features: Record<string, PlainValue | Value>;
}

/** A batch of rows for one feature view ("view" or "view@3"). */
export interface BatchInput {
  featureView: string;
  rows: RowInput[];
  /** Makes a retried batch apply once. */
  writeId?: string;
  project?: string;
}

/** A batch for one feature view as columns: every column holds one entry per event time. */
export interface ColumnarBatchInput {
  featureView: string;
  /** Event time of each row (Dates, or microseconds since the epoch). */
  eventTimes: ArrayLike<Date> | BigInt64Array;
  entityKey: Record<string, ColumnValues>;
  features: Record<string, ColumnValues>;
  /** Makes a retried batch apply once. */
  writeId?: string;
  project?: string;
}

/** One output column of an online read, decoded. */
export interface OnlineColumn {
  name: string;
  values: PlainValue[];
  statuses: FeatureStatus[];
  /** undefined where the status is NOT_FOUND. */
  eventTimes: Array<Date | undefined>;
  feature: ResolvedFeature;
}

/** One spine row: entity key values, the time to look back from, and extra columns passed through. */
export interface SpineRowInput {
  entityKey: Record<string, PlainValue | Value>;
  eventTime: Date | Timestamp;
  extras?: Record<string, PlainValue | Value>;
}

/** Spine rows as columns (the fast form for large spines). */
export interface SpineColumnsInput {
  /** Event time of each row (Dates, or microseconds since the epoch). */
  eventTimes: ArrayLike<Date> | BigInt64Array;
  entityKey: Record<string, ColumnValues>;
  extras?: Record<string, ColumnValues>;
}

/** Where a point-in-time retrieval's spine comes from. */
export type SpineInput =
  /** Rows sent with the call, in one batch... */
  | { rows: SpineRowInput[] }
  | { columns: SpineColumnsInput }
  /** ...or streamed, batch by batch. */
  | {
      batches:
        | AsyncIterable<{ rows: SpineRowInput[] } | { columns: SpineColumnsInput }>
        | Iterable<{ rows: SpineRowInput[] } | { columns: SpineColumnsInput }>;
    }
  /** A table already in the offline store ("table" or "database.table"). */
  | { table: string }
  /** A SELECT statement run in the offline store. */
  | { sql: string }
  /** Every entity with history in [start, end), each with its latest values before end. */
  | { entities: { start?: Date; end: Date } };

/** A point-in-time retrieval: which features, which spine, and the result's shape. */
export interface HistoricalQueryInput {
  features?: string[];
  featureService?: string;
  spine: SpineInput;
  /** Name feature columns view__feature. */
  fullFeatureNames?: boolean;
  /** Ignore feature rows ingested after each spine time (stops backfill leakage). */
  excludeLateIngested?: boolean;
  /** Emit a spine_index column instead of sorting the result into spine order. */
  emitSpineIndex?: boolean;
  project?: string;
}

/** The columns of a training set and whether its rows come in spine order. */
export interface HistoricalSchema {
  columns: ColumnSchema[];
  preservesSpineOrder: boolean;
}

/** How one model input gets its values. */
export type ModelInputBindingInput =
  | { input: string; features: string[] }
  | { input: string; featureService: string }
  | { input: string; request: string };

/** A model version to upload. */
export interface ModelUploadInput {
  model: string;
  /** The ONNX file: its bytes, or a local path. */
  file: Uint8Array | string;
  bindings: ModelInputBindingInput[];
  /** Lineage: "projects/p/trainingDatasets/d/versions/1". */
  trainingDataset?: string;
  description?: string;
  labels?: Record<string, string>;
  project?: string;
}

/** An endpoint's routing to apply. */
export interface DeploymentInput {
  endpoint: string;
  /** "model@version". */
  stable: string;
  canary?: { version: string; percent: number };
  shadows?: string[];
  routingKey?: string;
  missingFeatures?: "use_default" | "reject";
  canaryGuard?: { minRequests: number; maxErrorRateIncrease?: number; maxP99LatencyRatio?: number };
  actor?: string;
  reason?: string;
  project?: string;
}

/** A prediction. */
export interface Prediction {
  requestId: string;
  modelVersion: string;
  role: string;
  outputs: Record<string, { values: number[]; rowShape: number[]; elementType: string }>;
  usedFeatures: UsedFeature[];
}

/** A stream of write batches: each `write` resolves with that batch's acknowledgement. */
export interface WriteStream {
  write(batch: BatchInput | ColumnarBatchInput): Promise<WriteFeaturesResponse>;
  /** Ends the stream; resolves once the server has closed it. */
  close(): Promise<void>;
}

/** Paging options of list calls. */
export interface ListOptions {
  project?: string;
  pageSize?: number;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * The channel retries idempotent calls on UNAVAILABLE: registry reads and applies (an apply
 * repeated is UNCHANGED) and online reads. CreateProject is not idempotent (a repeat is
 * ALREADY_EXISTS), so it is listed on its own without a retry policy, which overrides the service's.
 */
/** Bytes per UploadModel chunk message. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

const SERVICE_CONFIG = {
  methodConfig: [
    {
      // Reads, and Predict (UNAVAILABLE also when a model's queue is full: backing off helps).
      name: [{ service: "sluice.v1.RegistryService" }, { service: "sluice.v1.OnlineService" }, { service: "sluice.v1.InferenceService" }],
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

/** A connection to one Sluice server. */
export class SluiceClient {
  /** The generated stubs, for calls the wrapper does not cover. They share one channel. */
  readonly registry: RegistryServiceClient;
  readonly ingestion: IngestionServiceClient;
  readonly online: OnlineServiceClient;
  readonly training: TrainingServiceClient;
  readonly models: ModelServiceClient;
  readonly inference: InferenceServiceClient;
  readonly monitoring: MonitoringServiceClient;
  private readonly health: HealthClient;
  private readonly deadlineMs: number;
  private readonly project: string;
  private readonly apiKey?: string;

  constructor(options: SluiceClientOptions) {
    const channelCredentials = options.tls === true ? credentials.createSsl() : options.tls ? options.tls : credentials.createInsecure();
    const channelOptions = {
      "grpc.service_config": JSON.stringify(SERVICE_CONFIG),
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      // HTTP/2 receive window: the 64 KiB default stalls large responses (training sets) on a
      // window update every 64 KiB, even on loopback.
      "grpc-node.flow_control_window": 16 * 1024 * 1024,
    };
    this.registry = new RegistryServiceClient(options.address, channelCredentials, channelOptions);
    // Every other stub shares the registry stub's channel rather than opening its own connection.
    const shared = { ...channelOptions, channelOverride: this.registry.getChannel() };
    this.health = new HealthClient(options.address, channelCredentials, shared);
    this.ingestion = new IngestionServiceClient(options.address, channelCredentials, shared);
    this.online = new OnlineServiceClient(options.address, channelCredentials, shared);
    this.training = new TrainingServiceClient(options.address, channelCredentials, shared);
    this.models = new ModelServiceClient(options.address, channelCredentials, shared);
    this.inference = new InferenceServiceClient(options.address, channelCredentials, shared);
    this.monitoring = new MonitoringServiceClient(options.address, channelCredentials, shared);
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.project = options.project ?? "default";
    this.apiKey = options.apiKey;
  }

  /** Connects and waits until the server reports SERVING (or the deadline passes). */
  static async connect(options: SluiceClientOptions, waitMs = 10_000): Promise<SluiceClient> {
    const client = new SluiceClient(options);
    await new Promise<void>((resolve, reject) =>
      client.registry.waitForReady(Date.now() + waitMs, (error) => (error ? reject(error) : resolve())),
    );
    return client;
  }

  /** Whether the server (or one service) reports SERVING. */
  async isServing(service = ""): Promise<boolean> {
    const response = await this.call(this.health, this.health.check, { service });
    return response.status === HealthCheckResponse_ServingStatus.SERVING;
  }

  /** Closes the connection. */
  close(): void {
    this.registry.close();
  }

  // ---- projects ----

  /** Creates a project ("projects/{name}"); ALREADY_EXISTS when it exists. */
  async createProject(name: string, description = ""): Promise<Project> {
    const response = await this.call(this.registry, this.registry.createProject, {
      project: { name: `projects/${name}`, description, createTime: undefined },
    });
    return required(response.project);
  }

  /** Gets a project by id. */
  async getProject(name: string): Promise<Project> {
    return required((await this.call(this.registry, this.registry.getProject, { name: `projects/${name}` })).project);
  }

  // ---- entities ----

  /** Creates an entity or updates its documentation; its join keys cannot change. */
  async applyEntity(input: EntityInput): Promise<ApplyEntityResponse> {
    return this.call(this.registry, this.registry.applyEntity, {
      entity: {
        name: this.name(input.project, "entities", input.name),
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

  /** Gets an entity by id. */
  async getEntity(name: string, project?: string): Promise<Entity> {
    return required((await this.call(this.registry, this.registry.getEntity, { name: this.name(project, "entities", name) })).entity);
  }

  // ---- feature views ----

  /** Applies a feature view; the response says CREATED, UNCHANGED or NEW_VERSION (and how compatible). */
  async applyFeatureView(input: FeatureViewInput): Promise<ApplyFeatureViewResponse> {
    return this.call(this.registry, this.registry.applyFeatureView, {
      featureView: {
        name: this.name(input.project, "featureViews", input.name),
        version: 0,
        entity: input.entity,
        features: input.features.map((f) => ({
          name: f.name,
          type: toValueType(f.type),
          description: f.description ?? "",
          tags: f.tags ?? {},
        })),
        ttl: input.ttlSeconds ? secondsToDuration(input.ttlSeconds) : undefined,
        description: input.description ?? "",
        owner: input.owner ?? "",
        tags: input.tags ?? {},
        state: 0,
        compatibility: 0,
        changes: [],
        createTime: undefined,
        deprecateTime: undefined,
      },
      validateOnly: input.validateOnly ?? false,
    });
  }

  /** The latest version of a feature view, or an exact one. */
  async getFeatureView(name: string, options: { version?: number; project?: string } = {}): Promise<FeatureView> {
    const response = await this.call(this.registry, this.registry.getFeatureView, {
      name: this.name(options.project, "featureViews", name, options.version),
    });
    return required(response.featureView);
  }

  /** Every feature view of a project (latest versions), page by page. */
  async *listFeatureViews(options: ListOptions & { showDeprecated?: boolean } = {}): AsyncGenerator<FeatureView> {
    const parent = `projects/${options.project ?? this.project}`;
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

  /** Every version of a feature view, newest first. */
  async *listFeatureViewVersions(name: string, options: ListOptions = {}): AsyncGenerator<FeatureView> {
    const parent = this.name(options.project, "featureViews", name);
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.registry, this.registry.listFeatureViewVersions, {
        parent,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.featureViews, response.nextPageToken];
    });
  }

  /** Deprecates a feature view (soft delete). */
  async deleteFeatureView(name: string, project?: string): Promise<FeatureView> {
    const response = await this.call(this.registry, this.registry.deleteFeatureView, { name: this.name(project, "featureViews", name) });
    return required(response.featureView);
  }

  // ---- feature services ----

  /** Applies a feature service; versioned like feature views, every ref must resolve. */
  async applyFeatureService(input: FeatureServiceInput): Promise<ApplyFeatureServiceResponse> {
    return this.call(this.registry, this.registry.applyFeatureService, {
      featureService: {
        name: this.name(input.project, "featureServices", input.name),
        version: 0,
        features: input.features,
        description: input.description ?? "",
        owner: input.owner ?? "",
        tags: input.tags ?? {},
        compatibility: 0,
        changes: [],
        createTime: undefined,
      },
      validateOnly: input.validateOnly ?? false,
    });
  }

  /** The latest version of a feature service, or an exact one. */
  async getFeatureService(name: string, options: { version?: number; project?: string } = {}): Promise<FeatureService> {
    const response = await this.call(this.registry, this.registry.getFeatureService, {
      name: this.name(options.project, "featureServices", name, options.version),
    });
    return required(response.featureService);
  }

  /** Resolves feature refs, or a feature service ("name" or "name@2"), to concrete view versions. */
  async resolveFeatures(selection: { features?: string[]; featureService?: string; project?: string }): Promise<ResolvedFeature[]> {
    const response = await this.call(this.registry, this.registry.resolveFeatures, {
      project: `projects/${selection.project ?? this.project}`,
      features: selection.features ?? [],
      featureService: selection.featureService ?? "",
    });
    return response.features;
  }

  // ---- writes and online reads ----

  /**
   * Writes one batch, as rows or as columns (the faster form for large batches); the answer counts
   * accepted rows and explains each rejected one.
   */
  async writeFeatureBatch(batch: BatchInput | ColumnarBatchInput): Promise<WriteFeatureBatchResponse> {
    return this.call(this.ingestion, this.ingestion.writeFeatureBatch, this.batchRequest(batch));
  }

  /**
   * Opens a WriteFeatures stream. Batches are acknowledged in order, each once it is stored; a
   * stream error rejects every batch still waiting for its acknowledgement.
   */
  openWriteStream(): WriteStream {
    const stream = this.ingestion.writeFeatures(this.metadata());
    const waiting: Array<{ resolve: (ack: WriteFeaturesResponse) => void; reject: (error: unknown) => void }> = [];
    let failed: unknown;
    const closed = new Promise<void>((resolve, reject) => {
      stream.on("status", () => resolve());
      stream.on("error", (error: ServiceError) => {
        failed = toClientError(error);
        for (const pending of waiting.splice(0)) pending.reject(failed);
        reject(failed);
      });
    });
    closed.catch(() => undefined);
    stream.on("data", (ack: WriteFeaturesResponse) => waiting.shift()?.resolve(ack));
    return {
      write: (batch) =>
        new Promise<WriteFeaturesResponse>((resolve, reject) => {
          if (failed) return reject(failed);
          waiting.push({ resolve, reject });
          stream.write(this.batchRequest(batch));
        }),
      close: async () => {
        stream.end();
        await closed;
      },
    };
  }

  /**
   * Imports a Parquet or CSV file: one on the server (`serverPath`) or a local one streamed up
   * (`localPath`). Calls `onProgress` after every server batch and resolves with the final summary.
   */
  async importFeatures(request: {
    featureView: string;
    format: "parquet" | "csv";
    serverPath?: string;
    localPath?: string;
    columnMapping?: Record<string, string>;
    materializeOnline?: boolean;
    writeId?: string;
    project?: string;
    onProgress?: (progress: ImportFeaturesResponse) => void;
  }): Promise<ImportFeaturesResponse> {
    if ((request.serverPath === undefined) === (request.localPath === undefined)) {
      throw new Error("importFeatures needs exactly one of serverPath and localPath");
    }
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
        project: `projects/${request.project ?? this.project}`,
        featureView: request.featureView,
        format: request.format === "parquet" ? FileFormat.FILE_FORMAT_PARQUET : FileFormat.FILE_FORMAT_CSV,
        sourcePath: request.serverPath ?? "",
        columnMapping: request.columnMapping ?? {},
        materializeOnline: request.materializeOnline ?? false,
        writeId: request.writeId ?? "",
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
  async *materialize(request: { featureView: string; start?: Date; end?: Date; project?: string }): AsyncGenerator<MaterializeResponse> {
    const stream = this.ingestion.materialize(
      {
        project: `projects/${request.project ?? this.project}`,
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
  async getOnlineFeatures(request: {
    features?: string[];
    featureService?: string;
    entities: Record<string, Array<PlainValue | Value>>;
    fullFeatureNames?: boolean;
    project?: string;
  }): Promise<OnlineColumn[]> {
    const response = await this.call(this.online, this.online.getOnlineFeatures, {
      project: `projects/${request.project ?? this.project}`,
      features: request.features ?? [],
      featureService: request.featureService ?? "",
      entities: Object.fromEntries(Object.entries(request.entities).map(([name, values]) => [name, { values: values.map(toWireValue) }])),
      fullFeatureNames: request.fullFeatureNames ?? false,
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
    let names: string[] = [];
    for await (const part of this.historicalParts(query, OutputFormat.OUTPUT_FORMAT_ROWS, options.chunkRows ?? 0)) {
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
    for await (const part of this.historicalParts(query, OutputFormat.OUTPUT_FORMAT_ARROW, 0)) {
      if (part.schema) options.onSchema?.(part.schema);
      if (part.arrowIpc) yield part.arrowIpc;
    }
  }

  /** Records a training dataset (version N+1 of `name`) and starts its job; poll {@link getTrainingDataset}. */
  async createTrainingDataset(input: { name: string; query: HistoricalQueryInput; description?: string }): Promise<TrainingDataset> {
    const { query, inlineSpine } = this.queryRequest(input.query, OutputFormat.OUTPUT_FORMAT_UNSPECIFIED, 0);
    if (inlineSpine) throw new Error("a training dataset needs a spine in the offline store (table, sql or entities), not inline rows");
    const response = await this.call(this.training, this.training.createTrainingDataset, {
      trainingDataset: {
        ...TrainingDataset.fromPartial({}),
        name: this.name(input.query.project, "trainingDatasets", input.name),
        query,
        description: input.description ?? "",
      },
    });
    return required(response.trainingDataset);
  }

  /** A training dataset version (the latest when `version` is unset). */
  async getTrainingDataset(name: string, options: { version?: number; project?: string } = {}): Promise<TrainingDataset> {
    const response = await this.call(this.training, this.training.getTrainingDataset, {
      name: this.name(options.project, "trainingDatasets", name, options.version),
    });
    return required(response.trainingDataset);
  }

  /** Waits until a training dataset's job has finished (succeeded or failed) and returns it. */
  async waitForTrainingDataset(
    name: string,
    options: { version?: number; project?: string; pollMs?: number; timeoutMs?: number } = {},
  ): Promise<TrainingDataset> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const dataset = await this.getTrainingDataset(name, options);
      if (dataset.state !== TrainingDatasetState.TRAINING_DATASET_STATE_RUNNING) return dataset;
      if (Date.now() > deadline) throw new Error(`training dataset ${name} is still running`);
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
    }
  }

  /** The training datasets of a project, latest version of each. */
  async *listTrainingDatasets(options: ListOptions = {}): AsyncGenerator<TrainingDataset> {
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.training, this.training.listTrainingDatasets, {
        parent: `projects/${options.project ?? this.project}`,
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.trainingDatasets, response.nextPageToken];
    });
  }

  /** A succeeded training dataset's rows as one Arrow table, in spine order. */
  async readTrainingDataset(name: string, options: { version?: number; project?: string } = {}): Promise<Table> {
    const stream = this.training.readTrainingDataset(
      {
        name: this.name(options.project, "trainingDatasets", name, options.version),
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

  /** Runs GetHistoricalFeatures: the query, then any inline spine batches, and yields the responses. */
  private async *historicalParts(
    query: HistoricalQueryInput,
    format: OutputFormat,
    chunkRows: number,
  ): AsyncGenerator<GetHistoricalFeaturesResponse> {
    const request = this.queryRequest(query, format, chunkRows);
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

  private queryRequest(query: HistoricalQueryInput, format: OutputFormat, chunkRows: number) {
    const { spine } = query;
    const wire: HistoricalFeaturesQuery = {
      ...HistoricalFeaturesQuery.fromPartial({}),
      project: `projects/${query.project ?? this.project}`,
      features: query.features ?? [],
      featureService: query.featureService ?? "",
      fullFeatureNames: query.fullFeatureNames ?? false,
      excludeLateIngested: query.excludeLateIngested ?? false,
      emitSpineIndex: query.emitSpineIndex ?? false,
      format,
      chunkRows,
    };
    let inlineSpine: AsyncIterable<SpineBatch> | Iterable<SpineBatch> | undefined;
    if ("table" in spine) wire.offlineSpine = { table: spine.table };
    else if ("sql" in spine) wire.offlineSpine = { sql: spine.sql };
    else if ("entities" in spine) {
      wire.entityTimeRange = {
        startTime: spine.entities.start ? dateToTimestamp(spine.entities.start) : undefined,
        endTime: dateToTimestamp(spine.entities.end),
      };
    } else {
      wire.inlineSpine = true;
      const batches = "batches" in spine ? spine.batches : [spine];
      inlineSpine = mapBatches(batches, spineBatchToWire);
    }
    return { query: wire, inlineSpine };
  }

  // ---- models, deployments and predictions ----

  /**
   * Uploads an ONNX file as the next version of a model (created if new), streaming it in 1 MiB
   * chunks with its SHA-256. Each model input is bound to pinned feature refs, a pinned feature
   * service, or a value sent with each Predict request.
   */
  async uploadModel(input: ModelUploadInput): Promise<ModelVersion> {
    const bytes = typeof input.file === "string" ? await readFile(input.file) : input.file;
    const header: ModelUploadHeader = {
      model: this.name(input.project, "models", input.model),
      inputBindings: input.bindings.map((b) => ({
        inputName: b.input,
        features: "features" in b ? { refs: b.features } : undefined,
        featureService: "featureService" in b ? b.featureService : undefined,
        requestFeature: "request" in b ? b.request : undefined,
      })),
      sha256: createHash("sha256").update(bytes).digest("hex"),
      trainingDataset: input.trainingDataset ?? "",
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

  /** A model version ("churn@3"), or the latest one ("churn"). */
  async getModelVersion(ref: string, project?: string): Promise<ModelVersion> {
    const at = ref.indexOf("@");
    const name =
      at < 0 ? this.name(project, "models", ref, (await this.getModel(ref, project)).latestVersion) : this.versionName(ref, project);
    const response = await this.call(this.models, this.models.getModelVersion, { name });
    return required(response.modelVersion);
  }

  /** A model. */
  async getModel(name: string, project?: string): Promise<Model> {
    const response = await this.call(this.models, this.models.getModel, { name: this.name(project, "models", name) });
    return required(response.model);
  }

  /**
   * Creates or changes an endpoint's routing: `stable` takes the traffic the canary does not;
   * versions are "model@3" (or full names). The new versions are loaded before traffic moves.
   */
  async applyDeployment(input: DeploymentInput): Promise<Deployment> {
    const version = (ref: string) => this.versionName(ref, input.project);
    const response = await this.call(this.models, this.models.applyDeployment, {
      deployment: {
        ...WireDeployment.fromPartial({}),
        name: this.name(input.project, "endpoints", input.endpoint),
        stableVersion: version(input.stable),
        canary: input.canary ? { modelVersion: version(input.canary.version), trafficPercent: input.canary.percent } : undefined,
        shadowVersions: (input.shadows ?? []).map(version),
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
      },
      actor: input.actor ?? "",
      reason: input.reason ?? "",
    });
    return required(response.deployment);
  }

  /** An endpoint's current routing. */
  async getDeployment(endpoint: string, project?: string): Promise<Deployment> {
    const response = await this.call(this.models, this.models.getDeployment, { name: this.name(project, "endpoints", endpoint) });
    return required(response.deployment);
  }

  /** An endpoint's past routings, newest first. */
  async *listDeploymentRevisions(endpoint: string, options: ListOptions = {}): AsyncGenerator<Deployment> {
    yield* this.paginate(async (pageToken) => {
      const response = await this.call(this.models, this.models.listDeploymentRevisions, {
        parent: this.name(options.project, "endpoints", endpoint),
        pageSize: options.pageSize ?? 0,
        pageToken,
      });
      return [response.deployments, response.nextPageToken];
    });
  }

  /** Makes the canary the stable version. */
  async promoteCanary(endpoint: string, change: { actor?: string; reason?: string; project?: string } = {}): Promise<Deployment> {
    const response = await this.call(this.models, this.models.promoteCanary, {
      name: this.name(change.project, "endpoints", endpoint),
      actor: change.actor ?? "",
      reason: change.reason ?? "",
    });
    return required(response.deployment);
  }

  /** Returns to the previous stable version and drops the canary. */
  async rollbackDeployment(endpoint: string, change: { actor?: string; reason?: string; project?: string } = {}): Promise<Deployment> {
    const response = await this.call(this.models, this.models.rollbackDeployment, {
      name: this.name(change.project, "endpoints", endpoint),
      actor: change.actor ?? "",
      reason: change.reason ?? "",
    });
    return required(response.deployment);
  }

  /**
   * Predicts for entity rows: the server reads the model's features itself. Outputs come back by
   * name, values row-major (`rowShape` is one row's shape).
   */
  async predict(request: {
    endpoint: string;
    entities: Record<string, Array<PlainValue | Value>>;
    requestFeatures?: Record<string, Array<PlainValue | Value>>;
    routingKey?: string;
    requestId?: string;
    project?: string;
  }): Promise<Prediction> {
    const column = (values: Array<PlainValue | Value>) => ({ values: values.map(toWireValue) });
    const response = await this.call(this.inference, this.inference.predict, {
      endpoint: this.name(request.project, "endpoints", request.endpoint),
      entities: mapRecord(request.entities, column),
      requestFeatures: mapRecord(request.requestFeatures ?? {}, column),
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

  /** How each version of an endpoint is doing on this server (stable, canary, shadows). */
  async getDeploymentReport(endpoint: string, project?: string): Promise<VersionReport[]> {
    const response = await this.call(this.monitoring, this.monitoring.getDeploymentReport, {
      endpoint: this.name(project, "endpoints", endpoint),
      window: undefined,
    });
    return response.versions;
  }

  /** "model@3" (or a full version name) as a full version name. */
  private versionName(ref: string, project?: string): string {
    if (ref.startsWith("projects/")) return ref;
    const at = ref.indexOf("@");
    if (at < 0) throw new Error(`"${ref}" is not a model version; write "model@version"`);
    return this.name(project, "models", ref.slice(0, at), Number(ref.slice(at + 1)));
  }

  // ---- plumbing ----

  /** Calls a unary method of a generated stub with this client's deadline and credentials. */
  call<Req, Res>(stub: Client, method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      method.call(stub, request, this.metadata(), { deadline: Date.now() + this.deadlineMs }, (error, response) =>
        error ? reject(toClientError(error)) : resolve(response),
      );
    });
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    if (this.apiKey) metadata.set("authorization", `Bearer ${this.apiKey}`);
    return metadata;
  }

  private batchRequest(batch: BatchInput | ColumnarBatchInput): WriteFeatureBatchRequest {
    const request = { project: `projects/${batch.project ?? this.project}`, featureView: batch.featureView, writeId: batch.writeId ?? "" };
    if ("eventTimes" in batch) {
      const times = batch.eventTimes;
      return {
        ...request,
        rows: [],
        columns: {
          eventTimeMicros: times instanceof BigInt64Array ? Array.from(times) : Array.from(times, (time) => BigInt(time.getTime()) * 1000n),
          entityKey: mapRecord(batch.entityKey, columnToWire),
          features: mapRecord(batch.features, columnToWire),
        },
      };
    }
    return {
      ...request,
      columns: undefined,
      rows: batch.rows.map((row) => ({
        entityKey: mapRecord(row.entityKey, toWireValue),
        eventTime: row.eventTime instanceof Date ? dateToTimestamp(row.eventTime) : row.eventTime,
        features: mapRecord(row.features, toWireValue),
      })),
    };
  }

  private async *paginate<T>(fetchPage: (pageToken: string) => Promise<[T[], string]>): AsyncGenerator<T> {
    let pageToken = "";
    do {
      const [items, next] = await fetchPage(pageToken);
      yield* items;
      pageToken = next;
    } while (pageToken !== "");
  }

  private name(project: string | undefined, collection: Collection, id: string, version?: number): string {
    return resourceName(project ?? this.project, collection, id, version);
  }
}

/** A spine batch as a wire message. */
function spineBatchToWire(batch: { rows: SpineRowInput[] } | { columns: SpineColumnsInput }): SpineBatch {
  if ("columns" in batch) {
    const { columns } = batch;
    const times = columns.eventTimes;
    return {
      rows: [],
      columns: {
        eventTimeMicros: times instanceof BigInt64Array ? Array.from(times) : Array.from(times, (time) => BigInt(time.getTime()) * 1000n),
        entityKey: mapRecord(columns.entityKey, columnToWire),
        extraColumns: mapRecord(columns.extras ?? {}, columnToWire),
      },
    };
  }
  return {
    columns: undefined,
    rows: batch.rows.map((row) => ({
      entityKey: mapRecord(row.entityKey, toWireValue),
      eventTime: row.eventTime instanceof Date ? dateToTimestamp(row.eventTime) : row.eventTime,
      extraColumns: mapRecord(row.extras ?? {}, toWireValue),
    })),
  };
}

/** Maps every item of a sync or async iterable, lazily. */
async function* mapBatches<A, B>(items: AsyncIterable<A> | Iterable<A>, map: (item: A) => B): AsyncGenerator<B> {
  for await (const item of items) yield map(item);
}

function toValueType(type: FeatureType | ValueType): ValueType {
  return typeof type === "number" ? type : valueTypeToWire(type);
}

function secondsToDuration(seconds: number): Duration {
  const whole = Math.trunc(seconds);
  return Duration.fromPartial({ seconds: BigInt(whole), nanos: Math.round((seconds - whole) * 1e9) });
}

function mapRecord<A, B>(record: Record<string, A>, map: (value: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("the server sent an incomplete response");
  return value;
}

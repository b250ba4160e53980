/**
 * What the SDK's public methods take and return: the input shapes as types, and beside each the
 * runtime check {@link SluiceClient} runs on it before sending anything (see arguments.ts).
 *
 * Naming: a `name`, `endpoint` or `model` is a short id, placed in the call's project, or a full
 * resource name (`projects/{project}/...`), used unchanged. A `project` is an id or
 * `projects/{project}`; unset, the client's. A `featureView` of a write is a view ref (`view`,
 * `view@3`, `projects/{p}/featureViews/view[/versions/3]`) and a feature ref is `view:feature`,
 * `view@3:feature` or the full forms (`projects/{p}/featureViews/view:feature`); refs go to the
 * server as written, which checks them (a full one must name the call's project).
 */
import type { ChannelCredentials } from "@grpc/grpc-js";
import { type ValueType as CoreValueType, VALUE_TYPES } from "../../../src/common/value-type.js";
import type { Timestamp } from "../../../src/gen/google/protobuf/timestamp.pb.js";
import type { UsedFeature } from "../../../src/gen/sluice/v1/inference.pb.js";
import type { ImportFeaturesResponse, WriteEventsResponse, WriteFeaturesResponse } from "../../../src/gen/sluice/v1/ingestion.pb.js";
import type { AggregationFunction } from "../../../src/gen/sluice/v1/registry.pb.js";
import type { ColumnSchema } from "../../../src/gen/sluice/v1/training.pb.js";
import type { FeatureStatus, ResolvedFeature, Value, ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
import { AGGREGATION_KINDS, type AggregationKind } from "../../../src/streams/aggregations.js";
import {
  arrayOf,
  boolean,
  bytes,
  type Check,
  date,
  exactlyOne,
  func,
  isObject,
  nonEmptyString,
  number,
  object,
  oneOf,
  optional,
  recordOf,
  required,
  requiredUnless,
  satisfies,
  string,
  union,
} from "./arguments.js";
import type { ColumnValues } from "./columns.js";
import { credentialRules, isChannelCredentials, type TlsOptions, type TokenProvider } from "./credentials.js";
import type { PlainValue } from "./values.js";

/** Feature and join key types by their short names ("int64", "float_list", ...); a wire enum number is accepted too. */
export type FeatureType = CoreValueType;

/**
 * How to reach a server, and who the client is. Plaintext and no credentials by default; an API key
 * or a token goes as `authorization: Bearer ...` on every call (the stubs' calls too), in plaintext
 * only to a loopback address unless `tls` is `false`.
 */
export interface SluiceClientOptions {
  /** "host:port". */
  address: string;
  /**
   * TLS: `true` (Node's root certificates), {@link TlsOptions} (a CA bundle, a client certificate and
   * key for mutual TLS, the server's name) or grpc-js ChannelCredentials. `false`: plaintext, chosen
   * explicitly, which lets credentials go to a remote address unencrypted. Default: plaintext.
   */
  tls?: boolean | TlsOptions | ChannelCredentials;
  /** An API key ("sk_..."), sent as `authorization: Bearer <apiKey>`. E.g. `process.env.SLUICE_API_KEY`. */
  apiKey?: string;
  /**
   * A bearer token (a JWT), or a function returning one, called for each call (over TLS, each attempt), so a
   * rotating token is always fresh; it should cache. A function that throws fails the call with
   * UNAUTHENTICATED before anything is sent. Not together with `apiKey`.
   */
  token?: string | TokenProvider;
  /** Deadline of each call, in milliseconds. Default 30 s. */
  deadlineMs?: number;
  /** Project used when a call does not name one: an id or `projects/{project}`. Default "default". */
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
  /** An id ("customer") or a full name ("projects/p/entities/customer"). */
  name: string;
  joinKeys: Array<{ name: string; type: FeatureType | ValueType }>;
  validateOnly?: boolean;
}

/** Aggregation functions by their short names ("sum", "last_n", ...); a wire enum number is accepted too. */
export type AggregationFunctionName = AggregationKind;

/**
 * An aggregation of one field of the view's event stream over a window (docs/streaming.md has the
 * window rule and each function's result).
 */
export interface AggregationInput {
  function: AggregationFunctionName | AggregationFunction;
  /** The stream field aggregated; required except for "count". */
  field?: string;
  /** A positive multiple of the stream's granularity, at most its retention; 0 or unset means lifetime. */
  windowSeconds?: number;
  /** "last_n" only: how many values (1 to 1000). */
  k?: number;
  /** Only events for which this expression over their fields is true count (docs/expressions.md). */
  filter?: string;
}

interface FeatureDocumentation {
  name: string;
  description?: string;
  tags?: Record<string, string>;
}

/**
 * A feature of a feature view: a plain one has a type; an aggregated one (in a view with a `stream`)
 * has an `aggregation`, and may leave its type to the server, which fills in the aggregation's result type.
 */
export type FeatureInput =
  | (FeatureDocumentation & { type: FeatureType | ValueType; aggregation?: AggregationInput })
  | (FeatureDocumentation & { type?: FeatureType | ValueType; aggregation: AggregationInput });

/** A feature view to apply. */
export interface FeatureViewInput extends DocumentationInput {
  project?: string;
  /** An id ("customer_stats") or a full name ("projects/p/featureViews/customer_stats"). */
  name: string;
  /** The entity's id. */
  entity: string;
  features: FeatureInput[];
  /** Values older than this are stale; 0 or unset means never. */
  ttlSeconds?: number;
  /**
   * Makes this an aggregation view: the event stream its features aggregate, a ref ("transactions",
   * "transactions@2" or the full forms). Every feature then has an `aggregation`, and the view takes
   * no feature writes: its values come from the stream's events.
   */
  stream?: string;
  /** Log every value served from this view, so that checkServedConsistency can replay them. */
  logServedValues?: boolean;
  validateOnly?: boolean;
}

/** A feature service to apply. */
export interface FeatureServiceInput extends DocumentationInput {
  project?: string;
  /** An id or a full name ("projects/p/featureServices/churn_inputs"). */
  name: string;
  /** Feature refs: "view:feature", "view@3:feature", or the full forms. */
  features: string[];
  /** Values the caller sends with each request (Predict's requestFeatures; spine extras in training sets). */
  requestInputs?: Array<{ name: string; type: FeatureType | ValueType; description?: string }>;
  /**
   * Features computed at request time by an expression over request inputs and the service's
   * features (docs/expressions.md), e.g. `amount / txn_stats:amount_mean_7d`; returned after `features`.
   */
  derivedFeatures?: Array<{ name: string; expression: string; description?: string }>;
  validateOnly?: boolean;
}

/** An event stream to apply: the entity, event time and typed fields of the raw events aggregation views aggregate. */
export interface EventStreamInput extends DocumentationInput {
  project?: string;
  /** An id ("transactions") or a full name ("projects/p/eventStreams/transactions"). */
  name: string;
  /** The entity's id; events carry its join keys. */
  entity: string;
  fields: Array<{ name: string; type: FeatureType | ValueType; description?: string }>;
  /** The event-time field of decoded source messages (Kafka, imported files); "event_time" when unset. */
  eventTimeField?: string;
  /** Tile width: windows start at its multiples and are multiples of it. 1 minute when unset; 1 s to 1 day. */
  granularitySeconds?: number;
  /** How far behind the newest event time an event may be and still count online; 0 when unset. */
  allowedLatenessSeconds?: number;
  /** How long events matter: windows may not be longer. 0 or unset means forever (lifetime windows need it). */
  retentionSeconds?: number;
  validateOnly?: boolean;
}

/** Feature refs or a feature service ("name" or "name@2"): exactly one of the two. */
export interface FeatureSelectionInput {
  features?: string[];
  featureService?: string;
  project?: string;
}

/** One row to write: entity key values, event time, feature values (plain or wire values). */
export interface RowInput {
  entityKey: Record<string, PlainValue | Value>;
  eventTime: Date | Timestamp;
  features: Record<string, PlainValue | Value>;
  /**
   * When the source system recorded the row; the server's receipt time when left out. Breaks ties
   * between equal event times and is the row's "known since" time (docs/versioning.md).
   */
  createdTime?: Date | Timestamp;
}

/** A batch of rows for one feature view (a view ref: "view", "view@3" or the full forms). */
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
  /** Created time of each row (see {@link RowInput.createdTime}); the server's receipt time when left out. */
  createdTimes?: ArrayLike<Date> | BigInt64Array;
  /** Makes a retried batch apply once. */
  writeId?: string;
  project?: string;
}

/** One raw event to write: entity key values, event time, field values (plain or wire values). */
export interface EventRowInput {
  entityKey: Record<string, PlainValue | Value>;
  eventTime: Date | Timestamp;
  /** Field name -> value; fields left out are null. */
  fields: Record<string, PlainValue | Value>;
  /** When the source system recorded the event; the server's receipt time when left out. */
  createdTime?: Date | Timestamp;
}

/** A batch of events for one event stream (a stream ref: "transactions", "transactions@2" or the full forms). */
export interface EventBatchInput {
  eventStream: string;
  events: EventRowInput[];
  /** Makes a retried batch apply once, online and offline. */
  writeId?: string;
  project?: string;
}

/** A batch of events as columns: every column holds one entry per event time. */
export interface ColumnarEventBatchInput {
  eventStream: string;
  /** Event time of each event (Dates, or microseconds since the epoch). */
  eventTimes: ArrayLike<Date> | BigInt64Array;
  entityKey: Record<string, ColumnValues>;
  /** The stream's fields. */
  fields: Record<string, ColumnValues>;
  /** Created time of each event; the server's receipt time when left out. */
  createdTimes?: ArrayLike<Date> | BigInt64Array;
  /** Makes a retried batch apply once, online and offline. */
  writeId?: string;
  project?: string;
}

/** What an import reads besides its target. */
interface ImportOptions {
  format: "parquet" | "csv";
  serverPath?: string;
  localPath?: string;
  columnMapping?: Record<string, string>;
  /** A file column with each row's created time (see {@link RowInput.createdTime}). */
  createdTimeColumn?: string;
  materializeOnline?: boolean;
  writeId?: string;
  project?: string;
  onProgress?: (progress: ImportFeaturesResponse) => void;
}

/** One of several feature views an import feeds: a view ref, and its own column mapping over the import's. */
export interface ImportViewInput {
  featureView: string;
  columnMapping?: Record<string, string>;
}

/**
 * A Parquet or CSV file to import: on the server (`serverPath`) or local (`localPath`), exactly one;
 * into a feature view (a view ref), into several read in one pass (`featureViews`), or, as raw
 * events, into an event stream (a stream ref), exactly one. For a stream, `columnMapping` maps its
 * fields, join keys and "event_time" to file columns.
 */
export type ImportInput = ImportOptions &
  (
    | { featureView: string; eventStream?: undefined; featureViews?: undefined }
    | { eventStream: string; featureView?: undefined; featureViews?: undefined }
    | { featureViews: ImportViewInput[]; featureView?: undefined; eventStream?: undefined }
  );

/** What to materialize: a view ref and an event-time range. */
export interface MaterializeInput {
  featureView: string;
  start?: Date;
  end?: Date;
  project?: string;
}

/** A replay of the values served from a feature view (one with `logServedValues`) through the historical path. */
export interface ServedConsistencyInput {
  /** A view ref. */
  featureView: string;
  /** Serving times to replay: [start, end); unset ends are open. */
  start?: Date;
  end?: Date;
  /** At most this many logged values are replayed, newest first; 0 or unset means 100,000. */
  maxValues?: number;
  /** Examples per feature in the report; 0 or unset means 5. */
  maxExamples?: number;
  project?: string;
}

/** An online read: feature refs or a feature service, for entity rows given as columns. */
export interface OnlineFeaturesInput extends FeatureSelectionInput {
  /** Join key -> one value per entity row, e.g. `{ customer_id: [1n, 2n] }`. */
  entities: Record<string, Array<PlainValue | Value>>;
  fullFeatureNames?: boolean;
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

/**
 * One batch of an inline spine: rows, columns, or one Arrow IPC stream (`tableToIPC(table, "stream")`
 * from apache-arrow) with a column per join key, `event_time` (a timestamp) and any extra columns.
 */
export type SpineBatchInput = { rows: SpineRowInput[] } | { columns: SpineColumnsInput } | { arrowIpc: Uint8Array };

/** Where a point-in-time retrieval's spine comes from. */
export type SpineInput =
  /** Rows sent with the call, in one batch... */
  | { rows: SpineRowInput[] }
  | { columns: SpineColumnsInput }
  | { arrowIpc: Uint8Array }
  /** ...or streamed, batch by batch. */
  | { batches: AsyncIterable<SpineBatchInput> | Iterable<SpineBatchInput> }
  /** A table already in the offline store ("table" or "database.table"). */
  | { table: string }
  /** A SELECT statement run in the offline store. */
  | { sql: string }
  /** Every entity with history in [start, end), each with its latest values before end. */
  | { entities: { start?: Date; end: Date } };

/** A point-in-time retrieval: which features, which spine, and the result's shape. */
export interface HistoricalQueryInput extends FeatureSelectionInput {
  spine: SpineInput;
  /** Name feature columns view__feature. */
  fullFeatureNames?: boolean;
  /** Ignore feature rows ingested after each spine time (stops backfill leakage). */
  excludeLateIngested?: boolean;
  /** Emit a spine_index column instead of sorting the result into spine order. */
  emitSpineIndex?: boolean;
}

/** The columns of a training set and whether its rows come in spine order. */
export interface HistoricalSchema {
  columns: ColumnSchema[];
  preservesSpineOrder: boolean;
}

/** A training dataset to record: version N+1 of `name` (an id or a full name), built from `query`. */
export interface TrainingDatasetInput {
  name: string;
  /** Its spine must be in the offline store (table, sql or entities); `query.project` is the dataset's project. */
  query: HistoricalQueryInput;
  description?: string;
}

/** How one model input gets its values. */
export type ModelInputBindingInput =
  | { input: string; features: string[] }
  | { input: string; featureService: string }
  | { input: string; request: string };

/** A model version to upload. */
export interface ModelUploadInput {
  /** An id ("churn") or a full name ("projects/p/models/churn"). */
  model: string;
  /** The ONNX file: its bytes, or a local path. */
  file: Uint8Array | string;
  bindings: ModelInputBindingInput[];
  /** Lineage: "churn_training@1", "churn_training" (its latest), or a full name "projects/p/trainingDatasets/d[/versions/1]". */
  trainingDataset?: string;
  description?: string;
  labels?: Record<string, string>;
  project?: string;
}

/** An endpoint's routing to apply. */
export interface DeploymentInput {
  /** An id ("churn") or a full name ("projects/p/endpoints/churn"). */
  endpoint: string;
  /** "model@version", or a full version name "projects/p/models/m/versions/3". */
  stable: string;
  canary?: { version: string; percent: number };
  shadows?: string[];
  routingKey?: string;
  missingFeatures?: "use_default" | "reject";
  canaryGuard?: { minRequests: number; maxErrorRateIncrease?: number; maxP99LatencyRatio?: number };
  /**
   * The two-person rule for stable: promoteCanary then only requests a promotion, which another
   * authenticated principal approves (approvePromotion), and stable cannot be changed here.
   */
  requirePromotionApproval?: boolean;
  actor?: string;
  reason?: string;
  project?: string;
}

/** Who changes an endpoint's routing, and why (PromoteCanary, RollbackDeployment). */
export interface DeploymentChangeInput {
  actor?: string;
  reason?: string;
  project?: string;
}

/**
 * An approval or rejection of an endpoint's pending promotion: why, and (optionally) the canary
 * version it is for, "model@3" or a full version name, so that what was looked at is what is decided.
 */
export interface PromotionDecisionInput {
  reason?: string;
  canaryVersion?: string;
  project?: string;
}

/** A Predict request: an endpoint (id or full name) and entity rows given as columns. */
export interface PredictInput {
  endpoint: string;
  /** Join key -> one value per row, e.g. `{ customer_id: [1n, 3n] }`. */
  entities: Record<string, Array<PlainValue | Value>>;
  /** Request-time model inputs, one value per row. */
  requestFeatures?: Record<string, Array<PlainValue | Value>>;
  routingKey?: string;
  requestId?: string;
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

/** A stream of event batches: each `write` resolves with that batch's acknowledgement. */
export interface EventWriteStream {
  write(batch: EventBatchInput | ColumnarEventBatchInput): Promise<WriteEventsResponse>;
  /** Ends the stream; resolves once the server has closed it. */
  close(): Promise<void>;
}

/** Paging options of list calls. */
export interface ListOptions {
  project?: string;
  pageSize?: number;
}

/** Which version to read (the latest when unset) and in which project. */
export interface VersionOptions {
  version?: number;
  project?: string;
}

// ---- runtime checks of the shapes above ----

const project = optional(nonEmptyString);
const documentation = { description: optional(string), owner: optional(string), tags: optional(recordOf(string)) };

/** A value to send: a plain value or a wire Value; null is a null value, undefined is refused. */
const value = satisfies(
  "a value (number, bigint, boolean, string, Uint8Array, Date, array, wire Value, or null)",
  (v) => v !== undefined && typeof v !== "function" && typeof v !== "symbol",
);
const values = recordOf(arrayOf(value, "an array of values, one per row"), "an object of name -> values, e.g. { customer_id: [1n, 2n] }");
const valuesByName = recordOf(value);

const featureTypeExpected = `a type name (${VALUE_TYPES.join(", ")}) or a ValueType`;
const featureType = union(
  featureTypeExpected,
  { accepts: (v) => typeof v === "string", check: oneOf(...VALUE_TYPES) },
  { accepts: (v) => typeof v === "number", check: number({ integer: true, min: 0 }) },
);

const timestamp = required(
  "a Date or a Timestamp",
  (v) => (v instanceof Date && !Number.isNaN(v.getTime())) || (isObject(v) && typeof v.seconds === "bigint" && typeof v.nanos === "number"),
);
const eventTimes = union(
  "an array of Dates, or a BigInt64Array of microseconds since the epoch",
  { accepts: (v) => v instanceof BigInt64Array, check: () => undefined },
  { accepts: Array.isArray, check: arrayOf(date) },
);
const column = union(
  "a Float64Array, Float32Array, Int32Array, BigInt64Array, or { type, values }",
  {
    accepts: (v) => v instanceof Float64Array || v instanceof Float32Array || v instanceof Int32Array || v instanceof BigInt64Array,
    check: () => undefined,
  },
  { accepts: isObject, check: object({ type: oneOf(...VALUE_TYPES), values: required("an array", (v) => Array.isArray(v)) }) },
);
const columns = recordOf(column, "an object of name -> column");

/** `features` or `featureService`, exactly one. */
const selection = {
  members: { features: optional(arrayOf(string, "an array of feature refs")), featureService: optional(string), project },
  rule: exactlyOne(["features", "featureService"]),
};

const pem = optional(required("PEM text (a string) or bytes", (v) => typeof v === "string" || v instanceof Uint8Array));
/** Checks {@link TlsOptions}. */
const tlsOptionsCheck = object({
  ca: pem,
  caFile: optional(nonEmptyString),
  cert: pem,
  certFile: optional(nonEmptyString),
  key: pem,
  keyFile: optional(nonEmptyString),
  serverName: optional(nonEmptyString),
});

/** Checks {@link SluiceClientOptions}. */
export const clientOptionsCheck = object(
  {
    address: nonEmptyString,
    tls: optional(
      union(
        "true, false, TLS options or ChannelCredentials",
        { accepts: (v) => typeof v === "boolean" || isChannelCredentials(v), check: () => undefined },
        { accepts: isObject, check: tlsOptionsCheck },
      ),
    ),
    apiKey: optional(string),
    token: optional(required("a string or a function returning one", (v) => typeof v === "string" || typeof v === "function")),
    deadlineMs: optional(number({ min: 1 })),
    project,
  },
  credentialRules,
);

/** Checks {@link ListOptions}. */
export const listOptionsCheck = object({ project, pageSize: optional(number({ min: 0, integer: true })) });
/** Checks {@link ListOptions} of ListFeatureViews. */
export const featureViewListCheck = object({
  project,
  pageSize: optional(number({ min: 0, integer: true })),
  showDeprecated: optional(boolean),
});
/** Checks {@link VersionOptions}. */
export const versionOptionsCheck = object({ version: optional(number({ min: 1, integer: true })), project });
/** Checks the options of waitForTrainingDataset. */
export const waitOptionsCheck = object({
  version: optional(number({ min: 1, integer: true })),
  project,
  pollMs: optional(number({ min: 0 })),
  timeoutMs: optional(number({ min: 0 })),
});
/** Checks the optional project argument of single-resource reads. */
export const projectCheck = project;

/** Checks {@link EntityInput}. */
export const entityCheck = object({
  project,
  name: string,
  joinKeys: arrayOf(object({ name: string, type: featureType })),
  ...documentation,
  validateOnly: optional(boolean),
});

const aggregation = object({
  function: union(
    `an aggregation function (${AGGREGATION_KINDS.join(", ")}) or an AggregationFunction`,
    { accepts: (v) => typeof v === "string", check: oneOf(...AGGREGATION_KINDS) },
    { accepts: (v) => typeof v === "number", check: number({ integer: true, min: 0 }) },
  ),
  field: optional(string),
  // Ranges (window against the stream's granularity, k from 1 to 1000) are the server's to check.
  windowSeconds: optional(number()),
  k: optional(number({ integer: true })),
  filter: optional(string),
});
const feature = object(
  {
    name: string,
    type: optional(featureType),
    description: optional(string),
    tags: optional(recordOf(string)),
    aggregation: optional(aggregation),
  },
  requiredUnless("type", "aggregation", featureTypeExpected),
);

/** Checks {@link FeatureViewInput}. */
export const featureViewCheck = object({
  project,
  name: string,
  entity: string,
  features: arrayOf(feature),
  // Its range is the server's to check, beside the definition's other problems.
  ttlSeconds: optional(number()),
  stream: optional(nonEmptyString),
  logServedValues: optional(boolean),
  ...documentation,
  validateOnly: optional(boolean),
});

/** Checks {@link FeatureServiceInput}. */
export const featureServiceCheck = object({
  project,
  name: string,
  features: arrayOf(string, "an array of feature refs"),
  requestInputs: optional(arrayOf(object({ name: string, type: featureType, description: optional(string) }))),
  derivedFeatures: optional(arrayOf(object({ name: string, expression: string, description: optional(string) }))),
  ...documentation,
  validateOnly: optional(boolean),
});

/** Checks {@link EventStreamInput}. */
export const eventStreamCheck = object({
  project,
  name: string,
  entity: string,
  fields: arrayOf(object({ name: string, type: featureType, description: optional(string) })),
  eventTimeField: optional(string),
  // Ranges are the server's to check, beside the definition's other problems.
  granularitySeconds: optional(number()),
  allowedLatenessSeconds: optional(number()),
  retentionSeconds: optional(number()),
  ...documentation,
  validateOnly: optional(boolean),
});

/** Checks {@link FeatureSelectionInput}. */
export const selectionCheck = object(selection.members, selection.rule);

/**
 * Checks a write batch of one target (a feature view's features, an event stream's fields): rows,
 * or columns when `eventTimes` is there.
 */
function writeBatchCheck(target: "featureView" | "eventStream", rows: "rows" | "events", values: "features" | "fields"): Check {
  const row = object({ entityKey: valuesByName, eventTime: timestamp, [values]: valuesByName, createdTime: optional(timestamp) });
  const members = { [target]: nonEmptyString, writeId: optional(string), project };
  return union(
    `a batch: { ${target}, ${rows} } or { ${target}, eventTimes, entityKey, ${values} }`,
    {
      accepts: (v) => isObject(v) && v.eventTimes !== undefined,
      check: object({ ...members, eventTimes, entityKey: columns, [values]: columns, createdTimes: optional(eventTimes) }),
    },
    { accepts: isObject, check: object({ ...members, [rows]: arrayOf(row, `an array of ${rows}`) }) },
  );
}

/** Checks {@link BatchInput} and {@link ColumnarBatchInput}. */
export const batchCheck = writeBatchCheck("featureView", "rows", "features");
/** Checks {@link EventBatchInput} and {@link ColumnarEventBatchInput}. */
export const eventBatchCheck = writeBatchCheck("eventStream", "events", "fields");

/** Checks {@link ImportInput}. */
export const importCheck = object(
  {
    featureView: optional(nonEmptyString),
    eventStream: optional(nonEmptyString),
    featureViews: optional(arrayOf(object({ featureView: nonEmptyString, columnMapping: optional(recordOf(string)) }))),
    format: oneOf("parquet", "csv"),
    serverPath: optional(nonEmptyString),
    localPath: optional(nonEmptyString),
    columnMapping: optional(recordOf(string)),
    createdTimeColumn: optional(nonEmptyString),
    materializeOnline: optional(boolean),
    writeId: optional(string),
    project,
    onProgress: optional(func),
  },
  exactlyOne(["featureView", "eventStream", "featureViews"]),
  exactlyOne(["serverPath", "localPath"]),
);

/** Checks {@link ServedConsistencyInput}. */
export const servedConsistencyCheck = object({
  featureView: nonEmptyString,
  start: optional(date),
  end: optional(date),
  maxValues: optional(number({ min: 0, integer: true })),
  maxExamples: optional(number({ min: 0, integer: true })),
  project,
});

/** Checks {@link MaterializeInput}. */
export const materializeCheck = object({ featureView: nonEmptyString, start: optional(date), end: optional(date), project });

/** Checks {@link OnlineFeaturesInput}. */
export const onlineCheck = object({ ...selection.members, entities: values, fullFeatureNames: optional(boolean) }, selection.rule);

const spineRow = object({ entityKey: valuesByName, eventTime: timestamp, extras: optional(valuesByName) });
const spineColumns = object({ eventTimes, entityKey: columns, extras: optional(columns) });
/** Checks one {@link SpineBatchInput} (each batch of a streamed spine, as it comes). */
const arrowIpc = optional(required("Arrow IPC stream bytes (a Uint8Array)", (v) => v instanceof Uint8Array && v.length > 0));
export const spineBatchCheck = object(
  { rows: optional(arrayOf(spineRow, "an array of spine rows")), columns: optional(spineColumns), arrowIpc },
  exactlyOne(["rows", "columns", "arrowIpc"], { presence: true }),
);
const spineKinds = ["rows", "columns", "arrowIpc", "batches", "table", "sql", "entities"];
const spine = object(
  {
    rows: optional(arrayOf(spineRow, "an array of spine rows")),
    columns: optional(spineColumns),
    arrowIpc,
    batches: optional(
      required("an iterable or async iterable of spine batches", (v) => typeof v === "object" && v !== null && iterable(v)),
    ),
    table: optional(nonEmptyString),
    sql: optional(nonEmptyString),
    entities: optional(object({ start: optional(date), end: date })),
  },
  exactlyOne(spineKinds, { presence: true }),
);

/** Checks {@link HistoricalQueryInput}. */
export const historicalQueryCheck = object(
  {
    ...selection.members,
    spine,
    fullFeatureNames: optional(boolean),
    excludeLateIngested: optional(boolean),
    emitSpineIndex: optional(boolean),
  },
  selection.rule,
);

/** Checks the options of getHistoricalRows and streamHistoricalArrow. */
export const historicalOptionsCheck = object({ chunkRows: optional(number({ min: 0, integer: true })), onSchema: optional(func) });

/** Checks {@link TrainingDatasetInput}. */
export const trainingDatasetCheck = object({ name: nonEmptyString, query: historicalQueryCheck, description: optional(string) });

const binding = object(
  {
    input: nonEmptyString,
    features: optional(arrayOf(string, "an array of feature refs")),
    featureService: optional(nonEmptyString),
    request: optional(nonEmptyString),
  },
  exactlyOne(["features", "featureService", "request"], { presence: true }),
);

/** Checks {@link ModelUploadInput}. */
export const modelUploadCheck = object({
  model: nonEmptyString,
  file: union(
    "the model's bytes (a Uint8Array) or a local path",
    { accepts: (v) => v instanceof Uint8Array, check: bytes },
    { accepts: (v) => typeof v === "string", check: nonEmptyString },
  ),
  bindings: arrayOf(binding, "an array of input bindings"),
  trainingDataset: optional(nonEmptyString),
  description: optional(string),
  labels: optional(recordOf(string)),
  project,
});

/** Checks {@link DeploymentInput}. */
export const deploymentCheck = object({
  endpoint: nonEmptyString,
  stable: nonEmptyString,
  canary: optional(object({ version: nonEmptyString, percent: number() })),
  shadows: optional(arrayOf(nonEmptyString)),
  routingKey: optional(string),
  missingFeatures: optional(oneOf("use_default", "reject")),
  canaryGuard: optional(
    object({
      minRequests: number({ min: 0, integer: true }),
      maxErrorRateIncrease: optional(number()),
      maxP99LatencyRatio: optional(number()),
    }),
  ),
  requirePromotionApproval: optional(boolean),
  actor: optional(string),
  reason: optional(string),
  project,
});

/** Checks {@link DeploymentChangeInput}. */
export const deploymentChangeCheck = object({ actor: optional(string), reason: optional(string), project });

/** Checks {@link PromotionDecisionInput}. */
export const promotionDecisionCheck = object({ reason: optional(string), canaryVersion: optional(nonEmptyString), project });

/** Checks {@link PredictInput}. */
export const predictCheck = object({
  endpoint: nonEmptyString,
  entities: values,
  requestFeatures: optional(values),
  routingKey: optional(string),
  requestId: optional(string),
  project,
});

function iterable(v: object): boolean {
  return Symbol.iterator in v || Symbol.asyncIterator in v;
}

// ---- online learners ----

/** One input of a learner: a number or a category, from a feature ref or a request value. */
export interface LearnerInputSpec {
  name: string;
  type: "numeric" | "categorical";
  /** A feature ref ("view:feature", pinned at creation); or `request`. */
  feature?: string;
  /** The name of a value sent with each Predict request (and with each entity label). */
  request?: string;
}

/** The optimizer of a learner: exactly one of them. */
export type OptimizerInput =
  | { sgd: { learningRate: number; power?: number } }
  | { adagrad: { learningRate: number; epsilon?: number } }
  | { ftrl: { alpha: number; beta: number; l1?: number; l2?: number } };

/** A learner to create (docs/learning.md); unset numbers take the server's defaults. */
export interface LearnerCreateInput {
  learner: string;
  kind: "logistic" | "multinomial" | "linear";
  /** Multinomial only. */
  classes?: number;
  inputs: LearnerInputSpec[];
  hashBuckets?: number;
  optimizer: OptimizerInput;
  l2?: number;
  interceptLearningRate?: number;
  divergenceThreshold?: number;
  checkpoint?: { everyExamples?: number; everySeconds?: number };
  metricsWindowSeconds?: number;
  description?: string;
  project?: string;
}

/** One label: the outcome of a served prediction (`requestId`), or of an entity's event (`entity` and `eventTime`). */
export interface LabelInput {
  requestId?: string;
  /** With `requestId`: the entity row of that request (default 0). */
  row?: number;
  /** Join key name -> value. */
  entity?: Record<string, PlainValue | Value>;
  eventTime?: Date;
  /** 0/1 or a bool (logistic), a class index (multinomial), a number (linear). */
  label: number | boolean;
  /** With `entity`: the learner's request-time inputs by name. */
  requestFeatures?: Record<string, PlainValue | Value>;
}

/** A batch of labels for one learner; `writeId` makes a retry append them once. */
export interface LabelBatchInput {
  learner: string;
  labels: LabelInput[];
  writeId?: string;
  project?: string;
}

const learnerInputCheck = object(
  { name: nonEmptyString, type: oneOf("numeric", "categorical"), feature: optional(nonEmptyString), request: optional(nonEmptyString) },
  exactlyOne(["feature", "request"]),
);
const finite = number();
export const learnerCreateCheck = object({
  learner: nonEmptyString,
  kind: oneOf("logistic", "multinomial", "linear"),
  classes: optional(number({ integer: true, min: 0 })),
  inputs: arrayOf(learnerInputCheck, "an array of learner inputs"),
  hashBuckets: optional(number({ integer: true, min: 0 })),
  optimizer: object(
    {
      sgd: optional(object({ learningRate: finite, power: optional(finite) })),
      adagrad: optional(object({ learningRate: finite, epsilon: optional(finite) })),
      ftrl: optional(object({ alpha: finite, beta: finite, l1: optional(finite), l2: optional(finite) })),
    },
    exactlyOne(["sgd", "adagrad", "ftrl"]),
  ),
  l2: optional(finite),
  interceptLearningRate: optional(finite),
  divergenceThreshold: optional(finite),
  checkpoint: optional(
    object({ everyExamples: optional(number({ integer: true, min: 0 })), everySeconds: optional(number({ integer: true, min: 0 })) }),
  ),
  metricsWindowSeconds: optional(number({ integer: true, min: 0 })),
  description: optional(string),
  project,
});
const labelCheck = object(
  {
    requestId: optional(nonEmptyString),
    row: optional(number({ integer: true, min: 0 })),
    entity: optional(valuesByName),
    eventTime: optional(date),
    label: union(
      "a number or a bool",
      { accepts: (v) => typeof v === "number", check: number() },
      { accepts: (v) => typeof v === "boolean", check: boolean },
    ),
    requestFeatures: optional(valuesByName),
  },
  exactlyOne(["requestId", "entity"]),
);
export const labelBatchCheck = object({
  learner: nonEmptyString,
  labels: arrayOf(labelCheck, "an array of labels"),
  writeId: optional(string),
  project,
});

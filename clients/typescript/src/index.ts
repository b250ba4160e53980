/** The Sluice TypeScript SDK. */

export type {
  ApiKey,
  AuditChainVerdict,
  AuditEvent,
  RoleBinding,
  RoleGrant,
  VerifyAuditChainResponse,
  WhoAmIResponse,
} from "../../../src/gen/sluice/v1/access.pb.js";
export type { UsedFeature } from "../../../src/gen/sluice/v1/inference.pb.js";
export type {
  EventSourceStatus,
  GetEventStreamStatusResponse,
  WriteEventBatchResponse,
  WriteEventsResponse,
} from "../../../src/gen/sluice/v1/ingestion.pb.js";
export type { Learner, LearnerStatus, PrequentialMetrics, WriteLabelsResponse } from "../../../src/gen/sluice/v1/learning.pb.js";
export { LearnerState } from "../../../src/gen/sluice/v1/learning.pb.js";
export type { Deployment, Model, ModelVersion, PromotionRequest } from "../../../src/gen/sluice/v1/model.pb.js";
export type {
  CheckServedConsistencyResponse,
  ConsistencyMismatch,
  FeatureConsistency,
  VersionReport,
} from "../../../src/gen/sluice/v1/monitoring.pb.js";
export type {
  Aggregation,
  DerivedFeature,
  Entity,
  EventStream,
  Feature,
  FeatureService,
  FeatureView,
  Project,
  RequestInput,
  StreamField,
} from "../../../src/gen/sluice/v1/registry.pb.js";
export {
  AggregationFunction,
  ApplyOutcome,
  Compatibility,
  FeatureViewState,
  HistoryOutcome,
} from "../../../src/gen/sluice/v1/registry.pb.js";
export type { ColumnSchema, TrainingDataset } from "../../../src/gen/sluice/v1/training.pb.js";
export { TrainingDatasetState } from "../../../src/gen/sluice/v1/training.pb.js";
export type { ResolvedFeature } from "../../../src/gen/sluice/v1/types.pb.js";
export { FeatureStatus, ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
export type {
  ApiKeyInput,
  ApiKeyListOptions,
  AuditEventListOptions,
  RoleBindingInput,
  RoleBindingListOptions,
  RoleInput,
} from "./access.js";
export { SluiceClient } from "./client.js";
export type { ColumnValues } from "./columns.js";
export type { TlsOptions, TokenProvider } from "./credentials.js";
export type { FieldViolation } from "./errors.js";
export { SluiceClientError } from "./errors.js";
export type {
  AggregationFunctionName,
  AggregationInput,
  BatchInput,
  ColumnarBatchInput,
  ColumnarEventBatchInput,
  DeploymentChangeInput,
  DeploymentInput,
  DocumentationInput,
  EntityInput,
  EventBatchInput,
  EventRowInput,
  EventStreamInput,
  EventWriteStream,
  FeatureInput,
  FeatureSelectionInput,
  FeatureServiceInput,
  FeatureType,
  FeatureViewInput,
  HistoricalQueryInput,
  HistoricalSchema,
  ImportInput,
  LabelBatchInput,
  LabelInput,
  LearnerCreateInput,
  LearnerInputSpec,
  ListOptions,
  MaterializeInput,
  ModelInputBindingInput,
  ModelUploadInput,
  OnlineColumn,
  OnlineFeaturesInput,
  OptimizerInput,
  PredictInput,
  Prediction,
  PromotionDecisionInput,
  RowInput,
  ServedConsistencyInput,
  SluiceClientOptions,
  SpineBatchInput,
  SpineColumnsInput,
  SpineInput,
  SpineRowInput,
  TrainingDatasetInput,
  VersionOptions,
  WriteStream,
} from "./inputs.js";
export { type PlainValue, typed } from "./values.js";

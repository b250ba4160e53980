/** The Sluice TypeScript SDK. */

export type { UsedFeature } from "../../../src/gen/sluice/v1/inference.pb.js";
export type { Deployment, Model, ModelVersion } from "../../../src/gen/sluice/v1/model.pb.js";
export type { VersionReport } from "../../../src/gen/sluice/v1/monitoring.pb.js";
export type { Entity, FeatureService, FeatureView, Project } from "../../../src/gen/sluice/v1/registry.pb.js";
export {
  ApplyOutcome,
  Compatibility,
  FeatureViewState,
  HistoryOutcome,
} from "../../../src/gen/sluice/v1/registry.pb.js";
export type { ColumnSchema, TrainingDataset } from "../../../src/gen/sluice/v1/training.pb.js";
export { TrainingDatasetState } from "../../../src/gen/sluice/v1/training.pb.js";
export type { ResolvedFeature } from "../../../src/gen/sluice/v1/types.pb.js";
export { FeatureStatus, ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
export { SluiceClient } from "./client.js";
export type { ColumnValues } from "./columns.js";
export type { FieldViolation } from "./errors.js";
export { SluiceClientError } from "./errors.js";
export type {
  BatchInput,
  ColumnarBatchInput,
  DeploymentChangeInput,
  DeploymentInput,
  DocumentationInput,
  EntityInput,
  FeatureSelectionInput,
  FeatureServiceInput,
  FeatureType,
  FeatureViewInput,
  HistoricalQueryInput,
  HistoricalSchema,
  ImportInput,
  ListOptions,
  MaterializeInput,
  ModelInputBindingInput,
  ModelUploadInput,
  OnlineColumn,
  OnlineFeaturesInput,
  PredictInput,
  Prediction,
  RowInput,
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

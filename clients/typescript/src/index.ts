/** The Sluice TypeScript SDK. */

export type { Entity, FeatureService, FeatureView, Project } from "../../../src/gen/sluice/v1/registry.pb.js";
export {
  ApplyOutcome,
  Compatibility,
  FeatureViewState,
} from "../../../src/gen/sluice/v1/registry.pb.js";
export type { ColumnSchema, TrainingDataset } from "../../../src/gen/sluice/v1/training.pb.js";
export { TrainingDatasetState } from "../../../src/gen/sluice/v1/training.pb.js";
export type { ResolvedFeature } from "../../../src/gen/sluice/v1/types.pb.js";
export { FeatureStatus, ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
export type {
  BatchInput,
  ColumnarBatchInput,
  DocumentationInput,
  EntityInput,
  FeatureServiceInput,
  FeatureType,
  FeatureViewInput,
  HistoricalQueryInput,
  HistoricalSchema,
  ListOptions,
  OnlineColumn,
  RowInput,
  SluiceClientOptions,
  SpineColumnsInput,
  SpineInput,
  SpineRowInput,
  WriteStream,
} from "./client.js";
export { SluiceClient } from "./client.js";
export type { ColumnValues } from "./columns.js";
export type { FieldViolation } from "./errors.js";
export { SluiceClientError } from "./errors.js";
export { type PlainValue, typed } from "./values.js";

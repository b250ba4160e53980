/** The Sluice TypeScript SDK. */

export type { Entity, FeatureService, FeatureView, Project } from "../../../src/gen/sluice/v1/registry.pb.js";
export {
  ApplyOutcome,
  Compatibility,
  FeatureViewState,
} from "../../../src/gen/sluice/v1/registry.pb.js";
export type { ResolvedFeature } from "../../../src/gen/sluice/v1/types.pb.js";
export { ValueType } from "../../../src/gen/sluice/v1/types.pb.js";
export type {
  DocumentationInput,
  EntityInput,
  FeatureServiceInput,
  FeatureType,
  FeatureViewInput,
  ListOptions,
  SluiceClientOptions,
} from "./client.js";
export { SluiceClient } from "./client.js";
export type { FieldViolation } from "./errors.js";
export { SluiceClientError } from "./errors.js";

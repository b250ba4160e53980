/** Wire <-> core conversions of registry resources. */
import { ValidationError } from "../../common/errors.js";
import type { ValueType } from "../../common/value-type.js";
import {
  AggregationFunction,
  aggregationFunctionToJSON,
  FeatureViewState,
  type Aggregation as WireAggregation,
  ApplyOutcome as WireApplyOutcome,
  Compatibility as WireCompatibility,
  type Entity as WireEntity,
  type EventStream as WireEventStream,
  type Feature as WireFeature,
  type FeatureService as WireFeatureService,
  type FeatureView as WireFeatureView,
  HistoryOutcome as WireHistoryOutcome,
  type JoinKey as WireJoinKey,
  type Project as WireProject,
} from "../../gen/sluice/v1/registry.pb.js";
import { type ResolvedFeature as WireResolvedFeature, ValueType as WireValueType } from "../../gen/sluice/v1/types.pb.js";
import type {
  AggregationDefinition,
  ApplyOutcome,
  Compatibility,
  Entity,
  EventStreamVersion,
  Feature,
  FeatureServiceSpec,
  FeatureServiceVersion,
  FeatureViewVersion,
  JoinKey,
  Project,
  ResolvedFeature,
  VersionInfo,
  WithState,
} from "../../registry/model.js";
import { projectName, resourceName } from "../../registry/names.js";
import type { EntityDraft, EventStreamDraft, FeatureViewDraft } from "../../registry/validation.js";
import { dateToTimestamp, durationToMillis, millisToDuration, optionalTimestamp, valueTypeFromWire, valueTypeToWire } from "./common.js";

/** Throws INVALID_ARGUMENT when a required message field is missing. */
export function requireMessage<T>(message: T | undefined, field: string): T {
  if (message === undefined) throw new ValidationError("MISSING_FIELD", [{ field, description: "is required" }]);
  return message;
}

/** Wire entity -> draft, for a project and id parsed from its name. */
export function entityDraftFromWire(entity: WireEntity, project: string, name: string): EntityDraft {
  return {
    project,
    name,
    joinKeys: entity.joinKeys.map((k) => ({ name: k.name, type: valueTypeFromWire(k.type) })),
    description: entity.description,
    owner: entity.owner,
    tags: entity.tags,
  };
}

/** Wire feature view -> draft, for a project and id parsed from its name. */
export function featureViewDraftFromWire(view: WireFeatureView, project: string, name: string): FeatureViewDraft {
  return {
    project,
    name,
    entity: view.entity,
    features: view.features.map((f) => ({
      name: f.name,
      type: valueTypeFromWire(f.type),
      description: f.description,
      tags: f.tags,
      ...(f.aggregation ? { aggregation: aggregationFromWire(f.aggregation) } : {}),
    })),
    ttlMillis: durationToMillis(view.ttl),
    description: view.description,
    owner: view.owner,
    tags: view.tags,
    ...(view.stream ? { stream: view.stream } : {}),
    ...(view.logServedValues ? { logServedValues: true } : {}),
  };
}

/** Wire aggregation -> draft (the function as its lower-case name, "" when unset). */
function aggregationFromWire(aggregation: WireAggregation): Omit<AggregationDefinition, "kind"> & { kind: string } {
  const kind =
    aggregation.function === AggregationFunction.AGGREGATION_FUNCTION_UNSPECIFIED
      ? ""
      : aggregationFunctionToJSON(aggregation.function).replace("AGGREGATION_FUNCTION_", "").toLowerCase();
  return {
    kind: kind === "unrecognized" ? "unknown" : kind,
    field: aggregation.field,
    windowMillis: durationToMillis(aggregation.window),
    k: aggregation.k,
    filter: aggregation.filter,
  };
}

/** Core aggregation -> wire. */
function aggregationToWire(aggregation: AggregationDefinition): WireAggregation {
  const name = `AGGREGATION_FUNCTION_${aggregation.kind.toUpperCase()}` as keyof typeof AggregationFunction;
  return {
    function: AggregationFunction[name],
    field: aggregation.field,
    window: aggregation.windowMillis > 0 ? millisToDuration(aggregation.windowMillis) : undefined,
    k: aggregation.k,
    filter: aggregation.filter,
  };
}

/** Core feature -> wire. */
function featureToWire(feature: Feature): WireFeature {
  return {
    name: feature.name,
    type: valueTypeToWire(feature.type),
    description: feature.description,
    tags: feature.tags,
    aggregation: feature.aggregation ? aggregationToWire(feature.aggregation) : undefined,
  };
}

/** Wire event stream -> draft, for a project and id parsed from its name. */
export function eventStreamDraftFromWire(stream: WireEventStream, project: string, name: string): EventStreamDraft {
  return {
    project,
    name,
    entity: stream.entity,
    fields: stream.fields.map((f) => ({ name: f.name, type: valueTypeFromWire(f.type), description: f.description })),
    eventTimeField: stream.eventTimeField,
    granularityMillis: durationToMillis(stream.granularity),
    allowedLatenessMillis: durationToMillis(stream.allowedLateness),
    retentionMillis: durationToMillis(stream.retention),
    description: stream.description,
    owner: stream.owner,
    tags: stream.tags,
  };
}

/** Core event stream version (with its head state) -> wire. */
export function eventStreamToWire(stream: WithState<EventStreamVersion>): WireEventStream {
  return {
    name: resourceName(stream.project, "eventStreams", stream.name),
    version: stream.version,
    entity: stream.entity,
    fields: stream.fields.map((f) => ({ name: f.name, type: valueTypeToWire(f.type), description: f.description })),
    eventTimeField: stream.eventTimeField,
    granularity: millisToDuration(stream.granularityMillis),
    allowedLateness: millisToDuration(stream.allowedLatenessMillis),
    retention: stream.retentionMillis > 0 ? millisToDuration(stream.retentionMillis) : undefined,
    description: stream.description,
    owner: stream.owner,
    tags: stream.tags,
    ...versionFieldsToWire(stream),
    historyVersion: stream.historyVersion,
  };
}

/** Wire feature service -> spec, for a project and id parsed from its name. */
export function featureServiceSpecFromWire(service: WireFeatureService, project: string, name: string): FeatureServiceSpec {
  return {
    project,
    name,
    features: service.features,
    description: service.description,
    owner: service.owner,
    tags: service.tags,
    ...(service.requestInputs.length > 0
      ? {
          // Checked by the registry (validateFeatureServiceSpec).
          requestInputs: service.requestInputs.map((i) => ({
            name: i.name,
            type: valueTypeFromWire(i.type) as ValueType,
            description: i.description,
          })),
        }
      : {}),
    ...(service.derivedFeatures.length > 0
      ? { derivedFeatures: service.derivedFeatures.map((d) => ({ name: d.name, expression: d.expression, description: d.description })) }
      : {}),
  };
}

/** Core project -> wire. */
export function projectToWire(project: Project): WireProject {
  return { name: projectName(project.project), description: project.description, createTime: dateToTimestamp(project.createTime) };
}

/** Core join key -> wire. */
export function joinKeyToWire(key: JoinKey): WireJoinKey {
  return { name: key.name, type: valueTypeToWire(key.type) };
}

/** Core entity -> wire. */
export function entityToWire(entity: Entity): WireEntity {
  return {
    name: resourceName(entity.project, "entities", entity.name),
    joinKeys: entity.joinKeys.map(joinKeyToWire),
    description: entity.description,
    owner: entity.owner,
    tags: entity.tags,
    createTime: dateToTimestamp(entity.createTime),
    updateTime: dateToTimestamp(entity.updateTime),
  };
}

/** Core feature view version (with its head state) -> wire. */
export function featureViewToWire(view: WithState<FeatureViewVersion>): WireFeatureView {
  return {
    name: resourceName(view.project, "featureViews", view.name),
    version: view.version,
    entity: view.entity,
    features: view.features.map(featureToWire),
    ttl: view.ttlMillis > 0 ? millisToDuration(view.ttlMillis) : undefined,
    description: view.description,
    owner: view.owner,
    tags: view.tags,
    ...versionFieldsToWire(view),
    deprecateTime: optionalTimestamp(view.deprecateTime),
    historyVersion: view.historyVersion,
    stream: view.stream ? resourceName(view.project, "eventStreams", view.stream) : "",
    streamVersion: view.streamVersion ?? 0,
    logServedValues: view.logServedValues ?? false,
  };
}

/** What a created or new feature view version sees of earlier values; unset for an unchanged apply. */
export function historyOutcomeToWire(outcome: ApplyOutcome, view: { version: number; historyVersion: number }): WireHistoryOutcome {
  if (outcome !== "created" && outcome !== "new_version") return WireHistoryOutcome.HISTORY_OUTCOME_UNSPECIFIED;
  return view.historyVersion === view.version ? WireHistoryOutcome.HISTORY_OUTCOME_STARTS_EMPTY : WireHistoryOutcome.HISTORY_OUTCOME_SHARED;
}

/** Core feature service version -> wire. */
export function featureServiceToWire(service: WithState<FeatureServiceVersion>): WireFeatureService {
  return {
    name: resourceName(service.project, "featureServices", service.name),
    version: service.version,
    features: service.features,
    description: service.description,
    owner: service.owner,
    tags: service.tags,
    compatibility: compatibilityToWire(service.compatibility),
    changes: service.changes,
    createTime: dateToTimestamp(service.createTime),
    requestInputs: (service.requestInputs ?? []).map((i) => ({ name: i.name, type: valueTypeToWire(i.type), description: i.description })),
    derivedFeatures: (service.derivedFeatures ?? []).map((d) => ({
      name: d.name,
      expression: d.expression,
      description: d.description,
      // Inferred by the registry on apply; unset only for a record that has none.
      type: d.type ? valueTypeToWire(d.type) : WireValueType.VALUE_TYPE_UNSPECIFIED,
    })),
  };
}

/** Core resolved feature -> wire (the view as a full resource name). */
export function resolvedFeatureToWire(feature: ResolvedFeature): WireResolvedFeature {
  return {
    ref: feature.ref,
    featureView: resourceName(feature.project, "featureViews", feature.featureView),
    version: feature.version,
    feature: feature.feature,
    type: valueTypeToWire(feature.type),
  };
}

/** The head state and version facts every versioned definition carries on the wire. */
function versionFieldsToWire(version: WithState<VersionInfo>): {
  state: FeatureViewState;
  compatibility: WireCompatibility;
  changes: string[];
  createTime: ReturnType<typeof dateToTimestamp>;
} {
  return {
    state: version.state === "deprecated" ? FeatureViewState.FEATURE_VIEW_STATE_DEPRECATED : FeatureViewState.FEATURE_VIEW_STATE_ACTIVE,
    compatibility: compatibilityToWire(version.compatibility),
    changes: version.changes,
    createTime: dateToTimestamp(version.createTime),
  };
}

/** Core compatibility -> wire enum (unset for version 1). */
export function compatibilityToWire(compatibility: Compatibility | undefined): WireCompatibility {
  if (compatibility === "compatible") return WireCompatibility.COMPATIBILITY_COMPATIBLE;
  if (compatibility === "breaking") return WireCompatibility.COMPATIBILITY_BREAKING;
  return WireCompatibility.COMPATIBILITY_UNSPECIFIED;
}

/** Core apply outcome -> wire enum. */
export function applyOutcomeToWire(outcome: ApplyOutcome): WireApplyOutcome {
  switch (outcome) {
    case "created":
      return WireApplyOutcome.APPLY_OUTCOME_CREATED;
    case "unchanged":
      return WireApplyOutcome.APPLY_OUTCOME_UNCHANGED;
    case "new_version":
      return WireApplyOutcome.APPLY_OUTCOME_NEW_VERSION;
    case "updated":
      return WireApplyOutcome.APPLY_OUTCOME_UPDATED;
  }
}

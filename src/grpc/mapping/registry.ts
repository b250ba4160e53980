/** Wire <-> core conversions of registry resources. */
import { ValidationError } from "../../common/errors.js";
import {
  FeatureViewState,
  ApplyOutcome as WireApplyOutcome,
  Compatibility as WireCompatibility,
  type Entity as WireEntity,
  type FeatureService as WireFeatureService,
  type FeatureView as WireFeatureView,
  HistoryOutcome as WireHistoryOutcome,
  type Project as WireProject,
} from "../../gen/sluice/v1/registry.pb.js";
import type { ResolvedFeature as WireResolvedFeature } from "../../gen/sluice/v1/types.pb.js";
import type {
  ApplyOutcome,
  Compatibility,
  Entity,
  FeatureServiceSpec,
  FeatureServiceVersion,
  FeatureViewVersion,
  Project,
  ResolvedFeature,
  WithState,
} from "../../registry/model.js";
import { projectName, resourceName } from "../../registry/names.js";
import type { EntityDraft, FeatureViewDraft } from "../../registry/validation.js";
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
    features: view.features.map((f) => ({ name: f.name, type: valueTypeFromWire(f.type), description: f.description, tags: f.tags })),
    ttlMillis: durationToMillis(view.ttl),
    description: view.description,
    owner: view.owner,
    tags: view.tags,
  };
}

/** Wire feature service -> spec, for a project and id parsed from its name. */
export function featureServiceSpecFromWire(service: WireFeatureService, project: string, name: string): FeatureServiceSpec {
  return { project, name, features: service.features, description: service.description, owner: service.owner, tags: service.tags };
}

/** Core project -> wire. */
export function projectToWire(project: Project): WireProject {
  return { name: projectName(project.project), description: project.description, createTime: dateToTimestamp(project.createTime) };
}

/** Core entity -> wire. */
export function entityToWire(entity: Entity): WireEntity {
  return {
    name: resourceName(entity.project, "entities", entity.name),
    joinKeys: entity.joinKeys.map((k) => ({ name: k.name, type: valueTypeToWire(k.type) })),
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
    features: view.features.map((f) => ({ name: f.name, type: valueTypeToWire(f.type), description: f.description, tags: f.tags })),
    ttl: view.ttlMillis > 0 ? millisToDuration(view.ttlMillis) : undefined,
    description: view.description,
    owner: view.owner,
    tags: view.tags,
    state: view.state === "deprecated" ? FeatureViewState.FEATURE_VIEW_STATE_DEPRECATED : FeatureViewState.FEATURE_VIEW_STATE_ACTIVE,
    compatibility: compatibilityToWire(view.compatibility),
    changes: view.changes,
    createTime: dateToTimestamp(view.createTime),
    deprecateTime: optionalTimestamp(view.deprecateTime),
    historyVersion: view.historyVersion,
  };
}

/** What a created or new feature view version sees of earlier values; unset for an unchanged apply. */
export function historyOutcomeToWire(outcome: ApplyOutcome, view: FeatureViewVersion): WireHistoryOutcome {
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

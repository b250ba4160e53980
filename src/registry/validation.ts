/**
 * Static checks of definitions as users submit them. Every problem is collected with the path of
 * the request field that holds it (snake_case, as on the wire), so a user fixes all of them at once.
 */
import { ViolationCollector } from "../common/errors.js";
import { JOIN_KEY_TYPES, VALUE_TYPES, type ValueType } from "../common/value-type.js";
import { formatFeatureRef, parseFeatureRef } from "./feature-refs.js";
import type { Documentation, Entity, FeatureServiceSpec, FeatureViewSpec } from "./model.js";
import { describeInvalidFieldName, describeInvalidResourceId } from "./names.js";

/** Size limits on user-supplied text, so definitions stay small enough to cache and log. */
export const LIMITS = {
  descriptionChars: 2048,
  ownerChars: 256,
  tags: 64,
  tagKeyChars: 63,
  tagValueChars: 256,
  featuresPerView: 1000,
  refsPerService: 1000,
  joinKeysPerEntity: 8,
  maxTtlMillis: 100 * 365 * 24 * 3600 * 1000,
} as const;

/** Column names the stores use beside features; a feature may not take them. */
export const RESERVED_COLUMN_NAMES: ReadonlySet<string> = new Set([
  "event_time",
  "ingestion_time",
  "write_id",
  "entity_key",
  "spine_index",
]);

const TAG_KEY_PATTERN = /^[A-Za-z0-9_.\-/]+$/;

/** An entity as submitted. */
export type EntityDraft = Omit<Entity, "createTime" | "updateTime" | "joinKeys" | "revision"> & {
  joinKeys: Array<{ name: string; type: string }>;
};

/** A feature view as submitted. */
export type FeatureViewDraft = Omit<FeatureViewSpec, "features"> & {
  features: Array<Omit<FeatureViewSpec["features"][number], "type"> & { type: string }>;
};

/** Checks an entity; `path` is the request field holding it. */
export function validateEntityDraft(draft: EntityDraft, path: string): Omit<Entity, "createTime" | "updateTime" | "revision"> {
  const v = new ViolationCollector();
  checkResourceId(v, `${path}.name`, draft.name);
  if (draft.joinKeys.length === 0) v.add(`${path}.join_keys`, "an entity needs at least one join key");
  if (draft.joinKeys.length > LIMITS.joinKeysPerEntity) {
    v.add(`${path}.join_keys`, `at most ${LIMITS.joinKeysPerEntity} join keys are allowed`);
  }
  const seen = new Set<string>();
  draft.joinKeys.forEach((key, i) => {
    const keyPath = `${path}.join_keys[${i}]`;
    checkFieldName(v, `${keyPath}.name`, key.name);
    if (seen.has(key.name)) v.add(`${keyPath}.name`, `duplicate join key "${key.name}"`);
    seen.add(key.name);
    if (RESERVED_COLUMN_NAMES.has(key.name)) v.add(`${keyPath}.name`, `"${key.name}" is reserved`);
    if (!(JOIN_KEY_TYPES as readonly string[]).includes(key.type)) {
      v.add(`${keyPath}.type`, `${describeType(key.type)}; a join key must be one of ${JOIN_KEY_TYPES.join(", ")}`);
    }
  });
  checkDocumentation(v, path, draft);
  v.throwIfAny("INVALID_ENTITY");
  return { ...draft, joinKeys: draft.joinKeys.map((k) => ({ name: k.name, type: k.type as ValueType })) };
}

/**
 * Checks a feature view against its entity's join keys (`undefined` when the entity does not
 * exist, which is itself a violation).
 */
export function validateFeatureViewDraft(
  draft: FeatureViewDraft,
  path: string,
  entity: Pick<Entity, "joinKeys"> | undefined,
): FeatureViewSpec {
  const v = new ViolationCollector();
  checkResourceId(v, `${path}.name`, draft.name);
  const entityProblem = describeInvalidResourceId(draft.entity);
  if (entityProblem) v.add(`${path}.entity`, entityProblem);
  else if (!entity) v.add(`${path}.entity`, `entity "${draft.entity}" does not exist in project "${draft.project}"`);
  const joinKeyNames = new Set(entity?.joinKeys.map((k) => k.name));

  if (draft.features.length === 0) v.add(`${path}.features`, "a feature view needs at least one feature");
  if (draft.features.length > LIMITS.featuresPerView) {
    v.add(`${path}.features`, `at most ${LIMITS.featuresPerView} features are allowed`);
  }
  const seen = new Set<string>();
  draft.features.forEach((feature, i) => {
    const featurePath = `${path}.features[${i}]`;
    checkFieldName(v, `${featurePath}.name`, feature.name);
    if (seen.has(feature.name)) v.add(`${featurePath}.name`, `duplicate feature name "${feature.name}"`);
    seen.add(feature.name);
    if (RESERVED_COLUMN_NAMES.has(feature.name)) v.add(`${featurePath}.name`, `"${feature.name}" is reserved`);
    if (joinKeyNames.has(feature.name)) {
      v.add(`${featurePath}.name`, `"${feature.name}" is a join key of entity "${draft.entity}"`);
    }
    if (!(VALUE_TYPES as readonly string[]).includes(feature.type)) {
      v.add(`${featurePath}.type`, `${describeType(feature.type)}; use one of ${VALUE_TYPES.join(", ")}`);
    }
    checkText(v, `${featurePath}.description`, feature.description, LIMITS.descriptionChars);
    checkTags(v, `${featurePath}.tags`, feature.tags);
  });
  if (!Number.isFinite(draft.ttlMillis) || draft.ttlMillis < 0) v.add(`${path}.ttl`, "must not be negative");
  else if (!Number.isInteger(draft.ttlMillis)) v.add(`${path}.ttl`, "must be a whole number of milliseconds");
  else if (draft.ttlMillis > LIMITS.maxTtlMillis) v.add(`${path}.ttl`, "must be at most 100 years (use 0 for no TTL)");
  checkDocumentation(v, path, draft);
  v.throwIfAny("INVALID_FEATURE_VIEW");
  return { ...draft, features: draft.features.map((f) => ({ ...f, type: f.type as ValueType })) };
}

/** Checks the syntax of a feature service; whether its refs resolve is checked by the registry. */
export function validateFeatureServiceSpec(spec: FeatureServiceSpec, path: string): void {
  const v = new ViolationCollector();
  checkResourceId(v, `${path}.name`, spec.name);
  if (spec.features.length === 0) v.add(`${path}.features`, "a feature service needs at least one feature ref");
  if (spec.features.length > LIMITS.refsPerService) {
    v.add(`${path}.features`, `at most ${LIMITS.refsPerService} feature refs are allowed`);
  }
  const seen = new Map<string, string>();
  spec.features.forEach((ref, i) => {
    const parsed = parseFeatureRef(ref, spec.project);
    if (typeof parsed === "string") {
      v.add(`${path}.features[${i}]`, parsed);
      return;
    }
    // Duplicates by what they name, so a short and a full spelling of one ref are caught too.
    const canonical = formatFeatureRef(parsed);
    const first = seen.get(canonical);
    if (first !== undefined)
      v.add(`${path}.features[${i}]`, first === ref ? `duplicate feature ref "${ref}"` : `"${ref}" names the same feature as "${first}"`);
    else seen.set(canonical, ref);
  });
  checkDocumentation(v, path, spec);
  v.throwIfAny("INVALID_FEATURE_SERVICE");
}

function checkResourceId(v: ViolationCollector, field: string, id: string): void {
  const problem = describeInvalidResourceId(id);
  if (problem) v.add(field, problem);
}

function checkFieldName(v: ViolationCollector, field: string, name: string): void {
  const problem = describeInvalidFieldName(name);
  if (problem) v.add(field, problem);
}

function checkDocumentation(v: ViolationCollector, path: string, doc: Documentation): void {
  checkText(v, `${path}.description`, doc.description, LIMITS.descriptionChars);
  checkText(v, `${path}.owner`, doc.owner, LIMITS.ownerChars);
  checkTags(v, `${path}.tags`, doc.tags);
}

function checkText(v: ViolationCollector, field: string, text: string, maxChars: number): void {
  if (text.length > maxChars) v.add(field, `is ${text.length} characters long; at most ${maxChars} are allowed`);
}

function checkTags(v: ViolationCollector, field: string, tags: Record<string, string>): void {
  const entries = Object.entries(tags);
  if (entries.length > LIMITS.tags) v.add(field, `at most ${LIMITS.tags} tags are allowed`);
  for (const [key, value] of entries) {
    if (key === "" || key.length > LIMITS.tagKeyChars || !TAG_KEY_PATTERN.test(key)) {
      v.add(`${field}["${key.slice(0, 80)}"]`, `tag keys are 1-${LIMITS.tagKeyChars} letters, digits and _ . - /`);
    }
    if (value.length > LIMITS.tagValueChars) {
      v.add(`${field}["${key.slice(0, 80)}"]`, `tag values are at most ${LIMITS.tagValueChars} characters`);
    }
  }
}

function describeType(type: string): string {
  return type === "" || type === "unspecified" ? "type is not set" : `unknown type "${type}"`;
}

/**
 * Static checks of definitions as users submit them. Every problem is collected with the path of
 * the request field that holds it (snake_case, as on the wire), so a user fixes all of them at once.
 */
import { ViolationCollector } from "../common/errors.js";
import { HintBudget, unknownNameHint } from "../common/suggest.js";
import { JOIN_KEY_TYPES, VALUE_TYPES, type ValueType } from "../common/value-type.js";
import { ExpressionError } from "../expressions/parse.js";
import { AGGREGATION_KINDS, describeInvalidAggregation, resultType } from "../streams/aggregations.js";
import { compileFilter } from "../streams/filter.js";
import { formatFeatureRef, parseFeatureRef } from "./feature-refs.js";
import type {
  AggregationDefinition,
  Documentation,
  Entity,
  EventStreamSpec,
  EventStreamVersion,
  FeatureServiceSpec,
  FeatureViewSpec,
  StreamField,
} from "./model.js";
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
  requestInputsPerService: 1000,
  derivedFeaturesPerService: 1000,
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

/** A feature view as submitted: types and aggregation functions still as text, the stream as a ref. */
export type FeatureViewDraft = Omit<FeatureViewSpec, "features" | "streamVersion"> & {
  features: Array<
    Omit<FeatureViewSpec["features"][number], "type" | "aggregation"> & {
      type: string;
      aggregation?: Omit<AggregationDefinition, "kind"> & { kind: string };
    }
  >;
};

/** Checks an entity; `path` is the request field holding it. */
export function validateEntityDraft(draft: EntityDraft, path: string): Omit<Entity, "createTime" | "updateTime" | "revision"> {
  const v = new ViolationCollector();
  checkResourceId(v, `${path}.name`, draft.name);
  if (draft.joinKeys.length === 0) v.add(`${path}.join_keys`, "an entity needs at least one join key");
  if (draft.joinKeys.length > LIMITS.joinKeysPerEntity) {
    v.add(`${path}.join_keys`, `${draft.joinKeys.length} join keys; at most ${LIMITS.joinKeysPerEntity} are allowed`);
  }
  const seen = new Set<string>();
  // Too many items are refused by count alone: no work in proportion to them.
  withinLimit(draft.joinKeys, LIMITS.joinKeysPerEntity).forEach((key, i) => {
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
  const joinKeyNames = checkNameAndEntity(v, path, draft, entity);

  if (draft.features.length === 0) v.add(`${path}.features`, "a feature view needs at least one feature");
  if (draft.features.length > LIMITS.featuresPerView) {
    v.add(`${path}.features`, `${draft.features.length} features; at most ${LIMITS.featuresPerView} are allowed`);
  }
  const seen = new Set<string>();
  withinLimit(draft.features, LIMITS.featuresPerView).forEach((feature, i) => {
    const featurePath = `${path}.features[${i}]`;
    checkFieldName(v, `${featurePath}.name`, feature.name);
    if (seen.has(feature.name)) v.add(`${featurePath}.name`, `duplicate feature name "${feature.name}"`);
    seen.add(feature.name);
    if (RESERVED_COLUMN_NAMES.has(feature.name)) v.add(`${featurePath}.name`, `"${feature.name}" is reserved`);
    if (joinKeyNames.has(feature.name)) {
      v.add(`${featurePath}.name`, `"${feature.name}" is a join key of entity "${draft.entity}"`);
    }
    const typeUnset = feature.type === "" || feature.type === "unspecified";
    if (!(VALUE_TYPES as readonly string[]).includes(feature.type) && !(feature.aggregation && typeUnset)) {
      v.add(`${featurePath}.type`, `${describeType(feature.type)}; use one of ${VALUE_TYPES.join(", ")}`);
    }
    if (feature.aggregation && !draft.stream)
      v.add(`${featurePath}.aggregation`, "an aggregation needs the view's stream: set stream to the event stream it aggregates");
    checkText(v, `${featurePath}.description`, feature.description, LIMITS.descriptionChars);
    checkTags(v, `${featurePath}.tags`, feature.tags);
  });
  if (!Number.isFinite(draft.ttlMillis) || draft.ttlMillis < 0) v.add(`${path}.ttl`, "must not be negative");
  else if (!Number.isInteger(draft.ttlMillis)) v.add(`${path}.ttl`, "must be a whole number of milliseconds");
  else if (draft.ttlMillis > LIMITS.maxTtlMillis) v.add(`${path}.ttl`, "must be at most 100 years (use 0 for no TTL)");
  checkDocumentation(v, path, draft);
  v.throwIfAny("INVALID_FEATURE_VIEW");
  return {
    ...draft,
    features: draft.features.map(({ aggregation, ...f }) => ({
      ...f,
      type: f.type as ValueType,
      ...(aggregation ? { aggregation: { ...aggregation, kind: aggregation.kind as AggregationDefinition["kind"] } } : {}),
    })),
  };
}

/** The types a request input may have: those an expression can read. */
export const REQUEST_INPUT_TYPES: readonly ValueType[] = ["int32", "int64", "float", "double", "bool", "string"];

/**
 * Checks the syntax of a feature service; whether its refs resolve, and whether its derived
 * features' expressions compile against them, is checked by the registry.
 */
export function validateFeatureServiceSpec(spec: FeatureServiceSpec, path: string): void {
  const v = new ViolationCollector();
  checkResourceId(v, `${path}.name`, spec.name);
  if (spec.features.length === 0) v.add(`${path}.features`, "a feature service needs at least one feature ref");
  if (spec.features.length > LIMITS.refsPerService) {
    v.add(`${path}.features`, `${spec.features.length} feature refs; at most ${LIMITS.refsPerService} are allowed`);
  }
  const seen = new Map<string, string>();
  withinLimit(spec.features, LIMITS.refsPerService).forEach((ref, i) => {
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
  checkRequestTimeNames(v, path, spec);
  checkDocumentation(v, path, spec);
  v.throwIfAny("INVALID_FEATURE_SERVICE");
}

/**
 * Request inputs and derived features: valid unique names, readable input types, and no name
 * that clashes with another or with an output column of the service's features (`feature` or
 * `view__feature`), which they sit beside in a training set.
 */
function checkRequestTimeNames(v: ViolationCollector, path: string, spec: FeatureServiceSpec): void {
  const inputs = withinLimit(spec.requestInputs ?? [], LIMITS.requestInputsPerService);
  const derived = withinLimit(spec.derivedFeatures ?? [], LIMITS.derivedFeaturesPerService);
  if ((spec.requestInputs?.length ?? 0) > LIMITS.requestInputsPerService)
    v.add(`${path}.request_inputs`, `at most ${LIMITS.requestInputsPerService} request inputs are allowed`);
  if ((spec.derivedFeatures?.length ?? 0) > LIMITS.derivedFeaturesPerService)
    v.add(`${path}.derived_features`, `at most ${LIMITS.derivedFeaturesPerService} derived features are allowed`);
  const outputNames = new Map<string, string>();
  for (const ref of withinLimit(spec.features, LIMITS.refsPerService)) {
    const parsed = parseFeatureRef(ref, spec.project);
    if (typeof parsed === "string") continue;
    outputNames.set(parsed.feature, ref);
    outputNames.set(`${parsed.view}__${parsed.feature}`, ref);
  }
  const taken = new Map<string, string>();
  const checkName = (field: string, name: string, what: string) => {
    const problem = describeInvalidFieldName(name);
    if (problem) {
      v.add(field, problem);
      return;
    }
    if (RESERVED_COLUMN_NAMES.has(name)) v.add(field, `"${name}" is reserved`);
    const clash = outputNames.get(name);
    if (clash !== undefined) v.add(field, `"${name}" is also the output name of feature "${clash}"; choose another name`);
    const first = taken.get(name);
    if (first !== undefined) v.add(field, `"${name}" is already the name of ${first}`);
    else taken.set(name, what);
  };
  inputs.forEach((input, i) => {
    const inputPath = `${path}.request_inputs[${i}]`;
    checkName(`${inputPath}.name`, input.name, `request_inputs[${i}]`);
    if (!REQUEST_INPUT_TYPES.includes(input.type)) {
      const known = (VALUE_TYPES as readonly string[]).includes(input.type);
      v.add(
        `${inputPath}.type`,
        `${known ? `${input.type} cannot be read by an expression` : describeType(input.type)}; a request input must be one of ${REQUEST_INPUT_TYPES.join(", ")}`,
      );
    }
    checkText(v, `${inputPath}.description`, input.description, LIMITS.descriptionChars);
  });
  derived.forEach((feature, i) => {
    const featurePath = `${path}.derived_features[${i}]`;
    checkName(`${featurePath}.name`, feature.name, `derived_features[${i}]`);
    if (feature.expression.trim() === "") v.add(`${featurePath}.expression`, "is required");
    checkText(v, `${featurePath}.description`, feature.description, LIMITS.descriptionChars);
  });
}

/** A feature ref's canonical spelling in `project` (see formatFeatureRef), or undefined when it is not a feature ref. */
export function canonicalFeatureRef(ref: string, project: string): string | undefined {
  const parsed = parseFeatureRef(ref, project);
  return typeof parsed === "string" ? undefined : formatFeatureRef(parsed);
}

/** Checks a definition's id and that its entity exists; returns the entity's join key names. */
function checkNameAndEntity(
  v: ViolationCollector,
  path: string,
  draft: { project: string; name: string; entity: string },
  entity: Pick<Entity, "joinKeys"> | undefined,
): Set<string> {
  checkResourceId(v, `${path}.name`, draft.name);
  const entityProblem = describeInvalidResourceId(draft.entity);
  if (entityProblem) v.add(`${path}.entity`, entityProblem);
  else if (!entity) v.add(`${path}.entity`, `entity "${draft.entity}" does not exist in project "${draft.project}"`);
  return new Set(entity?.joinKeys.map((k) => k.name));
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

/**
 * The items a check looks at: none when there are more than `limit` (the count alone is then
 * reported), so a request with a million items costs one comparison.
 */
function withinLimit<T>(items: readonly T[], limit: number): readonly T[] {
  return items.length > limit ? [] : items;
}

function checkText(v: ViolationCollector, field: string, text: string, maxChars: number): void {
  if (text.length > maxChars) v.add(field, `is ${text.length} characters long; at most ${maxChars} are allowed`);
}

function checkTags(v: ViolationCollector, field: string, tags: Record<string, string>): void {
  const entries = Object.entries(tags);
  if (entries.length > LIMITS.tags) v.add(field, `${entries.length} tags; at most ${LIMITS.tags} are allowed`);
  for (const [key, value] of withinLimit(entries, LIMITS.tags)) {
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

/** Limits of event streams and their aggregations. */
export const STREAM_LIMITS = {
  fieldsPerStream: 1000,
  minGranularityMillis: 1000,
  maxGranularityMillis: 24 * 3600 * 1000,
  maxLatenessMillis: 30 * 24 * 3600 * 1000,
  /** Tiles a finite window may span: online state per entity and read cost grow with it. */
  maxTilesPerWindow: 50_000,
} as const;

/** An event stream as submitted (types still as text, durations in milliseconds; 0 granularity means the default). */
export type EventStreamDraft = Omit<EventStreamSpec, "fields"> & { fields: Array<Omit<StreamField, "type"> & { type: string }> };

/** Granularity when a stream sets none: one minute. */
export const DEFAULT_GRANULARITY_MILLIS = 60_000;

/** Checks an event stream against its entity (`undefined` when it does not exist). */
export function validateEventStreamDraft(
  draft: EventStreamDraft,
  path: string,
  entity: Pick<Entity, "joinKeys"> | undefined,
): EventStreamSpec {
  const v = new ViolationCollector();
  const joinKeyNames = checkNameAndEntity(v, path, draft, entity);
  const eventTimeField = draft.eventTimeField || "event_time";
  checkFieldName(v, `${path}.event_time_field`, eventTimeField);
  if (draft.fields.length === 0) v.add(`${path}.fields`, "an event stream needs at least one field");
  if (draft.fields.length > STREAM_LIMITS.fieldsPerStream)
    v.add(`${path}.fields`, `${draft.fields.length} fields; at most ${STREAM_LIMITS.fieldsPerStream} are allowed`);
  const seen = new Set<string>();
  withinLimit(draft.fields, STREAM_LIMITS.fieldsPerStream).forEach((field, i) => {
    const fieldPath = `${path}.fields[${i}]`;
    checkFieldName(v, `${fieldPath}.name`, field.name);
    if (seen.has(field.name)) v.add(`${fieldPath}.name`, `duplicate field name "${field.name}"`);
    seen.add(field.name);
    if (RESERVED_COLUMN_NAMES.has(field.name) || STREAM_RESERVED_COLUMNS.has(field.name))
      v.add(`${fieldPath}.name`, `"${field.name}" is reserved`);
    if (joinKeyNames.has(field.name)) v.add(`${fieldPath}.name`, `"${field.name}" is a join key of entity "${draft.entity}"`);
    if (field.name === eventTimeField) v.add(`${fieldPath}.name`, `"${field.name}" is the stream's event-time field`);
    if (!(VALUE_TYPES as readonly string[]).includes(field.type)) {
      v.add(`${fieldPath}.type`, `${describeType(field.type)}; use one of ${VALUE_TYPES.join(", ")}`);
    }
    checkText(v, `${fieldPath}.description`, field.description, LIMITS.descriptionChars);
  });
  const granularity = draft.granularityMillis || DEFAULT_GRANULARITY_MILLIS;
  if (
    !Number.isInteger(granularity) ||
    granularity < STREAM_LIMITS.minGranularityMillis ||
    granularity > STREAM_LIMITS.maxGranularityMillis ||
    granularity % 1000 !== 0
  )
    v.add(`${path}.granularity`, "must be a whole number of seconds from 1s to 1d");
  else if ((24 * 3600 * 1000) % granularity !== 0 && granularity % (24 * 3600 * 1000) !== 0)
    v.add(`${path}.granularity`, "must divide one day evenly (1s, 5s, 1m, 5m, 15m, 1h, ...), so tiles line up with days");
  if (
    !Number.isInteger(draft.allowedLatenessMillis) ||
    draft.allowedLatenessMillis < 0 ||
    draft.allowedLatenessMillis > STREAM_LIMITS.maxLatenessMillis
  )
    v.add(`${path}.allowed_lateness`, "must be a whole number of milliseconds from 0 to 30 days");
  if (!Number.isInteger(draft.retentionMillis) || draft.retentionMillis < 0 || draft.retentionMillis > LIMITS.maxTtlMillis)
    v.add(`${path}.retention`, "must be a whole number of milliseconds from 0 (forever) to 100 years");
  else if (draft.retentionMillis > 0 && draft.retentionMillis < granularity)
    v.add(`${path}.retention`, "must be at least the granularity (or 0 for forever)");
  checkDocumentation(v, path, draft);
  v.throwIfAny("INVALID_EVENT_STREAM");
  return {
    ...draft,
    eventTimeField,
    granularityMillis: granularity,
    fields: draft.fields.map((f) => ({ name: f.name, type: f.type as ValueType, description: f.description })),
  };
}

/** Columns of a stream's events table beside its fields. */
export const STREAM_RESERVED_COLUMNS: ReadonlySet<string> = new Set(["source", "position", "too_late"]);

/**
 * Checks the aggregations of an aggregation view (one with a stream) against the stream version
 * it resolved to, and fills in each feature's result type. Violations go to `v`.
 */
export function checkAggregations(v: ViolationCollector, path: string, spec: FeatureViewSpec, stream: EventStreamVersion): FeatureViewSpec {
  if (spec.entity !== stream.entity)
    v.add(`${path}.entity`, `must be the entity of event stream ${stream.name} ("${stream.entity}"), not "${spec.entity}"`);
  if (spec.ttlMillis !== 0) v.add(`${path}.ttl`, "an aggregation view has no TTL: its windows say how far back it looks");
  const fields = new Map(stream.fields.map((f) => [f.name, f]));
  const hints = new HintBudget();
  const features = spec.features.map((feature, i) => {
    const featurePath = `${path}.features[${i}]`;
    const aggregation = feature.aggregation;
    if (!aggregation) {
      v.add(`${featurePath}.aggregation`, `every feature of an aggregation view needs an aggregation of a field of ${stream.name}`);
      return feature;
    }
    const at = `${featurePath}.aggregation`;
    if (!(AGGREGATION_KINDS as readonly string[]).includes(aggregation.kind)) {
      v.add(
        `${at}.function`,
        `${(aggregation.kind as string) === "" ? "is not set" : `unknown function "${aggregation.kind}"`}; use one of ${AGGREGATION_KINDS.join(", ")}`,
      );
      return feature;
    }
    const field = fields.get(aggregation.field);
    if (aggregation.kind !== "count" && !field) {
      const hint = hints.take() ? unknownNameHint(aggregation.field, [...fields.keys()], "fields") : "";
      v.add(
        `${at}.field`,
        aggregation.field === ""
          ? `${aggregation.kind} needs a field of ${stream.name}`
          : `event stream ${stream.name}@${stream.version} has no field "${aggregation.field}"${hint ? `; ${hint}` : ""}`,
      );
      return feature;
    }
    if (aggregation.kind === "count" && aggregation.field !== "" && !field)
      v.add(`${at}.field`, `event stream ${stream.name}@${stream.version} has no field "${aggregation.field}"`);
    const aggregationSpec = { kind: aggregation.kind, fieldType: field?.type ?? "int64", k: aggregation.k };
    const problem = describeInvalidAggregation(aggregationSpec);
    if (problem) v.add(aggregation.kind === "last_n" && problem.startsWith("last_n") ? `${at}.k` : `${at}.function`, problem);
    if (aggregation.kind !== "last_n" && aggregation.k !== 0) v.add(`${at}.k`, "is only for last_n");
    checkWindow(v, `${at}.window`, aggregation.windowMillis, stream);
    if (aggregation.filter !== "") {
      const problemOfFilter = describeFilterProblem(aggregation.filter, stream);
      if (problemOfFilter) v.add(`${at}.filter`, problemOfFilter);
    }
    const type = problem ? feature.type : resultType(aggregationSpec);
    if (!problem && (feature.type as string) !== "" && (feature.type as string) !== "unspecified" && feature.type !== type)
      v.add(`${featurePath}.type`, `${aggregation.kind} of ${field?.type ?? "events"} is ${type}; leave the type unset or set ${type}`);
    return { ...feature, type };
  });
  return { ...spec, features };
}

function checkWindow(v: ViolationCollector, field: string, windowMillis: number, stream: EventStreamVersion): void {
  if (!Number.isInteger(windowMillis) || windowMillis < 0) {
    v.add(field, "must be a positive whole number of milliseconds, or unset for lifetime");
    return;
  }
  if (windowMillis === 0) {
    if (stream.retentionMillis > 0)
      v.add(
        field,
        `a lifetime window needs a stream kept forever; ${stream.name} keeps events ${stream.retentionMillis} ms (set a window)`,
      );
    return;
  }
  if (windowMillis % stream.granularityMillis !== 0)
    v.add(field, `must be a multiple of the stream's granularity (${stream.granularityMillis} ms), not ${windowMillis} ms`);
  else if (windowMillis / stream.granularityMillis > STREAM_LIMITS.maxTilesPerWindow)
    v.add(
      field,
      `spans ${windowMillis / stream.granularityMillis} tiles; at most ${STREAM_LIMITS.maxTilesPerWindow} (use a coarser granularity)`,
    );
  if (stream.retentionMillis > 0 && windowMillis > stream.retentionMillis)
    v.add(field, `is longer than the stream's retention (${stream.retentionMillis} ms)`);
}

/** Why a filter does not compile as a bool over the stream's fields, with its position; undefined when it does. */
export function describeFilterProblem(filter: string, stream: Pick<EventStreamVersion, "fields">): string | undefined {
  try {
    const compiled = compileFilter(filter, stream.fields);
    return compiled.type === "bool" ? undefined : `a filter must be true or false for an event, not a ${compiled.type}`;
  } catch (error) {
    if (error instanceof ExpressionError) return error.message;
    throw error;
  }
}

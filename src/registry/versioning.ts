/**
 * Compares a submitted definition with the latest stored version and classifies the difference:
 * none (UNCHANGED), only additions and documentation (COMPATIBLE), or anything that can change
 * what an existing reader sees (BREAKING).
 */
import type { AggregationDefinition, Compatibility, Documentation, EventStreamSpec, FeatureServiceSpec, FeatureViewSpec } from "./model.js";
import { canonicalFeatureRef } from "./validation.js";

/** One difference between two versions. */
export interface Change {
  description: string;
  breaking: boolean;
}

/** The differences between two versions and their overall classification. */
export interface Diff {
  changes: Change[];
  /** Undefined when there are no changes. */
  compatibility?: Compatibility;
}

/**
 * Differences between two feature view versions. Feature order is not significant: features are
 * matched by name. A TTL change is breaking because it changes which stored values count as fresh.
 */
export function diffFeatureViews(previous: FeatureViewSpec, next: FeatureViewSpec): Diff {
  const changes: Change[] = [];
  if (previous.entity !== next.entity) {
    changes.push({ description: `entity changed from "${previous.entity}" to "${next.entity}"`, breaking: true });
  }
  const before = new Map(previous.features.map((f) => [f.name, f]));
  const after = new Map(next.features.map((f) => [f.name, f]));
  for (const [name, old] of before) {
    const current = after.get(name);
    if (!current) {
      changes.push({ description: `removed feature "${name}" (${old.type})`, breaking: true });
      continue;
    }
    if (current.type !== old.type) {
      changes.push({ description: `feature "${name}" changed type from ${old.type} to ${current.type}`, breaking: true });
    }
    if (describeAggregation(current.aggregation) !== describeAggregation(old.aggregation)) {
      changes.push({
        description: `feature "${name}" aggregation changed from ${describeAggregation(old.aggregation)} to ${describeAggregation(current.aggregation)}`,
        breaking: true,
      });
    }
    if (current.description !== old.description) {
      changes.push({ description: `feature "${name}" description changed`, breaking: false });
    }
    if (!sameTags(current.tags, old.tags)) changes.push({ description: `feature "${name}" tags changed`, breaking: false });
  }
  for (const [name, added] of after) {
    if (!before.has(name)) changes.push({ description: `added feature "${name}" (${added.type})`, breaking: false });
  }
  if (previous.ttlMillis !== next.ttlMillis) {
    changes.push({
      description: `ttl changed from ${formatMillis(previous.ttlMillis)} to ${formatMillis(next.ttlMillis)}`,
      breaking: true,
    });
  }
  if ((previous.stream ?? "") !== (next.stream ?? "") || previous.streamVersion !== next.streamVersion) {
    const describe = (spec: FeatureViewSpec) => (spec.stream ? `${spec.stream}@${spec.streamVersion}` : "none");
    changes.push({ description: `stream changed from ${describe(previous)} to ${describe(next)}`, breaking: true });
  }
  if ((previous.logServedValues ?? false) !== (next.logServedValues ?? false))
    changes.push({ description: `log_served_values changed to ${next.logServedValues ?? false}`, breaking: false });
  changes.push(...diffDocumentation(previous, next));
  return summarize(changes);
}

/** One line naming an aggregation, for change descriptions. */
function describeAggregation(aggregation: AggregationDefinition | undefined): string {
  if (!aggregation) return "none";
  const window = aggregation.windowMillis === 0 ? "lifetime" : formatMillis(aggregation.windowMillis);
  const k = aggregation.kind === "last_n" ? `(${aggregation.k})` : "";
  const filter = aggregation.filter ? ` where ${aggregation.filter}` : "";
  return `${aggregation.kind}${k}(${aggregation.field}) over ${window}${filter}`;
}

/**
 * Differences between two event stream versions. Added fields, documentation and a changed
 * allowed lateness or event-time field keep the stored events valid (compatible); anything that
 * changes what stored events mean or how they are tiled is breaking.
 */
export function diffEventStreams(previous: EventStreamSpec, next: EventStreamSpec): Diff {
  const changes: Change[] = [];
  if (previous.entity !== next.entity)
    changes.push({ description: `entity changed from "${previous.entity}" to "${next.entity}"`, breaking: true });
  const before = new Map(previous.fields.map((f) => [f.name, f]));
  const after = new Map(next.fields.map((f) => [f.name, f]));
  for (const [name, old] of before) {
    const current = after.get(name);
    if (!current) changes.push({ description: `removed field "${name}" (${old.type})`, breaking: true });
    else if (current.type !== old.type)
      changes.push({ description: `field "${name}" changed type from ${old.type} to ${current.type}`, breaking: true });
    else if (current.description !== old.description) changes.push({ description: `field "${name}" description changed`, breaking: false });
  }
  for (const [name, added] of after)
    if (!before.has(name)) changes.push({ description: `added field "${name}" (${added.type})`, breaking: false });
  if (previous.granularityMillis !== next.granularityMillis)
    changes.push({
      description: `granularity changed from ${formatMillis(previous.granularityMillis)} to ${formatMillis(next.granularityMillis)}`,
      breaking: true,
    });
  if (previous.retentionMillis !== next.retentionMillis)
    changes.push({
      description: `retention changed from ${formatMillis(previous.retentionMillis)} to ${formatMillis(next.retentionMillis)}`,
      breaking: true,
    });
  if (previous.allowedLatenessMillis !== next.allowedLatenessMillis)
    changes.push({
      description: `allowed lateness changed from ${formatMillis(previous.allowedLatenessMillis)} to ${formatMillis(next.allowedLatenessMillis)}`,
      breaking: false,
    });
  if (previous.eventTimeField !== next.eventTimeField)
    changes.push({
      description: `event-time field changed from "${previous.eventTimeField}" to "${next.eventTimeField}"`,
      breaking: false,
    });
  changes.push(...diffDocumentation(previous, next));
  return summarize(changes);
}

/**
 * Differences between two feature service versions. Ref order is significant (it is the order
 * of a model's inputs), so a reorder is breaking.
 */
export function diffFeatureServices(previous: FeatureServiceSpec, next: FeatureServiceSpec): Diff {
  const changes: Change[] = [];
  // Refs are compared by what they name: respelling `v:f` as `projects/p/featureViews/v:f` changes nothing.
  const canonical = (spec: FeatureServiceSpec) => spec.features.map((ref) => canonicalRef(ref, spec.project));
  const [previousRefs, nextRefs] = [canonical(previous), canonical(next)];
  const before = new Set(previousRefs);
  const after = new Set(nextRefs);
  for (const ref of previousRefs) {
    if (!after.has(ref)) changes.push({ description: `removed feature ref "${ref}"`, breaking: true });
  }
  for (const ref of nextRefs) {
    if (!before.has(ref)) changes.push({ description: `added feature ref "${ref}"`, breaking: false });
  }
  const kept = (refs: string[], other: Set<string>) => refs.filter((r) => other.has(r)).join("\n");
  if (kept(previousRefs, after) !== kept(nextRefs, before)) {
    changes.push({ description: "order of feature refs changed", breaking: true });
  }
  changes.push(...diffRequestTimeFeatures(previous, next));
  changes.push(...diffDocumentation(previous, next));
  return summarize(changes);
}

/**
 * Request inputs and derived features of two feature service versions, matched by name: added
 * ones are compatible (a caller that sends nothing new still gets every value it got); a removed
 * one, a changed type or expression, or a new order of derived features (the order of their
 * columns in a training set) is breaking.
 */
function diffRequestTimeFeatures(previous: FeatureServiceSpec, next: FeatureServiceSpec): Change[] {
  const changes: Change[] = [];
  const inputsBefore = new Map((previous.requestInputs ?? []).map((i) => [i.name, i]));
  const inputsAfter = new Map((next.requestInputs ?? []).map((i) => [i.name, i]));
  for (const [name, old] of inputsBefore) {
    const current = inputsAfter.get(name);
    if (!current) changes.push({ description: `removed request input "${name}" (${old.type})`, breaking: true });
    else if (current.type !== old.type)
      changes.push({ description: `request input "${name}" changed type from ${old.type} to ${current.type}`, breaking: true });
    else if (current.description !== old.description)
      changes.push({ description: `request input "${name}" description changed`, breaking: false });
  }
  for (const [name, added] of inputsAfter)
    if (!inputsBefore.has(name)) changes.push({ description: `added request input "${name}" (${added.type})`, breaking: false });

  const derivedBefore = new Map((previous.derivedFeatures ?? []).map((d) => [d.name, d]));
  const derivedAfter = new Map((next.derivedFeatures ?? []).map((d) => [d.name, d]));
  for (const [name, old] of derivedBefore) {
    const current = derivedAfter.get(name);
    if (!current) {
      changes.push({ description: `removed derived feature "${name}"`, breaking: true });
      continue;
    }
    if (current.expression !== old.expression)
      changes.push({
        description: `derived feature "${name}" expression changed from "${old.expression}" to "${current.expression}"`,
        breaking: true,
      });
    else if ((current.type ?? "") !== (old.type ?? ""))
      changes.push({ description: `derived feature "${name}" changed type from ${old.type} to ${current.type}`, breaking: true });
    if (current.description !== old.description)
      changes.push({ description: `derived feature "${name}" description changed`, breaking: false });
  }
  for (const [name, added] of derivedAfter)
    if (!derivedBefore.has(name))
      changes.push({ description: `added derived feature "${name}"${added.type ? ` (${added.type})` : ""}`, breaking: false });
  const kept = (names: Iterable<string>, other: Map<string, unknown>) => [...names].filter((n) => other.has(n)).join("\n");
  if (kept(derivedBefore.keys(), derivedAfter) !== kept(derivedAfter.keys(), derivedBefore))
    changes.push({ description: "order of derived features changed", breaking: true });
  return changes;
}

/** A ref's short spelling; a ref that does not parse (validated elsewhere) as written. */
function canonicalRef(ref: string, project: string): string {
  return canonicalFeatureRef(ref, project) ?? ref;
}

function diffDocumentation(previous: Documentation, next: Documentation): Change[] {
  const changes: Change[] = [];
  if (previous.description !== next.description) changes.push({ description: "description changed", breaking: false });
  if (previous.owner !== next.owner) {
    changes.push({ description: `owner changed from "${previous.owner}" to "${next.owner}"`, breaking: false });
  }
  if (!sameTags(previous.tags, next.tags)) changes.push({ description: "tags changed", breaking: false });
  return changes;
}

function summarize(changes: Change[]): Diff {
  if (changes.length === 0) return { changes };
  return { changes, compatibility: changes.some((c) => c.breaking) ? "breaking" : "compatible" };
}

/** Tag maps are equal when they hold the same pairs, in any order. */
export function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const aKeys = Object.keys(a);
  return aKeys.length === Object.keys(b).length && aKeys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function formatMillis(millis: number): string {
  if (millis === 0) return "none";
  const units: Array<[string, number]> = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  for (const [unit, size] of units) if (millis % size === 0) return `${millis / size}${unit}`;
  return `${millis}ms`;
}

/**
 * The online read path: feature refs (or a feature service) x entity rows -> the latest value,
 * its status and its event time, for every cell. Definitions come from the registry's in-memory
 * cache, so a call costs exactly one online store round trip, whatever the number of views.
 */
import { coerceEntityKey, encodeEntityKey } from "../common/entity-key.js";
import { ViolationCollector } from "../common/errors.js";
import type { FeatureValue, TaggedValue, ValueLimits } from "../common/feature-value.js";
import type { ResolvedFeature } from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import { type OnlineLookup, type OnlineStore, onlineTableName } from "../storage/online/online-store.js";

/** How one value read from the online store stands. */
export type FeatureStatus = "present" | "null_value" | "not_found" | "outside_max_age";

/** What to read. */
export interface OnlineReadRequest {
  project: string;
  /** Feature refs; or set featureService. */
  features: string[];
  featureService: string;
  /** Join key name -> one value per entity row. */
  entities: Record<string, TaggedValue[]>;
  fullFeatureNames: boolean;
}

/** One output column: a feature's value, status and event time (µs) for every entity row. */
export interface FeatureColumn {
  name: string;
  feature: ResolvedFeature;
  values: FeatureValue[];
  statuses: FeatureStatus[];
  eventTimes: Array<number | undefined>;
}

/** Limits of one online read. */
export interface OnlineReadLimits extends ValueLimits {
  maxEntityRows: number;
}

/** Reads feature values from the online store. */
export class OnlineReader {
  constructor(
    private readonly registry: Registry,
    private readonly online: OnlineStore,
    private readonly limits: OnlineReadLimits,
    private readonly nowMicros: () => number = () => Date.now() * 1000,
  ) {}

  /** Reads every requested feature for every entity row, in request order. */
  async read(request: OnlineReadRequest): Promise<FeatureColumn[]> {
    const features = await this.registry.resolveSelection(request.project, request.features, request.featureService);
    const rowCount = this.checkEntityColumns(request.entities);
    const names = outputNames(features, request.fullFeatureNames);

    // One lookup per view version; each feature column then picks its values from its lookup.
    const lookups: OnlineLookup[] = [];
    const lookupOfView = new Map<string, number>();
    const ttlOfLookup: number[] = [];
    for (const feature of features) {
      const table = onlineTableName(feature.project, feature.featureView, feature.version);
      if (lookupOfView.has(table)) continue;
      const view = await this.registry.getFeatureView(feature.project, feature.featureView, feature.version);
      const entity = await this.registry.getEntity(view.project, view.entity);
      const keys: string[] = [];
      const v = new ViolationCollector();
      for (let row = 0; row < rowCount; row++) {
        const provided: Record<string, TaggedValue> = {};
        for (const key of entity.joinKeys) {
          const value = request.entities[key.name]?.[row];
          if (value) provided[key.name] = value;
        }
        const checked = coerceEntityKey(entity.joinKeys, provided, `entities`, this.limits);
        if ("violations" in checked) {
          for (const violation of checked.violations)
            v.add(`${violation.field}[${row}]`, `${violation.description} (needed by ${view.name}@${view.version})`);
        } else {
          keys.push(encodeEntityKey(checked.values));
        }
      }
      v.throwIfAny("INVALID_ENTITY_KEY");
      lookupOfView.set(table, lookups.length);
      lookups.push({ table, keys });
      ttlOfLookup.push(view.ttlMillis * 1000);
    }

    const results = await this.online.read(lookups);
    const now = this.nowMicros();
    return features.map((feature, i) => {
      const lookup = lookupOfView.get(onlineTableName(feature.project, feature.featureView, feature.version)) as number;
      const records = results[lookup] ?? [];
      const ttl = ttlOfLookup[lookup] ?? 0;
      const column: FeatureColumn = { name: names[i] as string, feature, values: [], statuses: [], eventTimes: [] };
      for (let row = 0; row < rowCount; row++) {
        const record = records[row];
        if (!record) {
          column.values.push(null);
          column.statuses.push("not_found");
          column.eventTimes.push(undefined);
          continue;
        }
        const value = record.values[feature.feature] ?? null;
        column.values.push(value);
        column.eventTimes.push(record.eventTime);
        if (ttl > 0 && now - record.eventTime > ttl) column.statuses.push("outside_max_age");
        else column.statuses.push(value === null ? "null_value" : "present");
      }
      return column;
    });
  }

  /** Checks that the entity columns are non-empty, equally long and within limits; returns the row count. */
  private checkEntityColumns(entities: Record<string, TaggedValue[]>): number {
    const lengths = Object.entries(entities).map(([name, column]) => [name, column.length] as const);
    const v = new ViolationCollector();
    if (lengths.length === 0) v.add("entities", "at least one join key column is required");
    const rowCount = lengths[0]?.[1] ?? 0;
    for (const [name, length] of lengths) {
      if (length !== rowCount) v.add(`entities["${name}"]`, `has ${length} values but entities["${lengths[0]?.[0]}"] has ${rowCount}`);
    }
    if (rowCount > this.limits.maxEntityRows)
      v.add("entities", `${rowCount} entity rows exceed the limit of ${this.limits.maxEntityRows} per call`);
    v.throwIfAny("INVALID_ENTITY_ROWS");
    return rowCount;
  }
}

/** Output column names: the feature name, or view__feature when asked; a collision is an error. */
function outputNames(features: ResolvedFeature[], fullNames: boolean): string[] {
  const names = features.map((f) => (fullNames ? `${f.featureView}__${f.feature}` : f.feature));
  const seen = new Map<string, number>();
  const v = new ViolationCollector();
  names.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) {
      const hint = fullNames ? "request each feature once" : "set full_feature_names to name columns view__feature";
      v.add(`features[${i}]`, `output column "${name}" is also produced by features[${first}]; ${hint}`);
    }
    seen.set(name, i);
  });
  v.throwIfAny("DUPLICATE_OUTPUT_COLUMN");
  return names;
}

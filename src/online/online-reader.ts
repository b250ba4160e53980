/**
 * The online read path: feature refs (or a feature service) x entity rows -> the latest value,
 * its status and its event time, for every cell. Definitions come from the registry's in-memory
 * cache, so a call costs exactly one online store round trip, whatever the number of views.
 */
import { coerceEntityKey, encodeEntityKey } from "../common/entity-key.js";
import { ValidationError, ViolationCollector } from "../common/errors.js";
import type { FeatureValue, TaggedValue, ValueLimits } from "../common/feature-value.js";
import { type ServedValueSink, servedRecord } from "../monitoring/served-values.js";
import type { Entity, FeatureViewVersion, ResolvedFeature } from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import { type OnlineLookup, type OnlineStore, onlineTableOf } from "../storage/online/online-store.js";
import { type TileApplier, type TiledView, tiledViewOf } from "../streams/tile-applier.js";

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
  /**
   * Ignore entity columns no requested view needs, instead of refusing them as a likely typo:
   * Predict sends one set of columns to every version of an endpoint, which may read other views.
   */
  ignoreUnusedEntityColumns?: boolean;
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
  /** Feature refs per read (limits.maxFeatureRefs); unlimited when unset. */
  maxFeatureRefs?: number;
}

/**
 * The features a read returns and their output column names. The same object comes back for
 * every read of the same selection until a definition changes, so callers may cache what they
 * derive from it (the transport caches the encoded names) in a WeakMap keyed by it.
 */
export interface ReadSelection {
  names: readonly string[];
  features: readonly ResolvedFeature[];
}

/** What a read returns: the selection and one column per feature. */
export interface OnlineReadResult {
  selection: ReadSelection;
  columns: FeatureColumn[];
}

/** How to read one resolved selection (see {@link OnlineReader.planOf}). */
interface ReadPlan {
  selection: ReadSelection;
  /**
   * The view versions the features come from, each read with one lookup: of its latest records,
   * or (aggregation views, `tiled` set) of its tile records, from which values are computed as of
   * the time of the read.
   */
  views: Array<{
    table: string;
    joinKeys: Entity["joinKeys"];
    ttlMicros: number;
    label: string;
    tiled?: TiledView;
    /** For each feature of the selection from this view: its index among the view's aggregations. */
    aggregationIndex?: Map<string, number>;
    /** The aggregation indexes the selection reads (the others are not computed). */
    wanted?: Set<number>;
    /** Set when the view version logs what it serves (log_served_values). */
    logAs?: FeatureViewVersion;
  }>;
  /** For each feature, the index of its view in `views`. */
  viewOfFeature: number[];
  /** Each join key the views need -> the first view needing it (for messages). */
  neededKeys: Map<string, string>;
}

/** Reads feature values from the online store. */
export class OnlineReader {
  private readonly plans = new WeakMap<ResolvedFeature[], { short?: ReadPlan; full?: ReadPlan }>();

  constructor(
    private readonly registry: Registry,
    private readonly online: OnlineStore,
    private readonly limits: OnlineReadLimits,
    /** Computes aggregated values from tile records (sharing the records the write path decoded). */
    private readonly tiles: TileApplier,
    /** Where values served from views with log_served_values go. */
    private readonly served?: ServedValueSink,
    private readonly nowMicros: () => number = () => Date.now() * 1000,
  ) {}

  /** Reads every requested feature for every entity row, in request order. */
  async read(request: OnlineReadRequest): Promise<OnlineReadResult> {
    // Counted before anything is resolved: resolving costs in proportion to the refs.
    const maxRefs = this.limits.maxFeatureRefs ?? Number.POSITIVE_INFINITY;
    if (request.features.length > maxRefs) {
      throw new ValidationError("TOO_MANY_FEATURE_REFS", [
        {
          field: "features",
          description: `${request.features.length} feature refs; at most ${maxRefs} are allowed (limits.maxFeatureRefs)`,
        },
      ]);
    }
    const features = await this.registry.resolveSelection(request.project, request.features, request.featureService);
    const plan = await this.planOf(features, request.fullFeatureNames);
    const rowCount = this.checkEntityColumns(request.entities, plan, request.ignoreUnusedEntityColumns ?? false);

    const v = new ViolationCollector();
    /** The checked key values of each row of each logging view, for the served-value log. */
    const loggedKeys = new Map<number, FeatureValue[][]>();
    const lookups: OnlineLookup[] = plan.views.map(({ table, joinKeys, label, logAs }, viewIndex) => {
      const keys: string[] = [];
      // Kept only for views that log what they serve: the usual read allocates nothing for it.
      const keyValues: FeatureValue[][] | undefined = logAs && this.served ? [] : undefined;
      if (keyValues) loggedKeys.set(viewIndex, keyValues);
      for (let row = 0; row < rowCount; row++) {
        const provided: Record<string, TaggedValue> = {};
        for (const key of joinKeys) {
          const value = request.entities[key.name]?.[row];
          if (value) provided[key.name] = value;
        }
        const checked = coerceEntityKey(joinKeys, provided, "entities", this.limits);
        if ("violations" in checked) {
          for (const violation of checked.violations) v.add(`${violation.field}[${row}]`, `${violation.description} (needed by ${label})`);
        } else {
          keys.push(encodeEntityKey(checked.values));
          keyValues?.push(checked.values);
        }
      }
      return { table, keys };
    });
    v.throwIfAny("INVALID_ENTITY_KEY");

    // Plain and tile lookups go to the store together: one round trip for the whole read.
    const plainLookups: OnlineLookup[] = [];
    const tileLookups: OnlineLookup[] = [];
    const slot = plan.views.map((view, v) => (view.tiled ? tileLookups : plainLookups).push(lookups[v] as OnlineLookup) - 1);
    const stored = await this.online.readWithTiles(plainLookups, tileLookups);
    const now = this.nowMicros();
    const aggregated = plan.views.map((view, v) => {
      if (!view.tiled) return undefined;
      const keys = (lookups[v] as OnlineLookup).keys;
      return (stored.tiles[slot[v] as number] ?? []).map((record, row) =>
        this.tiles.valuesAsOf(view.tiled as TiledView, keys[row] as string, record, now, view.wanted),
      );
    });
    const columns = features.map((feature, i) => {
      const lookup = plan.viewOfFeature[i] as number;
      const view = plan.views[lookup];
      const column: FeatureColumn = { name: plan.selection.names[i] as string, feature, values: [], statuses: [], eventTimes: [] };
      const values = aggregated[lookup];
      if (values) {
        // An aggregate is always known: an entity without events has empty windows (count 0, mean null).
        const index = view?.aggregationIndex?.get(feature.feature) as number;
        for (let row = 0; row < rowCount; row++) {
          const value = values[row]?.[index] ?? null;
          column.values.push(value);
          column.statuses.push(value === null ? "null_value" : "present");
          column.eventTimes.push(now);
        }
        return column;
      }
      const records = stored.records[slot[lookup] as number] ?? [];
      const ttl = view?.ttlMicros ?? 0;
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
    if (loggedKeys.size > 0) this.logServed(request.project, plan, loggedKeys, columns, now);
    return { selection: plan.selection, columns };
  }

  /** Logs, per row, the values served from each view version that asks for it. */
  private logServed(
    project: string,
    plan: ReadPlan,
    loggedKeys: Map<number, FeatureValue[][]>,
    columns: FeatureColumn[],
    now: number,
  ): void {
    const sink = this.served as ServedValueSink;
    for (const [viewIndex, keyValues] of loggedKeys) {
      const view = plan.views[viewIndex];
      if (!view?.logAs) continue;
      const features = columns.filter((_, i) => plan.viewOfFeature[i] === viewIndex);
      keyValues.forEach((key, row) => {
        // What a training set would hold: no value where none was found or it was stale.
        const values = Object.fromEntries(
          features.map((column) => {
            const status = column.statuses[row];
            return [column.feature.feature, status === "present" || status === "null_value" ? (column.values[row] ?? null) : null];
          }),
        );
        const keyRecord = Object.fromEntries(view.joinKeys.map((k, i) => [k.name, key[i] ?? null]));
        sink.record(project, servedRecord(view.logAs as FeatureViewVersion, now, keyRecord, values));
      });
    }
  }

  /**
   * How to read a resolved selection: its output names and one lookup per view version. Kept
   * per resolved list, which the registry hands out anew whenever a definition changes, so a
   * plan never outlives the definitions it was made from.
   */
  private async planOf(features: ResolvedFeature[], fullNames: boolean): Promise<ReadPlan> {
    const plans = this.plans.get(features);
    const cached = fullNames ? plans?.full : plans?.short;
    if (cached) return cached;
    const names = outputNames(features, fullNames);
    const views: ReadPlan["views"] = [];
    const viewIndexes = new Map<string, number>();
    const viewOfFeature: number[] = [];
    for (const feature of features) {
      const label = `${feature.featureView}@${feature.version}`;
      let index = viewIndexes.get(label) ?? -1;
      if (index < 0) {
        const view = await this.registry.getFeatureView(feature.project, feature.featureView, feature.version);
        const entity = await this.registry.getEntity(view.project, view.entity);
        const planned: ReadPlan["views"][number] = {
          table: onlineTableOf(view),
          joinKeys: entity.joinKeys,
          ttlMicros: view.ttlMillis * 1000,
          label,
        };
        if (view.logServedValues) planned.logAs = view;
        if (view.stream) {
          const stream = await this.registry.getEventStream(view.project, view.stream, view.streamVersion);
          planned.tiled = tiledViewOf(view, stream);
          planned.table = planned.tiled.table;
          planned.aggregationIndex = new Map(view.features.map((f, i) => [f.name, i]));
          planned.wanted = new Set();
        }
        index = views.push(planned) - 1;
        viewIndexes.set(label, index);
      }
      viewOfFeature.push(index);
      const planned = views[index];
      planned?.wanted?.add(planned.aggregationIndex?.get(feature.feature) as number);
    }
    const neededKeys = new Map<string, string>();
    for (const view of views) for (const key of view.joinKeys) if (!neededKeys.has(key.name)) neededKeys.set(key.name, view.label);
    const plan = { selection: { names, features }, views, viewOfFeature, neededKeys };
    this.plans.set(features, { ...plans, [fullNames ? "full" : "short"]: plan });
    return plan;
  }

  /**
   * Checks that the entity columns are the join keys the views need, no others, non-empty,
   * equally long and within limits; returns the row count.
   */
  private checkEntityColumns(entities: Record<string, TaggedValue[]>, plan: ReadPlan, ignoreUnused: boolean): number {
    const lengths = Object.entries(entities).map(([name, column]) => [name, column.length] as const);
    const v = new ViolationCollector();
    if (lengths.length === 0) v.add("entities", "at least one join key column is required");
    const needed = plan.neededKeys;
    for (const [name] of lengths) {
      if (!needed.has(name) && !ignoreUnused) {
        const expected = [...needed.keys()].map((key) => `"${key}"`).join(", ");
        v.add(`entities["${name}"]`, `"${name}" is not a join key of the requested features; expected ${expected}`);
      }
    }
    for (const [key, label] of needed) {
      if (lengths.length > 0 && !Object.hasOwn(entities, key))
        v.add(`entities["${key}"]`, `join key "${key}" is required (needed by ${label})`);
    }
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

/**
 * Point-in-time retrieval: a spine (entity keys and times) and a feature selection in, a training
 * set out, where every spine row sees exactly the feature values known at its time. The join
 * itself runs in the offline store (see PointInTimeJoin); this plans it from the registry's
 * definitions, stores the spine, and streams the result in bounded chunks.
 */
import { ValidationError, ViolationCollector } from "../common/errors.js";
import { eventsTableOf } from "../ingest/event-writer.js";
import { offlineTableOf } from "../ingest/feature-writer.js";
import { parseViewRef } from "../registry/feature-refs.js";
import {
  type Entity,
  type EventStreamVersion,
  type FeatureServiceVersion,
  type FeatureViewVersion,
  mergedJoinKeys,
  type ResolvedFeature,
} from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import type {
  ArrowChunks,
  OfflineColumn,
  OfflineStore,
  PointInTimeJoin,
  QueryLimits,
  Spine,
  SpineJoinPreview,
} from "../storage/offline/offline-store.js";
import {
  appendDerivedColumns,
  checkRequestInputColumns,
  type DerivedColumnsPlan,
  derivedColumnsPlanOf,
  derivedOutputColumns,
} from "./derived-columns.js";
import { type InlineSpineLimits, InlineSpineWriter } from "./inline-spine.js";
import type { HistoricalQuery, OutputColumn, SpineBatchInput } from "./model.js";

/** A join ready to run: its resolved features, and the spine's key columns it needs. */
export interface RetrievalPlan {
  query: HistoricalQuery;
  features: ResolvedFeature[];
  /** One entry per view version, in first-use order; aggregation views with their stream version. */
  views: Array<{ view: FeatureViewVersion; entity: Entity; stream?: EventStreamVersion }>;
  /** The join keys of every view's entity, each once. */
  keyColumns: OfflineColumn[];
  /** Output names of the features, in request order. */
  featureNames: string[];
  /** A feature service's derived features: columns computed after the features from the spine's request input columns. */
  derived?: DerivedColumnsPlan;
}

/** A retrieval under way: its result columns, and the result itself. */
export interface Retrieval {
  columns: OutputColumn[];
  preservesSpineOrder: boolean;
  /** The result; consuming it to the end (or abandoning it once started) drops the stored spine. */
  chunks: ArrowChunks;
  /**
   * Drops the stored spine, for a caller that stops before it starts consuming `chunks` (a
   * generator never started runs no `finally`); after they drop it, it does nothing more.
   */
  release(): Promise<void>;
}

/**
 * What bounds a retrieval: the value limits and batch size of inline spine rows, and the engine
 * limits of each offline query it runs (limits.queryTimeoutMs, limits.queryMaxMemoryBytes; none when unset).
 */
export type RetrievalLimits = InlineSpineLimits & { queryTimeoutMs?: number; queryMaxMemoryBytes?: number };

/** Plans and runs point-in-time retrievals. */
export class HistoricalRetriever {
  /** The engine limits of every offline query run for a request; undefined when the limits set none. */
  readonly queryLimits: QueryLimits | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly offline: OfflineStore,
    private readonly limits: RetrievalLimits,
  ) {
    const { queryTimeoutMs, queryMaxMemoryBytes } = limits;
    this.queryLimits =
      queryTimeoutMs !== undefined && queryMaxMemoryBytes !== undefined
        ? { timeoutMs: queryTimeoutMs, maxMemoryBytes: queryMaxMemoryBytes }
        : undefined;
  }

  /**
   * Resolves a query's features and checks what can be checked before any spine row is read:
   * NOT_FOUND for unknown views, versions or features; INVALID_ARGUMENT for entities whose join
   * keys clash, or an entity-range spine over views of different entities.
   */
  async plan(query: HistoricalQuery): Promise<RetrievalPlan> {
    // A service with derived features is resolved at one version, whose definitions both the
    // features and the derived columns come from, even when a newer version is applied meanwhile.
    const service = await this.derivingService(query);
    const selection = service ? `${service.name}@${service.version}` : query.featureService;
    const features = await this.registry.resolveSelection(query.project, query.features, selection);
    const views: RetrievalPlan["views"] = [];
    for (const feature of features) {
      if (views.some(({ view }) => view.name === feature.featureView && view.version === feature.version)) continue;
      const view = await this.registry.getFeatureView(feature.project, feature.featureView, feature.version);
      const entity = await this.registry.getEntity(view.project, view.entity);
      const stream = view.stream ? await this.registry.getEventStream(view.project, view.stream, view.streamVersion) : undefined;
      views.push({ view, entity, ...(stream ? { stream } : {}) });
    }
    const v = new ViolationCollector();
    const { keys: keyColumns, clashes } = mergedJoinKeys(views.map(({ entity }) => entity));
    for (const clash of clashes) v.add("query.features", clash);
    if (query.spine.kind === "entities" && new Set(views.map(({ entity }) => entity.name)).size > 1) {
      v.add("query.entity_time_range", "an entity-range spine needs every requested view to share one entity");
    }
    v.throwIfAny("INVALID_FEATURE_SELECTION");
    const featureNames = features.map((f) => (query.fullFeatureNames ? `${f.featureView}__${f.feature}` : f.feature));
    const derived = service ? derivedColumnsPlanOf(service, features, featureNames) : undefined;
    return { query, features, views, keyColumns, featureNames, ...(derived ? { derived } : {}) };
  }

  /** The feature service version a query selects when it derives features; undefined otherwise (and for malformed selections, which resolution reports). */
  private async derivingService(query: HistoricalQuery): Promise<FeatureServiceVersion | undefined> {
    if (query.features.length > 0 || query.featureService === "") return undefined;
    const ref = parseViewRef(query.featureService, query.project, "feature service");
    if (typeof ref === "string") return undefined;
    const service = await this.registry.getFeatureService(query.project, ref.view, ref.version);
    return (service.derivedFeatures ?? []).length > 0 ? service : undefined;
  }

  /**
   * Stores the spine (reading every inline batch first: the spine is complete only when the
   * client's stream ends) and starts the join. INVALID_ARGUMENT for bad spine rows, and for
   * output columns with the same name. Aborting `signal` stops the offline queries in the engine.
   */
  async retrieve(plan: RetrievalPlan, inlineBatches?: AsyncIterable<SpineBatchInput>, signal?: AbortSignal): Promise<Retrieval> {
    const spine = await this.storeSpine(plan, inlineBatches, signal);
    try {
      const columns = outputColumns(plan, spine);
      const join = joinOf(plan, spine, !plan.query.emitSpineIndex, plan.query.emitSpineIndex);
      // Dropped once, by whichever comes first: the result's end or the caller's release.
      let dropped: Promise<void> | undefined;
      const drop = () => {
        dropped ??= this.offline.dropSpine(spine);
        return dropped;
      };
      const chunks = appendDerivedColumns(this.streamThenDrop(join, drop, signal), plan.derived);
      return { columns, preservesSpineOrder: !plan.query.emitSpineIndex, chunks, release: drop };
    } catch (error) {
      await this.offline.dropSpine(spine);
      throw error;
    }
  }

  /**
   * Stores a plan's spine, and checks that it has a column for every request input its derived
   * features read (INVALID_ARGUMENT, MISSING_REQUEST_INPUT, before any join runs).
   */
  async storeSpine(plan: RetrievalPlan, inlineBatches?: AsyncIterable<SpineBatchInput>, signal?: AbortSignal): Promise<Spine> {
    const spine = await this.storeSpineRows(plan, inlineBatches, signal);
    try {
      checkRequestInputColumns(plan.derived, spine, plan.query.spine);
    } catch (error) {
      await this.offline.dropSpine(spine);
      throw error;
    }
    return spine;
  }

  /** Stores a plan's spine: inline batches as they arrive, or from the offline store. */
  private async storeSpineRows(plan: RetrievalPlan, inlineBatches?: AsyncIterable<SpineBatchInput>, signal?: AbortSignal): Promise<Spine> {
    const { query, keyColumns, views } = plan;
    if (query.spine.kind === "inline") {
      const spine = await this.offline.createSpine(query.project, keyColumns, [], { ...joinPreviewOf(plan), limits: this.queryLimits });
      try {
        const writer = new InlineSpineWriter(this.offline, spine, this.limits);
        let batchIndex = 0;
        for await (const batch of inlineBatches ?? []) await writer.append(batch, batchIndex++);
        await writer.finish();
        return spine;
      } catch (error) {
        await this.offline.dropSpine(spine);
        throw error;
      }
    }
    if (query.spine.kind === "entities") {
      const { start, end } = query.spine;
      if (start !== undefined && start >= end) {
        throw new ValidationError("INVALID_TIME_RANGE", [
          { field: "query.entity_time_range.end_time", description: "must be after start_time" },
        ]);
      }
      const tables = views.map(({ view, entity, stream }) => (stream ? eventsTableOf(stream, entity) : offlineTableOf(view, entity)));
      return this.offline.loadSpine(
        query.project,
        { kind: "entities", tables, range: { start, end } },
        keyColumns,
        signal,
        this.queryLimits,
      );
    }
    return this.offline.loadSpine(query.project, query.spine, keyColumns, signal, this.queryLimits);
  }

  private async *streamThenDrop(join: PointInTimeJoin, drop: () => Promise<void>, signal?: AbortSignal): ArrowChunks {
    try {
      yield* this.offline.joinPointInTime(join, signal, this.queryLimits);
    } finally {
      await drop();
    }
  }
}

/** A plan's views joined as of their history tables, and its aggregation views (computed from their streams' events). */
function viewsByKind(plan: RetrievalPlan): { plain: RetrievalPlan["views"]; aggregated: RetrievalPlan["views"] } {
  return { plain: plan.views.filter(({ stream }) => !stream), aggregated: plan.views.filter(({ stream }) => stream) };
}

/** What {@link joinOf} will ask of the offline store, known before the spine is stored. */
function joinPreviewOf(plan: RetrievalPlan): SpineJoinPreview {
  const { plain, aggregated } = viewsByKind(plan);
  return {
    tables: plain.map(({ view, entity }) => offlineTableOf(view, entity)),
    aggregates: aggregated.length > 0,
    excludeLateIngested: plan.query.excludeLateIngested,
  };
}

/** The join of a plan over a stored spine. */
export function joinOf(plan: RetrievalPlan, spine: Spine, spineOrder: boolean, withSpineIndex: boolean): PointInTimeJoin {
  const { plain, aggregated } = viewsByKind(plan);
  const sameVersion =
    (feature: ResolvedFeature) =>
    ({ view }: { view: FeatureViewVersion }) =>
      view.name === feature.featureView && view.version === feature.version;
  return {
    spine,
    views: plain.map(({ view, entity }) => ({ table: offlineTableOf(view, entity), ttlMicros: view.ttlMillis * 1000 })),
    windows: aggregated.map(({ view, entity, stream }) => ({
      events: eventsTableOf(stream as EventStreamVersion, entity),
      granularityMicros: (stream as EventStreamVersion).granularityMillis * 1000,
      aggregations: plan.features.filter((f) => sameVersion(f)({ view })).map((f) => aggregationOf(view, f.feature)),
    })),
    features: plan.features.map((feature, i) => {
      const as = plan.featureNames[i] as string;
      const window = aggregated.findIndex(sameVersion(feature));
      if (window >= 0) return { window, column: feature.feature, as, type: feature.type };
      return { view: plain.findIndex(sameVersion(feature)), column: feature.feature, as };
    }),
    excludeLateIngested: plan.query.excludeLateIngested,
    spineOrder,
    withSpineIndex,
  };
}

/** A feature of an aggregation view as an aggregation of the offline window join, named by the feature. */
function aggregationOf(view: FeatureViewVersion, feature: string): NonNullable<PointInTimeJoin["windows"]>[number]["aggregations"][number] {
  const aggregation = view.features.find((f) => f.name === feature)?.aggregation;
  if (!aggregation) throw new Error(`feature ${feature} of ${view.name}@${view.version} has no aggregation`);
  return {
    kind: aggregation.kind,
    field: aggregation.field,
    ...(aggregation.kind === "last_n" ? { k: aggregation.k } : {}),
    ...(aggregation.windowMillis > 0 ? { windowMicros: aggregation.windowMillis * 1000 } : {}),
    ...(aggregation.filter ? { filter: aggregation.filter } : {}),
    as: feature,
  };
}

/**
 * The result columns of a plan over a spine: [spine_index], keys, event_time, extras, features,
 * derived features. INVALID_ARGUMENT (DUPLICATE_OUTPUT_COLUMN) when two would share a name.
 */
export function outputColumns(plan: RetrievalPlan, spine: Spine): OutputColumn[] {
  const columns: OutputColumn[] = [
    ...(plan.query.emitSpineIndex ? [{ name: "spine_index", type: "int64" as const, role: "spine_index" as const }] : []),
    ...spine.keyColumns.map((c) => ({ ...c, role: "join_key" as const })),
    { name: "event_time", type: "timestamp", role: "event_time" },
    ...spine.extraColumns.map((c) => ({ ...c, role: "extra" as const })),
    ...plan.features.map((feature, i) => ({ name: plan.featureNames[i] as string, type: feature.type, role: "feature" as const, feature })),
    ...derivedOutputColumns(plan.derived),
  ];
  const v = new ViolationCollector();
  const seen = new Map<string, OutputColumn>();
  for (const column of columns) {
    const first = seen.get(column.name);
    if (first) v.add("query.features", describeCollision(plan, column.name, first, column));
    seen.set(column.name, first ?? column);
  }
  v.throwIfAny("DUPLICATE_OUTPUT_COLUMN");
  return columns;
}

/** Which two columns want the same output name, and what to change so they do not. */
function describeCollision(plan: RetrievalPlan, name: string, first: OutputColumn, second: OutputColumn): string {
  const label = (column: OutputColumn) =>
    column.feature
      ? `feature "${column.feature.ref}" (features[${plan.features.indexOf(column.feature)}])`
      : column.role === "derived"
        ? `derived feature "${column.name}" of feature service ${plan.query.featureService}`
        : `the spine's ${column.role.replace("_", " ")} column`;
  const both = `${label(first)} and ${label(second)} both make output column "${name}"`;
  if (!first.feature || !second.feature)
    return `${both}; rename the spine column${plan.query.fullFeatureNames ? "" : " or set full_feature_names (columns view__feature)"}`;
  if (!plan.query.fullFeatureNames) return `${both}; set full_feature_names to name the columns view__feature`;
  return `${both}: a training set holds one version of a feature; drop one of them or read the other version in a second request`;
}

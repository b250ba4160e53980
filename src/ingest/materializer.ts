/**
 * Materialization: copies the latest offline row per entity in an event-time range into the
 * online store, in key-ordered chunks so memory stays bounded however many entities there are.
 * The online store's event-time rule makes it safe to re-run: a value never replaces a newer one.
 */
import { PreconditionError, ValidationError } from "../common/errors.js";
import type { FeatureValue } from "../common/feature-value.js";
import { resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { EventTimeRange, OfflineStore } from "../storage/offline/offline-store.js";
import { type OnlineStore, onlineTableOf } from "../storage/online/online-store.js";
import { offlineTableOf, onlineWriteOf } from "./feature-writer.js";

/** What to materialize: a view ref and an optional event-time range in microseconds. */
export interface MaterializeRequest {
  project: string;
  featureView: string;
  range: EventTimeRange;
}

/** Progress after each chunk; the last one has `done`. */
export interface MaterializeProgress {
  entitiesProcessed: number;
  valuesWritten: number;
  done: boolean;
}

/** Copies offline history to the online store. */
export class Materializer {
  constructor(
    private readonly registry: Registry,
    private readonly offline: OfflineStore,
    private readonly online: OnlineStore,
    private readonly chunkSize = 10_000,
  ) {}

  /** Materializes chunk by chunk, yielding progress; stops early when `signal` aborts. */
  async *materialize(request: MaterializeRequest, signal?: AbortSignal): AsyncGenerator<MaterializeProgress> {
    const { start, end } = request.range;
    if (start !== undefined && end !== undefined && start >= end) {
      throw new ValidationError("INVALID_TIME_RANGE", [{ field: "end_time", description: "must be after start_time" }]);
    }
    const view = await this.registry.resolveViewRef(request.project, request.featureView, "feature_view");
    if (view.stream) {
      throw new PreconditionError(
        "AGGREGATION_VIEW_NOT_MATERIALIZED",
        `feature view ${view.name} aggregates event stream ${view.stream}: its online tiles are kept up to date by every event and built when the version is applied`,
        { resource_name: resourceName(view.project, "featureViews", view.name) },
      );
    }
    const entity = await this.registry.getEntity(view.project, view.entity);
    const table = offlineTableOf(view, entity);
    await this.offline.ensureTable(table);
    const onlineTable = onlineTableOf(view);
    const progress: MaterializeProgress = { entitiesProcessed: 0, valuesWritten: 0, done: false };
    let afterKey: FeatureValue[] | undefined;
    while (!signal?.aborted) {
      const rows = await this.offline.latestPerEntity(table, request.range, afterKey, this.chunkSize);
      if (rows.length > 0) {
        await this.online.write(
          onlineTable,
          rows.map((row) => onlineWriteOf(view, row)),
        );
        progress.entitiesProcessed += rows.length;
        progress.valuesWritten += rows.length * view.features.length;
        afterKey = rows[rows.length - 1]?.key;
      }
      if (rows.length < this.chunkSize) {
        yield { ...progress, done: true };
        return;
      }
      yield { ...progress };
    }
  }
}

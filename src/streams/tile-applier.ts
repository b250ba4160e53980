/**
 * Applies events to the online tiles of aggregation views: per entity, one read-modify-write of
 * its tile record, made safe by the store's compare-and-set (two writers of one entity never
 * lose or double an event; the loser reads again and reapplies) and idempotent by the source
 * positions the record keeps (a replayed event changes nothing).
 */
import type { FeatureValue } from "../common/feature-value.js";
import type { FeatureViewVersion } from "../registry/model.js";
import { type OnlineStore, type TileUpdate, tileTableOf } from "../storage/online/online-store.js";
import type { AggregationSpec } from "./aggregations.js";
import { compileFilter, filterPredicate } from "./filter.js";
import { decodeTileRecord, encodeTileRecord, markApplied, type TileRecord, wasApplied } from "./tile-record.js";
import { TileLayout, type WindowedAggregation } from "./tiles.js";
import type { Window } from "./window-rule.js";

/** An event to apply: its entity (encoded key), times (µs), fields, and where it came from. */
export interface TileEvent {
  entityKey: string;
  eventTime: number;
  /** What orders equal event times: the server's receipt time, or the source's created time. */
  ingestTime: number;
  /** When this server received it: tiles never move their clock past it. */
  receiptTime: number;
  fields: Record<string, FeatureValue>;
  /** "write:{id}" or "kafka:{topic}/{partition}". */
  source: string;
  /** Row index in the write, or the Kafka offset: increasing within a source. */
  position: number;
}

/** How an aggregation view version keeps tiles: the table, the layout, and when idle records may expire. */
export interface TiledView {
  table: string;
  layout: TileLayout;
  /** 0: never (lifetime aggregations). */
  expireAfterMs: number;
}

/** Compare-and-set rounds before an apply gives up (each round only retries the entities that lost a race). */
const MAX_ROUNDS = 16;

const layouts = new WeakMap<FeatureViewVersion, TiledView>();

/** The tiles of an aggregation view version (cached per version object). */
export function tiledViewOf(
  view: FeatureViewVersion,
  stream: {
    granularityMillis: number;
    allowedLatenessMillis: number;
    fields: Array<{ name: string; type: FeatureViewVersion["features"][number]["type"] }>;
  },
): TiledView {
  const cached = layouts.get(view);
  if (cached) return cached;
  const fieldTypes = new Map(stream.fields.map((f) => [f.name, f.type]));
  const aggregations: WindowedAggregation[] = view.features.map((feature) => {
    const aggregation = feature.aggregation;
    if (!aggregation) throw new Error(`feature ${feature.name} of ${view.name}@${view.version} has no aggregation`);
    const spec: AggregationSpec = { kind: aggregation.kind, fieldType: fieldTypes.get(aggregation.field) ?? "int64", k: aggregation.k };
    const window: Window = aggregation.windowMillis === 0 ? "lifetime" : { micros: aggregation.windowMillis * 1000 };
    const filter = aggregation.filter ? filterPredicate(compileFilter(aggregation.filter, stream.fields)) : undefined;
    return { spec, field: aggregation.field, window, ...(filter ? { filter } : {}) };
  });
  const lifetime = view.features.some((f) => f.aggregation?.windowMillis === 0);
  const longest = Math.max(0, ...view.features.map((f) => f.aggregation?.windowMillis ?? 0));
  const tiled: TiledView = {
    table: tileTableOf(view),
    layout: new TileLayout(aggregations, stream.granularityMillis * 1000),
    // An entity no event touched for longer than its longest window (and the lateness) has only empty windows left.
    expireAfterMs: lifetime ? 0 : longest + stream.allowedLatenessMillis + 2 * stream.granularityMillis,
  };
  layouts.set(view, tiled);
  return tiled;
}

/** Applies events to aggregation views' tiles in the online store. */
export class TileApplier {
  constructor(private readonly online: OnlineStore) {}

  /** Applies `events` (in source order) to every view's tiles; resolves when durable. */
  async apply(views: readonly TiledView[], events: readonly TileEvent[]): Promise<void> {
    if (events.length === 0) return;
    const byEntity = new Map<string, TileEvent[]>();
    for (const event of events) {
      const list = byEntity.get(event.entityKey);
      if (list) list.push(event);
      else byEntity.set(event.entityKey, [event]);
    }
    await Promise.all(views.map((view) => this.applyToView(view, byEntity)));
  }

  private async applyToView(view: TiledView, byEntity: Map<string, TileEvent[]>): Promise<void> {
    let pending = [...byEntity.keys()];
    for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
      const { tiles } = await this.online.readWithTiles([], [{ table: view.table, keys: pending }]);
      const stored = tiles[0] ?? [];
      const updates: TileUpdate[] = [];
      pending.forEach((key, i) => {
        const expected = stored[i];
        const record: TileRecord = expected ? decodeTileRecord(expected) : { data: view.layout.empty(), positions: {} };
        let changed = false;
        for (const event of byEntity.get(key) ?? []) {
          if (wasApplied(record, event.source, event.position)) continue;
          view.layout.apply(record.data, event, event.receiptTime);
          markApplied(record, event.source, event.position);
          changed = true;
        }
        if (changed) updates.push({ key, expected, next: encodeTileRecord(record) });
      });
      pending = await this.online.compareAndSetTiles(view.table, updates, view.expireAfterMs);
    }
    if (pending.length > 0) throw new Error(`tiles of ${pending.length} entities in ${view.table} kept changing under concurrent writers`);
  }

  /** Every aggregation's value as of `t` (µs) from a stored tile record (undefined: no events yet). */
  static valuesAsOf(view: TiledView, stored: Uint8Array | undefined, t: number): FeatureValue[] {
    const record = stored ? decodeTileRecord(stored) : undefined;
    return view.layout.valuesAsOf(record?.data ?? view.layout.empty(), t);
  }
}

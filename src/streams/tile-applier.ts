/**
 * Applies events to the online tiles of aggregation views: per entity, one read-modify-write of
 * its tile record, made safe by the store's compare-and-set (two writers of one entity never
 * lose or double an event; the loser reads again and reapplies) and idempotent by the source
 * positions the record keeps (a replayed event changes nothing).
 */
import type { FeatureValue } from "../common/feature-value.js";
import { KeyedMutex } from "../common/keyed-mutex.js";
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
  /** `writeSource(write id)` or "kafka:{topic}/{partition}". */
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
    return { spec, field: aggregation.field, window, ...(filter ? { filter, filterText: aggregation.filter } : {}) };
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

/**
 * Encoded bytes of the decoded records an applier keeps between batches, per generation (two are
 * kept; decoded, records take several times their encoded size).
 */
const DEFAULT_GENERATION_BYTES = 16 * 1024 * 1024;

/** A record as last written by this applier: its bytes (what a compare-and-set expects) and its decoded form. */
interface CachedRecord {
  bytes: Uint8Array;
  record: TileRecord;
}

/** Applies events to aggregation views' tiles in the online store. */
export class TileApplier {
  /**
   * The records this applier wrote last, in two generations: new entries go to `current`; when it
   * is full it becomes `previous` (the one before is dropped), and a hit in `previous` moves back to
   * `current`. An approximate LRU without per-entry bookkeeping. An entity updated again skips the
   * read and the decoding: its compare-and-set expects the cached bytes, and fails (and the entry is
   * dropped) if anyone else wrote the record since.
   */
  private current = new Map<string, CachedRecord>();
  private previous = new Map<string, CachedRecord>();
  private currentBytes = 0;
  private readonly views = new KeyedMutex();

  constructor(
    private readonly online: OnlineStore,
    private readonly generationBytes = DEFAULT_GENERATION_BYTES,
  ) {}

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

  /**
   * Applies to one view's tiles, one batch at a time per view in this process: concurrent batches
   * of one process would only lose compare-and-sets to each other (the work is on one thread anyway).
   * Other processes' writes are still caught by the compare-and-set.
   */
  private applyToView(view: TiledView, byEntity: Map<string, TileEvent[]>): Promise<void> {
    return this.views.run(view.table, () => this.applyToViewNow(view, byEntity));
  }

  private async applyToViewNow(view: TiledView, byEntity: Map<string, TileEvent[]>): Promise<void> {
    let pending = [...byEntity.keys()];
    for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
      // The first round trusts the cache; a retry reads what the store holds now.
      const current = new Map<string, CachedRecord | undefined>();
      const toRead: string[] = [];
      for (const key of pending) {
        const cached = round === 0 ? this.takeCached(view.table, key) : undefined;
        if (cached) current.set(key, cached);
        else toRead.push(key);
      }
      if (toRead.length > 0) {
        const { tiles } = await this.online.readWithTiles([], [{ table: view.table, keys: toRead }]);
        toRead.forEach((key, i) => {
          const bytes = tiles[0]?.[i];
          current.set(key, bytes ? { bytes, record: decodeTileRecord(view.layout, bytes) } : undefined);
        });
      }
      const updates: TileUpdate[] = [];
      const written = new Map<string, CachedRecord>();
      for (const key of pending) {
        const stored = current.get(key);
        const record: TileRecord = stored?.record ?? { data: view.layout.empty(), positions: {} };
        let changed = false;
        for (const event of byEntity.get(key) ?? []) {
          if (wasApplied(record, event.source, event.position)) continue;
          view.layout.apply(record.data, event, event.receiptTime);
          markApplied(record, event.source, event.position);
          changed = true;
        }
        if (!changed) {
          if (stored) this.putCached(view.table, key, stored);
          continue;
        }
        const next = encodeTileRecord(view.layout, record);
        updates.push({ key, expected: stored?.bytes, next });
        written.set(key, { bytes: next, record });
      }
      const conflicts = await this.online.compareAndSetTiles(view.table, updates, view.expireAfterMs);
      const lost = new Set(conflicts);
      for (const [key, entry] of written) if (!lost.has(key)) this.putCached(view.table, key, entry);
      pending = conflicts;
    }
    if (pending.length > 0) throw new Error(`tiles of ${pending.length} entities in ${view.table} kept changing under concurrent writers`);
  }

  /** Removes and returns a cached record (it is about to be changed in place). */
  private takeCached(table: string, key: string): CachedRecord | undefined {
    const id = `${table}\n${key}`;
    const entry = this.current.get(id);
    if (entry) {
      this.current.delete(id);
      this.currentBytes -= entry.bytes.length;
      return entry;
    }
    const old = this.previous.get(id);
    if (old) this.previous.delete(id);
    return old;
  }

  /** Caches a record as written. */
  private putCached(table: string, key: string, entry: CachedRecord): void {
    this.takeCached(table, key);
    if (this.currentBytes + entry.bytes.length > this.generationBytes) {
      this.previous = this.current;
      this.current = new Map();
      this.currentBytes = 0;
    }
    this.current.set(`${table}\n${key}`, entry);
    this.currentBytes += entry.bytes.length;
  }

  /**
   * The values as of `t` (µs) of a stored tile record of `key` (undefined: no events yet), at
   * `wanted` aggregation indexes (all when unset). A record this applier wrote last is not
   * decoded again: the read path and the write path of a process share the decoded records.
   */
  valuesAsOf(view: TiledView, key: string, stored: Uint8Array | undefined, t: number, wanted?: ReadonlySet<number>): FeatureValue[] {
    if (!stored) return view.layout.valuesAsOf(view.layout.empty(), t, wanted);
    const id = `${view.table}\n${key}`;
    const cached = this.current.get(id) ?? this.previous.get(id);
    const record = cached && sameBytes(cached.bytes, stored) ? cached.record : decodeTileRecord(view.layout, stored);
    return view.layout.valuesAsOf(record.data, t, wanted);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  );
}

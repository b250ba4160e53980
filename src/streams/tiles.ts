/**
 * One entity's partial aggregates (tiles) and its values "as of t" by the window rule: what the
 * online path keeps per entity and reads in one piece. Events are applied as they are received;
 * a read at t sees exactly the events received by t (docs/streaming.md), whatever their order.
 *
 * - A received event whose event time is not ahead of its receipt time goes into its tile.
 * - An event ahead of its receipt time (a clock ahead of the server's) is kept on its own until
 *   its time has passed, so a read never counts an event later than its t.
 * - Tiles older than the longest window are folded into one base state, which only lifetime
 *   aggregations read: the state per entity stays bounded.
 */
import type { FeatureValue } from "../common/feature-value.js";
import {
  type AggregationSpec,
  type AggregationState,
  addEvent,
  emptyState,
  mergeStates,
  type PackedState,
  packState,
  resultOf,
  unpackState,
} from "./aggregations.js";
import { tileOf, type Window, windowStart } from "./window-rule.js";

/** An aggregation over a window, reading one field of the stream's events. */
export interface WindowedAggregation {
  spec: AggregationSpec;
  field: string;
  window: Window;
  /** Only events it accepts count (an aggregation filter); every event when unset. */
  filter?: (fields: Record<string, FeatureValue>) => boolean;
  /** The filter's text: aggregations that differ only in window share one state per tile. */
  filterText?: string;
}

/** One partial state kept per tile: shared by the aggregations that differ only in their window. */
interface StateSlot {
  spec: AggregationSpec;
  field: string;
  filter?: (fields: Record<string, FeatureValue>) => boolean;
}

/** An event as the tiles take it: times in microseconds, field values by name. */
export interface StreamEvent {
  eventTime: number;
  ingestTime: number;
  fields: Record<string, FeatureValue>;
}

/** The plain data an entity's tiles are, as a store keeps them. */
export interface TileData {
  /** Tile index -> one state per state slot (aggregations that differ only in window share one). */
  tiles: Map<number, AggregationState[]>;
  /** Tiles folded away as they aged out of every window (read by lifetime aggregations only). */
  base: AggregationState[];
  /** Events received before their event time, one state set each, until that time passes. */
  ahead: Array<{ eventTime: number; states: AggregationState[] }>;
  /** The latest receipt time applied: reads and applies must not go back before it. */
  now: number;
}

/**
 * Where a tile's states keep their encoded bytes until they change (they change only in place): a
 * symbol-keyed property, which encoders ignore and which is faster to reach than a WeakMap.
 */
const ENCODED = Symbol("encoded tile");
type EncodedStates = AggregationState[] & { [ENCODED]?: Uint8Array };

/** The aggregations of one feature view over one stream, and how its tiles behave. */
export class TileLayout {
  /** The longest finite window: tiles before its start as of now are folded into the base. */
  private readonly longestMicros: number | undefined;
  /** The states kept per tile, and for each aggregation the slot it reads. */
  private readonly slots: StateSlot[] = [];
  private readonly slotOf: number[];

  constructor(
    readonly aggregations: readonly WindowedAggregation[],
    /** Tile width, microseconds. */
    readonly granularity: number,
  ) {
    const finite = aggregations.flatMap((a) => (a.window === "lifetime" ? [] : [a.window.micros]));
    this.longestMicros = finite.length > 0 ? Math.max(...finite) : undefined;
    const signatures = new Map<string, number>();
    this.slotOf = aggregations.map((a) => {
      const signature = JSON.stringify([a.spec.kind, a.spec.fieldType, a.spec.k ?? 0, a.field, a.filterText ?? (a.filter ? a : "")]);
      let slot = signatures.get(signature);
      if (slot === undefined) {
        slot = this.slots.push({ spec: a.spec, field: a.field, ...(a.filter ? { filter: a.filter } : {}) }) - 1;
        signatures.set(signature, slot);
      }
      return slot;
    });
  }

  /** Tiles of a new entity. */
  empty(): TileData {
    return { tiles: new Map(), base: this.emptyStates(), ahead: [], now: Number.NEGATIVE_INFINITY };
  }

  /**
   * Applies one event received at `receiptTime`, in place. A receipt time before the latest one
   * applied (another replica's clock behind, or a replayed event) counts as that latest one.
   */
  apply(data: TileData, event: StreamEvent, receiptTime: number): void {
    this.advance(data, Math.max(receiptTime, data.now));
    if (event.eventTime > receiptTime) {
      const states = this.emptyStates();
      this.addTo(states, event);
      data.ahead.push({ eventTime: event.eventTime, states });
      return;
    }
    this.addTo(this.tileStates(data, tileOf(event.eventTime, this.granularity)), event);
  }

  /**
   * Every aggregation's value as of `t` (only those at `wanted` indexes when given; the others
   * are null). A read is never before the latest receipt applied: a `t` before it (another
   * replica's clock, slightly ahead) reads as of that receipt.
   */
  valuesAsOf(data: TileData, requested: number, wanted?: ReadonlySet<number>): FeatureValue[] {
    const t = Math.max(requested, data.now);
    const tiles = Array.from(data.tiles, ([index, states]) => ({ index, states }));
    // Merge in tile order, so that a value does not depend on the order events arrived in.
    tiles.sort((a, b) => a.index - b.index);
    const ahead = data.ahead.filter((a) => a.eventTime <= t).sort((a, b) => a.eventTime - b.eventTime);
    return this.aggregations.map((aggregation, i) => {
      if (wanted && !wanted.has(i)) return null;
      const slot = this.slotOf[i] as number;
      const merged = emptyState(aggregation.spec);
      const start = windowStart(t, aggregation.window, this.granularity);
      if (start === undefined) mergeStates(aggregation.spec, merged, data.base[slot] as AggregationState);
      const firstTile = start === undefined ? Number.NEGATIVE_INFINITY : tileOf(start, this.granularity);
      for (const tile of tiles) if (tile.index >= firstTile) mergeStates(aggregation.spec, merged, tile.states[slot] as AggregationState);
      for (const event of ahead)
        if (start === undefined || event.eventTime >= start) mergeStates(aggregation.spec, merged, event.states[slot] as AggregationState);
      return resultOf(aggregation.spec, merged);
    });
  }

  /**
   * Moves time forward: events no longer ahead go into their tiles, and tiles no finite window
   * can reach any more are folded into the base.
   */
  private advance(data: TileData, now: number): void {
    if (now < data.now) throw new RangeError(`receipt time ${now} is before the latest applied (${data.now})`);
    data.now = now;
    const due = data.ahead.filter((a) => a.eventTime <= now);
    if (due.length > 0) {
      data.ahead = data.ahead.filter((a) => a.eventTime > now);
      for (const event of due) this.mergeInto(this.tileStates(data, tileOf(event.eventTime, this.granularity)), event.states);
    }
    const oldest = this.oldestKeptTile(now);
    for (const [index, states] of data.tiles) {
      if (index >= oldest) continue;
      this.mergeInto(data.base, states);
      data.tiles.delete(index);
    }
  }

  /** The first tile a read at or after `now` can need for a finite window (−∞ without finite windows). */
  private oldestKeptTile(now: number): number {
    if (this.longestMicros === undefined || !Number.isFinite(now)) return Number.NEGATIVE_INFINITY;
    return tileOf(windowStart(now, { micros: this.longestMicros }, this.granularity) as number, this.granularity);
  }

  /** The states an event of `tile` goes into: the tile's, or the base once the tile has aged out. */
  private tileStates(data: TileData, tile: number): AggregationState[] {
    if (tile < this.oldestKeptTile(data.now)) return data.base;
    let states = data.tiles.get(tile);
    if (!states) {
      states = this.emptyStates();
      data.tiles.set(tile, states);
    }
    return states;
  }

  /** Everything but the tiles as plain arrays, for the store: the base states, the events ahead, the clock. */
  packHeader(data: TileData): unknown[] {
    return [this.packStates(data.base), data.ahead.map((a) => [a.eventTime, this.packStates(a.states)]), data.now];
  }

  /**
   * One tile as plain arrays, for the store, turned into bytes by `encode` only when the tile
   * changed since it was last encoded (an entity's busy tiles are few; its record may hold many).
   */
  tileBytes(index: number, states: AggregationState[], encode: (packed: unknown[]) => Uint8Array): Uint8Array {
    const tile = states as EncodedStates;
    let bytes = tile[ENCODED];
    if (!bytes) {
      bytes = encode([index, this.packStates(states)]);
      // Not enumerable: the states stay equal, as data, to the same states decoded.
      Object.defineProperty(tile, ENCODED, { value: bytes, writable: true, configurable: true, enumerable: false });
    }
    return bytes;
  }

  /** The data {@link packHeader} and the tiles packed. */
  unpack(header: unknown[], tiles: unknown[]): TileData {
    const [base, ahead, now] = header as [unknown[], Array<[number, unknown[]]>, number];
    const data: TileData = { tiles: new Map(), base: this.unpackStates(base), ahead: [], now };
    for (const tile of tiles as Array<[number, unknown[]]>) data.tiles.set(tile[0], this.unpackStates(tile[1]));
    for (const [eventTime, states] of ahead) data.ahead.push({ eventTime, states: this.unpackStates(states) });
    return data;
  }

  private packStates(states: AggregationState[]): unknown[] {
    return this.slots.map((slot, i) => packState(slot.spec, states[i] as AggregationState));
  }

  private unpackStates(packed: unknown[]): AggregationState[] {
    return this.slots.map((slot, i) => unpackState(slot.spec, packed[i] as PackedState));
  }

  private emptyStates(): AggregationState[] {
    return this.slots.map((slot) => emptyState(slot.spec));
  }

  private addTo(states: AggregationState[], event: StreamEvent): void {
    (states as EncodedStates)[ENCODED] = undefined;
    this.slots.forEach((aggregation, i) => {
      if (aggregation.filter && !aggregation.filter(event.fields)) return;
      addEvent(aggregation.spec, states[i] as AggregationState, {
        eventTime: event.eventTime,
        ingestTime: event.ingestTime,
        value: event.fields[aggregation.field] ?? null,
      });
    });
  }

  private mergeInto(into: AggregationState[], from: AggregationState[]): void {
    (into as EncodedStates)[ENCODED] = undefined;
    this.slots.forEach((aggregation, i) => {
      mergeStates(aggregation.spec, into[i] as AggregationState, from[i] as AggregationState);
    });
  }
}

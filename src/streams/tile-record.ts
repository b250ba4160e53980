/**
 * What the online store keeps per entity of an aggregation view version: its tiles, and the
 * source positions already applied to them, which make applying an event idempotent (a replayed
 * Kafka message or a retried write changes nothing the second time).
 */
import { Packr } from "msgpackr";
import type { TileData, TileLayout } from "./tiles.js";

/** One entity's tile record. */
export interface TileRecord {
  data: TileData;
  /**
   * Source -> the highest position applied from it. Kafka partitions ("kafka:topic/partition")
   * apply in offset order, so one number per partition says exactly what was applied. A
   * WriteEvents batch (`writeSource(write id)`, a short hash) applies its rows in order too; only
   * the most recent {@link MAX_WRITE_SOURCES} batches per entity are remembered: a retry comes soon
   * after a failed attempt, and a batch that completed has a receipt that answers any later retry.
   */
  positions: Record<string, number>;
}

/** Write-id sources remembered per entity record. */
export const MAX_WRITE_SOURCES = 16;

const WRITE_SOURCE_PREFIX = "w:";

// Bigints (exact integer sums) and infinities (an empty record's clock) must survive exactly.
const packr = new Packr({ useRecords: false, useBigIntExtension: true, mapsAsObjects: true });

/**
 * Encodes a record of `layout` for the store: a sequence of msgpack values, the header (the
 * layout's packed header and the positions) then one per tile. A tile unchanged since its last
 * encoding is copied as it was, so rewriting a record costs in proportion to what changed.
 */
export function encodeTileRecord(layout: TileLayout, record: TileRecord): Uint8Array {
  const parts: Uint8Array[] = [packr.pack([layout.packHeader(record.data), record.positions])];
  // A copy: a packed value is a view of msgpackr's shared buffer, which a cached tile must not pin.
  for (const [index, states] of record.data.tiles) parts.push(layout.tileBytes(index, states, (packed) => Buffer.from(packr.pack(packed))));
  return Buffer.concat(parts);
}

/** Decodes what {@link encodeTileRecord} wrote with the same layout. */
export function decodeTileRecord(layout: TileLayout, bytes: Uint8Array): TileRecord {
  const [header, ...tiles] = packr.unpackMultiple(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)) as unknown[];
  const [data, positions] = header as [unknown[], Record<string, number>];
  return { data: layout.unpack(data, tiles), positions };
}

/**
 * The source id of a WriteEvents batch: its write id hashed to 52 bits (FNV-1a), which keeps the
 * records small (every batch that touches an entity leaves its id there for a while); two write
 * ids colliding among an entity's most recent batches is a one in 10^14 event.
 */
export function writeSource(writeId: string): string {
  let high = 0x811c;
  let low = 0x9dc5;
  for (let i = 0; i < writeId.length; i++) {
    // 32-bit FNV-1a twice over (two seeds), kept to 52 bits: exact as a double, short in base 36.
    low = Math.imul(low ^ writeId.charCodeAt(i), 16777619) >>> 0;
    high = Math.imul(high ^ writeId.charCodeAt(i) ^ (low >>> 24), 16777619) >>> 0;
  }
  return `${WRITE_SOURCE_PREFIX}${((high & 0xfffff) * 2 ** 32 + low).toString(36)}`;
}

/** Whether the event at `position` of `source` was applied to the record already. */
export function wasApplied(record: TileRecord, source: string, position: number): boolean {
  const applied = record.positions[source];
  return applied !== undefined && position <= applied;
}

/** Marks `position` of `source` applied, forgetting the oldest write-id sources beyond the bound. */
export function markApplied(record: TileRecord, source: string, position: number): void {
  if (record.positions[source] === undefined && source.startsWith(WRITE_SOURCE_PREFIX)) {
    const writes = Object.keys(record.positions).filter((s) => s.startsWith(WRITE_SOURCE_PREFIX));
    // Object keys keep insertion order: the first ones are the oldest batches.
    for (const old of writes.slice(0, Math.max(0, writes.length - MAX_WRITE_SOURCES + 1))) delete record.positions[old];
  }
  record.positions[source] = Math.max(position, record.positions[source] ?? Number.NEGATIVE_INFINITY);
}

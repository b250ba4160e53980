/**
 * What the online store keeps per entity of an aggregation view version: its tiles, and the
 * source positions already applied to them, which make applying an event idempotent (a replayed
 * Kafka message or a retried write changes nothing the second time).
 */
import { Packr } from "msgpackr";
import type { TileData } from "./tiles.js";

/** One entity's tile record. */
export interface TileRecord {
  data: TileData;
  /**
   * Source -> the highest position applied from it. Kafka partitions ("kafka:topic/partition")
   * apply in offset order, so one number per partition says exactly what was applied. A
   * WriteEvents batch ("write:{write id}") applies its rows in order too; only the most recent
   * {@link MAX_WRITE_SOURCES} batches per entity are remembered (their receipts cover older retries).
   */
  positions: Record<string, number>;
}

/** Write-id sources remembered per entity record. */
export const MAX_WRITE_SOURCES = 64;

const WRITE_SOURCE_PREFIX = "write:";

// Bigints (exact integer sums) and infinities (an empty record's clock) must survive exactly.
const packr = new Packr({ useRecords: false, useBigIntExtension: true, mapsAsObjects: true });

/** Encodes a record for the store. */
export function encodeTileRecord(record: TileRecord): Uint8Array {
  return packr.pack(record);
}

/** Decodes what {@link encodeTileRecord} wrote. */
export function decodeTileRecord(bytes: Uint8Array): TileRecord {
  return packr.unpack(bytes) as TileRecord;
}

/** The source id of a WriteEvents batch. */
export function writeSource(writeId: string): string {
  return `${WRITE_SOURCE_PREFIX}${writeId}`;
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

/**
 * The online store port: the latest row per (feature view version, entity key), read on the hot
 * path. Backends (LMDB embedded, Redis, Redis Cluster) implement it; one contract suite
 * (online-store.contract.ts) holds them all to the same event-time rules.
 */
import type { FeatureValue } from "../../common/feature-value.js";
import type { EventReceipt } from "../../ingest/event-writer.js";
import type { WriteReceipt } from "../../ingest/model.js";

/** What a write answered, kept under its write id so a retry gets the same answer (a feature or an event batch's). */
export type Receipt = WriteReceipt | EventReceipt;

/** How long receipts of applied write ids are kept: retries later than this write again. */
export const RECEIPT_RETENTION_SECONDS = 7 * 24 * 3600;

/** The latest known row of one entity in one feature view version. Times are microseconds since the epoch. */
export interface OnlineRecord {
  eventTime: number;
  ingestTime: number;
  /** Feature name -> value; a feature that is absent was written as null. */
  values: Record<string, FeatureValue>;
}

/** The times of a record, which decide which of two records is newer. */
export type RecordTimes = Pick<OnlineRecord, "eventTime" | "ingestTime">;

/** One row to apply: the encoded entity key and its record. */
export interface OnlineWrite {
  key: string;
  record: OnlineRecord;
}

/** The keys to read from one table (a feature view version, named by {@link onlineTableName}). */
export interface OnlineLookup {
  table: string;
  keys: string[];
}

/**
 * A compare-and-set of one entity's tile record (opaque bytes to the store): written only when
 * the stored bytes are still `expected` (undefined: no record).
 */
export interface TileUpdate {
  key: string;
  expected: Uint8Array | undefined;
  next: Uint8Array;
}

/** What one read returns: the records of plain lookups and the raw tile records of tile lookups, each in order. */
export interface OnlineReadResult {
  records: Array<Array<OnlineRecord | undefined>>;
  tiles: Array<Array<Uint8Array | undefined>>;
}

/** Where the latest feature values live. */
export interface OnlineStore {
  /** The backend's name, for logs and errors. */
  readonly backend: string;
  /**
   * Applies each row unless the stored row is at least as new: newer event time wins, equal event
   * times are broken by ingestion time, and an exact tie keeps the stored row (so a retry is a
   * no-op). Resolves only when every row is durable; one store round trip per call.
   */
  write(table: string, rows: OnlineWrite[]): Promise<void>;
  /** Reads the latest record of every key of every lookup, in order, in one store round trip. */
  read(lookups: OnlineLookup[]): Promise<Array<Array<OnlineRecord | undefined>>>;
  /**
   * Reads plain records and tile records (of aggregation views, `tileLookups`) together, in one
   * store round trip: what an online read of plain and aggregated features costs.
   */
  readWithTiles(lookups: OnlineLookup[], tileLookups: OnlineLookup[]): Promise<OnlineReadResult>;
  /**
   * Applies compare-and-sets of tile records of one table atomically per record, in one round
   * trip; returns the keys whose stored record had changed since it was read (nothing written
   * for them: the caller reads and applies again). `expireAfterMs` (0: never) lets a backend
   * drop a record that no update has touched for that long.
   */
  compareAndSetTiles(table: string, updates: TileUpdate[], expireAfterMs: number): Promise<string[]>;
  /** The receipt recorded for a write id (scoped by the caller), if any and not yet expired. */
  getReceipt(key: string): Promise<Receipt | undefined>;
  /** Records the receipt of an applied write id for {@link RECEIPT_RETENTION_SECONDS}. */
  putReceipt(key: string, receipt: Receipt): Promise<void>;
  close(): Promise<void>;
}

/** The table name of a feature view's history version: unique, and stable across restarts and replicas. */
export function onlineTableName(project: string, view: string, version: number): string {
  return `${project}/${view}/${version}`;
}

/**
 * The online table of a feature view version: the one of its history version, which a run of
 * compatible versions shares.
 */
export function onlineTableOf(view: { project: string; name: string; historyVersion: number }): string {
  return onlineTableName(view.project, view.name, view.historyVersion);
}

/** The table of an aggregation view version's tile records (each version has its own). */
export function tileTableOf(view: { project: string; name: string; version: number }): string {
  return `${onlineTableName(view.project, view.name, view.version)}/tiles`;
}

/** Whether `candidate` should replace `stored` under the event-time rules. */
export function isNewer(candidate: RecordTimes, stored: RecordTimes | undefined): boolean {
  if (!stored) return true;
  if (candidate.eventTime !== stored.eventTime) return candidate.eventTime > stored.eventTime;
  return candidate.ingestTime > stored.ingestTime;
}

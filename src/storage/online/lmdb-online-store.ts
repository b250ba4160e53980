/**
 * The embedded online store: one LMDB environment under the data dir. A write batch is one LMDB
 * transaction that compares each row's times with the stored row's before replacing it; reads are
 * synchronous memory-mapped lookups (about a microsecond each), so a read call never waits on I/O.
 */
import { mkdirSync } from "node:fs";
import { type Database, open, type RootDatabase } from "lmdb";
import { StoreUnavailableError } from "../../common/errors.js";
import type { Receipt } from "./online-store.js";
import {
  isNewer,
  type OnlineLookup,
  type OnlineReadResult,
  type OnlineRecord,
  type OnlineStore,
  type OnlineWrite,
  RECEIPT_RETENTION_SECONDS,
  type TileUpdate,
} from "./online-store.js";
import { decodeRecord, decodeTimes, encodeRecord } from "./record-codec.js";

/** Opens (creating if needed) the embedded online store in `directory`. */
export function openLmdbOnlineStore(directory: string): LmdbOnlineStore {
  mkdirSync(directory, { recursive: true });
  try {
    const root = open({ path: directory, compression: false });
    return new LmdbOnlineStore(root, root.openDB({ name: "latest", encoding: "binary" }), root.openDB({ name: "receipts" }));
  } catch (error) {
    throw new StoreUnavailableError(`embedded online store at ${directory}`, error);
  }
}

/**
 * One string per row: a table name ("project/view/version") cannot contain a newline, so the
 * pair is unambiguous; one string encodes faster than a [table, key] tuple.
 */
function lmdbKey(table: string, key: string): string {
  return `${table}\n${key}`;
}

/** {@link OnlineStore} on LMDB. Keys are "table\nentity key" strings. */
export class LmdbOnlineStore implements OnlineStore {
  readonly backend = "lmdb";
  private pruneCursor?: string;

  constructor(
    private readonly root: RootDatabase,
    private readonly latest: Database<Buffer, string>,
    private readonly receipts: Database<{ receipt: Receipt; expiresAt: number }, string>,
  ) {}

  async write(table: string, rows: OnlineWrite[]): Promise<void> {
    try {
      await this.latest.transaction(() => {
        for (const { key, record } of rows) {
          const rowKey = lmdbKey(table, key);
          // A view of LMDB's shared read buffer, valid until the next read: only the times are needed.
          const stored = this.latest.getBinaryFast(rowKey);
          if (!stored || isNewer(record, decodeTimes(stored))) this.latest.put(rowKey, encodeRecord(record));
        }
      });
    } catch (error) {
      throw new StoreUnavailableError("embedded online store", error);
    }
  }

  async read(lookups: OnlineLookup[]): Promise<Array<Array<OnlineRecord | undefined>>> {
    return (await this.readWithTiles(lookups, [])).records;
  }

  async readWithTiles(lookups: OnlineLookup[], tileLookups: OnlineLookup[]): Promise<OnlineReadResult> {
    try {
      const records = lookups.map(({ table, keys }) =>
        keys.map((key) => {
          // Decoded at once (into copies) from LMDB's shared read buffer, which the next read reuses.
          const stored = this.latest.getBinaryFast(lmdbKey(table, key));
          return stored ? decodeRecord(stored) : undefined;
        }),
      );
      const tiles = tileLookups.map(({ table, keys }) => keys.map((key) => this.latest.getBinary(lmdbKey(table, key)) ?? undefined));
      return { records, tiles };
    } catch (error) {
      throw new StoreUnavailableError("embedded online store", error);
    }
  }

  async compareAndSetTiles(table: string, updates: TileUpdate[]): Promise<string[]> {
    const conflicts: string[] = [];
    try {
      await this.latest.transaction(() => {
        for (const { key, expected, next } of updates) {
          const rowKey = lmdbKey(table, key);
          const stored = this.latest.getBinaryFast(rowKey);
          const unchanged = stored === undefined ? expected === undefined : expected !== undefined && sameBytes(stored, expected);
          if (unchanged) this.latest.put(rowKey, Buffer.from(next.buffer, next.byteOffset, next.byteLength));
          else conflicts.push(key);
        }
      });
    } catch (error) {
      throw new StoreUnavailableError("embedded online store", error);
    }
    return conflicts;
  }

  async getReceipt(key: string): Promise<Receipt | undefined> {
    const stored = this.receipts.get(key);
    return stored && stored.expiresAt > Date.now() ? stored.receipt : undefined;
  }

  async putReceipt(key: string, receipt: Receipt): Promise<void> {
    const now = Date.now();
    try {
      await this.receipts.transaction(() => {
        this.receipts.put(key, { receipt, expiresAt: now + RECEIPT_RETENTION_SECONDS * 1000 });
        this.pruneExpiredReceipts(now);
      });
    } catch (error) {
      throw new StoreUnavailableError("embedded online store", error);
    }
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  /** Removes a few expired receipts per write, so the ledger stays bounded without a sweeper. */
  private pruneExpiredReceipts(now: number): void {
    let checked = 0;
    for (const { key, value } of this.receipts.getRange({ start: this.pruneCursor })) {
      if (++checked > 16) {
        this.pruneCursor = key;
        return;
      }
      if (value.expiresAt <= now) this.receipts.remove(key);
    }
    this.pruneCursor = undefined;
  }
}

/** Byte equality; `length` bounds LMDB's reusable read buffer (see decodeRecord). */
function sameBytes(stored: Uint8Array, expected: Uint8Array): boolean {
  return stored.length === expected.length && Buffer.compare(Buffer.from(stored.buffer, stored.byteOffset, stored.length), expected) === 0;
}

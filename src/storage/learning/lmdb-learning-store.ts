/**
 * The embedded learning store: an LMDB environment under the data dir. Log entries are keyed
 * [learner, "log", position]; every append, checkpoint and lease change is one LMDB transaction,
 * so a crash (kill -9 included) leaves each whole or absent. Leases work across the processes of
 * one machine that share the directory.
 */
import { mkdirSync } from "node:fs";
import { open, type RootDatabase } from "lmdb";
import { StoreUnavailableError } from "../../common/errors.js";
import type { CursorMove, LearningStore, LeaseOutcome, LogEntry } from "./learning-store.js";

interface Lease {
  holder: string;
  /** Milliseconds since the epoch. */
  expires: number;
}

/** Opens (creating if needed) the embedded learning store in `directory`. */
export function openLmdbLearningStore(directory: string): LmdbLearningStore {
  mkdirSync(directory, { recursive: true });
  try {
    return new LmdbLearningStore(open({ path: directory, compression: false, encoding: "msgpack" }));
  } catch (error) {
    throw new StoreUnavailableError(`embedded learning store at ${directory}`, error);
  }
}

/** {@link LearningStore} on LMDB. */
export class LmdbLearningStore implements LearningStore {
  readonly backend = "lmdb";

  constructor(private readonly db: RootDatabase) {}

  async append(learner: string, entries: readonly Uint8Array[]): Promise<number> {
    return this.db.transaction(() => this.appendNow(learner, entries));
  }

  async appendMovingCursor(learner: string, entries: readonly Uint8Array[], cursor: CursorMove): Promise<number | undefined> {
    return this.db.transaction(() => {
      if (this.db.get([learner, "cursor", cursor.name]) !== cursor.expected) return undefined;
      this.db.put([learner, "cursor", cursor.name], cursor.value);
      return this.appendNow(learner, entries);
    });
  }

  /** Appends inside the caller's transaction. */
  private appendNow(learner: string, entries: readonly Uint8Array[]): number {
    let last: number = this.db.get([learner, "last"]) ?? 0;
    for (const entry of entries) this.db.put([learner, "log", ++last], entry);
    this.db.put([learner, "last"], last);
    return last;
  }

  async read(learner: string, after: number, limit: number): Promise<LogEntry[]> {
    const entries: LogEntry[] = [];
    for (const { key, value } of this.db.getRange({
      start: [learner, "log", after + 1],
      end: [learner, "log", Number.MAX_SAFE_INTEGER],
      limit,
    })) {
      entries.push({ position: (key as [string, string, number])[2], value: toBytes(value) });
    }
    return entries;
  }

  async trim(learner: string, through: number): Promise<number> {
    return this.db.transaction(() => {
      let deleted = 0;
      for (const key of this.db.getKeys({ start: [learner, "log", 0], end: [learner, "log", through + 1] })) {
        this.db.remove(key);
        deleted++;
      }
      return deleted;
    });
  }

  async lastPosition(learner: string): Promise<number> {
    return this.db.get([learner, "last"]) ?? 0;
  }

  async cursor(learner: string, name: string): Promise<string | undefined> {
    return this.db.get([learner, "cursor", name]);
  }

  async putCheckpoint(learner: string, slot: string, bytes: Uint8Array, holder?: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (holder !== undefined && !this.holds(learner, holder)) return false;
      this.db.put([learner, "checkpoint", slot], bytes);
      return true;
    });
  }

  async getCheckpoint(learner: string, slot: string): Promise<Uint8Array | undefined> {
    const value = this.db.get([learner, "checkpoint", slot]);
    return value === undefined ? undefined : toBytes(value);
  }

  async acquireLease(learner: string, holder: string, ttlMs: number): Promise<LeaseOutcome> {
    return this.db.transaction(() => {
      const lease: Lease | undefined = this.db.get([learner, "lease"]);
      const live = lease !== undefined && lease.expires > Date.now();
      if (live && lease.holder !== holder) return "refused";
      this.db.put([learner, "lease"], { holder, expires: Date.now() + ttlMs } satisfies Lease);
      return live ? "extended" : "taken";
    });
  }

  async releaseLease(learner: string, holder: string): Promise<void> {
    await this.db.transaction(() => {
      if (this.holds(learner, holder)) this.db.remove([learner, "lease"]);
    });
  }

  async leaseHolder(learner: string): Promise<string | undefined> {
    const lease: Lease | undefined = this.db.get([learner, "lease"]);
    return lease && lease.expires > Date.now() ? lease.holder : undefined;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private holds(learner: string, holder: string): boolean {
    const lease: Lease | undefined = this.db.get([learner, "lease"]);
    return lease !== undefined && lease.holder === holder && lease.expires > Date.now();
  }
}

/** msgpack gives Buffers back for binary values; the port speaks Uint8Array. */
function toBytes(value: unknown): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
}

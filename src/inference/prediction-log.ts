/**
 * The prediction log: every prediction (stable, canary or shadow) is appended to the offline
 * store, which monitoring and the next training set read. Records are buffered and written in
 * batches off the response path; when the offline store is slow or down the buffer is bounded,
 * and records that do not fit are dropped (counted, and logged once per flush) rather than the
 * server's memory or latency.
 */
import type { Logger } from "pino";
import type { OfflineStore, PredictionRecord } from "../storage/offline/offline-store.js";

/** Records kept waiting at most, as a multiple of one flush, while the store does not take them. */
const BUFFER_FLUSHES = 100;

/** Buffers prediction records and appends them in batches. */
export class PredictionLog {
  private buffers = new Map<string, PredictionRecord[]>();
  private buffered = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  /** Records dropped: the buffer was full, or the store refused them. */
  dropped = 0;
  /** Records dropped for a full buffer since the last flush, logged by it. */
  private overflowed = 0;

  constructor(
    private readonly offline: OfflineStore,
    private readonly flushRows: number,
    flushMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  /** Adds a record of `project`; never waits. */
  record(project: string, record: PredictionRecord): void {
    if (this.buffered >= this.flushRows * BUFFER_FLUSHES) {
      this.dropped++;
      this.overflowed++;
      return;
    }
    let buffer = this.buffers.get(project);
    if (!buffer) {
      buffer = [];
      this.buffers.set(project, buffer);
    }
    buffer.push(record);
    if (++this.buffered >= this.flushRows) void this.flush();
  }

  /** Writes what is buffered; resolves once it is stored (or failed, which is logged). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.overflowed > 0) {
        this.logger.warn({ records: this.overflowed, buffered: this.buffered }, "prediction log buffer full: dropped records");
        this.overflowed = 0;
      }
      const buffers = this.buffers;
      if (this.buffered === 0) return;
      this.buffers = new Map();
      this.buffered = 0;
      for (const [project, records] of buffers) {
        try {
          await this.offline.appendPredictions(project, records);
        } catch (error) {
          this.dropped += records.length;
          this.logger.warn(
            { err: error, records: records.length, project },
            "could not write predictions to the offline store; dropped them",
          );
        }
      }
    });
    return this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

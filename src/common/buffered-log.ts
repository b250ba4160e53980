/**
 * A log whose records are appended to a store in batches, off the request path: records are
 * buffered per project and flushed when enough are waiting or on a timer. When the store is slow
 * or down the buffer is bounded, and records that do not fit are dropped (counted, and logged once
 * per flush) rather than costing the server's memory or latency.
 */
import type { Logger } from "pino";

/** Records kept waiting at most, as a multiple of one flush, while the store does not take them. */
const BUFFER_FLUSHES = 100;

/** Buffers records and appends them in batches with `append`. */
export class BufferedLog<T> {
  private buffers = new Map<string, T[]>();
  private buffered = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  /** Records dropped: the buffer was full, or the store refused them. */
  dropped = 0;
  /** Records dropped for a full buffer since the last flush, logged by it. */
  private overflowed = 0;

  constructor(
    /** Names the log in messages ("prediction log"). */
    private readonly name: string,
    private readonly append: (project: string, records: T[]) => Promise<void>,
    private readonly flushRows: number,
    flushMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  /** Adds a record of `project`; never waits. */
  record(project: string, record: T): void {
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
        this.logger.warn({ records: this.overflowed, buffered: this.buffered }, `${this.name} buffer full: dropped records`);
        this.overflowed = 0;
      }
      const buffers = this.buffers;
      if (this.buffered === 0) return;
      this.buffers = new Map();
      this.buffered = 0;
      for (const [project, records] of buffers) {
        try {
          await this.append(project, records);
        } catch (error) {
          this.dropped += records.length;
          this.logger.warn(
            { err: error, records: records.length, project },
            `could not write the ${this.name} to the offline store; dropped records`,
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

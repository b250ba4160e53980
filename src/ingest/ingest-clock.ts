/**
 * Ingestion times in microseconds, strictly increasing within a process, so two batches with the
 * same event time are always ordered by arrival even inside one millisecond.
 */
export class IngestClock {
  private last = 0;

  constructor(private readonly nowMillis: () => number = Date.now) {}

  /** The next ingestion time: now, or one microsecond after the previous one. */
  next(): number {
    this.last = Math.max(this.nowMillis() * 1000, this.last + 1);
    return this.last;
  }
}

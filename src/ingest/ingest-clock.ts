/**
 * Ingestion times in microseconds, strictly increasing within a process, so rows with the same
 * event time are always ordered by arrival, even inside one millisecond or one batch.
 */
export class IngestClock {
  private last = 0;

  constructor(private readonly nowMillis: () => number = Date.now) {}

  /**
   * Reserves `count` consecutive ingestion times and returns the first: now, or just after the
   * last one handed out. Row i of a batch takes first + i, so a later row wins a tie.
   */
  next(count = 1): number {
    const first = Math.max(this.nowMillis() * 1000, this.last + 1);
    this.last = first + Math.max(count, 1) - 1;
    return first;
  }
}

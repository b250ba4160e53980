/**
 * Shadow work off the response path: a bounded queue of request copies, handed over in batches
 * (up to `maxBatch` copies, after at most `maxDelayMs`) to one batch run at a time. Batching lets
 * a shadow version run once over many requests' rows, so shadows cost live traffic a fraction of a
 * model run per request instead of a run and two thread hand-offs each. A full queue sheds the new
 * copy (the caller counts it), so shadows can never slow live traffic down or grow memory without
 * bound.
 */

/** How copies are grouped into batches. */
export interface ShadowBatching {
  /** Copies handed over at most at once. */
  maxBatch: number;
  /** How long the first copy of a batch waits for others. */
  maxDelayMs: number;
}

/** Queues items and runs them in batches, one batch at a time. */
export class ShadowQueue<T> {
  private items: T[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly capacity: number,
    /** Runs one batch; handles its own failures (a rejection is ignored). */
    private readonly runBatch: (batch: T[]) => Promise<void>,
    private readonly batching: ShadowBatching = { maxBatch: 64, maxDelayMs: 2 },
  ) {}

  /** Queues an item; false (and nothing queued) when the queue is full. */
  submit(item: T): boolean {
    if (this.items.length >= this.capacity) return false;
    this.items.push(item);
    this.schedule();
    return true;
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.items.length === 0 && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running) return; // the running batch hands over the next when it ends
    if (this.items.length >= this.batching.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => this.drain());
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, this.batching.maxDelayMs);
    }
  }

  private drain(): void {
    if (this.running || this.items.length === 0) return;
    this.running = true;
    const batch = this.items.splice(0, this.batching.maxBatch);
    this.runBatch(batch)
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        // What queued meanwhile has waited a whole batch already: it goes next, without the delay.
        if (this.items.length > 0) setImmediate(() => this.drain());
        else for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }
}

/**
 * Shadow work off the response path: a bounded queue drained a few tasks at a time after the
 * responses that caused them have been sent. A full queue sheds the new task (the caller counts
 * it), so shadows can never slow stable traffic down or grow memory without bound.
 */
export class ShadowQueue {
  private readonly tasks: Array<() => Promise<void>> = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly capacity: number,
    /** Tasks run at once; shadows share the machine with stable traffic. */
    private readonly concurrency = 2,
  ) {}

  /** Queues a task; false (and nothing queued) when the queue is full. */
  submit(task: () => Promise<void>): boolean {
    if (this.tasks.length >= this.capacity) return false;
    this.tasks.push(task);
    // After the current turn, so the response that caused it is on its way first.
    setImmediate(() => this.drain());
    return true;
  }

  /** Resolves once no task is queued or running. */
  idle(): Promise<void> {
    if (this.tasks.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.running < this.concurrency && this.tasks.length > 0) {
      const task = this.tasks.shift() as () => Promise<void>;
      this.running++;
      // Tasks handle their own failures; the queue only keeps going.
      task()
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          if (this.tasks.length > 0) this.drain();
          else if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        });
    }
  }
}

/**
 * A mean over the last `window` values, kept in a ring buffer. The running sum is recomputed from
 * the buffer each time the ring wraps, so floating-point drift from add-then-subtract stays bounded;
 * every step is deterministic, so a restored copy continues bit for bit.
 */
import type { StateReader, StateWriter } from "./binary.js";

/** Rolling sum and mean of the most recent `window` values. */
export class RollingMean {
  private readonly values: Float64Array;
  private next = 0;
  private filled = 0;
  private total = 0;

  constructor(readonly window: number) {
    this.values = new Float64Array(window);
  }

  push(value: number): void {
    if (this.filled === this.window) this.total -= this.values[this.next] as number;
    else this.filled++;
    this.values[this.next] = value;
    this.total += value;
    this.next++;
    if (this.next === this.window) {
      this.next = 0;
      // Resum once per wrap: bounded drift at an amortised cost of one add per push.
      let sum = 0;
      for (let i = 0; i < this.filled; i++) sum += this.values[i] as number;
      this.total = sum;
    }
  }

  /** How many values the window holds (at most `window`). */
  get count(): number {
    return this.filled;
  }

  get sum(): number {
    return this.total;
  }

  /** The mean of the window; NaN while it is empty. */
  mean(): number {
    return this.filled === 0 ? Number.NaN : this.total / this.filled;
  }

  write(w: StateWriter): void {
    w.u32(this.next);
    w.u32(this.filled);
    w.f64(this.total);
    w.f64s(this.values);
  }

  read(r: StateReader): void {
    this.next = r.u32();
    this.filled = r.u32();
    this.total = r.f64();
    this.values.set(r.f64s(this.window));
  }
}

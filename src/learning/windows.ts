/**
 * Prequential metrics per event-time window: window `[k·width, (k+1)·width)` holds the examples
 * whose event time falls in it, whenever they arrive. The newest `keep` windows are kept; an
 * example older than all of them (very late) counts in the cumulative and rolling metrics only.
 */
import type { StateReader, StateWriter } from "./binary.js";
import { type EvaluationTask, type Metrics, PrequentialEvaluator } from "./prequential.js";

/** One window's metrics; times in the unit of the event times recorded. */
export interface WindowedMetrics {
  start: number;
  end: number;
  metrics: Metrics;
}

/** Prequential metrics of the newest event-time windows. */
export class WindowedEvaluator {
  /** Window start → its evaluator (cumulative metrics only: a rolling window of 1 keeps it small). */
  private readonly windows = new Map<number, PrequentialEvaluator>();

  constructor(
    readonly task: EvaluationTask,
    readonly width: number,
    readonly keep = 24,
  ) {}

  /** Records a prediction against its label in the window of `eventTime`. */
  record(eventTime: number, prediction: number | Float64Array, label: number | boolean): void {
    const start = Math.floor(eventTime / this.width) * this.width;
    let evaluator = this.windows.get(start);
    if (!evaluator) {
      const starts = [...this.windows.keys()];
      if (starts.length >= this.keep && start < Math.min(...starts)) return;
      evaluator = new PrequentialEvaluator(this.task, 1);
      this.windows.set(start, evaluator);
      if (this.windows.size > this.keep) this.windows.delete(Math.min(...this.windows.keys()));
    }
    evaluator.record(prediction, label);
  }

  /** The kept windows, newest first. */
  metrics(): WindowedMetrics[] {
    return [...this.windows.entries()]
      .sort(([a], [b]) => b - a)
      .map(([start, evaluator]) => ({ start, end: start + this.width, metrics: evaluator.cumulative() }));
  }

  write(w: StateWriter): void {
    const starts = [...this.windows.keys()].sort((a, b) => a - b);
    w.u32(starts.length);
    for (const start of starts) {
      w.f64(start);
      (this.windows.get(start) as PrequentialEvaluator).write(w);
    }
  }

  read(r: StateReader): void {
    this.windows.clear();
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const start = r.f64();
      const evaluator = new PrequentialEvaluator(this.task, 1);
      evaluator.read(r);
      this.windows.set(start, evaluator);
    }
  }
}

/**
 * Tiny models on the main thread. Handing a request to an inference worker and back costs tens of
 * microseconds (a message each way and a thread wake-up), several times what a small model's own
 * run costs. A model whose runs are measured, at load, to take at most `maxMicros` also gets a
 * session on the main thread and runs there, in the request's own turn, for requests of up to the
 * rows it was measured at; everything else still goes to the workers. onnxruntime's run blocks the
 * thread that calls it, so the bound is what a request stalls the event loop for; a model whose
 * runs later drift well above it (the median of its last 64 runs over 4× the bound) goes back to the workers for good.
 */
import type { Logger } from "pino";
import type { OnnxModel } from "./onnx-session.js";
import type { ModelSignature, Tensor, TensorLimits } from "./tensors.js";

/** Runs timed per row count when a model is measured. */
const CALIBRATION_RUNS = 200;
/** The row counts a model is measured at: a batch's worth, then a single row. */
const CALIBRATION_ROWS = [64, 1] as const;
/** Runs whose median decides whether a model still runs inline (a median, so a GC pause in one run does not count). */
const DRIFT_WINDOW = 64;
/** How far above the bound that median may drift before the model goes back to the workers. */
const DRIFT_MARGIN = 4;

type OnnxSession = typeof import("./onnx-session.js");

interface InlineModel {
  /** onnxruntime, as loaded on this thread: a run needs no await before the model's own. */
  onnx: OnnxSession;
  model: OnnxModel;
  /** Requests of at most this many rows run inline. */
  maxRows: number;
  /** Smoothed microseconds per run. */
  /** The latest runs' microseconds, a ring of {@link DRIFT_WINDOW}, and how many runs it has seen. */
  recent: Float64Array;
  runs: number;
}

/** The main-thread sessions of the models that run inline. */
export class InlineRunner {
  private readonly models = new Map<string, InlineModel>();
  private onnx: Promise<OnnxSession> | undefined;

  constructor(
    /** Longest a model's run may take (90th percentile at load) to run inline; 0 turns inline runs off. */
    private readonly maxMicros: number,
    private readonly limits: TensorLimits,
    private readonly logger: Logger,
  ) {}

  /** How many rows a request for `key` may have to run inline; 0 when it runs in the workers. */
  maxRows(key: string): number {
    return this.models.get(key)?.maxRows ?? 0;
  }

  /**
   * Measures a loaded model on the main thread and keeps its session there when its runs are
   * fast enough: at 64 rows (a batchable model then runs inline up to 64 rows), else at one row.
   * A model that cannot run here, or runs too slowly, simply stays in the workers.
   */
  async consider(key: string, bytes: Uint8Array, signature: ModelSignature): Promise<void> {
    if (this.maxMicros <= 0 || this.models.has(key)) return;
    let model: OnnxModel | undefined;
    try {
      const onnx = await this.onnxSession();
      model = await onnx.loadOnnxModel(bytes, onnx.onnxSessionOptions(1), this.limits);
      const measured: Record<number, number> = {};
      let maxRows = 0;
      for (const rows of signature.batchable ? CALIBRATION_ROWS : ([1] as const)) {
        measured[rows] = await this.percentile90(onnx, model, rows);
        if (measured[rows] <= this.maxMicros) {
          // A model with a fixed first dimension runs one shape only, whatever its row count.
          maxRows = signature.batchable ? rows : Number.POSITIVE_INFINITY;
          break;
        }
      }
      if (maxRows === 0) {
        this.logger.debug({ model_key: key, p90Micros: measured, inlineMaxMicros: this.maxMicros }, "model runs in the inference workers");
        await model.session.release();
        return;
      }
      this.models.set(key, { onnx, model, maxRows, recent: new Float64Array(DRIFT_WINDOW), runs: 0 });
      this.logger.info({ model_key: key, p90Micros: measured, maxRows, inlineMaxMicros: this.maxMicros }, "model runs inline");
    } catch (error) {
      await model?.session.release().catch(() => undefined);
      this.logger.warn({ model_key: key, err: error }, "model could not be measured for inline runs; it runs in the inference workers");
    }
  }

  /**
   * Runs a request inline (inputs in signature order); the caller checked {@link maxRows}. Returns
   * the outputs in signature order and the run's microseconds.
   */
  async run(key: string, inputs: readonly Tensor[], maxOutputElements: number): Promise<{ outputs: Tensor[]; micros: number }> {
    const inline = this.models.get(key);
    if (!inline) throw new Error(`model ${key} does not run inline`);
    const ran = await inline.onnx.runOnnxModel(inline.model, inputs, maxOutputElements);
    inline.recent[inline.runs++ % DRIFT_WINDOW] = ran.micros;
    if (inline.runs % DRIFT_WINDOW === 0 && this.models.get(key) === inline) {
      const median = [...inline.recent].sort((a, b) => a - b)[DRIFT_WINDOW / 2] ?? 0;
      if (median > DRIFT_MARGIN * this.maxMicros) {
        // Slower than measured (a busier machine, larger requests): the workers take it from here.
        this.models.delete(key);
        this.logger.warn(
          { model_key: key, medianMicros: median, inlineMaxMicros: this.maxMicros },
          "model runs slower than inline runs allow; it runs in the inference workers from now on",
        );
        setImmediate(() => void inline.model.session.release().catch(() => undefined));
      }
    }
    return ran;
  }

  /** Whether `error` is a run whose outputs were over the limit. */
  async isOutputTooLarge(error: unknown): Promise<boolean> {
    return error instanceof (await this.onnxSession()).OutputTooLargeError;
  }

  /** Drops a model's inline session (runs already started have finished: the pool drains them first). */
  async release(key: string): Promise<void> {
    const inline = this.models.get(key);
    this.models.delete(key);
    await inline?.model.session.release();
  }

  /** Drops every inline session. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.models.keys()].map((key) => this.release(key)));
  }

  private async percentile90(onnx: OnnxSession, model: OnnxModel, rows: number): Promise<number> {
    const inputs = onnx.warmUpInputs(model.signature, rows);
    const micros: number[] = [];
    for (let run = 0; run < CALIBRATION_RUNS; run++) {
      micros.push((await onnx.runOnnxModel(model, inputs, this.limits.maxOutputElements)).micros);
      // A model plainly too slow is not timed 200 times (a large one would hold its load up for seconds).
      if (run === 9 && ([...micros].sort((a, b) => a - b)[5] ?? 0) > 2 * this.maxMicros) return Number.POSITIVE_INFINITY;
    }
    micros.sort((a, b) => a - b);
    return micros[Math.floor(micros.length * 0.9)] ?? Number.POSITIVE_INFINITY;
  }

  /** onnxruntime, loaded on this thread only once a model is considered. */
  private onnxSession(): Promise<OnnxSession> {
    this.onnx ??= import("./onnx-session.js");
    return this.onnx;
  }
}

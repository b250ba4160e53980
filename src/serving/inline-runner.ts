/**
 * Tiny models on the main thread. Handing a request to an inference worker and back costs tens of
 * microseconds (a message each way and a thread wake-up), several times what a small model's own
 * run costs. A model whose runs are measured, at load, to take at most `maxMicros` also gets a
 * session on the main thread and runs there, in the request's own turn, for requests of up to the
 * rows it was measured at; everything else still goes to the workers. onnxruntime's run blocks the
 * thread that calls it, so the bound is what a request stalls the event loop for; a model whose
 * runs later drift well above it (the median of its last 64 runs over 4× the bound) goes back to the workers for good.
 *
 * A model small enough may run in the graph evaluator (graph-evaluator.ts) instead of onnxruntime: for
 * a few dozen multiply-adds, onnxruntime's run is mostly the fixed cost of its native call. The
 * evaluator is used only for a graph it supports whose outputs agree with onnxruntime's on probe
 * inputs, for the requests of up to the rows it fits the bound at.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Logger } from "pino";
import { compileGraph, type GraphEvaluator } from "./graph-evaluator.js";
import type { OnnxModel } from "./onnx-session.js";
import { elementCount, type ModelSignature, type Tensor, type TensorLimits } from "./tensors.js";

/** Runs timed per row count when a model is measured... */
const CALIBRATION_RUNS = 200;
/**
 * ...after up to this many untimed ones, for at most {@link CALIBRATION_WARMUP_MS}: V8 compiles the
 * evaluator's loops to machine code only after some hundreds of runs (at 64 rows, about 35 µs a run
 * for the first hundred, 5 µs after a thousand).
 */
const CALIBRATION_WARMUP_RUNS = 1000;
const CALIBRATION_WARMUP_MS = 20;
/** The row counts a model is measured at: a batch's worth, then a single row. */
const CALIBRATION_ROWS = [64, 1] as const;
/** Runs whose median decides whether a model still runs inline (a median, so a GC pause in one run does not count). */
const DRIFT_WINDOW = 64;
/** How far above the bound that median may drift before the model goes back to the workers. */
const DRIFT_MARGIN = 4;
/**
 * How far the graph evaluator's outputs may be from onnxruntime's on the probe inputs: both store
 * float32, but sum in different orders (and onnxruntime approximates some functions), so the last bits
 * may differ; a graph off by more than this is left to onnxruntime.
 */
const AGREEMENT = { absolute: 1e-5, relative: 1e-4 } as const;

type OnnxSession = typeof import("./onnx-session.js");

/** What runs a model inline: its onnxruntime session on this thread, or the graph evaluator (graph-evaluator.ts). */
interface InlineEngine {
  name: "onnxruntime" | "evaluator";
  /** Runs inputs in signature order; the outputs in signature order and the run's microseconds. */
  run(inputs: readonly Tensor[], maxOutputElements: number): Promise<{ outputs: Tensor[]; micros: number }>;
  release(): Promise<void>;
}

/** An engine as measured: the most rows a request may have to run on it inline (0: none), and its runs' 90th percentile per row count tried. */
interface Fit {
  engine: InlineEngine;
  maxRows: number;
  p90Micros: Record<number, number>;
}

interface InlineModel {
  /**
   * The engines kept, each with the most rows it takes: the evaluator first when kept, then
   * onnxruntime only when it takes more rows. A request runs on the first that takes its rows.
   */
  engines: readonly { engine: InlineEngine; maxRows: number }[];
  /** The latest runs' microseconds, a ring of {@link DRIFT_WINDOW}, and how many runs it has seen. */
  recent: Float64Array;
  runs: number;
  /** Runs started and not yet ended: a model sent back to the workers is released once none is left. */
  inFlight: number;
  /** Sent back to the workers by the drift check. */
  retired: boolean;
}

/** The main-thread engines of the models that run inline. */
export class InlineRunner {
  private readonly models = new Map<string, InlineModel>();
  private onnx: Promise<OnnxSession> | undefined;
  /** Set by close: a model measured after it is not kept (nothing would release it). */
  private closed = false;

  constructor(
    /** Longest a model's run may take (90th percentile at load) to run inline; 0 turns inline runs off. */
    private readonly maxMicros: number,
    private readonly limits: TensorLimits,
    private readonly logger: Logger,
    /** Whether graphs the evaluator supports may run in it (serving.graphEvaluator). */
    private readonly useEvaluator = true,
  ) {}

  /** How many rows a request for `key` may have to run inline; 0 when it runs in the workers. */
  maxRows(key: string): number {
    return this.models.get(key)?.engines.at(-1)?.maxRows ?? 0;
  }

  /**
   * Measures a loaded model on the main thread and keeps it there when its runs are fast enough: at
   * 64 rows (a batchable model then runs inline up to 64 rows), else at one row. Both engines are
   * measured when the graph evaluator supports the model and agrees with onnxruntime on probe
   * inputs: the evaluator is kept for the rows it fits, and onnxruntime beside it for more rows only
   * if it fits them. The timing loop runs hot, so it does not show what the evaluator saves a real
   * request (the native call, onnxruntime's own setImmediate turn, its code gone cold between
   * requests): at equal rows the evaluator is preferred, not the faster in the loop. A model that
   * cannot run here, or runs too slowly, simply stays in the workers.
   */
  async consider(key: string, bytes: Uint8Array, signature: ModelSignature): Promise<void> {
    if (this.maxMicros <= 0 || this.closed || this.models.has(key)) return;
    const engines: InlineEngine[] = [];
    const kept: InlineEngine[] = [];
    try {
      const onnx = await this.onnxSession();
      const session = onnxEngine(onnx, await onnx.loadOnnxModel(bytes, onnx.onnxSessionOptions(1), this.limits));
      engines.push(session);
      const evaluator = this.useEvaluator ? await this.agreeingEvaluator(key, bytes, signature, onnx, session) : undefined;
      if (evaluator) engines.push(evaluator);
      const fits: Fit[] = [];
      for (const engine of engines) {
        try {
          fits.push(await this.fit(engine, signature, onnx));
        } catch (error) {
          this.logger.warn(
            { model_key: key, engine: engine.name, err: error },
            "model could not be measured on this engine for inline runs",
          );
        }
      }
      const measured = Object.fromEntries(fits.map((fit) => [fit.engine.name, fit.p90Micros]));
      // Evaluator first (measured last), then each engine only where it takes more rows than those before it.
      const chosen: { engine: InlineEngine; maxRows: number }[] = [];
      for (const fit of [...fits].reverse()) {
        if (fit.maxRows > (chosen.at(-1)?.maxRows ?? 0)) chosen.push({ engine: fit.engine, maxRows: fit.maxRows });
      }
      const last = chosen.at(-1);
      if (!last || this.closed) {
        this.logger.debug({ model_key: key, p90Micros: measured, inlineMaxMicros: this.maxMicros }, "model runs in the inference workers");
        return;
      }
      kept.push(...chosen.map((c) => c.engine));
      this.models.set(key, {
        engines: chosen,
        recent: new Float64Array(DRIFT_WINDOW),
        runs: 0,
        inFlight: 0,
        retired: false,
      });
      this.logger.info(
        {
          model_key: key,
          engines: chosen.map((c) => `${c.engine.name} up to ${c.maxRows} rows`),
          p90Micros: measured,
          maxRows: last.maxRows,
          inlineMaxMicros: this.maxMicros,
        },
        "model runs inline",
      );
    } catch (error) {
      this.logger.warn({ model_key: key, err: error }, "model could not be measured for inline runs; it runs in the inference workers");
    } finally {
      await Promise.all(engines.filter((engine) => !kept.includes(engine)).map((engine) => engine.release().catch(() => undefined)));
    }
  }

  /**
   * Runs a request of `rows` rows inline (inputs in signature order); the caller checked
   * {@link maxRows}. Returns the outputs in signature order and the run's microseconds.
   */
  async run(
    key: string,
    inputs: readonly Tensor[],
    rows: number,
    maxOutputElements: number,
  ): Promise<{ outputs: Tensor[]; micros: number }> {
    const inline = this.models.get(key);
    const engine = inline?.engines.find((e) => rows <= e.maxRows)?.engine;
    if (!inline || !engine) throw new Error(`model ${key} does not run inline at ${rows} rows`);
    inline.inFlight++;
    try {
      const ran = await engine.run(inputs, maxOutputElements);
      inline.recent[inline.runs++ % DRIFT_WINDOW] = ran.micros;
      if (inline.runs % DRIFT_WINDOW === 0 && this.models.get(key) === inline) {
        const median = [...inline.recent].sort((a, b) => a - b)[DRIFT_WINDOW / 2] ?? 0;
        if (median > DRIFT_MARGIN * this.maxMicros) {
          // Slower than measured (a busier machine, larger requests): the workers take it from here.
          this.models.delete(key);
          inline.retired = true;
          this.logger.warn(
            { model_key: key, medianMicros: median, inlineMaxMicros: this.maxMicros },
            "model runs slower than inline runs allow; it runs in the inference workers from now on",
          );
        }
      }
      return ran;
    } finally {
      // Released only once the runs already on it have ended: one may still wait for onnxruntime's turn.
      if (--inline.inFlight === 0 && inline.retired) void releaseAll(inline);
    }
  }

  /** Drops a model's inline engines (runs already started have finished: the pool drains them first). */
  async release(key: string): Promise<void> {
    const inline = this.models.get(key);
    this.models.delete(key);
    if (inline) await releaseAll(inline);
  }

  /** Drops every inline engine; models still being measured are not kept. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.models.keys()].map((key) => this.release(key)));
  }

  /**
   * The graph evaluator for a model it supports whose outputs agree with onnxruntime's on probe
   * inputs (zeros, and seeded values at one row and, for a batchable model, at 64); otherwise
   * undefined, with the reason logged.
   */
  private async agreeingEvaluator(
    key: string,
    bytes: Uint8Array,
    signature: ModelSignature,
    onnx: OnnxSession,
    session: InlineEngine,
  ): Promise<InlineEngine | undefined> {
    const compiled = compileGraph(bytes, signature);
    if ("unsupported" in compiled) {
      this.logger.debug({ model_key: key, reason: compiled.unsupported }, "model is not evaluated by the graph evaluator");
      return undefined;
    }
    const evaluator = evaluatorEngine(compiled.evaluator);
    for (const inputs of probeInputs(onnx, signature)) {
      let disagreement: string | undefined;
      try {
        const expected = await session.run(inputs, Number.POSITIVE_INFINITY);
        try {
          disagreement = disagreementOf(expected.outputs, (await evaluator.run(inputs, Number.POSITIVE_INFINITY)).outputs);
        } catch (error) {
          // A graph the evaluator compiled but cannot run (a MatMul of another rank): onnxruntime keeps it.
          disagreement = `the evaluator failed: ${onnx.describeError(error)}`;
        }
      } catch (error) {
        // A probe shape onnxruntime refuses (a dynamic dimension the graph needs at 1): no comparison, no evaluator.
        disagreement = `onnxruntime failed on a probe: ${onnx.describeError(error)}`;
      }
      if (disagreement !== undefined) {
        this.logger.info({ model_key: key, disagreement }, "the graph evaluator disagrees with onnxruntime on this model; it is not used");
        return undefined;
      }
    }
    return evaluator;
  }

  /** Measures an engine at {@link CALIBRATION_ROWS} (one row only for a model that is not batchable). */
  private async fit(engine: InlineEngine, signature: ModelSignature, onnx: OnnxSession): Promise<Fit> {
    const p90Micros: Record<number, number> = {};
    for (const rows of signature.batchable ? CALIBRATION_ROWS : ([1] as const)) {
      p90Micros[rows] = await this.percentile90(engine, onnx.warmUpInputs(signature, rows));
      // A model with a fixed first dimension runs one shape only, whatever its row count.
      if (p90Micros[rows] <= this.maxMicros) return { engine, maxRows: signature.batchable ? rows : Number.POSITIVE_INFINITY, p90Micros };
    }
    return { engine, maxRows: 0, p90Micros };
  }

  private async percentile90(engine: InlineEngine, inputs: readonly Tensor[]): Promise<number> {
    const pace = pacer();
    const warmUntil = performance.now() + CALIBRATION_WARMUP_MS;
    for (let run = 0; run < CALIBRATION_WARMUP_RUNS && performance.now() < warmUntil; run++) {
      await engine.run(inputs, this.limits.maxOutputElements);
      await pace();
    }
    const micros: number[] = [];
    for (let run = 0; run < CALIBRATION_RUNS; run++) {
      micros.push((await engine.run(inputs, this.limits.maxOutputElements)).micros);
      await pace();
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

/**
 * Lets the event loop serve other calls about every millisecond of a calibration: the evaluator's
 * runs never give it a turn on their own (onnxruntime's each take one).
 */
function pacer(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < 1) return;
    await nextTurn();
    since = performance.now();
  };
}

async function releaseAll(inline: InlineModel): Promise<void> {
  await Promise.all(inline.engines.map(({ engine }) => engine.release().catch(() => undefined)));
}

function onnxEngine(onnx: OnnxSession, model: OnnxModel): InlineEngine {
  return {
    name: "onnxruntime",
    run: (inputs, maxOutputElements) => onnx.runOnnxModel(model, inputs, maxOutputElements),
    release: () => model.session.release(),
  };
}

function evaluatorEngine(evaluator: GraphEvaluator): InlineEngine {
  return {
    name: "evaluator",
    run: async (inputs, maxOutputElements) => {
      const started = performance.now();
      const outputs = evaluator.run(inputs, maxOutputElements);
      return { outputs, micros: Math.round((performance.now() - started) * 1000) };
    },
    release: async () => undefined,
  };
}

/**
 * Inputs the evaluator is checked on: zeros, then seeded values in [-4, 4) at one row and (batchable)
 * at 64, with any other dynamic dimension at 3 (a size of 1 would hide broadcasting along it).
 */
function probeInputs(onnx: OnnxSession, signature: ModelSignature): Tensor[][] {
  let seed = 12345;
  const next = () => {
    // A 32-bit linear congruential generator: the same probes on every load.
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return (seed / 2 ** 32) * 8 - 4;
  };
  const probes = [onnx.warmUpInputs(signature, 1)];
  for (const rows of signature.batchable ? [1, 64] : [1]) {
    probes.push(
      signature.inputs.map((spec) => {
        const dims = spec.shape.map((dim, i) => (dim !== -1 ? dim : i === 0 ? rows : 3));
        // compileGraph took only float32 inputs.
        return { type: spec.elementType, data: Float32Array.from({ length: elementCount(dims) }, next), dims };
      }),
    );
  }
  return probes;
}

/** Where two runs' outputs differ beyond {@link AGREEMENT}, described; undefined when they agree. */
function disagreementOf(expected: readonly Tensor[], actual: readonly Tensor[]): string | undefined {
  for (let o = 0; o < expected.length; o++) {
    const want = expected[o] as Tensor;
    const got = actual[o] as Tensor;
    if (want.dims.join(",") !== got?.dims.join(",")) return `output ${o} has dims [${got?.dims}] instead of [${want.dims}]`;
    for (let i = 0; i < want.data.length; i++) {
      const a = want.data[i] as number;
      const b = got.data[i] as number;
      if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
      if (!(Math.abs(a - b) <= AGREEMENT.absolute + AGREEMENT.relative * Math.abs(a))) return `output ${o}[${i}]: ${b} instead of ${a}`;
    }
  }
  return undefined;
}

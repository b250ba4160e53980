/**
 * Runs ONNX models in worker threads, with dynamic batching. onnxruntime's `session.run()` blocks its thread,
 * so sessions live only in workers (inference-worker.ts), one per loaded model per worker. The main thread
 * validates each request against the model's signature and queues it per model; a batcher stacks queued
 * requests along the first dimension (up to `maxBatchSize` rows, or whatever has queued once the oldest has
 * waited `maxQueueDelayMicros`), sends the batch to a free worker with its buffers transferred, and splits the
 * outputs back per request as views onto the batch's output buffers. Models measured tiny at load also run
 * on the main thread, skipping the hand-off (inline-runner.ts).
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { type Logger, pino } from "pino";
import { type FieldViolation, SluiceError, ValidationError } from "../common/errors.js";
import { DEFAULT_CONFIG } from "../config/config.js";
// Types only: importing the worker entry as a value would load onnxruntime on this thread.
import type { InferenceWorkerData, WorkerReply, WorkerRequest } from "./inference-worker.js";
import { InlineRunner } from "./inline-runner.js";
import {
  concatenateRows,
  dataMatchesType,
  type ElementType,
  elementCount,
  type ModelSignature,
  OUTPUT_TOO_LARGE,
  OutputTooLargeError,
  sliceRows,
  type Tensor,
  transferable,
} from "./tensors.js";

/** How the pool runs models. */
export interface InferencePoolOptions {
  /** Worker threads, each holding one session per loaded model. */
  workers: number;
  /** Rows per batch; 1 disables batching. A single request with more rows still runs, alone. */
  maxBatchSize: number;
  /**
   * How long the first queued request of a model waits for others to join its batch. 0 still batches: the
   * requests that arrive in one event-loop turn, and all that arrive while the workers are busy, share a
   * batch (measured the best setting for closed-loop load here). Node timers have millisecond resolution,
   * so a delay under 1000 µs is waited out by re-checking on each event-loop turn: precise, and it holds up
   * no I/O, but it keeps the main thread spinning while a partial batch waits with a worker free.
   */
  maxQueueDelayMicros: number;
  /** Requests waiting per model (not yet sent to a worker) beyond which `run` rejects with INFERENCE_OVERLOADED. */
  maxQueuedRequests: number;
  /** onnxruntime intra-op threads per session (default 1: parallelism comes from workers and batching). */
  intraOpThreads?: number;
  /**
   * Elements of one input tensor (limits.maxModelInputElements): a model declaring a larger fixed
   * input is refused at inspection and load, a request sending one at `run`.
   */
  maxInputElements?: number;
  /**
   * Elements one request's outputs may hold (limits.maxModelOutputElements): a model declaring
   * more is refused at inspection and load, and a run returning more fails with
   * MODEL_OUTPUT_TOO_LARGE (RESOURCE_EXHAUSTED) before its outputs are copied, returned or logged.
   */
  maxOutputElements?: number;
  /**
   * Longest (90th percentile, measured at load) a model's run may take to run on the main thread
   * instead of a worker, skipping the hand-off (serving.inlineMaxMicros; 0 never does). See inline-runner.ts.
   */
  inlineMaxMicros?: number;
  /**
   * Whether a model run inline may run in the graph evaluator instead of onnxruntime, when the
   * evaluator supports its graph and agrees with onnxruntime on it (serving.graphEvaluator). See graph-evaluator.ts.
   */
  graphEvaluator?: boolean;
}

/** One executed batch, reported to {@link InferencePool.onBatch} listeners (for metrics). */
export interface BatchEvent {
  /** The model key. */
  key: string;
  /** Rows in the batch. */
  rows: number;
  /** Requests stacked into it. */
  requests: number;
  /** Time inside `session.run` in the worker. */
  micros: number;
  /** How long the batch's oldest request waited in the queue before the batch was sent to a worker. */
  queueMicros: number;
  /** The index of the worker that ran it; -1 for a run on the main thread (inline-runner.ts). */
  worker: number;
}

/** The defaults `InferencePool.start` fills in. */
export const DEFAULT_INFERENCE_POOL_OPTIONS: Readonly<Required<InferencePoolOptions>> = {
  workers: 1,
  maxBatchSize: 32,
  maxQueueDelayMicros: 0,
  maxQueuedRequests: 1024,
  intraOpThreads: 1,
  maxInputElements: DEFAULT_CONFIG.limits.maxModelInputElements,
  maxOutputElements: DEFAULT_CONFIG.limits.maxModelOutputElements,
  inlineMaxMicros: 0,
  graphEvaluator: true,
};

/** A model key that is not loaded (never loaded, released, or still loading). */
export class ModelNotLoadedError extends SluiceError {
  constructor(key: string) {
    super("not_found", "MODEL_NOT_LOADED", `model ${key} is not loaded for inference`, { model_key: key });
  }
}

/** Too many requests are already waiting for a model; the caller should back off and retry. */
export class InferenceOverloadedError extends SluiceError {
  constructor(key: string, maxQueuedRequests: number) {
    super("unavailable", "INFERENCE_OVERLOADED", `model ${key} already has ${maxQueuedRequests} requests waiting; retry later`, {
      model_key: key,
      max_queued_requests: String(maxQueuedRequests),
    });
  }
}

/** A run whose outputs hold more elements than one request may get (limits.maxModelOutputElements). */
export class ModelOutputTooLargeError extends SluiceError {
  constructor(key: string, detail: string) {
    super("resource_exhausted", OUTPUT_TOO_LARGE, `model ${key} ${detail}`, { model_key: key });
  }
}

/** A run that did not complete: onnxruntime rejected it, its worker died, or the pool closed. */
export class InferenceFailedError extends SluiceError {
  constructor(kind: "internal" | "unavailable", reason: string, key: string, message: string) {
    super(kind, reason, message, key === "" ? {} : { model_key: key });
  }
}

/** The request field an INVALID_MODEL violation names: the model bytes arrive as upload chunks. */
const MODEL_BYTES_FIELD = "chunk";

/**
 * Batches a worker may hold at once. Two keeps a worker busy while the reply to its last batch crosses back
 * (measured: about twice the unbatched throughput of one), while requests beyond that still queue and batch.
 */
const MAX_BATCHES_PER_WORKER = 2;

/** The id of the one message a worker sends unasked, when it is ready (see WorkerReply). */
const WORKER_READY_ID = 0;

/** Back-off before replacing a worker that keeps crashing: 0, then 100 ms doubling up to 5 s. */
const MAX_RESTART_DELAY_MS = 5000;

/** Why a worker's pending calls will never be answered. */
class WorkerExit {
  constructor(
    readonly index: number,
    readonly code: number | undefined,
    readonly closing: boolean,
  ) {}

  toError(key: string | undefined, doing: string): SluiceError {
    const about = key === undefined ? doing : `${doing} model ${key}`;
    if (this.closing)
      return new InferenceFailedError("unavailable", "INFERENCE_POOL_CLOSED", key ?? "", `the inference pool closed while ${about}`);
    const how = this.code === undefined ? "" : ` with code ${this.code}`;
    return new InferenceFailedError(
      "unavailable",
      "INFERENCE_WORKER_CRASHED",
      key ?? "",
      `inference worker ${this.index} exited${how} while ${about}`,
    );
  }
}

/** One worker thread and what the pool knows of it. */
class WorkerSlot {
  /** Calls waiting for this worker's reply, by id. */
  readonly calls = new Map<number, Batch | ControlCall>();
  /** Models whose session is loaded and warm in this worker. */
  readonly keys = new Set<string>();
  readonly loading = new Set<string>();
  busyBatches = 0;
  ready = false;
  exited = false;
  answered = false;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {}
}

/** A control call (inspect, load, release) waiting for its reply. */
class ControlCall {
  constructor(
    private readonly resolve: (reply: WorkerReply & { ok: true }) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  settle(reply: WorkerReply): void {
    if (reply.ok) this.resolve(reply);
    else this.reject(new Error(reply.message));
  }

  fail(exit: WorkerExit): void {
    this.reject(exit);
  }
}

interface QueuedRequest {
  inputs: Record<string, Tensor>;
  rows: number;
  enqueuedAt: number;
  /** Run in a batch of its own: set when a batch it was part of failed, to find the request at fault. */
  alone: boolean;
  resolve: (outputs: Record<string, Tensor>) => void;
  reject: (error: unknown) => void;
}

/** What validation and batching need from a signature, precomputed once per model. */
interface ModelPlan {
  inputNames: readonly string[];
  inputTypes: readonly ElementType[];
  inputShapes: readonly (readonly number[])[];
  outputNames: readonly string[];
  /** Batching is on: the model is batchable and maxBatchSize > 1. */
  batching: boolean;
  /** Some input has a dynamic dim after the first, so only requests with equal trailing dims share a batch. */
  dynamicTrailingDims: boolean;
}

type ModelState = "loading" | "ready" | "releasing" | "released";

/** A model known to the pool, and its queue of requests waiting to be batched. */
class ModelEntry {
  state: ModelState = "loading";
  signature: ModelSignature | undefined;
  plan: ModelPlan | undefined;
  loading: Promise<ModelSignature> | undefined;
  released: Promise<void> | undefined;
  onDrained: (() => void) | undefined;
  /** Waiting requests are `queue[head..]`; the array is reset once drained rather than shifted per batch. */
  readonly queue: (QueuedRequest | undefined)[] = [];
  head = 0;
  queuedRows = 0;
  batchesInFlight = 0;
  timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  timerIsImmediate = false;
  /** Created once so arming the batch timer allocates nothing. */
  readonly onTimer: () => void;

  constructor(
    readonly key: string,
    /** Kept to load the model into a worker that replaces a crashed one. */
    readonly bytes: Uint8Array,
    pump: (entry: ModelEntry) => void,
  ) {
    this.onTimer = () => {
      this.timer = undefined;
      pump(this);
    };
  }

  get queueLength(): number {
    return this.queue.length - this.head;
  }

  clearTimer(): void {
    if (this.timer === undefined) return;
    if (this.timerIsImmediate) clearImmediate(this.timer as NodeJS.Immediate);
    else clearTimeout(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }
}

/** Requests stacked into one `session.run`, waiting for the worker's outputs. */
class Batch {
  constructor(
    readonly entry: ModelEntry,
    readonly slot: WorkerSlot,
    readonly requests: readonly QueuedRequest[],
    readonly rows: number,
    readonly queueMicros: number,
  ) {}
}

/**
 * A pool of inference workers shared by every loaded model. Start it with {@link InferencePool.start}, load
 * models by key (their sha256), run requests, and close it at shutdown.
 */
export class InferencePool {
  private readonly slots: (WorkerSlot | undefined)[];
  private readonly models = new Map<string, ModelEntry>();
  /** Models with a batch ready to go but no free worker that holds them; fed as workers free up. */
  private readonly starved = new Set<ModelEntry>();
  private readonly batchListeners: ((event: BatchEvent) => void)[] = [];
  private readonly workerWaiters: (() => void)[] = [];
  private readonly restartAttempts: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly pumpEntry = (entry: ModelEntry): void => this.pump(entry);
  private readonly inline: InlineRunner;
  private nextCallId = WORKER_READY_ID + 1;
  private nextWorker = 0;
  private batchesInFlight = 0;
  private onIdle: (() => void) | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: Readonly<Required<InferencePoolOptions>>,
    private readonly logger: Logger,
  ) {
    this.slots = new Array<WorkerSlot | undefined>(options.workers).fill(undefined);
    this.restartAttempts = new Array<number>(options.workers).fill(0);
    this.inline = new InlineRunner(
      options.inlineMaxMicros,
      { maxInputElements: options.maxInputElements, maxOutputElements: options.maxOutputElements },
      logger,
      options.graphEvaluator,
    );
  }

  /** Starts the workers and resolves once every one of them is ready to load models. */
  static async start(options: Partial<InferencePoolOptions> = {}, logger?: Logger): Promise<InferencePool> {
    const resolved = { ...DEFAULT_INFERENCE_POOL_OPTIONS, ...stripUndefined(options) };
    checkOptions(resolved);
    const pool = new InferencePool(resolved, logger ?? pino({ level: "silent" }));
    try {
      await Promise.all(pool.slots.map((_, index) => pool.startWorker(index)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** The options in force, defaults filled in. */
  get settings(): Readonly<Required<InferencePoolOptions>> {
    return this.options;
  }

  /**
   * Checks that `bytes` is a model onnxruntime can load and serve, and returns its signature without keeping
   * it. Rejects with a ValidationError (reason INVALID_MODEL, field `chunk`) carrying onnxruntime's message.
   */
  async inspect(bytes: Uint8Array): Promise<ModelSignature> {
    this.assertOpen();
    const slot = await this.anyWorker();
    try {
      const reply = await this.call(slot, { op: "inspect", id: 0, bytes: compact(bytes) });
      return reply.signature as ModelSignature;
    } catch (error) {
      throw toModelError(error, undefined, "inspecting a");
    }
  }

  /**
   * Loads the model `bytes` under `key` (the caller uses its sha256) in every worker and warms it with one run
   * of zeros. Loading a key that is loaded is a no-op returning its signature; concurrent loads of one key
   * share one load. Rejects with INVALID_MODEL when the model cannot be loaded or warmed.
   */
  async load(key: string, bytes: Uint8Array): Promise<ModelSignature> {
    this.assertOpen();
    for (let existing = this.models.get(key); existing !== undefined; existing = this.models.get(key)) {
      if (existing.state === "ready") return existing.signature as ModelSignature;
      if (existing.state === "loading") return existing.loading as Promise<ModelSignature>;
      // Being released: wait for that to finish, then load afresh.
      await existing.released;
    }
    const entry = new ModelEntry(key, new Uint8Array(bytes), this.pumpEntry);
    this.models.set(key, entry);
    entry.loading = this.loadEverywhere(entry);
    return entry.loading;
  }

  /** Whether `key` is loaded and accepting runs. */
  /** How many models are loaded and ready. */
  get loadedCount(): number {
    let count = 0;
    for (const entry of this.models.values()) if (entry.state === "ready") count++;
    return count;
  }

  isLoaded(key: string): boolean {
    return this.models.get(key)?.state === "ready";
  }

  /** The signature of a loaded model, or undefined. */
  signatureOf(key: string): ModelSignature | undefined {
    const entry = this.models.get(key);
    return entry?.state === "ready" ? entry.signature : undefined;
  }

  /**
   * Runs one request of `rows` rows: every input's first dimension is `rows`. Requests for one model are
   * batched (see the module comment); a model that is not batchable runs one request per `session.run`.
   * The pool takes the input arrays: a request sent on its own has its whole ArrayBuffers transferred to the
   * worker (they become detached here), so do not reuse them after calling. Output tensors of a batched
   * request are views onto the batch's output buffers.
   *
   * Rejects with MODEL_NOT_LOADED (not_found) for a key that is not loaded or is being released,
   * INVALID_MODEL_INPUT (a ValidationError) for inputs that do not match the signature, INFERENCE_OVERLOADED
   * when `maxQueuedRequests` are already waiting, and INFERENCE_FAILED (onnxruntime's message, naming the key).
   */
  run(key: string, inputs: Record<string, Tensor>, rows: number): Promise<Record<string, Tensor>> {
    const entry = this.models.get(key);
    if (this.closed) return Promise.reject(poolClosedError(key));
    if (entry === undefined || entry.state !== "ready") return Promise.reject(new ModelNotLoadedError(key));
    const plan = entry.plan as ModelPlan;
    const violations = checkInputs(plan, inputs, rows, this.options.maxInputElements);
    if (violations !== undefined) return Promise.reject(new ValidationError("INVALID_MODEL_INPUT", violations));
    if (entry.queueLength >= this.options.maxQueuedRequests) {
      return Promise.reject(new InferenceOverloadedError(key, this.options.maxQueuedRequests));
    }
    if (rows <= this.inline.maxRows(key)) return this.runInline(entry, plan, inputs, rows);
    return new Promise((resolve, reject) => {
      entry.queue.push({ inputs, rows, enqueuedAt: performance.now(), alone: false, resolve, reject });
      entry.queuedRows += rows;
      if (!plan.batching || entry.queuedRows >= this.options.maxBatchSize) this.pump(entry);
      else if (entry.timer === undefined) this.armTimer(entry, this.options.maxQueueDelayMicros);
    });
  }

  /**
   * Runs a request on the main thread (see inline-runner.ts), counted as a batch in flight so that
   * release and close wait for it, and reported to batch listeners as worker -1.
   */
  private async runInline(
    entry: ModelEntry,
    plan: ModelPlan,
    inputs: Record<string, Tensor>,
    rows: number,
  ): Promise<Record<string, Tensor>> {
    entry.batchesInFlight++;
    this.batchesInFlight++;
    try {
      const ordered = plan.inputNames.map((name) => inputs[name] as Tensor);
      const { outputs, micros } = await this.inline.run(entry.key, ordered, rows, this.options.maxOutputElements);
      this.emit({ key: entry.key, rows, requests: 1, micros, queueMicros: 0, worker: -1 });
      return toRecord(plan.outputNames, outputs);
    } catch (error) {
      if (error instanceof OutputTooLargeError)
        throw new ModelOutputTooLargeError(entry.key, (error as Error).message.replace(/^the model /, ""));
      const message = error instanceof Error ? error.message : String(error);
      throw new InferenceFailedError("internal", "INFERENCE_FAILED", entry.key, `model ${entry.key} failed to run: ${message}`);
    } finally {
      entry.batchesInFlight--;
      this.batchesInFlight--;
      if (entry.state === "releasing" && entry.queueLength === 0 && entry.batchesInFlight === 0) entry.onDrained?.();
      if (this.batchesInFlight === 0) this.onIdle?.();
    }
  }

  /**
   * Releases a model: new runs are refused at once, queued and in-flight runs complete, then every worker
   * drops its session. Releasing an unknown key does nothing.
   */
  async release(key: string): Promise<void> {
    const entry = this.models.get(key);
    if (entry === undefined) return;
    if (entry.state === "loading") {
      await entry.loading?.catch(() => undefined);
      return this.release(key);
    }
    entry.released ??= this.drainAndRelease(entry);
    return entry.released;
  }

  /** Adds a listener called after every executed batch (for metrics). Listener errors are logged, not thrown. */
  onBatch(listener: (event: BatchEvent) => void): void {
    this.batchListeners.push(listener);
  }

  /**
   * Stops the pool: new calls are refused, queued requests reject with INFERENCE_POOL_CLOSED, batches already
   * in a worker complete, then the workers exit.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /**
   * Test hook: makes worker `index` exit with code 1, as a crash would: `"now"` once it has finished what it
   * is running, `"next-run"` when its next batch arrives, so that batch is in flight when it dies. Its
   * pending calls reject with INFERENCE_WORKER_CRASHED and a replacement is started and reloaded.
   */
  crashWorkerForTesting(index: number, when: "now" | "next-run" = "now"): void {
    const slot = this.slots[index];
    if (slot === undefined || slot.exited) throw new RangeError(`no live worker ${index}`);
    slot.worker.postMessage({ op: "exit", id: 0, code: 1, atNextRun: when === "next-run" } satisfies WorkerRequest);
  }

  /** Settles a batch's requests from its worker's reply. */
  private completeBatch(batch: Batch, reply: WorkerReply): void {
    const key = batch.entry.key;
    if (!reply.ok) {
      // One bad request (say an index out of range) fails its whole batch; rerun each alone so only it fails.
      if (batch.requests.length > 1) this.retryAlone(batch);
      else if (reply.reason === OUTPUT_TOO_LARGE)
        rejectAll(batch, new ModelOutputTooLargeError(key, reply.message.replace(/^the model /, "")));
      else rejectAll(batch, new InferenceFailedError("internal", "INFERENCE_FAILED", key, `model ${key} failed to run: ${reply.message}`));
    } else {
      batch.slot.answered = true;
      resolveAll(batch, reply.outputs ?? [], this.options.maxOutputElements);
      this.emitBatch(batch, reply.micros ?? 0);
    }
    this.finishBatch(batch);
  }

  private failBatch(batch: Batch, exit: WorkerExit): void {
    rejectAll(batch, exit.toError(batch.entry.key, "running"));
    this.finishBatch(batch);
  }

  /** Frees the batch's worker slot and lets whatever waits for one go. */
  private finishBatch(batch: Batch): void {
    batch.slot.busyBatches--;
    batch.entry.batchesInFlight--;
    this.batchesInFlight--;
    const entry = batch.entry;
    if (entry.queueLength > 0) this.pump(entry);
    if (this.starved.size > 0) this.feedStarved();
    if (entry.state === "releasing" && entry.queueLength === 0 && entry.batchesInFlight === 0) entry.onDrained?.();
    if (this.batchesInFlight === 0) this.onIdle?.();
  }

  /** Puts the requests of a failed batch back at the head of their queue, each to run in a batch of its own. */
  private retryAlone(batch: Batch): void {
    const entry = batch.entry;
    for (const request of batch.requests) request.alone = true;
    entry.queue.splice(entry.head, 0, ...batch.requests);
    entry.queuedRows += batch.rows;
  }

  /** Reports a completed batch to the listeners. */
  private emitBatch(batch: Batch, micros: number): void {
    if (this.batchListeners.length === 0) return;
    this.emit({
      key: batch.entry.key,
      rows: batch.rows,
      requests: batch.requests.length,
      micros,
      queueMicros: batch.queueMicros,
      worker: batch.slot.index,
    });
  }

  private emit(event: BatchEvent): void {
    if (this.batchListeners.length === 0) return;
    for (const listener of this.batchListeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error }, "inference batch listener failed");
      }
    }
  }

  /** Sends as many batches of `entry` as its queue and the free workers allow; arms the timer otherwise. */
  private pump(entry: ModelEntry): void {
    const plan = entry.plan as ModelPlan;
    while (entry.queueLength > 0) {
      if (plan.batching && entry.queuedRows < this.options.maxBatchSize) {
        const oldest = entry.queue[entry.head] as QueuedRequest;
        const waitedMicros = (performance.now() - oldest.enqueuedAt) * 1000;
        if (waitedMicros < this.options.maxQueueDelayMicros) {
          this.armTimer(entry, this.options.maxQueueDelayMicros - waitedMicros);
          return;
        }
      }
      const slot = this.pickWorker(entry.key);
      if (slot === undefined) {
        this.starved.add(entry);
        return;
      }
      this.dispatch(entry, plan, slot);
    }
  }

  /**
   * setTimeout has millisecond resolution, so a sub-millisecond remainder is waited out with setImmediate,
   * which also lets every request that arrives in the same event-loop turn join the batch.
   */
  private armTimer(entry: ModelEntry, remainingMicros: number): void {
    if (entry.timer !== undefined) return;
    entry.timerIsImmediate = remainingMicros < 1000;
    entry.timer = entry.timerIsImmediate ? setImmediate(entry.onTimer) : setTimeout(entry.onTimer, Math.floor(remainingMicros / 1000));
  }

  /** The least busy live worker holding `key` with room for a batch, round-robin among equals. */
  private pickWorker(key: string): WorkerSlot | undefined {
    const slots = this.slots;
    let best: WorkerSlot | undefined;
    for (let n = 0; n < slots.length; n++) {
      const slot = slots[(this.nextWorker + n) % slots.length];
      if (slot === undefined || !slot.ready || slot.exited || slot.busyBatches >= MAX_BATCHES_PER_WORKER || !slot.keys.has(key)) continue;
      if (best === undefined || slot.busyBatches < best.busyBatches) best = slot;
    }
    if (best !== undefined) this.nextWorker = (best.index + 1) % slots.length;
    return best;
  }

  private dispatch(entry: ModelEntry, plan: ModelPlan, slot: WorkerSlot): void {
    const queue = entry.queue;
    const first = queue[entry.head] as QueuedRequest;
    let rows = first.rows;
    let end = entry.head + 1;
    if (plan.batching && !first.alone) {
      for (; end < queue.length; end++) {
        const next = queue[end] as QueuedRequest;
        if (next.alone || rows + next.rows > this.options.maxBatchSize) break;
        if (plan.dynamicTrailingDims && !sameTrailingDims(plan, first.inputs, next.inputs)) break;
        rows += next.rows;
      }
    }
    const requests = queue.slice(entry.head, end) as QueuedRequest[];
    if (end === queue.length) {
      queue.length = 0;
      entry.head = 0;
    } else {
      queue.fill(undefined, entry.head, end);
      entry.head = end;
      if (entry.head >= 1024) {
        queue.splice(0, entry.head);
        entry.head = 0;
      }
    }
    entry.queuedRows -= rows;

    const transfer: ArrayBuffer[] = [];
    const inputs: Tensor[] = new Array<Tensor>(plan.inputNames.length);
    for (let i = 0; i < inputs.length; i++) {
      const name = plan.inputNames[i] as string;
      const tensor = requests.length === 1 ? (first.inputs[name] as Tensor) : stackInput(requests, name, rows);
      inputs[i] = { type: tensor.type, data: transferable(tensor.data, transfer), dims: tensor.dims };
    }
    const batch = new Batch(entry, slot, requests, rows, Math.round((performance.now() - first.enqueuedAt) * 1000));
    const id = this.nextCallId++;
    slot.calls.set(id, batch);
    slot.busyBatches++;
    entry.batchesInFlight++;
    this.batchesInFlight++;
    try {
      const maxOutputElements = this.options.maxOutputElements * requests.length;
      slot.worker.postMessage({ op: "run", id, key: entry.key, inputs, maxOutputElements } satisfies WorkerRequest, transfer);
    } catch (error) {
      slot.calls.delete(id);
      this.completeBatch(batch, { id, ok: false, message: `could not send the batch to a worker: ${(error as Error).message}` });
    }
  }

  private feedStarved(): void {
    // A snapshot: pump may put an entry back in the set, which would otherwise be visited again.
    for (const entry of [...this.starved]) {
      this.starved.delete(entry);
      this.pump(entry);
    }
  }

  private async loadEverywhere(entry: ModelEntry): Promise<ModelSignature> {
    let outcomes: PromiseSettledResult<ModelSignature>[];
    try {
      await this.anyWorker();
      const live = this.liveSlots();
      outcomes = await Promise.allSettled(live.map((slot) => this.loadInto(slot, entry)));
    } catch (error) {
      this.forget(entry);
      throw error;
    }
    const success = outcomes.find((outcome) => outcome.status === "fulfilled");
    const reasons = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
    // A worker that crashed while loading is replaced and reloaded; any other failure is the model's fault.
    const modelFailure = reasons.find((reason) => !(reason instanceof WorkerExit));
    if (success === undefined || modelFailure !== undefined || this.closed) {
      this.forget(entry);
      await this.releaseEverywhere(entry);
      throw toModelError(modelFailure ?? reasons[0] ?? new WorkerExit(-1, undefined, true), entry.key, "loading");
    }
    const signature = success.value;
    entry.signature = signature;
    entry.plan = planFor(signature, this.options.maxBatchSize);
    // Measured before the first request can come: a tiny model runs on the main thread from its first run.
    await this.inline.consider(entry.key, entry.bytes, signature);
    entry.state = "ready";
    // A worker that started while this load was under way has not seen it yet.
    for (const slot of this.liveSlots()) void this.ensureLoaded(slot, entry);
    this.logger.info(
      { model_key: entry.key, batchable: signature.batchable, inlineMaxRows: this.inline.maxRows(entry.key) },
      "model loaded for inference",
    );
    return signature;
  }

  /** Loads `entry` into one worker; the session counts as the worker's once the model is still wanted. */
  private async loadInto(slot: WorkerSlot, entry: ModelEntry): Promise<ModelSignature> {
    slot.loading.add(entry.key);
    try {
      const reply = await this.call(slot, { op: "load", id: 0, key: entry.key, bytes: entry.bytes });
      if (this.models.get(entry.key) === entry && entry.state !== "released") {
        slot.keys.add(entry.key);
      } else {
        // Released (or the load failed elsewhere) while this worker was loading: drop the session again.
        await this.call(slot, { op: "release", id: 0, key: entry.key }).catch(() => undefined);
      }
      return reply.signature as ModelSignature;
    } finally {
      slot.loading.delete(entry.key);
    }
  }

  /** Loads a ready model into a worker that lacks it (a replacement worker), then lets its queue use it. */
  private async ensureLoaded(slot: WorkerSlot, entry: ModelEntry): Promise<void> {
    if (slot.keys.has(entry.key) || slot.loading.has(entry.key) || slot.exited) return;
    try {
      await this.loadInto(slot, entry);
      if (slot.keys.has(entry.key) && entry.queueLength > 0) this.pump(entry);
    } catch (error) {
      if (error instanceof WorkerExit) return;
      this.logger.error(
        { model_key: entry.key, worker: slot.index, err: error },
        "could not load a model into a replacement inference worker",
      );
    }
  }

  private async drainAndRelease(entry: ModelEntry): Promise<void> {
    entry.state = "releasing";
    if (entry.queueLength > 0 || entry.batchesInFlight > 0) {
      await new Promise<void>((resolve) => {
        entry.onDrained = resolve;
      });
    }
    this.forget(entry);
    await Promise.all([this.releaseEverywhere(entry), this.inline.release(entry.key)]);
    this.logger.info({ model_key: entry.key }, "model released from inference");
  }

  /** Takes `entry` out of the pool's tables; workers still loading it drop it when their load completes. */
  private forget(entry: ModelEntry): void {
    entry.state = "released";
    entry.clearTimer();
    this.starved.delete(entry);
    if (this.models.get(entry.key) === entry) this.models.delete(entry.key);
  }

  private async releaseEverywhere(entry: ModelEntry): Promise<void> {
    const holding = this.liveSlots().filter((slot) => slot.keys.has(entry.key));
    for (const slot of holding) slot.keys.delete(entry.key);
    await Promise.allSettled(holding.map((slot) => this.call(slot, { op: "release", id: 0, key: entry.key })));
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    for (const entry of this.models.values()) {
      entry.clearTimer();
      const queued = entry.queue.slice(entry.head) as QueuedRequest[];
      entry.queue.length = 0;
      entry.head = 0;
      entry.queuedRows = 0;
      const closedError = new WorkerExit(-1, undefined, true).toError(entry.key, "waiting to run");
      for (const request of queued) request.reject(closedError);
      if (entry.state === "releasing" && entry.batchesInFlight === 0) entry.onDrained?.();
    }
    this.starved.clear();
    if (this.batchesInFlight > 0) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
      });
    }
    for (const waiter of this.workerWaiters.splice(0)) waiter();
    // Asked to exit rather than terminated: see the "exit" request in inference-worker.ts.
    await Promise.all(this.slots.map((slot) => (slot === undefined || slot.exited ? undefined : exitWorker(slot))));
    await this.inline.close();
    this.models.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw poolClosedError(undefined);
  }

  private liveSlots(): WorkerSlot[] {
    return this.slots.filter((slot): slot is WorkerSlot => slot?.ready === true && !slot.exited);
  }

  /** A live worker (the least busy), waiting for a replacement when every worker has just crashed. */
  private async anyWorker(): Promise<WorkerSlot> {
    for (;;) {
      this.assertOpen();
      const live = this.liveSlots();
      if (live.length > 0) return live.reduce((a, b) => (b.busyBatches + b.calls.size < a.busyBatches + a.calls.size ? b : a));
      await new Promise<void>((resolve) => this.workerWaiters.push(resolve));
    }
  }

  /** Sends a control request and resolves with its reply; rejects with onnxruntime's message or a WorkerExit. */
  private call(slot: WorkerSlot, request: WorkerRequest): Promise<WorkerReply & { ok: true }> {
    if (slot.exited) return Promise.reject(new WorkerExit(slot.index, undefined, this.closed));
    return new Promise((resolve, reject) => {
      const id = this.nextCallId++;
      request.id = id;
      slot.calls.set(id, new ControlCall(resolve, reject));
      slot.worker.postMessage(request);
    });
  }

  private startWorker(index: number): Promise<WorkerSlot> {
    const worker = spawnInferenceWorker({
      role: "sluice-inference-worker",
      intraOpThreads: this.options.intraOpThreads,
      limits: { maxInputElements: this.options.maxInputElements, maxOutputElements: this.options.maxOutputElements },
    });
    const slot = new WorkerSlot(index, worker);
    this.slots[index] = slot;
    const startedAt = Date.now();
    return new Promise((resolve, reject) => {
      worker.on("message", (reply: WorkerReply) => {
        if (reply.id === WORKER_READY_ID) {
          slot.ready = true;
          resolve(slot);
          for (const waiter of this.workerWaiters.splice(0)) waiter();
          return;
        }
        const call = slot.calls.get(reply.id);
        if (call === undefined) return;
        slot.calls.delete(reply.id);
        if (call instanceof Batch) this.completeBatch(call, reply);
        else call.settle(reply);
      });
      worker.on("error", (error) => {
        this.logger.error({ worker: index, err: error }, "inference worker failed");
        if (!slot.ready) reject(error);
      });
      worker.on("exit", (code) => {
        slot.exited = true;
        if (!slot.ready) reject(new Error(`inference worker ${index} exited with code ${code} before it was ready`));
        const exit = new WorkerExit(index, code, this.closed);
        const calls = [...slot.calls.values()];
        slot.calls.clear();
        for (const call of calls) {
          if (call instanceof Batch) this.failBatch(call, exit);
          else call.fail(exit);
        }
        if (this.closed) return;
        const lived = Date.now() - startedAt;
        if (slot.answered || lived > 10_000) this.restartAttempts[index] = 0;
        this.logger.error({ worker: index, code, lived_ms: lived }, "inference worker exited; replacing it");
        this.scheduleReplacement(index);
      });
    });
  }

  private scheduleReplacement(index: number): void {
    const attempts = this.restartAttempts[index] ?? 0;
    this.restartAttempts[index] = attempts + 1;
    const delay = attempts === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (attempts - 1));
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closed) return;
      this.startWorker(index).then(
        (slot) => {
          for (const entry of this.models.values()) {
            if (entry.state === "ready" || entry.state === "releasing") void this.ensureLoaded(slot, entry);
          }
        },
        (error: unknown) => this.logger.error({ worker: index, err: error }, "replacement inference worker did not start"),
      );
    }, delay);
    this.restartTimers.add(timer);
  }
}

/**
 * Starts the worker entry. Built (`dist/`), it is the compiled `.js` beside this file; run from sources
 * (tsx, vitest), it is the `.ts` file, which a worker can only import once tsx's loader is registered in it.
 */
function spawnInferenceWorker(workerData: InferenceWorkerData): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./inference-worker.js", import.meta.url), { workerData });
  const entry = new URL("./inference-worker.ts", import.meta.url).href;
  // The ESM build of tsx's API; require.resolve picks the CommonJS one, which cannot import ESM sources.
  const tsxApi = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}));`;
  return new Worker(bootstrap, { eval: true, workerData });
}

function exitWorker(slot: WorkerSlot): Promise<void> {
  return new Promise((resolve) => {
    slot.worker.once("exit", () => resolve());
    slot.worker.postMessage({ op: "exit", id: 0, code: 0, atNextRun: false } satisfies WorkerRequest);
  });
}

function planFor(signature: ModelSignature, maxBatchSize: number): ModelPlan {
  return {
    inputNames: signature.inputs.map((spec) => spec.name),
    inputTypes: signature.inputs.map((spec) => spec.elementType),
    inputShapes: signature.inputs.map((spec) => spec.shape),
    outputNames: signature.outputs.map((spec) => spec.name),
    batching: signature.batchable && maxBatchSize > 1,
    dynamicTrailingDims: signature.inputs.some((spec) => spec.shape.slice(1).includes(-1)),
  };
}

/**
 * Checks a request against the model's inputs; returns every violation, or undefined when it matches.
 * Allocates nothing when the request is valid: this runs once per request on the serving path.
 */
function checkInputs(plan: ModelPlan, inputs: Record<string, Tensor>, rows: number, maxElements: number): FieldViolation[] | undefined {
  let violations: FieldViolation[] | undefined;
  if (!Number.isInteger(rows) || rows < 1) violations = violate(violations, "rows", `must be a positive integer, got ${rows}`);
  const names = plan.inputNames;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const tensor = Object.hasOwn(inputs, name) ? inputs[name] : undefined;
    if (tensor === undefined) {
      violations = violate(violations, `inputs.${name}`, `missing: the model's inputs are ${names.join(", ")}`);
      continue;
    }
    const type = plan.inputTypes[i] as ElementType;
    if (tensor.type !== type) violations = violate(violations, `inputs.${name}.type`, `the model expects ${type}, got ${tensor.type}`);
    else if (!dataMatchesType(type, tensor.data))
      violations = violate(violations, `inputs.${name}.data`, `the array does not hold ${type} elements`);
    const shape = plan.inputShapes[i] as readonly number[];
    const dims = tensor.dims;
    if (dims.length !== shape.length) {
      const description = `the model expects ${shape.length} dimensions [${describeShape(shape)}], got [${dims.join(", ")}]`;
      violations = violate(violations, `inputs.${name}.dims`, description);
      continue;
    }
    let dimsValid = true;
    for (let d = 0; d < dims.length; d++) {
      const dim = dims[d] as number;
      const expected = shape[d] as number;
      let problem: string | undefined;
      if (!Number.isInteger(dim) || dim < 0) problem = `must be a non-negative integer, got ${dim}`;
      else if (dim > maxElements)
        problem = `${dim} is more than the ${maxElements} elements an input may hold (limits.maxModelInputElements)`;
      else if (d === 0 && dim !== rows) problem = `the first dimension is the row count ${rows}, got ${dim}`;
      else if (expected !== -1 && dim !== expected) problem = `the model expects ${expected}, got ${dim}`;
      if (problem !== undefined) {
        violations = violate(violations, `inputs.${name}.dims[${d}]`, problem);
        dimsValid = false;
      }
    }
    if (dimsValid && elementCount(dims) > maxElements) {
      const description = `dims [${dims.join(", ")}] hold ${elementCount(dims)} elements; at most ${maxElements} are allowed (limits.maxModelInputElements)`;
      violations = violate(violations, `inputs.${name}.dims`, description);
    } else if (dimsValid && elementCount(dims) !== tensor.data.length) {
      const description = `dims [${dims.join(", ")}] need ${elementCount(dims)} elements, got ${tensor.data.length}`;
      violations = violate(violations, `inputs.${name}.data`, description);
    }
  }
  let given = 0;
  for (const name in inputs) if (Object.hasOwn(inputs, name)) given++;
  // Only a request that already failed, or has more inputs than the model, can hold an unknown name.
  if (given > names.length || violations !== undefined) {
    for (const name of Object.keys(inputs)) {
      if (!names.includes(name))
        violations = violate(violations, `inputs.${name}`, `not an input of the model; its inputs are ${names.join(", ")}`);
    }
  }
  return violations;
}

function violate(violations: FieldViolation[] | undefined, field: string, description: string): FieldViolation[] {
  const list = violations ?? [];
  list.push({ field, description });
  return list;
}

function describeShape(shape: readonly number[]): string {
  return shape.map((dim) => (dim === -1 ? "?" : String(dim))).join(", ");
}

function sameTrailingDims(plan: ModelPlan, a: Record<string, Tensor>, b: Record<string, Tensor>): boolean {
  for (const name of plan.inputNames) {
    const da = (a[name] as Tensor).dims;
    const db = (b[name] as Tensor).dims;
    for (let d = 1; d < da.length; d++) if (da[d] !== db[d]) return false;
  }
  return true;
}

/**
 * Hands each request its rows of the batch's outputs: views onto the output buffers, no copies.
 * A request whose share holds more than `maxElements` is refused (the worker bounded the batch as
 * a whole).
 */
function resolveAll(batch: Batch, outputs: readonly Tensor[], maxElements: number): void {
  const names = (batch.entry.plan as ModelPlan).outputNames;
  const requests = batch.requests;
  if (requests.length === 1) {
    (requests[0] as QueuedRequest).resolve(toRecord(names, outputs));
    return;
  }
  let elementsPerRow = 0;
  for (const output of outputs) elementsPerRow += batch.rows === 0 ? 0 : output.data.length / batch.rows;
  for (let i = 0; i < outputs.length; i++) {
    const dims = (outputs[i] as Tensor).dims;
    if (dims[0] !== batch.rows) {
      const key = batch.entry.key;
      const message = `model ${key} returned ${dims[0]} rows of output ${names[i]} for a batch of ${batch.rows} rows`;
      rejectAll(batch, new InferenceFailedError("internal", "INFERENCE_FAILED", key, message));
      return;
    }
  }
  let start = 0;
  for (const request of requests) {
    if (elementsPerRow * request.rows > maxElements) {
      const detail = `returned ${elementsPerRow * request.rows} output elements for one request, more than the ${maxElements} allowed (limits.maxModelOutputElements)`;
      request.reject(new ModelOutputTooLargeError(batch.entry.key, detail));
      start += request.rows;
      continue;
    }
    const record: Record<string, Tensor> = {};
    for (let i = 0; i < outputs.length; i++) record[names[i] as string] = sliceRows(outputs[i] as Tensor, start, request.rows, batch.rows);
    start += request.rows;
    request.resolve(record);
  }
}

function rejectAll(batch: Batch, error: SluiceError): void {
  for (const request of batch.requests) request.reject(error);
}

function stackInput(requests: readonly QueuedRequest[], name: string, rows: number): Tensor {
  const parts = new Array<Tensor>(requests.length);
  for (let i = 0; i < requests.length; i++) parts[i] = (requests[i] as QueuedRequest).inputs[name] as Tensor;
  return concatenateRows(parts, rows);
}

function toRecord(names: readonly string[], outputs: readonly Tensor[]): Record<string, Tensor> {
  const record: Record<string, Tensor> = {};
  for (let i = 0; i < outputs.length; i++) record[names[i] as string] = outputs[i] as Tensor;
  return record;
}

function poolClosedError(key: string | undefined): SluiceError {
  return new InferenceFailedError("unavailable", "INFERENCE_POOL_CLOSED", key ?? "", "the inference pool is closed");
}

/** A worker-side load/inspect failure as INVALID_MODEL; a worker that died stays an unavailable error. */
function toModelError(error: unknown, key: string | undefined, doing: string): SluiceError {
  if (error instanceof WorkerExit) return error.toError(key, key === undefined ? `${doing} model` : doing);
  if (error instanceof SluiceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ValidationError("INVALID_MODEL", [{ field: MODEL_BYTES_FIELD, description: `not a model Sluice can serve: ${message}` }]);
}

/** Posting a view clones its whole underlying buffer, so a view onto part of one is copied first. */
function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkOptions(options: Required<InferencePoolOptions>): void {
  const positive = ["workers", "maxBatchSize", "maxQueuedRequests", "intraOpThreads", "maxInputElements", "maxOutputElements"] as const;
  for (const name of positive) {
    if (!Number.isInteger(options[name]) || options[name] < 1)
      throw new RangeError(`inference pool option ${name} must be a positive integer, got ${options[name]}`);
  }
  for (const name of ["maxQueueDelayMicros", "inlineMaxMicros"] as const) {
    if (!Number.isFinite(options[name]) || options[name] < 0)
      throw new RangeError(`inference pool option ${name} must be zero or more, got ${options[name]}`);
  }
}

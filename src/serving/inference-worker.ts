/**
 * Entry point of an inference worker thread. onnxruntime-node's `session.run()` blocks the thread that calls
 * it, so every session lives here, never on the main thread. The worker holds one session per loaded model
 * key (created once, reused for every batch) and answers the pool's requests by id; the pool owns batching,
 * validation and scheduling. Started by `InferencePool`; importing this module elsewhere does nothing.
 */
import { parentPort, workerData } from "node:worker_threads";
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import {
  allocateTensorData,
  describeOversizedSignature,
  type ElementType,
  elementCount,
  isElementType,
  type ModelSignature,
  OUTPUT_TOO_LARGE,
  type Tensor,
  type TensorLimits,
  type TensorSpec,
  transferable,
} from "./tensors.js";

/** Settings the pool passes as `workerData`. */
export interface InferenceWorkerData {
  /** Marks a thread started by the pool, so importing this module in any other thread does nothing. */
  role: "sluice-inference-worker";
  intraOpThreads: number;
  /** What a model may declare and return; a run whose outputs hold more fails with reason {@link OUTPUT_TOO_LARGE}. */
  limits: TensorLimits;
}

/** A request from the pool to a worker; the worker answers each with a {@link WorkerReply} of the same id. */
export type WorkerRequest =
  | { op: "inspect"; id: number; bytes: Uint8Array }
  | { op: "load"; id: number; key: string; bytes: Uint8Array }
  /**
   * `inputs` are in the order of the model signature's inputs; `maxOutputElements` bounds the
   * run's outputs, all together (the pool's limit times the requests batched into the run).
   */
  | { op: "run"; id: number; key: string; inputs: Tensor[]; maxOutputElements: number }
  | { op: "release"; id: number; key: string }
  /**
   * Ends the worker with `code`: at once, or (a test hook simulating a crash mid-run) when the next run
   * arrives. The pool never calls `Worker.terminate()`: terminating a worker while onnxruntime is inside a
   * native call aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'"),
   * whereas `process.exit()` from the worker's own JavaScript can only happen between native calls.
   */
  | { op: "exit"; id: number; code: number; atNextRun: boolean };

/**
 * A worker's answer. `signature` answers inspect and load; `outputs` (in signature order) and `micros` (time
 * inside `session.run`) answer run. Request ids start at 1: the worker sends `{ id: 0, ok: true }` once,
 * unasked, when it is ready.
 */
export type WorkerReply =
  | { id: number; ok: true; signature?: ModelSignature; outputs?: Tensor[]; micros?: number }
  | { id: number; ok: false; message: string; reason?: string };

/** A run whose outputs hold more elements than allowed; sent back (not its outputs) with its reason. */
class OutputTooLargeError extends Error {}

interface LoadedModel {
  session: InferenceSession;
  inputNames: readonly string[];
  /** Only tensor outputs are fetched: sequences and maps (e.g. an sklearn ZipMap) cannot be returned. */
  outputNames: readonly string[];
  signature: ModelSignature;
}

const port = parentPort;
const settings = workerData as InferenceWorkerData | null | undefined;
if (port !== null && settings?.role === "sluice-inference-worker") {
  const { intraOpThreads, limits } = settings;
  const sessionOptions: InferenceSession.SessionOptions = {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // onnxruntime would log to stderr, unstructured; its errors reach the caller as messages instead.
    logSeverityLevel: 4,
  };
  const models = new Map<string, LoadedModel>();
  let exitAtNextRun: number | undefined;

  const createModel = async (bytes: Uint8Array): Promise<LoadedModel> => {
    const session = await InferenceSession.create(bytes, sessionOptions);
    try {
      const signature = describeSession(session);
      const oversized = describeOversizedSignature(signature, limits);
      if (oversized) throw new Error(oversized);
      return { session, inputNames: session.inputNames, outputNames: signature.outputs.map((o) => o.name), signature };
    } catch (error) {
      await session.release();
      throw error;
    }
  };

  const runModel = async (
    model: LoadedModel,
    inputs: readonly Tensor[],
    maxOutputElements: number,
  ): Promise<{ outputs: Tensor[]; micros: number }> => {
    const feeds: Record<string, OrtTensor> = {};
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i] as Tensor;
      feeds[model.inputNames[i] as string] = new OrtTensor(input.type, input.data as Float32Array, input.dims);
    }
    const started = performance.now();
    const results = await model.session.run(feeds, model.outputNames);
    const micros = Math.round((performance.now() - started) * 1000);
    // Counted before anything is copied or sent: a tiny model can return a huge tensor.
    let elements = 0;
    for (const name of model.outputNames) elements += elementCount((results[name] as OrtTensor).dims);
    if (elements > maxOutputElements) {
      for (const name of model.outputNames) (results[name] as OrtTensor).dispose();
      throw new OutputTooLargeError(
        `the model returned ${elements} output elements, more than the ${maxOutputElements} allowed for this run (limits.maxModelOutputElements)`,
      );
    }
    return { outputs: model.outputNames.map((name) => fromOrtTensor(results[name] as OrtTensor)), micros };
  };

  const handle = async (request: WorkerRequest): Promise<void> => {
    switch (request.op) {
      case "run": {
        if (exitAtNextRun !== undefined) process.exit(exitAtNextRun);
        const model = models.get(request.key);
        if (model === undefined) throw new Error(`model ${request.key} is not loaded in this worker`);
        const { outputs, micros } = await runModel(model, request.inputs, request.maxOutputElements);
        const transfer: ArrayBuffer[] = [];
        for (const output of outputs) output.data = transferable(output.data, transfer);
        port.postMessage({ id: request.id, ok: true, outputs, micros } satisfies WorkerReply, transfer);
        return;
      }
      case "load": {
        let model = models.get(request.key);
        if (model === undefined) {
          model = await createModel(request.bytes);
          try {
            // The first run allocates and plans; doing it here keeps that cost off the first caller.
            await runModel(model, warmUpInputs(model.signature), limits.maxOutputElements);
          } catch (error) {
            await model.session.release();
            throw new Error(`warm-up run failed: ${describeError(error)}`);
          }
          models.set(request.key, model);
        }
        port.postMessage({ id: request.id, ok: true, signature: model.signature } satisfies WorkerReply);
        return;
      }
      case "inspect": {
        const model = await createModel(request.bytes);
        await model.session.release();
        port.postMessage({ id: request.id, ok: true, signature: model.signature } satisfies WorkerReply);
        return;
      }
      case "exit": {
        if (request.atNextRun) exitAtNextRun = request.code;
        else process.exit(request.code);
        return;
      }
      case "release": {
        const model = models.get(request.key);
        models.delete(request.key);
        await model?.session.release();
        port.postMessage({ id: request.id, ok: true } satisfies WorkerReply);
        return;
      }
    }
  };

  port.on("message", (request: WorkerRequest) => {
    handle(request).catch((error: unknown) => {
      const reason = error instanceof OutputTooLargeError ? { reason: OUTPUT_TOO_LARGE } : {};
      port.postMessage({ id: request.id, ok: false, message: describeError(error), ...reason } satisfies WorkerReply);
    });
  });
  port.postMessage({ id: 0, ok: true } satisfies WorkerReply);
}

/**
 * Reads a session's inputs and outputs into a {@link ModelSignature}. Throws when an input cannot be bound
 * (not a tensor, or an element type Sluice does not serve) or when the model has no tensor output.
 */
function describeSession(session: InferenceSession): ModelSignature {
  const inputs: TensorSpec[] = [];
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor; only tensor inputs can be served`);
    inputs.push(toSpec("input", meta.name, meta.type, meta.shape));
  }
  const outputs: TensorSpec[] = [];
  for (const meta of session.outputMetadata) {
    if (meta.isTensor) outputs.push(toSpec("output", meta.name, meta.type, meta.shape));
  }
  if (outputs.length === 0) throw new Error("the model has no tensor output");
  const batchable = inputs.length > 0 && [...inputs, ...outputs].every((spec) => spec.shape.length > 0 && spec.shape[0] === -1);
  return { inputs, outputs, batchable };
}

function toSpec(role: string, name: string, type: string, shape: ReadonlyArray<number | string>): TensorSpec {
  if (!isElementType(type)) throw new Error(`${role} ${name} has element type ${type}, which Sluice does not serve`);
  // onnxruntime reports a symbolic dim by its name and an unnamed dynamic dim as ""; both are -1 here.
  return { name, elementType: type, shape: shape.map((dim) => (typeof dim === "number" ? dim : -1)) };
}

/** Zero inputs of one row (every dynamic dim set to 1) to warm a freshly loaded session. */
function warmUpInputs(signature: ModelSignature): Tensor[] {
  return signature.inputs.map((spec) => {
    const dims = spec.shape.map((dim) => (dim === -1 ? 1 : dim));
    return { type: spec.elementType, data: allocateTensorData(spec.elementType, elementCount(dims)), dims };
  });
}

function fromOrtTensor(tensor: OrtTensor): Tensor {
  return { type: tensor.type as ElementType, data: tensor.data as Tensor["data"], dims: tensor.dims };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

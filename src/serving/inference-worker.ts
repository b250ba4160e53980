/**
 * Entry point of an inference worker thread. onnxruntime-node's `session.run()` blocks the thread that calls
 * it, so every session lives here, never on the main thread. The worker holds one session per loaded model
 * key (created once, reused for every batch) and answers the pool's requests by id; the pool owns batching,
 * validation and scheduling. Started by `InferencePool`; importing this module elsewhere does nothing.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createOnnxModel, describeError, loadOnnxModel, type OnnxModel, onnxSessionOptions, runOnnxModel } from "./onnx-session.js";
import { type ModelSignature, OUTPUT_TOO_LARGE, OutputTooLargeError, type Tensor, type TensorLimits, transferable } from "./tensors.js";

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

const port = parentPort;
const settings = workerData as InferenceWorkerData | null | undefined;
if (port !== null && settings?.role === "sluice-inference-worker") {
  const { intraOpThreads, limits } = settings;
  const sessionOptions = onnxSessionOptions(intraOpThreads);
  const models = new Map<string, OnnxModel>();
  let exitAtNextRun: number | undefined;

  const handle = async (request: WorkerRequest): Promise<void> => {
    switch (request.op) {
      case "run": {
        if (exitAtNextRun !== undefined) process.exit(exitAtNextRun);
        const model = models.get(request.key);
        if (model === undefined) throw new Error(`model ${request.key} is not loaded in this worker`);
        const { outputs, micros } = await runOnnxModel(model, request.inputs, request.maxOutputElements);
        const transfer: ArrayBuffer[] = [];
        for (const output of outputs) output.data = transferable(output.data, transfer);
        port.postMessage({ id: request.id, ok: true, outputs, micros } satisfies WorkerReply, transfer);
        return;
      }
      case "load": {
        let model = models.get(request.key);
        if (model === undefined) {
          model = await loadOnnxModel(request.bytes, sessionOptions, limits);
          models.set(request.key, model);
        }
        port.postMessage({ id: request.id, ok: true, signature: model.signature } satisfies WorkerReply);
        return;
      }
      case "inspect": {
        const model = await createOnnxModel(request.bytes, sessionOptions, limits);
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

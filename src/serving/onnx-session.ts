/**
 * One ONNX model in an onnxruntime session: created from its bytes, described as a
 * {@link ModelSignature}, warmed, and run. Inference workers (inference-worker.ts) hold their
 * sessions through this module, and so does the pool's inline runner on the main thread for models
 * measured tiny enough to run there (inference-pool.ts). Importing it loads onnxruntime.
 */
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import {
  allocateTensorData,
  describeOversizedSignature,
  type ElementType,
  elementCount,
  isElementType,
  type ModelSignature,
  OutputTooLargeError,
  type Tensor,
  type TensorLimits,
  type TensorSpec,
} from "./tensors.js";

/** A loaded model: its session, and the names its runs bind and fetch. */
export interface OnnxModel {
  session: InferenceSession;
  inputNames: readonly string[];
  /** Only tensor outputs are fetched: sequences and maps (e.g. an sklearn ZipMap) cannot be returned. */
  outputNames: readonly string[];
  signature: ModelSignature;
}

/** The options of every session: `intraOpThreads` threads, sequential, fully optimised, and silent. */
export function onnxSessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // onnxruntime would log to stderr, unstructured; its errors reach the caller as messages instead.
    logSeverityLevel: 4,
  };
}

/** Creates a session and describes it; throws (releasing it) when the model declares more than `limits` allow. */
export async function createOnnxModel(
  bytes: Uint8Array,
  options: InferenceSession.SessionOptions,
  limits: TensorLimits,
): Promise<OnnxModel> {
  const session = await InferenceSession.create(bytes, options);
  try {
    const signature = describeSession(session);
    const oversized = describeOversizedSignature(signature, limits);
    if (oversized) throw new Error(oversized);
    return { session, inputNames: session.inputNames, outputNames: signature.outputs.map((o) => o.name), signature };
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** Creates a session and warms it with one run of zeros: the first run allocates and plans, off the first caller's time. */
export async function loadOnnxModel(bytes: Uint8Array, options: InferenceSession.SessionOptions, limits: TensorLimits): Promise<OnnxModel> {
  const model = await createOnnxModel(bytes, options, limits);
  try {
    await runOnnxModel(model, warmUpInputs(model.signature), limits.maxOutputElements);
  } catch (error) {
    await model.session.release();
    throw new Error(`warm-up run failed: ${describeError(error)}`);
  }
  return model;
}

/**
 * Runs a model on inputs in its signature's order; returns its tensor outputs in signature order
 * and the time inside `session.run`. Throws {@link OutputTooLargeError} when the outputs hold more
 * than `maxOutputElements`, counted before anything is copied.
 */
export async function runOnnxModel(
  model: OnnxModel,
  inputs: readonly Tensor[],
  maxOutputElements: number,
): Promise<{ outputs: Tensor[]; micros: number }> {
  const feeds: Record<string, OrtTensor> = {};
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] as Tensor;
    feeds[model.inputNames[i] as string] = new OrtTensor(input.type, input.data as Float32Array, input.dims);
  }
  // onnxruntime-node runs a session in a setImmediate callback of its own, scheduled as `run` is
  // called: an immediate queued just before it notes when that turn begins, so the time measured
  // is the run's, not the wait for the loop to reach it (long on a busy main thread).
  let started = performance.now();
  setImmediate(() => {
    started = performance.now();
  });
  const results = await model.session.run(feeds, model.outputNames);
  const micros = Math.round((performance.now() - started) * 1000);
  // Counted before anything is copied or sent: a tiny model can return a huge tensor.
  let elements = 0;
  for (const name of model.outputNames) elements += elementCount((results[name] as OrtTensor).dims);
  if (elements > maxOutputElements) {
    for (const name of model.outputNames) (results[name] as OrtTensor).dispose();
    throw new OutputTooLargeError(elements, maxOutputElements);
  }
  return { outputs: model.outputNames.map((name) => fromOrtTensor(results[name] as OrtTensor)), micros };
}

/** Zero inputs of `rows` rows (every dynamic dim set to `rows` first, then 1) in signature order. */
export function warmUpInputs(signature: ModelSignature, rows = 1): Tensor[] {
  return signature.inputs.map((spec) => {
    const dims = spec.shape.map((dim, i) => (dim === -1 ? (i === 0 ? rows : 1) : dim));
    return { type: spec.elementType, data: allocateTensorData(spec.elementType, elementCount(dims)), dims };
  });
}

/** An error's message, or the thrown value as text. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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

function fromOrtTensor(tensor: OrtTensor): Tensor {
  return { type: tensor.type as ElementType, data: tensor.data as Tensor["data"], dims: tensor.dims };
}

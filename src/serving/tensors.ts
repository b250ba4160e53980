/**
 * Tensors as the serving core sees them: an element type, a flat row-major array and dims. These are plain
 * objects (not onnxruntime's `Tensor` class) so they cross worker boundaries by structured clone, and the
 * batcher can concatenate and split them along the first dimension without knowing the model.
 */

/** An ONNX element type that Sluice can bind as a model input or return as an output. */
export type ElementType =
  | "float32"
  | "float64"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool"
  | "string";

/** The flat, row-major storage of a tensor; `bool` is a Uint8Array of 0/1 and `string` a plain array. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/** A run whose outputs hold more elements than allowed (limits.maxModelOutputElements). */
export class OutputTooLargeError extends Error {
  constructor(elements: number, maxOutputElements: number) {
    super(
      `the model returned ${elements} output elements, more than the ${maxOutputElements} allowed for this run (limits.maxModelOutputElements)`,
    );
  }
}

/** A dense tensor: `data.length` is the product of `dims`. */
export interface Tensor {
  type: ElementType;
  data: TensorData;
  dims: readonly number[];
}

/** One input or output of a model as the model declares it; `-1` marks a dynamic (symbolic or unknown) dim. */
export interface TensorSpec {
  name: string;
  elementType: ElementType;
  shape: readonly number[];
}

/** What a model takes and returns, in the model's own order. */
export interface ModelSignature {
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  /** True when every input and output has a dynamic first dimension, so requests can be stacked into batches. */
  batchable: boolean;
}

type NumericType = Exclude<ElementType, "string">;
type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const typedArrayOf: Readonly<Record<NumericType, TypedArrayConstructor>> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** Every element type Sluice serves, in a stable order. */
export const ELEMENT_TYPES: readonly ElementType[] = [...(Object.keys(typedArrayOf) as NumericType[]), "string"];

/** Whether `name` (for example an onnxruntime type name) is an {@link ElementType} Sluice serves. */
export function isElementType(name: string): name is ElementType {
  return name === "string" || Object.hasOwn(typedArrayOf, name);
}

/** Whether `data` is the array kind that carries `type` (Float32Array for float32, string[] for string, ...). */
export function dataMatchesType(type: ElementType, data: TensorData): boolean {
  return type === "string" ? Array.isArray(data) : data instanceof typedArrayOf[type];
}

/** A zero-filled (empty-string-filled for `string`) array of `length` elements of `type`. */
export function allocateTensorData(type: ElementType, length: number): TensorData {
  return type === "string" ? new Array<string>(length).fill("") : new typedArrayOf[type](length);
}

/** The number of elements a tensor of `dims` holds. */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const dim of dims) count *= dim;
  return count;
}

/** The reason of a run refused because its outputs hold more elements than allowed. */
export const OUTPUT_TOO_LARGE = "MODEL_OUTPUT_TOO_LARGE";

/** Bounds on what a model may declare and return (limits.maxModelInputElements, limits.maxModelOutputElements). */
export interface TensorLimits {
  /** Elements of one input tensor. */
  maxInputElements: number;
  /** Elements one request's outputs may hold, all outputs together. */
  maxOutputElements: number;
}

/**
 * Why a model's declared shapes break `limits`, or undefined: an input whose fixed dims (a
 * dynamic dim counts 1) hold more than maxInputElements, or outputs whose fixed dims hold more
 * than maxOutputElements together. Checked before a model is kept or warmed up, since the warm-up
 * run allocates its inputs.
 */
export function describeOversizedSignature(
  signature: Pick<ModelSignature, "inputs" | "outputs">,
  limits: TensorLimits,
): string | undefined {
  const fixedElements = (shape: readonly number[]) => elementCount(shape.map((dim) => (dim < 0 ? 1 : dim)));
  for (const input of signature.inputs) {
    const elements = fixedElements(input.shape);
    if (elements > limits.maxInputElements) {
      return `input ${input.name} declares shape [${input.shape.join(", ")}]: ${elements} elements, more than the ${limits.maxInputElements} allowed (limits.maxModelInputElements)`;
    }
  }
  let outputs = 0;
  for (const output of signature.outputs) outputs += fixedElements(output.shape);
  if (outputs > limits.maxOutputElements) {
    const shapes = signature.outputs.map((o) => `${o.name} [${o.shape.join(", ")}]`).join(", ");
    return `its outputs (${shapes}) declare ${outputs} elements, more than the ${limits.maxOutputElements} allowed (limits.maxModelOutputElements)`;
  }
  return undefined;
}

/**
 * Stacks tensors of the same type and trailing dims along the first dimension. `parts[i].dims[0]` may differ;
 * the result has `rows` (their sum) rows. Used to build one batch from several requests.
 */
export function concatenateRows(parts: readonly Tensor[], rows: number): Tensor {
  const first = parts[0];
  if (first === undefined) throw new RangeError("concatenateRows needs at least one tensor");
  const dims = [rows, ...first.dims.slice(1)];
  const data = allocateTensorData(first.type, elementCount(dims));
  let offset = 0;
  if (Array.isArray(data)) {
    for (const part of parts) {
      const strings = part.data as string[];
      for (let i = 0; i < strings.length; i++) data[offset + i] = strings[i] as string;
      offset += strings.length;
    }
  } else {
    for (const part of parts) {
      // The type check in validation guarantees every part has the same typed array kind as `data`.
      (data as Float32Array).set(part.data as Float32Array, offset);
      offset += part.data.length;
    }
  }
  return { type: first.type, data, dims };
}

/**
 * Rows `[start, start + count)` of `tensor`, which has `totalRows` rows. Typed arrays are views onto the
 * same buffer (no copy); string arrays are sliced. Used to hand each request its part of a batch's output.
 */
export function sliceRows(tensor: Tensor, start: number, count: number, totalRows: number): Tensor {
  const rowElements = totalRows === 0 ? 0 : tensor.data.length / totalRows;
  const from = start * rowElements;
  const to = from + count * rowElements;
  const dims = tensor.dims.slice();
  dims[0] = count;
  const data = Array.isArray(tensor.data) ? tensor.data.slice(from, to) : tensor.data.subarray(from, to);
  return { type: tensor.type, data, dims };
}

/**
 * Prepares `data` to be posted to another thread without a copy on the way: returns the array to post, and
 * pushes onto `transfer` the buffer to move. A view onto part of a larger buffer (a Node Buffer from a pool,
 * a subarray) is copied first, since posting it would clone the whole underlying buffer; a SharedArrayBuffer
 * is posted as is (it is shared, not copied); strings cannot be transferred and are cloned.
 */
export function transferable(data: TensorData, transfer: ArrayBuffer[]): TensorData {
  if (Array.isArray(data)) return data;
  const buffer = data.buffer;
  if (!(buffer instanceof ArrayBuffer)) return data;
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength && !transfer.includes(buffer)) {
    transfer.push(buffer);
    return data;
  }
  // A Node Buffer's slice() is a view, so Uint8Arrays are copied through the plain constructor.
  const copy = data instanceof Uint8Array ? new Uint8Array(data) : data.slice();
  transfer.push(copy.buffer as ArrayBuffer);
  return copy;
}

/**
 * Small float32 ONNX graphs evaluated in plain JavaScript, for models run on the main thread
 * (inline-runner.ts).
 *
 * Why: for a model of a few dozen multiply-adds, onnxruntime's run is nearly all fixed cost: the call
 * into native code, a setImmediate turn of its own, and native code and buffers gone cold between
 * requests. In the server, a 10-feature logistic regression measured 38-48 µs a run, against 7 µs in a
 * tight loop (docs/benchmarks.md). The same graph evaluated here takes a microsecond or two, in the
 * request's own turn.
 *
 * Only a plain subset of ONNX is evaluated ({@link EVALUATED_OPERATORS}, default domain, float32
 * inputs, outputs and initializers, models up to {@link MAX_EVALUATED_MODEL_BYTES}); anything else is
 * refused with the reason, and stays with onnxruntime. Each operator computes in float64 and stores its
 * output as float32, as onnxruntime stores it, so results may differ from onnxruntime's in the last
 * bits: the inline runner uses a graph only when its outputs agree with onnxruntime's on probe inputs.
 */
import onnxProto, { type onnx as OnnxTypes } from "onnx-proto";
import { elementCount, type ModelSignature, OutputTooLargeError, type Tensor } from "./tensors.js";

const { onnx } = onnxProto;

/**
 * Models larger than this are not decoded for evaluation: a graph that runs in microseconds has a few
 * thousand weights, and decoding a large model here would cost memory and load time for nothing.
 */
export const MAX_EVALUATED_MODEL_BYTES = 1024 * 1024;

/** A float32 tensor between operators. */
interface Value {
  data: Float32Array;
  dims: readonly number[];
}

/** An operator as compiled: its inputs' slots (-1 for an omitted optional input), its output's slot, and its work. */
interface Step {
  inputs: readonly number[];
  output: number;
  compute: (inputs: readonly (Value | undefined)[]) => Value;
}

/** A graph compiled for evaluation. */
export interface GraphEvaluator {
  /**
   * Evaluates the graph on inputs in signature order; returns its outputs in signature order. Throws
   * {@link OutputTooLargeError} when they hold more than `maxOutputElements`, and an Error naming the
   * operator when shapes do not fit (compileGraph has checked each operator's inputs are there).
   */
  run(inputs: readonly Tensor[], maxOutputElements: number): Tensor[];
}

/** A compiled graph, or why this graph is left to onnxruntime. */
export type CompiledGraph = { evaluator: GraphEvaluator } | { unsupported: string };

type Attributes = ReadonlyMap<string, OnnxTypes.IAttributeProto>;

/** What an operator needs to be compiled: its attributes and the model's default-domain opset. */
interface OperatorContext {
  attributes: Attributes;
  opset: number;
}

/** Builds an operator's work from its attributes (compileGraph has refused any it does not accept). */
type OperatorFactory = (context: OperatorContext) => Step["compute"];

type UnaryOp = "Relu" | "LeakyRelu" | "Sigmoid" | "Tanh" | "Exp" | "Log" | "Neg" | "Abs" | "Sqrt";
type BinaryOp = "Add" | "Sub" | "Mul" | "Div";

const unary =
  (op: UnaryOp): OperatorFactory =>
  ({ attributes }) => {
    const alpha = floatAttribute(attributes, "alpha", 0.01);
    return ([x]) => elementwise(x as Value, op, alpha);
  };

const binary =
  (op: BinaryOp): OperatorFactory =>
  () =>
  ([a, b]) =>
    broadcast(a as Value, b as Value, op);

/** An evaluated operator: how many inputs it requires and how many it may take, the attributes it accepts, and its work. */
interface Operator {
  inputs: readonly [required: number, most: number];
  attributes: readonly string[];
  factory: OperatorFactory;
}

const UNARY = { inputs: [1, 1], attributes: [] } as const;
const BINARY = { inputs: [2, 2], attributes: [] } as const;

/**
 * The operators evaluated, by ONNX name (default domain). An attribute not listed, or a required
 * input left out, makes the graph unsupported rather than silently misread.
 */
export const EVALUATED_OPERATORS: Readonly<Record<string, Operator>> = {
  Identity: {
    ...UNARY,
    factory:
      () =>
      ([x]) =>
        x as Value,
  },
  Relu: { ...UNARY, factory: unary("Relu") },
  LeakyRelu: { ...UNARY, attributes: ["alpha"], factory: unary("LeakyRelu") },
  Sigmoid: { ...UNARY, factory: unary("Sigmoid") },
  Tanh: { ...UNARY, factory: unary("Tanh") },
  Exp: { ...UNARY, factory: unary("Exp") },
  Log: { ...UNARY, factory: unary("Log") },
  Neg: { ...UNARY, factory: unary("Neg") },
  Abs: { ...UNARY, factory: unary("Abs") },
  Sqrt: { ...UNARY, factory: unary("Sqrt") },
  Add: { ...BINARY, factory: binary("Add") },
  Sub: { ...BINARY, factory: binary("Sub") },
  Mul: { ...BINARY, factory: binary("Mul") },
  Div: { ...BINARY, factory: binary("Div") },
  // 2-D only: another rank fails the probe runs, and the model stays with onnxruntime.
  MatMul: {
    ...BINARY,
    factory:
      () =>
      ([a, b]) =>
        gemm(a as Value, b as Value, undefined, 1, 1, false, false, "MatMul"),
  },
  Gemm: {
    inputs: [2, 3],
    attributes: ["alpha", "beta", "transA", "transB"],
    factory: ({ attributes }) => {
      const alpha = floatAttribute(attributes, "alpha", 1);
      const beta = floatAttribute(attributes, "beta", 1);
      const transA = intAttribute(attributes, "transA", 0) !== 0;
      const transB = intAttribute(attributes, "transB", 0) !== 0;
      return ([a, b, c]) => gemm(a as Value, b as Value, c, alpha, beta, transA, transB, "Gemm");
    },
  },
  Softmax: {
    ...UNARY,
    attributes: ["axis"],
    // Opset 13 normalises along `axis` (default -1); earlier opsets flatten to 2-D at `axis` (default 1) and normalise each row.
    factory: ({ attributes, opset }) => {
      const axis = intAttribute(attributes, "axis", opset >= 13 ? -1 : 1);
      return ([x]) => softmax(x as Value, axis, opset >= 13);
    },
  },
};

/**
 * Compiles a model for evaluation, or says why it is left to onnxruntime. `signature` is the
 * model's as onnxruntime described it: its inputs and outputs, in the order runs use.
 */
export function compileGraph(bytes: Uint8Array, signature: ModelSignature): CompiledGraph {
  if (bytes.length > MAX_EVALUATED_MODEL_BYTES) return { unsupported: `the model is over ${MAX_EVALUATED_MODEL_BYTES} bytes` };
  for (const spec of [...signature.inputs, ...signature.outputs]) {
    if (spec.elementType !== "float32") return { unsupported: `${spec.name} is ${spec.elementType}, not float32` };
  }
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    return { unsupported: `the model could not be decoded: ${error instanceof Error ? error.message : String(error)}` };
  }
  const graph = model.graph;
  if (!graph) return { unsupported: "the model has no graph" };
  if ((graph.sparseInitializer ?? []).length > 0) return { unsupported: "the graph has sparse initializers" };
  const opset = defaultOpset(model);
  const slots = new Map<string, number>();
  const slotOf = (name: string): number => {
    const known = slots.get(name);
    if (known !== undefined) return known;
    slots.set(name, slots.size);
    return slots.size - 1;
  };
  const constants: (Value | undefined)[] = [];
  for (const initializer of graph.initializer ?? []) {
    const value = initializerValue(initializer);
    if (typeof value === "string") return { unsupported: value };
    constants[slotOf(initializer.name ?? "")] = value;
  }
  const inputSlots = signature.inputs.map((spec) => slotOf(spec.name));
  // Slots holding a value by the time each operator runs: inputs, initializers, then outputs in node order.
  const defined = new Set<number>([...inputSlots, ...constants.flatMap((value, slot) => (value ? [slot] : []))]);
  const steps: Step[] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? "";
    if (node.domain && node.domain !== "ai.onnx") return { unsupported: `operator ${node.domain}.${op} is not evaluated` };
    const operator = EVALUATED_OPERATORS[op];
    if (!operator) return { unsupported: `operator ${op} is not evaluated` };
    const attributes = new Map((node.attribute ?? []).map((attribute) => [attribute.name ?? "", attribute]));
    const unknown = [...attributes.keys()].find((name) => !operator.attributes.includes(name));
    if (unknown !== undefined) return { unsupported: `attribute ${unknown} of ${op} is not evaluated` };
    const compute = operator.factory({ attributes, opset });
    if ((node.output ?? []).length !== 1) return { unsupported: `${op} with ${(node.output ?? []).length} outputs is not evaluated` };
    const inputs = (node.input ?? []).map((name) => (name === "" ? -1 : slotOf(name)));
    const [required, most] = operator.inputs;
    if (inputs.length > most || inputs.length < required || inputs.slice(0, required).includes(-1)) {
      return { unsupported: `${op} with inputs [${(node.input ?? []).join(", ")}] is not evaluated` };
    }
    if (inputs.some((slot) => slot >= 0 && !defined.has(slot))) return { unsupported: `${op} reads a value nothing computes before it` };
    const output = slotOf(node.output?.[0] ?? "");
    defined.add(output);
    steps.push({ inputs, output, compute });
  }
  const outputSlots = signature.outputs.map((spec) => slots.get(spec.name));
  const missing = signature.outputs.find((_, i) => outputSlots[i] === undefined || !defined.has(outputSlots[i] as number));
  if (missing) return { unsupported: `output ${missing.name} is not computed by the graph` };
  return { evaluator: new CompiledEvaluator(slots.size, constants, inputSlots, steps, outputSlots as number[]) };
}

class CompiledEvaluator implements GraphEvaluator {
  /** The initializers' data: an output that is one of them is copied. */
  private readonly constantData: readonly Float32Array[];

  constructor(
    private readonly slotCount: number,
    private readonly constants: readonly (Value | undefined)[],
    private readonly inputSlots: readonly number[],
    private readonly steps: readonly Step[],
    private readonly outputSlots: readonly number[],
  ) {
    this.constantData = constants.flatMap((constant) => (constant ? [constant.data] : []));
  }

  run(inputs: readonly Tensor[], maxOutputElements: number): Tensor[] {
    const values: (Value | undefined)[] = this.constants.slice();
    values.length = this.slotCount;
    for (let i = 0; i < this.inputSlots.length; i++) {
      const input = inputs[i] as Tensor;
      values[this.inputSlots[i] as number] = { data: input.data as Float32Array, dims: input.dims };
    }
    for (const step of this.steps) {
      values[step.output] = step.compute(step.inputs.map((slot) => (slot < 0 ? undefined : values[slot])));
    }
    const outputs = this.outputSlots.map((slot) => values[slot] as Value);
    let elements = 0;
    for (const output of outputs) elements += output.data.length;
    if (elements > maxOutputElements) {
      throw new OutputTooLargeError(elements, maxOutputElements);
    }
    // An output that is an input, an initializer or another output as it stands is copied: the caller owns what it gets.
    const handed: Float32Array[] = [];
    return outputs.map((output) => {
      const shared =
        handed.includes(output.data) || this.constantData.includes(output.data) || inputs.some((input) => input.data === output.data);
      const data = shared ? output.data.slice() : output.data;
      handed.push(data);
      return { type: "float32", data, dims: [...output.dims] };
    });
  }
}

/** The version of the default ONNX domain the model imports (1 when it names none). */
function defaultOpset(model: OnnxTypes.ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx");
  return entry?.version === undefined || entry.version === null ? 1 : Number(entry.version);
}

/** An initializer as a float32 value, or why it cannot be one. */
function initializerValue(tensor: OnnxTypes.ITensorProto): Value | string {
  const name = tensor.name ?? "";
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT) return `initializer ${name} is not float32`;
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (tensor.externalData ?? []).length > 0) {
    return `initializer ${name} is stored outside the model`;
  }
  if (tensor.segment) return `initializer ${name} is segmented`;
  const dims = (tensor.dims ?? []).map(Number);
  const count = elementCount(dims);
  const raw = tensor.rawData;
  let data: Float32Array;
  if (raw && raw.length > 0) {
    if (raw.length !== count * 4) return `initializer ${name} holds ${raw.length} bytes for ${count} float32 values`;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  } else {
    const floats = tensor.floatData ?? [];
    if (floats.length !== count) return `initializer ${name} holds ${floats.length} values for ${count}`;
    data = Float32Array.from(floats);
  }
  return { data, dims };
}

function floatAttribute(attributes: Attributes, name: string, fallback: number): number {
  const attribute = attributes.get(name);
  return attribute?.f === undefined || attribute.f === null ? fallback : attribute.f;
}

function intAttribute(attributes: Attributes, name: string, fallback: number): number {
  const attribute = attributes.get(name);
  return attribute?.i === undefined || attribute.i === null ? fallback : Number(attribute.i);
}

function shapeError(op: string, ...values: Value[]): Error {
  return new Error(`${op} cannot combine shapes ${values.map((v) => `[${v.dims.join(",")}]`).join(" and ")}`);
}

/**
 * An elementwise unary operator. One loop per operator, rather than one loop calling a function per
 * element, so that each loop is fast from its first runs (V8 need not inline a callback first).
 */
function elementwise(x: Value, op: UnaryOp, alpha: number): Value {
  const input = x.data;
  const out = new Float32Array(input.length);
  const n = out.length;
  switch (op) {
    case "Relu":
      for (let i = 0; i < n; i++) out[i] = Math.max(input[i] as number, 0);
      break;
    case "LeakyRelu":
      for (let i = 0; i < n; i++) {
        const v = input[i] as number;
        out[i] = v < 0 ? alpha * v : v;
      }
      break;
    case "Sigmoid":
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-(input[i] as number)));
      break;
    case "Tanh":
      for (let i = 0; i < n; i++) out[i] = Math.tanh(input[i] as number);
      break;
    case "Exp":
      for (let i = 0; i < n; i++) out[i] = Math.exp(input[i] as number);
      break;
    case "Log":
      for (let i = 0; i < n; i++) out[i] = Math.log(input[i] as number);
      break;
    case "Neg":
      for (let i = 0; i < n; i++) out[i] = -(input[i] as number);
      break;
    case "Abs":
      for (let i = 0; i < n; i++) out[i] = Math.abs(input[i] as number);
      break;
    case "Sqrt":
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(input[i] as number);
      break;
  }
  return { data: out, dims: x.dims };
}

function apply(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case "Add":
      return a + b;
    case "Sub":
      return a - b;
    case "Mul":
      return a * b;
    case "Div":
      return a / b;
  }
}

/** An elementwise binary operator with numpy-style (multidirectional) broadcasting. */
function broadcast(a: Value, b: Value, op: BinaryOp): Value {
  const rank = Math.max(a.dims.length, b.dims.length);
  const aDims = padded(a.dims, rank);
  const bDims = padded(b.dims, rank);
  const dims: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const x = aDims[axis] as number;
    const y = bDims[axis] as number;
    if (x !== y && x !== 1 && y !== 1) throw shapeError(op, a, b);
    dims.push(x === 1 ? y : x);
  }
  const out = new Float32Array(elementCount(dims));
  // The usual cases (equal shapes, a bias row or a scalar) repeat an input along the leading axes:
  // its element for output i is i modulo its length.
  if (repeatsAlongLeadingAxes(aDims, dims) && repeatsAlongLeadingAxes(bDims, dims)) {
    repeating(a.data, b.data, out, op);
    return { data: out, dims };
  }
  const aStrides = broadcastStrides(aDims, dims);
  const bStrides = broadcastStrides(bDims, dims);
  const index = new Array<number>(rank).fill(0);
  let aOffset = 0;
  let bOffset = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = apply(op, a.data[aOffset] as number, b.data[bOffset] as number);
    // Advance the last axis, carrying into earlier ones.
    for (let axis = rank - 1; axis >= 0; axis--) {
      const size = dims[axis] as number;
      index[axis] = (index[axis] as number) + 1;
      aOffset += aStrides[axis] as number;
      bOffset += bStrides[axis] as number;
      if ((index[axis] as number) < size) break;
      aOffset -= (aStrides[axis] as number) * size;
      bOffset -= (bStrides[axis] as number) * size;
      index[axis] = 0;
    }
  }
  return { data: out, dims };
}

/** out[i] = a[i mod |a|] op b[i mod |b|], one loop per operator (see {@link elementwise}). */
function repeating(a: Float32Array, b: Float32Array, out: Float32Array, op: BinaryOp): void {
  const n = out.length;
  const aLength = a.length;
  const bLength = b.length;
  switch (op) {
    case "Add":
      for (let i = 0; i < n; i++) out[i] = (a[i % aLength] as number) + (b[i % bLength] as number);
      break;
    case "Sub":
      for (let i = 0; i < n; i++) out[i] = (a[i % aLength] as number) - (b[i % bLength] as number);
      break;
    case "Mul":
      for (let i = 0; i < n; i++) out[i] = (a[i % aLength] as number) * (b[i % bLength] as number);
      break;
    case "Div":
      for (let i = 0; i < n; i++) out[i] = (a[i % aLength] as number) / (b[i % bLength] as number);
      break;
  }
}

/** Whether `dims` (padded to the output's rank) are 1s and then the output's own trailing dims. */
function repeatsAlongLeadingAxes(dims: readonly number[], to: readonly number[]): boolean {
  let axis = dims.length - 1;
  while (axis >= 0 && dims[axis] === to[axis]) axis--;
  for (; axis >= 0; axis--) if (dims[axis] !== 1) return false;
  return true;
}

function padded(dims: readonly number[], rank: number): number[] {
  return [...new Array<number>(rank - dims.length).fill(1), ...dims];
}

/** Row-major strides of `dims`, 0 along the axes it is broadcast over. */
function broadcastStrides(dims: readonly number[], to: readonly number[]): number[] {
  const strides = new Array<number>(dims.length).fill(0);
  let stride = 1;
  for (let axis = dims.length - 1; axis >= 0; axis--) {
    strides[axis] = dims[axis] === 1 && to[axis] !== 1 ? 0 : stride;
    stride *= dims[axis] as number;
  }
  return strides;
}

/** alpha·A'·B' + beta·C for 2-D A and B (A' = Aᵀ with transA, likewise B), C broadcast to [M, N]. */
function gemm(a: Value, b: Value, c: Value | undefined, alpha: number, beta: number, transA: boolean, transB: boolean, op: string): Value {
  if (a.dims.length !== 2 || b.dims.length !== 2) throw shapeError(op, a, b);
  const [aRows, aCols] = a.dims as [number, number];
  const [bRows, bCols] = b.dims as [number, number];
  const m = transA ? aCols : aRows;
  const k = transA ? aRows : aCols;
  const n = transB ? bRows : bCols;
  if ((transB ? bCols : bRows) !== k) throw shapeError(op, a, b);
  // Element (i, p) of A' and (p, j) of B' as offsets: i·rowStride + p·colStride.
  const [aI, aP] = transA ? [1, aCols] : [aCols, 1];
  const [bP, bJ] = transB ? [1, bCols] : [bCols, 1];
  const out = new Float32Array(m * n);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += (ad[i * aI + p * aP] as number) * (bd[p * bP + j * bJ] as number);
      out[i * n + j] = alpha === 1 ? sum : alpha * sum;
    }
  }
  const product = { data: out, dims: [m, n] };
  if (!c || beta === 0) return product;
  if (c.dims.length > 2 || padded(c.dims, 2).some((dim, axis) => dim !== 1 && dim !== product.dims[axis])) throw shapeError(op, product, c);
  const scaled = beta === 1 ? c : { data: c.data.map((x) => beta * x), dims: c.dims };
  return broadcast(product, scaled, "Add");
}

/** Softmax along `axis` (opset 13), or over everything from `axis` on (earlier opsets). */
function softmax(x: Value, axis: number, alongAxisOnly: boolean): Value {
  const rank = x.dims.length;
  const at = axis < 0 ? axis + rank : axis;
  if (at < 0 || at >= Math.max(rank, 1)) throw new Error(`Softmax axis ${axis} is outside a rank-${rank} input`);
  const outer = elementCount(x.dims.slice(0, at));
  const length = alongAxisOnly ? (x.dims[at] ?? 1) : elementCount(x.dims.slice(at));
  const inner = alongAxisOnly ? elementCount(x.dims.slice(at + 1)) : 1;
  const out = new Float32Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * length * inner + i;
      let max = Number.NEGATIVE_INFINITY;
      for (let l = 0; l < length; l++) max = Math.max(max, x.data[base + l * inner] as number);
      let sum = 0;
      for (let l = 0; l < length; l++) sum += Math.exp((x.data[base + l * inner] as number) - max);
      for (let l = 0; l < length; l++) out[base + l * inner] = Math.exp((x.data[base + l * inner] as number) - max) / sum;
    }
  }
  return { data: out, dims: x.dims };
}

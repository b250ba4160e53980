/**
 * Real ONNX models built in TypeScript for tests, with plain-JS reference functions that compute what each
 * model must return. Models are ModelProto bytes (IR version 8, opset 13) written with onnx-proto, so tests
 * need no Python and no binary fixtures; onnxruntime-node loads them like any exported model.
 */
// onnx-proto is CommonJS whose exports Node cannot detect by name: the value comes from the default import.
import onnxProto, { type onnx as OnnxTypes } from "onnx-proto";
import type { ElementType } from "../../src/serving/tensors.js";

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;
const INT_ATTRIBUTE = onnx.AttributeProto.AttributeType.INT;

/** The ONNX element types these builders use, by the names onnxruntime reports: Sluice's, and float16 (which it refuses). */
export type ModelElementType = ElementType | "float16";

const dataTypeOf: Record<ModelElementType, number> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  int16: DataType.INT16,
  uint16: DataType.UINT16,
  int32: DataType.INT32,
  uint32: DataType.UINT32,
  int64: DataType.INT64,
  uint64: DataType.UINT64,
  bool: DataType.BOOL,
  string: DataType.STRING,
  float16: DataType.FLOAT16,
};

/** One dimension of a declared shape: a fixed size, or a symbolic name for a dynamic dim. */
type Dim = number | string;

interface ValueSpec {
  name: string;
  type: ModelElementType;
  shape: Dim[];
  /** A sequence of such tensors rather than one tensor. */
  sequence?: boolean;
}

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: OnnxTypes.IAttributeProto[];
}

interface GraphSpec {
  name: string;
  /** The default domain's opset version (13 when left out). */
  opset?: number;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: OnnxTypes.ITensorProto[];
  nodes: NodeSpec[];
}

/** The symbolic name of the dynamic batch dimension in every batchable model here. */
export const BATCH_DIM = "batch";

/** Encodes a graph as ModelProto bytes onnxruntime can load. */
export function buildModel(graph: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: graph.opset ?? 13 }],
    producerName: "sluice-tests",
    graph: {
      name: graph.name,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer: graph.initializers ?? [],
      node: graph.nodes.map((node, i) => ({
        name: `${node.op.toLowerCase()}_${i}`,
        opType: node.op,
        input: node.inputs,
        output: node.outputs,
        attribute: node.attributes ?? [],
      })),
    },
  });
  // encode().finish() may return a view onto a shared pool buffer; hand back bytes of their own.
  return new Uint8Array(onnx.ModelProto.encode(model).finish());
}

function valueInfo(spec: ValueSpec): OnnxTypes.IValueInfoProto {
  const tensorType = {
    elemType: dataTypeOf[spec.type],
    shape: { dim: spec.shape.map((dim) => (typeof dim === "number" ? { dimValue: dim } : { dimParam: dim })) },
  };
  return { name: spec.name, type: spec.sequence ? { sequenceType: { elemType: { tensorType } } } : { tensorType } };
}

/** A float32 initializer of the given dims, row-major. */
export function floatTensor(name: string, dims: number[], values: number[]): OnnxTypes.ITensorProto {
  return { name, dataType: DataType.FLOAT, dims, floatData: values };
}

/** Parameters of {@link logisticRegressionModel}. */
export interface LogisticRegressionParams {
  weights: number[];
  bias: number;
  inputName?: string;
  outputName?: string;
  /** A fixed batch size instead of the dynamic `batch` dim (the model is then not batchable). */
  fixedBatch?: number;
}

/**
 * Logistic regression: input float32 [batch, F] (default name `features`), output float32 [batch, 1]
 * (default `probability`) = sigmoid(X·w + b), as MatMul with a [F, 1] initializer, Add, Sigmoid.
 */
export function logisticRegressionModel({
  weights,
  bias,
  inputName = "features",
  outputName = "probability",
  fixedBatch,
}: LogisticRegressionParams): Uint8Array {
  const batch = fixedBatch ?? BATCH_DIM;
  return buildModel({
    name: "logistic_regression",
    inputs: [{ name: inputName, type: "float32", shape: [batch, weights.length] }],
    outputs: [{ name: outputName, type: "float32", shape: [batch, 1] }],
    initializers: [floatTensor("w", [weights.length, 1], weights), floatTensor("b", [1], [bias])],
    nodes: [
      { op: "MatMul", inputs: [inputName, "w"], outputs: ["logit_raw"] },
      { op: "Add", inputs: ["logit_raw", "b"], outputs: ["logit"] },
      { op: "Sigmoid", inputs: ["logit"], outputs: [outputName] },
    ],
  });
}

/** Parameters of {@link mlpModel}: `w1` is [F][H], `w2` is [H][K]. */
export interface MlpParams {
  w1: number[][];
  b1: number[];
  w2: number[][];
  b2: number[];
  inputName?: string;
  outputName?: string;
}

/** A one-hidden-layer perceptron: float32 [batch, F] → ReLU(X·W1 + b1)·W2 + b2 → float32 [batch, K]. */
export function mlpModel({ w1, b1, w2, b2, inputName = "features", outputName = "scores" }: MlpParams): Uint8Array {
  const features = w1.length;
  const hidden = b1.length;
  const classes = b2.length;
  return buildModel({
    name: "mlp",
    inputs: [{ name: inputName, type: "float32", shape: [BATCH_DIM, features] }],
    outputs: [{ name: outputName, type: "float32", shape: [BATCH_DIM, classes] }],
    initializers: [
      floatTensor("w1", [features, hidden], w1.flat()),
      floatTensor("b1", [hidden], b1),
      floatTensor("w2", [hidden, classes], w2.flat()),
      floatTensor("b2", [classes], b2),
    ],
    nodes: [
      { op: "MatMul", inputs: [inputName, "w1"], outputs: ["h_raw"] },
      { op: "Add", inputs: ["h_raw", "b1"], outputs: ["h_pre"] },
      { op: "Relu", inputs: ["h_pre"], outputs: ["h"] },
      { op: "MatMul", inputs: ["h", "w2"], outputs: ["o_raw"] },
      { op: "Add", inputs: ["o_raw", "b2"], outputs: [outputName] },
    ],
  });
}

/**
 * Two inputs: `features` float32 [batch, F] and `extra` float32 [batch, 1], concatenated along axis 1 and
 * scored by logistic regression with F + 1 weights (the last one weighs `extra`). Output `probability`.
 */
export function twoInputModel({ weights, bias }: { weights: number[]; bias: number }): Uint8Array {
  const features = weights.length - 1;
  return buildModel({
    name: "two_inputs",
    inputs: [
      { name: "features", type: "float32", shape: [BATCH_DIM, features] },
      { name: "extra", type: "float32", shape: [BATCH_DIM, 1] },
    ],
    outputs: [{ name: "probability", type: "float32", shape: [BATCH_DIM, 1] }],
    initializers: [floatTensor("w", [weights.length, 1], weights), floatTensor("b", [1], [bias])],
    nodes: [
      { op: "Concat", inputs: ["features", "extra"], outputs: ["joined"], attributes: [{ name: "axis", type: INT_ATTRIBUTE, i: 1 }] },
      { op: "MatMul", inputs: ["joined", "w"], outputs: ["logit_raw"] },
      { op: "Add", inputs: ["logit_raw", "b"], outputs: ["logit"] },
      { op: "Sigmoid", inputs: ["logit"], outputs: ["probability"] },
    ],
  });
}

/**
 * Mixed element types: `count` int64 [batch, 1], `flag` bool [batch, 1] and `score` float64 [batch, 1];
 * output `total` float64 [batch, 1] = count + flag + score, and `positive` bool [batch, 1] = total > 0.
 */
export function mixedTypesModel(): Uint8Array {
  const castTo = (to: number) => [{ name: "to", type: INT_ATTRIBUTE, i: to }];
  return buildModel({
    name: "mixed_types",
    inputs: [
      { name: "count", type: "int64", shape: [BATCH_DIM, 1] },
      { name: "flag", type: "bool", shape: [BATCH_DIM, 1] },
      { name: "score", type: "float64", shape: [BATCH_DIM, 1] },
    ],
    outputs: [
      { name: "total", type: "float64", shape: [BATCH_DIM, 1] },
      { name: "positive", type: "bool", shape: [BATCH_DIM, 1] },
    ],
    initializers: [{ name: "zero", dataType: DataType.DOUBLE, dims: [], doubleData: [0] }],
    nodes: [
      { op: "Cast", inputs: ["count"], outputs: ["count_f"], attributes: castTo(DataType.DOUBLE) },
      { op: "Cast", inputs: ["flag"], outputs: ["flag_f"], attributes: castTo(DataType.DOUBLE) },
      { op: "Add", inputs: ["count_f", "flag_f"], outputs: ["partial"] },
      { op: "Add", inputs: ["partial", "score"], outputs: ["total"] },
      { op: "Greater", inputs: ["total", "zero"], outputs: ["positive"] },
    ],
  });
}

/**
 * A lookup: `index` int64 [batch, 1] → `value` float32 [batch, 1] = table[index]. An index outside the table
 * makes onnxruntime fail the run, which tests use to see run errors propagate.
 */
export function lookupModel(table: number[]): Uint8Array {
  return buildModel({
    name: "lookup",
    inputs: [{ name: "index", type: "int64", shape: [BATCH_DIM, 1] }],
    outputs: [{ name: "value", type: "float32", shape: [BATCH_DIM, 1] }],
    initializers: [floatTensor("table", [table.length], table)],
    nodes: [{ op: "Gather", inputs: ["table", "index"], outputs: ["value"] }],
  });
}

/**
 * Logistic regression (as {@link logisticRegressionModel}, `features` → `probability`) with a second output
 * that is not a tensor: `history`, a sequence holding the probabilities, as sklearn's ZipMap outputs are.
 */
export function sequenceOutputModel({ weights, bias }: { weights: number[]; bias: number }): Uint8Array {
  return buildModel({
    name: "sequence_output",
    inputs: [{ name: "features", type: "float32", shape: [BATCH_DIM, weights.length] }],
    outputs: [
      { name: "history", type: "float32", shape: [BATCH_DIM, 1], sequence: true },
      { name: "probability", type: "float32", shape: [BATCH_DIM, 1] },
    ],
    initializers: [floatTensor("w", [weights.length, 1], weights), floatTensor("b", [1], [bias])],
    nodes: [
      { op: "MatMul", inputs: ["features", "w"], outputs: ["logit_raw"] },
      { op: "Add", inputs: ["logit_raw", "b"], outputs: ["logit"] },
      { op: "Sigmoid", inputs: ["logit"], outputs: ["probability"] },
      { op: "SequenceConstruct", inputs: ["probability"], outputs: ["history"] },
    ],
  });
}

/** Echoes its input: `x` of `type` [batch, width] → `y` (Identity), to check every element type end to end. */
export function identityModel(type: ModelElementType, width: number): Uint8Array {
  return buildModel({
    name: `identity_${type}`,
    inputs: [{ name: "x", type, shape: [BATCH_DIM, width] }],
    outputs: [{ name: "y", type, shape: [BATCH_DIM, width] }],
    nodes: [{ op: "Identity", inputs: ["x"], outputs: ["y"] }],
  });
}

/** The logistic function. */
export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** What {@link logisticRegressionModel} returns for one row `x`. */
export function logisticRegression(weights: readonly number[], bias: number, x: ArrayLike<number>): number {
  let z = bias;
  for (let i = 0; i < weights.length; i++) z += (weights[i] as number) * (x[i] as number);
  return sigmoid(z);
}

/** What {@link mlpModel} returns for one row `x`: K scores. */
export function mlp({ w1, b1, w2, b2 }: MlpParams, x: ArrayLike<number>): number[] {
  const hidden = b1.map((bias, h) => {
    let sum = bias;
    for (let f = 0; f < w1.length; f++) sum += (x[f] as number) * (w1[f]?.[h] as number);
    return Math.max(0, sum);
  });
  return b2.map((bias, k) => {
    let sum = bias;
    for (let h = 0; h < hidden.length; h++) sum += (hidden[h] as number) * (w2[h]?.[k] as number);
    return sum;
  });
}

/**
 * Deterministic pseudo-random numbers in [-scale, scale), rounded to float32, from a seed (mulberry32), so
 * model parameters are reproducible and the reference functions see exactly the values the model holds.
 */
export function seededValues(count: number, seed: number, scale = 1): number[] {
  let state = seed >>> 0;
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    values[i] = Math.fround((unit * 2 - 1) * scale);
  }
  return values;
}

/** A [rows][cols] matrix of {@link seededValues}. */
export function seededMatrix(rows: number, cols: number, seed: number, scale = 1): number[][] {
  const flat = seededValues(rows * cols, seed, scale);
  return Array.from({ length: rows }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
}

/** MLP parameters of the given sizes from {@link seededMatrix}; weights scaled to keep activations near 1. */
export function seededMlp(features: number, hidden: number, classes: number, seed: number): MlpParams {
  return {
    w1: seededMatrix(features, hidden, seed, 1 / Math.sqrt(features)),
    b1: seededValues(hidden, seed + 1, 0.1),
    w2: seededMatrix(hidden, classes, seed + 2, 1 / Math.sqrt(hidden)),
    b2: seededValues(classes, seed + 3, 0.1),
  };
}

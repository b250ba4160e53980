/**
 * Exports a learner's current state as a self-contained ONNX model that onnxruntime runs with the
 * same predictions as `learner.predict` (float64 throughout; see docs/learning.md).
 *
 * Signature: one input per feature, named as the feature, in spec order (numeric then categorical),
 * numeric `tensor(double)` and categorical `tensor(string)`, each of shape `[N, 1]`; one output,
 * `probability` `[N]` (logistic), `probabilities` `[N, K]` (multinomial) or `prediction` `[N]` (linear).
 * A categorical value `""` is absent and contributes nothing, as in the learner.
 *
 * Graph (ai.onnx opset 20 plus com.microsoft opset 1 for MurmurHash3):
 * - numeric: Concat → Sub(mean) → MatMul(W_num [n, K]), the rows of W_num scaled by 1/sqrt(variance), or
 *   0 where the variance is 0 (the learner encodes those as 0). The scale is folded into the weights
 *   rather than applied by a Mul or Div before the MatMul because onnxruntime's MatMulScaleFusion turns
 *   a scalar Mul/Div next to a MatMul into a FusedMatMul whose `alpha` attribute is a float32, which
 *   costs double inputs about 1e-8 of relative precision;
 * - categorical, all C at once: Concat → StringConcat(["name=", …], x) → MurmurHash3(seed 0, unsigned)
 *   → Cast(int64) → Mod(buckets) → Where(x == "", buckets, ·) → Gather(W_cat [buckets + 1, K], whose
 *   last row is zeros) → ReduceSum over the C features;
 * - Sum(intercepts, parts...) → Sigmoid | Softmax(axis -1) | nothing, then Squeeze to `[N]` when K = 1.
 */
import { InvalidLearnerSpecError } from "./errors.js";
import type { Learner } from "./learners.js";
import { AttributeType, DataType, encodeModel, type NodeProto, type TensorProto, type ValueInfoProto } from "./onnx/onnx-proto.js";

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** The model's `doc_string`. */
  docString?: string;
  /** The model's `producer_version`. */
  producerVersion?: string;
}

/** The name of the single graph output, by learner kind. */
export const ONNX_OUTPUT_NAMES = { logistic: "probability", multinomial: "probabilities", linear: "prediction" } as const;

/** The symbolic batch dimension every input and output has first. */
export const ONNX_BATCH_DIM = "N";

const utf8 = new TextEncoder();

/**
 * The learner's current state (weights, intercepts, scaler statistics, copied now) as ONNX ModelProto
 * bytes. Throws {@link InvalidLearnerSpecError} for a learner without features (a model without inputs
 * has no batch size) or whose feature name is the output's.
 */
export function exportOnnx(learner: Learner, options: OnnxExportOptions = {}): Uint8Array {
  const kind = learner.spec.kind;
  const { numeric, categorical, buckets } = learner.spec.features;
  const outputName = ONNX_OUTPUT_NAMES[kind];
  const features = [...numeric, ...categorical];
  if (features.length === 0) throw new InvalidLearnerSpecError("features", "a learner without features cannot be exported to ONNX");
  if (features.includes(outputName)) {
    throw new InvalidLearnerSpecError("features", `feature "${outputName}" has the name of the ONNX output and cannot be exported`);
  }

  const graph = new GraphBuilder([...features, outputName]);
  const outputs = learner.outputs;
  const dimension = learner.encoder.dimension;
  const weight = (k: number, i: number) => learner.weights[k * dimension + i] as number;
  const parts = [graph.doubles("intercepts", [outputs], Array.from(learner.intercepts))];
  let axis1Name: string | undefined;
  const axis1 = () => (axis1Name ??= graph.int64s("axis_1", [1], [1]));

  if (numeric.length > 0) {
    const means: number[] = [];
    const scaled: number[] = [];
    for (let i = 0; i < numeric.length; i++) {
      const { mean, variance } = learner.encoder.statistics(i);
      means.push(mean);
      // The learner's `variance ? (x - mean) / sqrt(variance) : 0`, the division folded into the weights.
      const std = Math.sqrt(variance);
      for (let k = 0; k < outputs; k++) scaled.push(variance ? weight(k, i) / std : 0);
    }
    const raw = graph.node("Concat", [...numeric], { axis: graph.int(1) });
    const centred = graph.node("Sub", [raw, graph.doubles("means", [numeric.length], means)]);
    parts.push(graph.node("MatMul", [centred, graph.doubles("weights_numeric", [numeric.length, outputs], scaled)]));
  }

  if (categorical.length > 0) {
    // Row b < buckets holds bucket b's K weights; the extra last row is zeros, the row of an absent value.
    const table = new Array<number>((buckets + 1) * outputs).fill(0);
    for (let b = 0; b < buckets; b++) for (let k = 0; k < outputs; k++) table[b * outputs + k] = weight(k, numeric.length + b);
    const bucketCount = graph.int64s("buckets", [], [buckets]);
    const values = graph.node("Concat", [...categorical], { axis: graph.int(1) });
    const prefixes = graph.strings(
      "prefixes",
      [categorical.length],
      categorical.map((name) => `${name}=`),
    );
    const keys = graph.node("StringConcat", [prefixes, values]);
    // Unsigned MurmurHash3 x86 32 over the UTF-8 bytes, as murmurHash3x86; the int64 cast keeps it unsigned.
    const hashes = graph.node("MurmurHash3", [keys], { positive: graph.int(1), seed: graph.int(0) }, "com.microsoft");
    const hashed = graph.node("Mod", [graph.node("Cast", [hashes], { to: graph.int(DataType.INT64) }), bucketCount]);
    const absent = graph.node("Equal", [values, graph.strings("empty", [], [""])]);
    const rows = graph.node("Where", [absent, bucketCount, hashed]);
    const weights = graph.doubles("weights_categorical", [buckets + 1, outputs], table);
    const gathered = graph.node("Gather", [weights, rows], { axis: graph.int(0) });
    parts.push(graph.node("ReduceSum", [gathered, axis1()], { keepdims: graph.int(0) }));
  }

  const scores = graph.node("Sum", parts);
  if (kind === "multinomial") {
    graph.node("Softmax", [scores], { axis: graph.int(-1) }, "", outputName);
  } else {
    const value = kind === "logistic" ? graph.node("Sigmoid", [scores]) : scores;
    graph.node("Squeeze", [value, axis1()], {}, "", outputName);
  }

  const metadataProps = [
    { key: "sluice.learner.kind", value: kind },
    { key: "sluice.learner.examples", value: String(learner.examples) },
  ];
  return encodeModel({
    irVersion: 9,
    opsetImport: [
      { domain: "", version: 20 },
      { domain: "com.microsoft", version: 1 },
    ],
    producerName: "sluice",
    producerVersion: options.producerVersion,
    docString: options.docString,
    metadataProps,
    graph: {
      name: `sluice_${kind}`,
      node: graph.nodes,
      initializer: graph.initializers,
      input: [
        ...numeric.map((name) => tensorInfo(name, DataType.DOUBLE, [ONNX_BATCH_DIM, 1])),
        ...categorical.map((name) => tensorInfo(name, DataType.STRING, [ONNX_BATCH_DIM, 1])),
      ],
      output: [tensorInfo(outputName, DataType.DOUBLE, kind === "multinomial" ? [ONNX_BATCH_DIM, outputs] : [ONNX_BATCH_DIM])],
    },
  });
}

function tensorInfo(name: string, elemType: number, shape: (number | string)[]): ValueInfoProto {
  const dim = shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/** Collects nodes and initializers, naming every internal value so it cannot clash with a feature. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly taken: Set<string>;

  constructor(reserved: string[]) {
    this.taken = new Set(reserved);
  }

  /** Adds a node and returns the name of its single output (`output` when given, else a fresh name). */
  node(opType: string, input: string[], attributes: Record<string, Attribute> = {}, domain = "", output?: string): string {
    const name = this.fresh(opType.toLowerCase());
    const result = output ?? name;
    const attribute = Object.entries(attributes).map(([key, value]) => ({ name: key, ...value }));
    this.nodes.push({ name, opType, domain, input, output: [result], attribute });
    return result;
  }

  int(i: number): Attribute {
    return { type: AttributeType.INT, i };
  }

  doubles(label: string, dims: number[], values: number[]): string {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    for (const [i, value] of values.entries()) view.setFloat64(i * 8, value, true);
    return this.initializer({ name: this.fresh(label), dataType: DataType.DOUBLE, dims, rawData: bytes });
  }

  int64s(label: string, dims: number[], values: number[]): string {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    for (const [i, value] of values.entries()) view.setBigInt64(i * 8, BigInt(value), true);
    return this.initializer({ name: this.fresh(label), dataType: DataType.INT64, dims, rawData: bytes });
  }

  strings(label: string, dims: number[], values: string[]): string {
    return this.initializer({ name: this.fresh(label), dataType: DataType.STRING, dims, stringData: values.map((v) => utf8.encode(v)) });
  }

  private initializer(tensor: TensorProto): string {
    this.initializers.push(tensor);
    return tensor.name;
  }

  private fresh(label: string): string {
    let name = `${label}_${this.nodes.length + this.initializers.length}`;
    while (this.taken.has(name)) name = `_${name}`;
    this.taken.add(name);
    return name;
  }
}

type Attribute = { type: number; i: number };

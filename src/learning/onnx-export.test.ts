import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { murmurHash3x86 } from "../common/murmur3.js";
import { InvalidLearnerSpecError } from "./errors.js";
import type { FeatureSpec, FeatureValues } from "./features.js";
import { createLearner, type Learner, type LearnerSpec } from "./learners.js";
import { AttributeType, DataType, encodeModel } from "./onnx/onnx-proto.js";
import { exportOnnx } from "./onnx-export.js";
import type { OptimizerSpec } from "./optimizers.js";

/** Mulberry32: a small seeded PRNG, so every stream here is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const optimizers: Record<string, OptimizerSpec> = {
  sgd: { kind: "sgd", learningRate: 0.05, schedule: "inverse_scaling", power: 0.25 },
  adagrad: { kind: "adagrad", learningRate: 0.1, epsilon: 1e-8 },
  ftrl: { kind: "ftrl", alpha: 0.1, beta: 1, l1: 0.01, l2: 0.01 },
};

const cities = ["paris", "Zürich", "東京", "São Paulo", "🙂 smile", "", null, undefined, "x", "ab", "abc", "abcd"];
const devices = ["ios", "android", "web", "", null];
// Both numeric kinds of edge: "constant" never varies (variance 0), "x2" spans several orders of magnitude.
const features: FeatureSpec = { numeric: ["x1", "x2", "constant"], categorical: ["city", "device"], buckets: 16 };

/** A random example over `spec` and a label from a noisy linear rule of it (class index for multinomial). */
function example(spec: FeatureSpec, random: () => number): { x: Record<string, number | string | null | undefined>; score: number } {
  const x: Record<string, number | string | null | undefined> = {};
  let score = 0;
  for (const name of spec.numeric) {
    const value = name === "constant" ? 3.5 : name === "x2" ? (random() - 0.3) * 1000 : random() * 4 - 2;
    x[name] = value;
    score += name === "x2" ? value / 500 : value;
  }
  for (const [j, name] of spec.categorical.entries()) {
    const values = j % 2 === 0 ? cities : devices;
    const value = values[Math.floor(random() * values.length)];
    x[name] = value;
    score += typeof value === "string" ? (value.length % 3) - 1 : 0;
  }
  return { x, score: score + (random() - 0.5) };
}

function label(spec: LearnerSpec, score: number): number {
  if (spec.kind === "logistic") return score > 0 ? 1 : 0;
  if (spec.kind === "multinomial") return score < -0.5 ? 0 : score < 0.5 ? 1 : 2;
  return 3 * score + 7;
}

function train(spec: LearnerSpec, examples: number, seed: number): Learner {
  const learner = createLearner(spec);
  const random = prng(seed);
  for (let i = 0; i < examples; i++) {
    const { x, score } = example(spec.features, random);
    learner.learn(x, label(spec, score));
  }
  return learner;
}

/** Feeds for a batch of rows: numeric `[N, 1]` doubles, categorical `[N, 1]` strings with "" for absent. */
function feeds(spec: FeatureSpec, rows: FeatureValues[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of spec.numeric)
    out[name] = new ort.Tensor(
      "float64",
      Float64Array.from(rows, (r) => r[name] as number),
      [rows.length, 1],
    );
  for (const name of spec.categorical)
    out[name] = new ort.Tensor(
      "string",
      rows.map((r) => (r[name] as string | undefined) ?? ""),
      [rows.length, 1],
    );
  return out;
}

/** Runs `model` on `rows` and returns each row's prediction as an array (one value, or K). */
async function run(model: Uint8Array, spec: LearnerSpec, rows: FeatureValues[]): Promise<number[][]> {
  // The serving path's optimisation level: graph rewrites must not cost double precision.
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: "all" });
  try {
    const results = await session.run(feeds(spec.features, rows));
    const output = results[session.outputNames[0] as string] as ort.Tensor;
    expect(output.type).toBe("float64");
    const data = output.data as Float64Array;
    const width = spec.kind === "multinomial" ? spec.classes : 1;
    expect(output.dims).toEqual(spec.kind === "multinomial" ? [rows.length, width] : [rows.length]);
    return rows.map((_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
  } finally {
    await session.release();
  }
}

function predictions(learner: Learner, rows: FeatureValues[]): number[][] {
  return rows.map((row) => {
    const p = learner.predict(row);
    return typeof p === "number" ? [p] : Array.from(p);
  });
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (const [i, row] of a.entries()) {
    expect(row.length).toBe(b[i]?.length);
    for (const [k, value] of row.entries()) max = Math.max(max, Math.abs(value - (b[i]?.[k] as number)));
  }
  return max;
}

function heldOut(spec: FeatureSpec, count: number, seed: number): FeatureValues[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => example(spec, random).x);
}

const kinds: LearnerSpec["kind"][] = ["logistic", "multinomial", "linear"];

function specOf(kind: LearnerSpec["kind"], optimizer: OptimizerSpec, featureSpec: FeatureSpec = features): LearnerSpec {
  const options = { features: featureSpec, optimizer };
  return kind === "multinomial" ? { kind, classes: 3, ...options } : { kind, ...options };
}

describe("exportOnnx", () => {
  for (const kind of kinds) {
    for (const [optimizerName, optimizer] of Object.entries(optimizers)) {
      it(`predicts as the ${kind} learner with ${optimizerName}`, async () => {
        const spec = specOf(kind, optimizer);
        const learner = train(spec, 3000, 11);
        expect(learner.health()).toEqual({ status: "ok" });
        expect(learner.encoder.statistics(2).variance).toBe(0);
        const rows = heldOut(features, 300, 99);
        const expected = predictions(learner, rows);
        const diff = maxAbsDiff(await run(exportOnnx(learner), spec, rows), expected);
        expect(diff).toBeLessThan(1e-9);
      });
    }
  }

  it("exports a snapshot: learning afterwards leaves the exported model unchanged", async () => {
    const spec = specOf("logistic", optimizers.adagrad as OptimizerSpec);
    const learner = train(spec, 500, 5);
    const rows = heldOut(features, 50, 6);
    const before = predictions(learner, rows);
    const model = exportOnnx(learner);
    const bytes = Uint8Array.from(model);
    const random = prng(7);
    for (let i = 0; i < 500; i++) {
      const { x, score } = example(features, random);
      learner.learn(x, label(spec, score));
    }
    expect(model).toEqual(bytes);
    expect(maxAbsDiff(await run(model, spec, rows), before)).toBeLessThan(1e-9);
    expect(maxAbsDiff(predictions(learner, rows), before)).toBeGreaterThan(1e-6);
  });

  it("exports an untrained learner", async () => {
    for (const kind of kinds) {
      const spec = specOf(kind, optimizers.sgd as OptimizerSpec);
      const learner = createLearner(spec);
      const rows = heldOut(features, 20, 3);
      expect(maxAbsDiff(await run(exportOnnx(learner), spec, rows), predictions(learner, rows))).toBe(0);
    }
  });

  it("exports learners with only numeric or only categorical features", async () => {
    const only: FeatureSpec[] = [
      { numeric: ["x1", "x2", "constant"], categorical: [], buckets: 0 },
      { numeric: ["x1"], categorical: [], buckets: 4 },
      { numeric: [], categorical: ["city"], buckets: 1 },
      { numeric: [], categorical: ["city", "device", "other"], buckets: 1024 },
    ];
    for (const featureSpec of only) {
      for (const kind of kinds) {
        const spec = specOf(kind, optimizers.ftrl as OptimizerSpec, featureSpec);
        const learner = train(spec, 1000, 21);
        const rows = heldOut(featureSpec, 100, 22);
        expect(maxAbsDiff(await run(exportOnnx(learner), spec, rows), predictions(learner, rows))).toBeLessThan(1e-9);
      }
    }
  });

  it("declares one input per feature in spec order and the output of the kind, batched on N", async () => {
    const outputs = { logistic: ["probability", ["N"]], multinomial: ["probabilities", ["N", 3]], linear: ["prediction", ["N"]] } as const;
    for (const kind of kinds) {
      const learner = train(specOf(kind, optimizers.sgd as OptimizerSpec), 100, 1);
      const session = await ort.InferenceSession.create(exportOnnx(learner));
      try {
        expect(session.inputNames).toEqual(["x1", "x2", "constant", "city", "device"]);
        expect(session.inputMetadata.map((m) => (m.isTensor ? [m.type, m.shape] : undefined))).toEqual([
          ["float64", ["N", 1]],
          ["float64", ["N", 1]],
          ["float64", ["N", 1]],
          ["string", ["N", 1]],
          ["string", ["N", 1]],
        ]);
        const [name, shape] = outputs[kind];
        expect(session.outputNames).toEqual([name]);
        expect(session.outputMetadata.map((m) => (m.isTensor ? [m.type, m.shape] : undefined))).toEqual([["float64", shape]]);
      } finally {
        await session.release();
      }
    }
  });

  it("writes the producer, opsets, doc string and the learner kind as metadata", () => {
    const learner = train(specOf("multinomial", optimizers.sgd as OptimizerSpec), 42, 1);
    // onnx-proto is an independent encoding of onnx.proto: decoding with it checks the vendored field numbers.
    const model = onnxProto.onnx.ModelProto.decode(exportOnnx(learner, { docString: "churn model", producerVersion: "1.2.3" }));
    expect(Number(model.irVersion)).toBe(9);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([
      ["", 20],
      ["com.microsoft", 1],
    ]);
    expect(model.producerName).toBe("sluice");
    expect(model.producerVersion).toBe("1.2.3");
    expect(model.docString).toBe("churn model");
    expect(model.metadataProps.map((p) => [p.key, p.value])).toEqual([
      ["sluice.learner.kind", "multinomial"],
      ["sluice.learner.examples", "42"],
    ]);
    const graph = model.graph as onnxProto.onnx.IGraphProto;
    expect(graph.input?.map((i) => [i.name, i.type?.tensorType?.elemType])).toEqual([
      ["x1", DataType.DOUBLE],
      ["x2", DataType.DOUBLE],
      ["constant", DataType.DOUBLE],
      ["city", DataType.STRING],
      ["device", DataType.STRING],
    ]);
  });

  it("keeps internal value names apart from feature names, and refuses a feature named as the output", async () => {
    // The names the graph would otherwise give its first values.
    const featureSpec = { numeric: ["intercepts_0", "concat_1"], categorical: ["means_2", "sub_3"], buckets: 8 };
    const spec = specOf("linear", optimizers.adagrad as OptimizerSpec, featureSpec);
    const learner = train(spec, 300, 2);
    const rows = heldOut(featureSpec, 30, 4);
    expect(maxAbsDiff(await run(exportOnnx(learner), spec, rows), predictions(learner, rows))).toBeLessThan(1e-9);

    const clash = createLearner({
      kind: "logistic",
      features: { numeric: ["probability"], categorical: [], buckets: 0 },
      optimizer: optimizers.sgd as OptimizerSpec,
    });
    expect(() => exportOnnx(clash)).toThrow(InvalidLearnerSpecError);
    const empty = createLearner({
      kind: "linear",
      features: { numeric: [], categorical: [], buckets: 0 },
      optimizer: optimizers.sgd as OptimizerSpec,
    });
    expect(() => exportOnnx(empty)).toThrow(/without features/);
  });

  it("hashes strings in onnxruntime's MurmurHash3 exactly as murmurHash3x86 (UTF-8, unsigned, seed 0)", async () => {
    // A one-node graph: strings [n] → com.microsoft MurmurHash3 → uint32 [n]. Strings with U+0000 are left
    // out: onnxruntime-node hands string tensors over as NUL-terminated C strings, cut at the first NUL.
    const UINT32 = 12;
    const model = encodeModel({
      irVersion: 9,
      opsetImport: [
        { domain: "", version: 20 },
        { domain: "com.microsoft", version: 1 },
      ],
      producerName: "sluice-tests",
      metadataProps: [],
      graph: {
        name: "hash",
        node: [
          {
            name: "hash",
            opType: "MurmurHash3",
            domain: "com.microsoft",
            input: ["s"],
            output: ["h"],
            attribute: [
              { name: "positive", type: AttributeType.INT, i: 1 },
              { name: "seed", type: AttributeType.INT, i: 0 },
            ],
          },
        ],
        initializer: [],
        input: [{ name: "s", type: { tensorType: { elemType: DataType.STRING, shape: { dim: [{ dimParam: "n" }] } } } }],
        output: [{ name: "h", type: { tensorType: { elemType: UINT32, shape: { dim: [{ dimParam: "n" }] } } } }],
      },
    });
    const random = prng(1234);
    // Up to 4-byte UTF-8 sequences; a lone surrogate becomes U+FFFD on both sides.
    const alphabet = ["a", "Z", "0", "=", " ", "é", "ß", "東", "京", "🙂", "\u07ff", "\uffff", "𝄞", "\ud800"];
    const strings = ["", "city=", "city=paris", "device=ios"];
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 24);
      let s = "";
      for (let j = 0; j < length; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      strings.push(s);
    }
    const session = await ort.InferenceSession.create(model);
    try {
      const { h } = await session.run({ s: new ort.Tensor("string", strings, [strings.length]) });
      expect(Array.from((h as ort.Tensor).data as Uint32Array)).toEqual(strings.map((s) => murmurHash3x86(s, 0)));
    } finally {
      await session.release();
    }
  });
});

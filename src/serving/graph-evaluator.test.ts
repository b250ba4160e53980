import fc from "fast-check";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import {
  BATCH_DIM,
  buildModel,
  floatTensor,
  identityModel,
  logisticRegressionModel,
  lookupModel,
  seededValues,
} from "../../test/support/onnx-models.js";
import { compileGraph, type GraphEvaluator, MAX_EVALUATED_MODEL_BYTES } from "./graph-evaluator.js";
import { createOnnxModel, type OnnxModel, onnxSessionOptions, runOnnxModel } from "./onnx-session.js";
import { OutputTooLargeError, type Tensor } from "./tensors.js";

const LIMITS = { maxInputElements: 1_000_000, maxOutputElements: 1_000_000 };
const sessions: OnnxModel[] = [];

afterAll(async () => {
  await Promise.all(sessions.map((model) => model.session.release()));
});

/** The model in onnxruntime and in the evaluator (which must support it). */
async function both(bytes: Uint8Array): Promise<{ onnx: OnnxModel; evaluator: GraphEvaluator }> {
  const onnx = await createOnnxModel(bytes, onnxSessionOptions(1), LIMITS);
  sessions.push(onnx);
  const compiled = compileGraph(bytes, onnx.signature);
  if ("unsupported" in compiled) throw new Error(`unsupported: ${compiled.unsupported}`);
  return { onnx, evaluator: compiled.evaluator };
}

/** Runs both on the same inputs and expects the evaluator within float32 rounding of onnxruntime. */
async function expectAgreement(bytes: Uint8Array, inputs: Tensor[]): Promise<void> {
  const { onnx, evaluator } = await both(bytes);
  const expected = (await runOnnxModel(onnx, inputs, Number.POSITIVE_INFINITY)).outputs;
  const actual = evaluator.run(inputs, Number.POSITIVE_INFINITY);
  expect(actual.map((t) => [t.type, t.dims])).toEqual(expected.map((t) => [t.type, t.dims]));
  for (const [o, want] of expected.entries()) {
    const got = (actual[o] as Tensor).data as Float32Array;
    expect(got).toBeInstanceOf(Float32Array);
    for (let i = 0; i < want.data.length; i++) {
      const a = want.data[i] as number;
      expect(Math.abs((got[i] as number) - a), `output ${o}[${i}]: ${got[i]} vs ${a}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(a));
    }
  }
}

function floats(dims: number[], seed: number, scale = 2): Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  return { type: "float32", data: Float32Array.from(seededValues(count, seed, scale)), dims };
}

/** A layer of a generated graph: how it maps the current [batch, width] value to the next one. */
type Layer =
  | { kind: "dense"; width: number; bias: "row" | "vector" | "scalar" | "rank0" }
  | {
      kind: "gemm";
      width: number;
      transA: boolean;
      transB: boolean;
      alpha: number;
      beta: number;
      bias: "row" | "vector" | "scalar" | "none";
    }
  | { kind: "elementwise"; op: "Mul" | "Sub" | "Div"; constant: "row" | "vector" | "scalar"; constantFirst: boolean }
  | { kind: "outer"; width: number; rowFirst: boolean }
  | { kind: "activation"; op: "Relu" | "Sigmoid" | "Tanh" | "Identity" | "Abs" | "Neg" | "Softmax"; alpha?: number }
  | { kind: "leakyRelu"; alpha: number };

const width = fc.integer({ min: 1, max: 6 });
const scalarish = fc.double({ min: -2, max: 2, noNaN: true }).map(Math.fround);
const layer: fc.Arbitrary<Layer> = fc.oneof(
  fc.record({
    kind: fc.constant("dense" as const),
    width,
    bias: fc.constantFrom("row" as const, "vector" as const, "scalar" as const, "rank0" as const),
  }),
  fc.record({
    kind: fc.constant("gemm" as const),
    width,
    transA: fc.boolean(),
    transB: fc.boolean(),
    alpha: scalarish,
    beta: scalarish,
    bias: fc.constantFrom("row" as const, "vector" as const, "scalar" as const, "none" as const),
  }),
  fc.record({
    kind: fc.constant("elementwise" as const),
    op: fc.constantFrom("Mul" as const, "Sub" as const, "Div" as const),
    constant: fc.constantFrom("row" as const, "vector" as const, "scalar" as const),
    constantFirst: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("outer" as const), width, rowFirst: fc.boolean() }),
  fc.record({
    kind: fc.constant("activation" as const),
    op: fc.constantFrom(
      "Relu" as const,
      "Sigmoid" as const,
      "Tanh" as const,
      "Identity" as const,
      "Abs" as const,
      "Neg" as const,
      "Softmax" as const,
    ),
  }),
  fc.record({ kind: fc.constant("leakyRelu" as const), alpha: scalarish }),
);

/** A [batch, features] → [batch, width] graph of the given layers, its parameters from `seed`. */
function generatedModel(features: number, layers: Layer[], seed: number): Uint8Array {
  const nodes: Parameters<typeof buildModel>[0]["nodes"] = [];
  const initializers: ReturnType<typeof floatTensor>[] = [];
  let current = "x";
  let size = features;
  let n = 0;
  const constant = (dims: number[], scale = 1, awayFromZero = false): string => {
    const name = `c${n++}`;
    const values = seededValues(
      dims.reduce((a, b) => a * b, 1),
      seed + n,
      scale,
    ).map((v) => (awayFromZero ? Math.fround(Math.sign(v || 1) * (0.5 + Math.abs(v))) : v));
    initializers.push(floatTensor(name, dims, values));
    return name;
  };
  const identity = (size: number): string => {
    const name = `c${n++}`;
    initializers.push(
      floatTensor(
        name,
        [size, size],
        Array.from({ length: size * size }, (_, i) => (i % (size + 1) === 0 ? 1 : 0)),
      ),
    );
    return name;
  };
  const biasDims = (kind: string, w: number): number[] => ({ row: [1, w], vector: [w], scalar: [1], rank0: [] })[kind] as number[];
  const next = () => `h${n++}`;
  for (const spec of layers) {
    const out = next();
    if (spec.kind === "dense") {
      const product = next();
      nodes.push({ op: "MatMul", inputs: [current, constant([size, spec.width], 1 / Math.sqrt(size))], outputs: [product] });
      nodes.push({ op: "Add", inputs: [product, constant(biasDims(spec.bias, spec.width), 0.5)], outputs: [out] });
      size = spec.width;
    } else if (spec.kind === "gemm") {
      const weights = constant(spec.transB ? [spec.width, size] : [size, spec.width], 1 / Math.sqrt(size));
      let a = current;
      if (spec.transA) {
        // transA reads A transposed, so A is made [features, batch]: Gemm(I, X, transB) = I·Xᵀ.
        a = next();
        const transB = [{ name: "transB", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 }];
        nodes.push({ op: "Gemm", inputs: [identity(size), current], outputs: [a], attributes: transB });
      }
      const inputs = [a, weights, ...(spec.bias === "none" ? [] : [constant(biasDims(spec.bias, spec.width), 0.5)])];
      const attributes = [
        { name: "alpha", type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: spec.alpha },
        { name: "beta", type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: spec.beta },
        { name: "transA", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: spec.transA ? 1 : 0 },
        { name: "transB", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: spec.transB ? 1 : 0 },
      ];
      nodes.push({ op: "Gemm", inputs, outputs: [out], attributes });
      size = spec.width;
    } else if (spec.kind === "elementwise") {
      const c = constant(biasDims(spec.constant, size), 1, spec.op === "Div");
      nodes.push({ op: spec.op, inputs: spec.constantFirst && spec.op !== "Div" ? [c, current] : [current, c], outputs: [out] });
    } else if (spec.kind === "outer") {
      // [batch, 1] against [1, width]: neither input repeats along leading axes alone, the general broadcast.
      const column = next();
      nodes.push({ op: "MatMul", inputs: [current, constant([size, 1], 1 / Math.sqrt(size))], outputs: [column] });
      const row = constant([1, spec.width]);
      nodes.push({ op: "Add", inputs: spec.rowFirst ? [row, column] : [column, row], outputs: [out] });
      size = spec.width;
    } else if (spec.kind === "leakyRelu") {
      const attributes = [{ name: "alpha", type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: spec.alpha }];
      nodes.push({ op: "LeakyRelu", inputs: [current], outputs: [out], attributes });
    } else {
      nodes.push({ op: spec.op, inputs: [current], outputs: [out] });
    }
    current = out;
  }
  nodes.push({ op: "Identity", inputs: [current], outputs: ["y"] });
  return buildModel({
    name: "generated",
    inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, features] }],
    outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, size] }],
    initializers,
    nodes,
  });
}

describe("compileGraph", () => {
  it("property: a generated graph of the evaluated operators gives onnxruntime's outputs within float32 rounding", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(layer, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (features, layers, rows, seed) => {
          await expectAgreement(generatedModel(features, layers, seed), [floats([rows, features], seed + 7)]);
        },
      ),
      { numRuns: 60, endOnFailure: true },
    );
  });

  it("evaluates a logistic regression as onnxruntime does, at one row and at 64", async () => {
    const model = logisticRegressionModel({ weights: seededValues(10, 3), bias: 0.25 });
    await expectAgreement(model, [floats([1, 10], 1)]);
    await expectAgreement(model, [floats([64, 10], 2)]);
  });

  it("reads initializers stored as raw little-endian bytes as it reads float_data", async () => {
    const values = seededValues(6, 5);
    const raw = new Uint8Array(new Float32Array(values).buffer);
    const model = (weights: ReturnType<typeof floatTensor>) =>
      buildModel({
        name: "raw",
        inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 3] }],
        outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, 2] }],
        initializers: [weights],
        nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
      });
    const rawModel = model({ name: "w", dataType: onnxProto.onnx.TensorProto.DataType.FLOAT, dims: [3, 2], rawData: raw });
    await expectAgreement(rawModel, [floats([4, 3], 9)]);
    const { evaluator } = await both(rawModel);
    const fromFloats = await both(model(floatTensor("w", [3, 2], values)));
    const input = [floats([4, 3], 9)];
    expect(evaluator.run(input, 100)[0]?.data).toEqual(fromFloats.evaluator.run(input, 100)[0]?.data);
  });

  it("Softmax follows the model's opset: along the axis from opset 13, over everything from the axis before", async () => {
    for (const opset of [11, 13]) {
      for (const axis of [1, 2, -1]) {
        const model = buildModel({
          name: "softmax",
          opset,
          inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 2, 3] }],
          outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, 2, 3] }],
          nodes: [
            {
              op: "Softmax",
              inputs: ["x"],
              outputs: ["y"],
              attributes: [{ name: "axis", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: axis }],
            },
          ],
        });
        await expectAgreement(model, [floats([3, 2, 3], opset + axis, 4)]);
      }
    }
  });

  it("Softmax's default axis follows the opset: 1 before opset 13, -1 from it", async () => {
    for (const opset of [11, 13]) {
      const model = buildModel({
        name: "softmax_default",
        opset,
        inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 2, 3] }],
        outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, 2, 3] }],
        nodes: [{ op: "Softmax", inputs: ["x"], outputs: ["y"] }],
      });
      await expectAgreement(model, [floats([2, 2, 3], opset, 4)]);
    }
  });

  it("Exp, Log and Sqrt agree with onnxruntime where they are defined", async () => {
    const model = buildModel({
      name: "functions",
      inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 4] }],
      outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, 4] }],
      initializers: [floatTensor("one", [1], [1])],
      nodes: [
        { op: "Abs", inputs: ["x"], outputs: ["a"] },
        { op: "Add", inputs: ["a", "one"], outputs: ["b"] },
        { op: "Log", inputs: ["b"], outputs: ["c"] },
        { op: "Sqrt", inputs: ["c"], outputs: ["d"] },
        { op: "Exp", inputs: ["d"], outputs: ["y"] },
      ],
    });
    await expectAgreement(model, [floats([5, 4], 11, 3)]);
  });

  it("hands back outputs of its own, even when an output is the input itself", async () => {
    const { evaluator } = await both(identityModel("float32", 3));
    const input = floats([2, 3], 1);
    const [output] = evaluator.run([input], 100);
    expect(output?.data).toEqual(input.data);
    expect(output?.data).not.toBe(input.data);
  });

  it("hands back separate arrays for two outputs that are the same value", async () => {
    const model = buildModel({
      name: "twice",
      inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 2] }],
      outputs: [
        { name: "y", type: "float32", shape: [BATCH_DIM, 2] },
        { name: "z", type: "float32", shape: [BATCH_DIM, 2] },
      ],
      nodes: [
        { op: "Relu", inputs: ["x"], outputs: ["y"] },
        { op: "Identity", inputs: ["y"], outputs: ["z"] },
      ],
    });
    const { evaluator } = await both(model);
    const [y, z] = evaluator.run([floats([3, 2], 4)], 100);
    expect(z?.data).toEqual(y?.data);
    expect(z?.data).not.toBe(y?.data);
  });

  it("refuses outputs larger than allowed, counted before they are handed back", async () => {
    const { evaluator } = await both(logisticRegressionModel({ weights: [1, 2], bias: 0 }));
    expect(() => evaluator.run([floats([4, 2], 1)], 3)).toThrow(OutputTooLargeError);
    expect(evaluator.run([floats([3, 2], 1)], 3)[0]?.dims).toEqual([3, 1]);
  });

  it("names the operator when shapes do not fit", async () => {
    const { evaluator } = await both(logisticRegressionModel({ weights: [1, 2], bias: 0 }));
    expect(() => evaluator.run([floats([1, 3], 1)], 100)).toThrow(/MatMul cannot combine shapes \[1,3\] and \[2,1\]/);
  });

  it("leaves to onnxruntime, with the reason, what it does not evaluate", async () => {
    const reasons = async (bytes: Uint8Array): Promise<string> => {
      const onnx = await createOnnxModel(bytes, onnxSessionOptions(1), LIMITS);
      sessions.push(onnx);
      const compiled = compileGraph(bytes, onnx.signature);
      return "unsupported" in compiled ? compiled.unsupported : "evaluated";
    };
    expect(await reasons(lookupModel([1, 2]))).toBe("index is int64, not float32");
    const withOp = (op: string, attributes: Parameters<typeof buildModel>[0]["nodes"][0]["attributes"] = []) =>
      buildModel({
        name: op,
        inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 4] }],
        outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, 4] }],
        nodes: [{ op, inputs: ["x"], outputs: ["y"], attributes }],
      });
    expect(await reasons(withOp("Erf"))).toBe("operator Erf is not evaluated");
    expect(await reasons(withOp("Elu", [{ name: "alpha", type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 }]))).toBe(
      "operator Elu is not evaluated",
    );
    expect(await reasons(withOp("Relu"))).toBe("evaluated");
    // Float64 weights: onnxruntime runs it, the evaluator (float32 only) does not.
    const doubles = buildModel({
      name: "doubles",
      inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 2] }],
      outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, 1] }],
      initializers: [{ name: "w", dataType: onnxProto.onnx.TensorProto.DataType.DOUBLE, dims: [2, 1], doubleData: [1, 2] }],
      nodes: [
        {
          op: "Cast",
          inputs: ["x"],
          outputs: ["xd"],
          attributes: [{ name: "to", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 11 }],
        },
        { op: "MatMul", inputs: ["xd", "w"], outputs: ["yd"] },
        {
          op: "Cast",
          inputs: ["yd"],
          outputs: ["y"],
          attributes: [{ name: "to", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 }],
        },
      ],
    });
    expect(await reasons(doubles)).toBe("initializer w is not float32");
  });

  it("refuses, without decoding them, models over the size bound, and unknown attributes and domains it is given", () => {
    const signature = {
      inputs: [{ name: "x", elementType: "float32" as const, shape: [-1, 4] }],
      outputs: [{ name: "y", elementType: "float32" as const, shape: [-1, 4] }],
      batchable: true,
    };
    expect(compileGraph(new Uint8Array(MAX_EVALUATED_MODEL_BYTES + 1), signature)).toEqual({
      unsupported: `the model is over ${MAX_EVALUATED_MODEL_BYTES} bytes`,
    });
    const graph = (node: { op: string; domain?: string; attribute?: string }) =>
      new Uint8Array(
        onnxProto.onnx.ModelProto.encode({
          irVersion: 8,
          opsetImport: [{ domain: "", version: 13 }],
          graph: {
            input: [{ name: "x" }],
            output: [{ name: "y" }],
            node: [
              {
                opType: node.op,
                domain: node.domain ?? "",
                input: ["x"],
                output: ["y"],
                attribute: node.attribute ? [{ name: node.attribute, type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 }] : [],
              },
            ],
          },
        }).finish(),
      );
    expect(compileGraph(graph({ op: "Relu", attribute: "inplace" }), signature)).toEqual({
      unsupported: "attribute inplace of Relu is not evaluated",
    });
    expect(compileGraph(graph({ op: "Add" }), signature)).toEqual({ unsupported: "Add with inputs [x] is not evaluated" });
    expect(compileGraph(graph({ op: "Normalizer", domain: "ai.onnx.ml" }), signature)).toEqual({
      unsupported: "operator ai.onnx.ml.Normalizer is not evaluated",
    });
    expect(compileGraph(graph({ op: "Relu" }), { ...signature, outputs: [{ name: "z", elementType: "float32", shape: [-1, 4] }] })).toEqual(
      {
        unsupported: "output z is not computed by the graph",
      },
    );
    expect(compileGraph(Uint8Array.of(0xff, 0xff, 0xff), signature)).toMatchObject({
      unsupported: expect.stringMatching(/^the model could not be decoded/),
    });
  });
});

/**
 * Tiny ONNX models that ask for a lot: a declared input of fifty million rows, an output of
 * 8000 × 8000 from a few hundred bytes, and an output that grows with the square of the rows
 * sent. Used to check that model bounds hold at upload, load and prediction.
 */
import onnxProto from "onnx-proto";
import { BATCH_DIM, buildModel } from "./onnx-models.js";

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;

/** `x` float32 [rows, 6] with a fixed rows dim; `y` = x. */
export function hugeDeclaredInputModel(rows = 50_000_000): Uint8Array {
  return buildModel({
    name: "huge_input",
    inputs: [{ name: "x", type: "float32", shape: [rows, 6] }],
    outputs: [{ name: "y", type: "float32", shape: [rows, 6] }],
    nodes: [{ op: "Identity", inputs: ["x"], outputs: ["y"] }],
  });
}

/**
 * `x` float32 [batch, 1] (unused) -> `y` float32, zeros of shape [side, side] made by
 * ConstantOfShape: declared with fixed dims (`declared: "fixed"`) or dynamic ones, which only a
 * run reveals.
 */
export function constantOutputModel(side = 8000, declared: "fixed" | "dynamic" = "dynamic"): Uint8Array {
  return buildModel({
    name: "constant_output",
    inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 1] }],
    outputs: [{ name: "y", type: "float32", shape: declared === "fixed" ? [side, side] : ["h", "w"] }],
    initializers: [{ name: "shape", dataType: DataType.INT64, dims: [2], int64Data: [side, side] }],
    nodes: [{ op: "ConstantOfShape", inputs: ["shape"], outputs: ["y"] }],
  });
}

/** `x` float32 [batch, 1] -> `y` = x · xᵀ, float32 [batch, batch]: rows² output elements. */
export function squareOutputModel(): Uint8Array {
  return buildModel({
    name: "square_output",
    inputs: [{ name: "x", type: "float32", shape: [BATCH_DIM, 1] }],
    outputs: [{ name: "y", type: "float32", shape: [BATCH_DIM, "columns"] }],
    nodes: [
      {
        op: "Transpose",
        inputs: ["x"],
        outputs: ["xt"],
        attributes: [{ name: "perm", type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] }],
      },
      { op: "MatMul", inputs: ["x", "xt"], outputs: ["y"] },
    ],
  });
}

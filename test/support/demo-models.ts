/**
 * The ONNX files `sluice demo` uploads (src/cli/demo-models), built here from their parameters:
 * three logistic regressions of churn over orders_30d, spend_30d and refunds_30d, and one of
 * fraud over a card's aggregated transaction features (txn_10m, amount_sum_1h, amount_max_1d). The files are
 * committed so that the demo, like a user, uploads files exported elsewhere; demo-models.test.ts
 * fails when they differ from what these parameters build. Rewrite them with
 * `npx tsx test/support/demo-models.ts`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { logisticRegressionModel } from "./onnx-models.js";

/** Where the demo reads its models. */
export const DEMO_MODEL_DIR = join(import.meta.dirname, "../../src/cli/demo-models");

/** Each file and the parameters it is built from. */
export const DEMO_MODELS = [
  { file: "churn-v1.onnx", weights: [-0.08, -0.01, 0.5], bias: 1 },
  // The challenger: a canary.
  { file: "churn-v2.onnx", weights: [-0.1, -0.012, 0.6], bias: 1.2 },
  // v1 retrained on a little more data: a shadow that should agree with v1.
  { file: "churn-v3.onnx", weights: [-0.08, -0.01002, 0.5], bias: 1 },
  // Card velocity and amounts: many transactions in 10 minutes and large amounts raise the score.
  { file: "fraud-v1.onnx", weights: [0.6, 0.002, 0.004], bias: -4, output: "fraud_probability" },
];

/** The bytes a demo model file must hold. */
export function demoModelBytes(model: (typeof DEMO_MODELS)[number]): Uint8Array {
  return logisticRegressionModel({ weights: model.weights, bias: model.bias, outputName: model.output ?? "churn_probability" });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const model of DEMO_MODELS) writeFileSync(join(DEMO_MODEL_DIR, model.file), demoModelBytes(model));
}

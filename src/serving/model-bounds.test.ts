import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { constantOutputModel, hugeDeclaredInputModel, squareOutputModel } from "../../test/support/bomb-models.js";
import { InferencePool } from "./inference-pool.js";

let pool: InferencePool;
beforeAll(async () => {
  pool = await InferencePool.start({ workers: 1, maxBatchSize: 1, maxInputElements: 10_000_000, maxOutputElements: 1_000_000 });
});
afterAll(() => pool?.close());

const column = (rows: number) => ({ x: { type: "float32" as const, data: new Float32Array(rows).fill(1), dims: [rows, 1] } });

describe("model bounds", () => {
  it("refuses at inspection a model declaring an input of fifty million rows, before allocating it", async () => {
    const rss = process.memoryUsage().rss;
    await expect(pool.inspect(hugeDeclaredInputModel())).rejects.toMatchObject({
      reason: "INVALID_MODEL",
      message: expect.stringContaining("limits.maxModelInputElements"),
    });
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
  });

  it("refuses a 300-byte model with an 8000 x 8000 output at inspection, declared or inferred", async () => {
    for (const declared of ["fixed", "dynamic"] as const) {
      const model = constantOutputModel(8000, declared);
      expect(model.length).toBeLessThan(400);
      await expect(pool.inspect(model)).rejects.toMatchObject({
        reason: "INVALID_MODEL",
        message: expect.stringContaining("64000000 elements, more than the 1000000 allowed (limits.maxModelOutputElements)"),
      });
      await expect(pool.load(`constant-${declared}`, model)).rejects.toMatchObject({ reason: "INVALID_MODEL" });
    }
  });

  it("refuses a run whose outputs exceed the limit with RESOURCE_EXHAUSTED, and serves the next one", async () => {
    await pool.load("square", squareOutputModel());
    await expect(pool.run("square", column(2000), 2000)).rejects.toMatchObject({
      kind: "resource_exhausted",
      reason: "MODEL_OUTPUT_TOO_LARGE",
    });
    const outputs = await pool.run("square", column(500), 500);
    expect(outputs.y?.dims).toEqual([500, 500]);
  });

  it("refuses an input tensor over the element limit before it reaches a worker", async () => {
    await expect(
      pool.run("square", { x: { type: "float32", data: new Float32Array(0), dims: [2 ** 40, 0] } }, 2 ** 40),
    ).rejects.toMatchObject({
      reason: "INVALID_MODEL_INPUT",
    });
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEMO_MODEL_DIR, DEMO_MODELS, demoModelBytes } from "./demo-models.js";

describe("the demo's model files", () => {
  it("are what their parameters build (rewrite them with `npx tsx test/support/demo-models.ts`)", () => {
    for (const model of DEMO_MODELS) {
      expect(new Uint8Array(readFileSync(join(DEMO_MODEL_DIR, model.file))), model.file).toEqual(demoModelBytes(model));
    }
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe } from "vitest";
import { describeLearningStoreContract } from "./learning-store.contract.js";
import { openLmdbLearningStore } from "./lmdb-learning-store.js";

describe("lmdb learning store", () => {
  const root = mkdtempSync(join(tmpdir(), "sluice-learning-"));
  let run = 0;
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  describeLearningStoreContract({
    open: async () => openLmdbLearningStore(join(root, String(++run))),
    reopen: async () => openLmdbLearningStore(join(root, String(run))),
  });
});

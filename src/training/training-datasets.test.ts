import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openLmdbRegistryStore } from "../storage/registry/lmdb-registry-store.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import type { HistoricalRetriever } from "./historical-retriever.js";
import type { TrainingDataset } from "./model.js";
import { TrainingDatasets } from "./training-datasets.js";

const record = (name: string, version: number, overrides: Partial<TrainingDataset> = {}): TrainingDataset => ({
  project: "p",
  name,
  version,
  query: {
    project: "p",
    features: ["v:f"],
    featureService: "",
    spine: { kind: "sql", sql: "SELECT 1" },
    fullFeatureNames: false,
    excludeLateIngested: false,
    emitSpineIndex: false,
  },
  description: "",
  resolvedFeatures: [],
  state: "succeeded",
  errorMessage: "",
  spineSha256: "",
  rowCount: 0,
  offlineTable: `td__${name}__v${version}`,
  parquetPath: "",
  createTime: new Date(),
  heartbeatTime: new Date(),
  ...overrides,
});

describe("TrainingDatasets", () => {
  let store: RegistryStore;
  let datasets: TrainingDatasets;
  beforeEach(() => {
    store = openLmdbRegistryStore(mkdtempSync(join(tmpdir(), "sluice-datasets-")));
    datasets = new TrainingDatasets(store, {} as HistoricalRetriever, {} as never, "/nowhere", pino({ level: "silent" }));
  });
  afterEach(async () => {
    await store.close();
  });

  const put = (dataset: TrainingDataset) =>
    store.putDocument("trainingDataset", "p", `${dataset.name}/${String(dataset.version).padStart(10, "0")}`, dataset, 0);

  it("reports a running dataset whose job stopped saying it is alive as failed", async () => {
    await put(record("live", 1, { state: "running" }));
    await put(record("dead", 1, { state: "running", heartbeatTime: new Date(Date.now() - 5 * 60_000) }));
    expect((await datasets.get("p", "live")).state).toBe("running");
    const dead = await datasets.get("p", "dead");
    expect([dead.state, dead.errorMessage]).toEqual(["failed", "the server running the job stopped before it finished"]);
  });

  it("gets the latest version or a pinned one, and lists the latest of each name across pages", async () => {
    for (const [name, versions] of [
      ["a", 3],
      ["b", 1],
      ["c", 12],
      ["d", 2],
    ] as const) {
      for (let version = 1; version <= versions; version++) await put(record(name, version));
    }
    expect((await datasets.get("p", "c")).version).toBe(12);
    expect((await datasets.get("p", "c", 2)).version).toBe(2);
    await expect(datasets.get("p", "c", 13)).rejects.toThrow(/not found|does not exist/i);
    const first = await datasets.list("p", 2, "");
    expect(first.items.map((d) => [d.name, d.version])).toEqual([
      ["a", 3],
      ["b", 1],
    ]);
    const second = await datasets.list("p", 2, first.nextPageToken);
    expect(second.items.map((d) => [d.name, d.version])).toEqual([
      ["c", 12],
      ["d", 2],
    ]);
    expect(second.nextPageToken).toBe("");
  });
});

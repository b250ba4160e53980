import pino from "pino";
import { describe, expect, it } from "vitest";
import type { OfflineStore, PredictionRecord } from "../storage/offline/offline-store.js";
import { PredictionLog } from "./prediction-log.js";

const record = (requestId: string): PredictionRecord => ({
  time: 1,
  requestId,
  endpoint: "e",
  modelVersion: "v1",
  role: "stable",
  entityKeys: "{}",
  features: "{}",
  outputs: "{}",
  latencyMicros: 1,
  error: "",
});

/** An offline store that only takes predictions, and fails while `down` is set. */
function predictionsStore() {
  const written: Array<[string, string[]]> = [];
  const state = { down: false };
  const store = {
    appendPredictions: async (project: string, records: PredictionRecord[]) => {
      if (state.down) throw new Error("store down");
      written.push([project, records.map((r) => r.requestId)]);
    },
  } as unknown as OfflineStore;
  return { store, written, state };
}

describe("PredictionLog", () => {
  it("writes in batches per project once a batch fills, and the rest on close", async () => {
    const { store, written } = predictionsStore();
    const log = new PredictionLog(store, 2, 60_000, pino({ level: "silent" }));
    log.record("p", record("a"));
    expect(written).toEqual([]);
    log.record("q", record("b"));
    log.record("p", record("c"));
    await log.close();
    expect(written).toEqual([
      ["p", ["a", "c"]],
      ["q", ["b"]],
    ]);
  });

  it("flushes on its timer", async () => {
    const { store, written } = predictionsStore();
    const log = new PredictionLog(store, 1000, 10, pino({ level: "silent" }));
    log.record("p", record("a"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written).toEqual([["p", ["a"]]]);
    await log.close();
  });

  it("drops and counts, never blocks, while the store is down, and writes again once it is back", async () => {
    const { store, written, state } = predictionsStore();
    const log = new PredictionLog(store, 1, 60_000, pino({ level: "silent" }));
    state.down = true;
    log.record("p", record("lost"));
    await log.flush();
    expect(log.dropped).toBe(1);
    state.down = false;
    log.record("p", record("kept"));
    await log.close();
    expect(written).toEqual([["p", ["kept"]]]);
  });

  it("bounds what it buffers while a write is slow", async () => {
    let finish = () => {};
    const slow = { appendPredictions: () => new Promise<void>((resolve) => (finish = resolve)) } as unknown as OfflineStore;
    const log = new PredictionLog(slow, 1, 60_000, pino({ level: "silent" }));
    for (let i = 0; i < 150; i++) log.record("p", record(String(i)));
    // One batch is in flight; at most 100 flushes' worth wait behind it.
    expect(log.dropped).toBeGreaterThanOrEqual(49);
    finish();
  });
});

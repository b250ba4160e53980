import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerStatsRegistry } from "../../test/support/customer-stats.js";
import { offlineTableOf } from "../ingest/feature-writer.js";
import type { Registry } from "../registry/registry.js";
import { type ClickHouseOfflineStore, openClickHouseOfflineStore } from "../storage/offline/clickhouse-offline-store.js";
import { HistoricalRetriever } from "./historical-retriever.js";
import type { SpineBatchInput } from "./model.js";

const limits = { maxStringBytes: 1024, maxBytesLength: 1024, maxListLength: 16, maxFutureSkewMs: 60_000, maxRowsPerBatch: 100 };

describe("HistoricalRetriever", () => {
  let registry: Registry;
  let offline: ClickHouseOfflineStore;
  let retriever: HistoricalRetriever;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-retriever-"));
    offline = await openClickHouseOfflineStore({ kind: "embedded", path: join(dir, "offline") });
    // Each view's table is made as it is applied, as the server does.
    registry = await customerStatsRegistry(dir, (opened) =>
      opened.onFeatureViewApplied((view, entity) => offline.ensureTable(offlineTableOf(view, entity))),
    );
    retriever = new HistoricalRetriever(registry, offline, limits);
  });

  afterAll(async () => {
    await offline.close();
  });

  const spine = async function* (): AsyncGenerator<SpineBatchInput> {
    yield {
      rows: [1n, 2n].map((id) => ({ entityKey: { id: { kind: "int64" as const, value: id } }, eventTime: Date.now() * 1000, extras: {} })),
    };
  };
  const plan = () =>
    retriever.plan({
      project: "default",
      features: ["stats:orders"],
      featureService: "",
      spine: { kind: "inline" },
      fullFeatureNames: false,
      excludeLateIngested: false,
      emitSpineIndex: false,
    });

  it("lets go of a spine held for a result never read once released, and of one read to its end by itself", async () => {
    // A caller gone before it reads anything: a generator never started runs no `finally` of its own.
    const abandoned = await retriever.retrieve(await plan(), spine());
    expect(offline.heldSpineBytes()).toBeGreaterThan(0);
    await abandoned.release();
    expect(offline.heldSpineBytes()).toBe(0);
    await abandoned.release();

    const read = await retriever.retrieve(await plan(), spine());
    let rows = 0;
    for await (const chunk of read.chunks) rows += chunk.rows;
    expect(rows).toBe(2);
    expect(offline.heldSpineBytes()).toBe(0);
    await read.release();
    expect(offline.heldSpineBytes()).toBe(0);
  });
});

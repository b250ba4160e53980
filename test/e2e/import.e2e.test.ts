/** ImportFeatures: Parquet and CSV files, on the server or streamed up, through the real write path. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { parquetWriteFile } from "hyparquet-writer";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SluiceClientError } from "../../clients/typescript/src/index.js";
import { readOfflineRows } from "../support/offline-rows.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
let dir: string;
const base = Date.UTC(2026, 0, 1);

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-import-"));
  // Server-side files are read only from configured directories (docs/security.md).
  t = await startTestServer({ imports: { allowedDirs: [dir] } });
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "stats",
    entity: "customer",
    features: [
      { name: "orders", type: "int64" },
      { name: "spend", type: "double" },
    ],
  });
});

afterEach(async () => {
  await t?.stop();
});

/** 2,500 rows over 1,000 customers in row groups of 700, so batches cross row groups. */
function writeParquet(path: string, rows = 2500): void {
  const ids = Array.from({ length: rows }, (_, i) => BigInt(i % 1000));
  parquetWriteFile({
    filename: path,
    rowGroupSize: 700,
    columnData: [
      { name: "cust", data: ids, type: "INT64" },
      { name: "ts", data: Array.from({ length: rows }, (_, i) => new Date(base + i * 1000)), type: "TIMESTAMP" },
      { name: "orders", data: ids.map((id, i) => id + BigInt(i)), type: "INT64" },
      { name: "spend", data: Array.from({ length: rows }, (_, i) => i / 2), type: "DOUBLE" },
    ],
  });
}

async function latest(ids: bigint[]) {
  return t.client.getOnlineFeatures({ features: ["stats:orders", "stats:spend"], entities: { customer_id: ids } });
}

describe("ImportFeatures", () => {
  it("imports a Parquet file on the server with a column mapping, and materializes the latest values", async () => {
    const path = join(dir, "stats.parquet");
    writeParquet(path);
    const progress: bigint[] = [];
    const summary = await t.client.importFeatures({
      featureView: "stats",
      format: "parquet",
      serverPath: path,
      columnMapping: { customer_id: "cust", event_time: "ts" },
      materializeOnline: true,
      onProgress: (p) => progress.push(p.rowsRead),
    });
    expect(summary).toMatchObject({ rowsRead: 2500n, rowsWritten: 2500n, rowsRejected: 0n, done: true });
    expect(progress.length).toBeGreaterThan(1);
    // Customer 7 appears at rows 7, 1007 and 2007; the last (newest event) wins online.
    const [orders, spend] = await latest([7n, 999n]);
    expect(orders?.values).toEqual([7n + 2007n, 999n + 1999n]);
    expect(spend?.values).toEqual([2007 / 2, 1999 / 2]);
  });

  it("streams a local CSV file up, reporting bad rows by file row number", async () => {
    const path = join(dir, "stats.csv");
    writeFileSync(
      path,
      [
        "customer_id,event_time,orders,spend",
        "1,2026-01-01T00:00:00Z,10,1.5",
        "2,2026-01-01T00:00:01.123456Z,20,",
        "x,2026-01-01T00:00:02Z,30,3",
        "4,yesterday,40,4",
        "5,2026-01-01T00:00:04Z,forty,4",
        "6,2026-01-01T00:00:05Z,60,6",
      ].join("\n"),
    );
    const summary = await t.client.importFeatures({ featureView: "stats", format: "csv", localPath: path, materializeOnline: true });
    expect(summary).toMatchObject({ rowsRead: 6n, rowsWritten: 3n, rowsRejected: 3n });
    expect(summary.sampleRejections.map((r) => [r.rowIndex, r.violations[0]?.field])).toEqual([
      [2, "rows[2].customer_id"],
      [3, "rows[3].event_time"],
      [4, "rows[4].orders"],
    ]);
    const [orders, spend] = await latest([1n, 2n, 6n]);
    expect(orders?.values).toEqual([10n, 20n, 60n]);
    expect(spend?.values).toEqual([1.5, null, 6]);
  });

  it("writes only offline unless asked to materialize, and a retried import with the same write id stores rows once", async () => {
    const path = join(dir, "stats.parquet");
    writeParquet(path, 300);
    const request = {
      featureView: "stats",
      format: "parquet" as const,
      serverPath: path,
      writeId: "import-1",
      columnMapping: { customer_id: "cust", event_time: "ts" },
    };
    await t.client.importFeatures(request);
    await t.client.importFeatures(request);
    const [orders] = await latest([1n]);
    expect(orders?.values).toEqual([null]);
    const progress = [];
    for await (const step of t.client.materialize({ featureView: "stats" })) progress.push(step);
    expect(progress.at(-1)?.entitiesProcessed).toBe(300n);
    expect((await latest([1n]))[0]?.values).toEqual([2n]);
    await t.stop();
    const rows = await readOfflineRows(t.dataDir, {
      view: "stats",
      joinKeys: [{ name: "customer_id", type: "int64" }],
      features: [
        { name: "orders", type: "int64" },
        { name: "spend", type: "double" },
      ],
    });
    expect(rows).toHaveLength(300);
  });

  it("feeds several views from one file in one pass, each through its own mapping, online too", async () => {
    // A second view whose "spend" is the file's "orders" column (as a double), and whose own
    // feature "count" comes from the file's "orders": the per-view mappings over the shared one.
    await t.client.applyFeatureView({
      name: "mirror",
      entity: "customer",
      features: [
        { name: "spend", type: "double" },
        { name: "count", type: "int64" },
      ],
    });
    const path = join(dir, "both.parquet");
    writeParquet(path);
    const progress: bigint[] = [];
    const summary = await t.client.importFeatures({
      featureViews: [{ featureView: "stats" }, { featureView: "mirror", columnMapping: { count: "orders" } }],
      format: "parquet",
      serverPath: path,
      columnMapping: { customer_id: "cust", event_time: "ts" },
      materializeOnline: true,
      writeId: "both-1",
      onProgress: (p) => progress.push(p.rowsRead),
    });
    // The file is read once: rows read counts file rows; written rows count once per view.
    expect(summary).toMatchObject({ rowsRead: 2500n, rowsWritten: 5000n, rowsRejected: 0n, done: true });
    expect(summary.views).toEqual([
      { featureView: "stats@1", rowsWritten: 2500n, rowsRejected: 0n },
      { featureView: "mirror@1", rowsWritten: 2500n, rowsRejected: 0n },
    ]);
    expect(progress.at(-1)).toBe(2500n);
    const [count, spend] = await t.client.getOnlineFeatures({
      features: ["mirror:count", "mirror:spend"],
      entities: { customer_id: [7n] },
    });
    expect([count?.values, spend?.values]).toEqual([[7n + 2007n], [2007 / 2]]);
    expect((await latest([7n]))[0]?.values).toEqual([7n + 2007n]);
    // Retried with the same write id: stored once in both views.
    const again = await t.client.importFeatures({
      featureViews: [{ featureView: "stats" }, { featureView: "mirror", columnMapping: { count: "orders" } }],
      format: "parquet",
      serverPath: path,
      columnMapping: { customer_id: "cust", event_time: "ts" },
      writeId: "both-1",
    });
    expect(again.rowsRead).toBe(2500n);
    await t.stop();
    const stored = await readOfflineRows(t.dataDir, {
      view: "mirror",
      joinKeys: [{ name: "customer_id", type: "int64" }],
      features: [
        { name: "spend", type: "double" },
        { name: "count", type: "int64" },
      ],
    });
    expect(stored).toHaveLength(2500);
  });

  it("refuses a view listed twice, a per-view mapping of a field the view lacks, and a shared one no view has", async () => {
    await t.client.applyFeatureView({ name: "mirror", entity: "customer", features: [{ name: "count", type: "int64" }] });
    const path = join(dir, "both.parquet");
    writeParquet(path, 10);
    const refusal = async (request: Parameters<typeof t.client.importFeatures>[0]) => {
      const error = (await t.client.importFeatures(request).catch((e) => e)) as SluiceClientError;
      return [error.code, error.reason, error.fieldViolations.map((v) => v.field)];
    };
    const shared = { format: "parquet" as const, serverPath: path, columnMapping: { customer_id: "cust", event_time: "ts" } };
    expect(await refusal({ ...shared, featureViews: [{ featureView: "stats" }, { featureView: "stats@1" }] })).toEqual([
      status.INVALID_ARGUMENT,
      "INVALID_IMPORT_TARGET",
      ["config.feature_views[1].feature_view"],
    ]);
    expect(
      await refusal({
        ...shared,
        featureViews: [{ featureView: "stats" }, { featureView: "mirror", columnMapping: { orders: "orders" } }],
      }),
    ).toEqual([status.INVALID_ARGUMENT, "INVALID_COLUMN_MAPPING", ['config.feature_views[1].column_mapping["orders"]']]);
    // "orders" is a field of stats only: a shared mapping may name it; "nope" no view has.
    expect(
      await refusal({
        ...shared,
        columnMapping: { ...shared.columnMapping, orders: "orders", nope: "x" },
        featureViews: [{ featureView: "stats" }, { featureView: "mirror" }],
      }),
    ).toEqual([status.INVALID_ARGUMENT, "INVALID_COLUMN_MAPPING", ['config.column_mapping["nope"]']]);
    expect((await refusal({ ...shared, featureViews: [{ featureView: "stats" }, { featureView: "ghost" }] }))[0]).toBe(status.NOT_FOUND);
  });

  it("refuses a bad mapping, a missing key column, an unreadable path and a missing config", async () => {
    const path = join(dir, "stats.parquet");
    writeParquet(path, 10);
    const mapping = await t.client
      .importFeatures({ featureView: "stats", format: "parquet", serverPath: path, columnMapping: { nope: "x" } })
      .catch((e) => e);
    expect([(mapping as SluiceClientError).code, (mapping as SluiceClientError).fieldViolations[0]?.field]).toEqual([
      status.INVALID_ARGUMENT,
      'config.column_mapping["nope"]',
    ]);
    const missing = await t.client.importFeatures({ featureView: "stats", format: "parquet", serverPath: path }).catch((e) => e);
    expect((missing as SluiceClientError).reason).toBe("MISSING_PARQUET_COLUMN");
    const unreadable = await t.client
      .importFeatures({ featureView: "stats", format: "csv", serverPath: join(dir, "nope.csv") })
      .catch((e) => e);
    expect((unreadable as SluiceClientError).reason).toBe("UNREADABLE_SOURCE");
    const unknown = await t.client.importFeatures({ featureView: "ghost", format: "csv", serverPath: path }).catch((e) => e);
    expect((unknown as SluiceClientError).code).toBe(status.NOT_FOUND);
  });
});

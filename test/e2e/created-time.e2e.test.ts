/**
 * Created times end to end: a history imported with the times it had in the system it comes from
 * breaks ties and is guarded against leakage by those times, not by the time of the import.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { typed } from "../../clients/typescript/src/index.js";
import { failure } from "../support/expect-failure.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const day = (n: number) => new Date(Date.UTC(2026, 0, n));

/** customer 1's orders as training data sees them at `at`, with or without the late-ingestion guard. */
async function ordersAt(at: Date, excludeLateIngested: boolean): Promise<unknown> {
  for await (const row of t.client.getHistoricalRows({
    features: ["stats:orders"],
    excludeLateIngested,
    spine: { rows: [{ entityKey: { customer_id: 1n }, eventTime: at }] },
  }))
    return row.orders;
  return undefined;
}

beforeAll(async () => {
  t = await startTestServer();
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({ name: "stats", entity: "customer", features: [{ name: "orders", type: "int64" }] });
});

afterAll(() => t?.stop());

describe("an import with created times", () => {
  it("keeps the source's times: the guard sees each row from its created time, not from the import", async () => {
    // Day 1's value was known on day 2, a correction of it on day 5; the file is imported today.
    const path = join(mkdtempSync(join(tmpdir(), "sluice-created-")), "history.csv");
    writeFileSync(
      path,
      [
        "customer_id,event_time,orders,recorded_at",
        `1,${day(1).toISOString()},10,${day(2).toISOString()}`,
        `1,${day(1).toISOString()},11,${day(5).toISOString()}`,
      ].join("\n"),
    );
    const summary = await t.client.importFeatures({
      featureView: "stats",
      format: "csv",
      localPath: path,
      createdTimeColumn: "recorded_at",
      materializeOnline: true,
    });
    expect([summary.rowsWritten, summary.rowsRejected]).toEqual([2n, 0n]);

    // Without the guard the correction (the later created time) wins the tie on event time.
    expect(await ordersAt(day(3), false)).toBe(11n);
    // With it, a label on day 3 sees only what was known by then, and nothing before day 2.
    expect(await ordersAt(day(3), true)).toBe(10n);
    expect(await ordersAt(day(6), true)).toBe(11n);
    expect(await ordersAt(new Date(day(2).getTime() - 1), true)).toBe(null);
    // Online agrees: the correction.
    const [orders] = await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: [1n] } });
    expect(orders?.values).toEqual([11n]);
  });

  it("lets live rows win ties over an old file imported after them", async () => {
    await t.client.writeFeatureBatch({
      featureView: "stats",
      rows: [{ entityKey: { customer_id: 2n }, eventTime: day(10), features: { orders: typed.int64(20) } }],
    });
    // The same event time, recorded long ago by the source, written now through the columnar form.
    await t.client.writeFeatureBatch({
      featureView: "stats",
      eventTimes: [day(10)],
      createdTimes: [day(10)],
      entityKey: { customer_id: { type: "int64", values: [2n] } },
      features: { orders: { type: "int64", values: [19n] } },
    });
    const [orders] = await t.client.getOnlineFeatures({ features: ["stats:orders"], entities: { customer_id: [2n] } });
    expect(orders?.values).toEqual([20n]);
    for await (const row of t.client.getHistoricalRows({
      features: ["stats:orders"],
      spine: { rows: [{ entityKey: { customer_id: 2n }, eventTime: day(11) }] },
    }))
      expect(row.orders).toBe(20n);
  });

  it("rejects a created time too far ahead, by row, and a bad created time column by file row", async () => {
    const ack = await t.client.writeFeatureBatch({
      featureView: "stats",
      rows: [
        {
          entityKey: { customer_id: 3n },
          eventTime: day(1),
          features: { orders: typed.int64(1) },
          createdTime: new Date(Date.now() + 86_400_000),
        },
      ],
    });
    expect(ack.rejectedRows[0]?.violations[0]?.field).toBe("rows[0].created_time");

    const path = join(mkdtempSync(join(tmpdir(), "sluice-created-")), "bad.csv");
    writeFileSync(path, ["customer_id,event_time,orders,recorded_at", `3,${day(1).toISOString()},1,yesterday`].join("\n"));
    const summary = await t.client.importFeatures({
      featureView: "stats",
      format: "csv",
      localPath: path,
      createdTimeColumn: "recorded_at",
    });
    expect(summary.rowsRejected).toBe(1n);
    expect(summary.sampleRejections[0]?.violations[0]?.field).toBe("rows[0].recorded_at");

    const missing = await failure(
      t.client.importFeatures({ featureView: "stats", format: "csv", localPath: path, createdTimeColumn: "no_such_column" }),
    );
    expect(missing.fieldViolations[0]).toEqual({
      field: "config.created_time_column",
      description: 'the file has no column "no_such_column" (have: customer_id, event_time, orders, recorded_at)',
    });
  });
});

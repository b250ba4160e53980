/**
 * The served-consistency check on real traffic: values served from a view with log_served_values
 * are logged, and CheckServedConsistency replays them through the historical path. Ordinary
 * traffic shows no mismatch; an event whose created time is ahead of the server's clock (counted
 * online at once, known to the historical path only from its created time) shows up as one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../../src/config/config.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const FIELDS = [
  { name: "amount", type: "double" as const },
  { name: "merchant", type: "string" as const },
];

beforeAll(async () => {
  // Logged values are written out every 50 ms, so the check sees them without waiting.
  t = await startTestServer({ logLevel: "warn", serving: { ...DEFAULT_CONFIG.serving, predictionLogFlushMs: 50 } });
  await t.client.applyEntity({ name: "card", joinKeys: [{ name: "card_id", type: "int64" }] });
  await t.client.applyEventStream({ name: "txn", entity: "card", fields: FIELDS, granularitySeconds: 1 });
  await t.client.applyFeatureView({
    name: "txn_stats",
    entity: "card",
    stream: "txn",
    logServedValues: true,
    features: [
      { name: "n_1m", aggregation: { function: "count", windowSeconds: 60 } },
      { name: "amount_mean_1m", aggregation: { function: "mean", field: "amount", windowSeconds: 60 } },
      { name: "last_merchant", aggregation: { function: "last", field: "merchant" } },
    ],
  });
});
afterAll(() => t?.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readOnline(cards: bigint[]): Promise<void> {
  await t.client.getOnlineFeatures({
    features: ["txn_stats:n_1m", "txn_stats:amount_mean_1m", "txn_stats:last_merchant"],
    entities: { card_id: cards },
  });
}

describe("CheckServedConsistency", () => {
  it("finds no mismatch in ordinary traffic, then reports an event known online before the historical path knows it", async () => {
    const start = new Date();
    for (let i = 0; i < 5; i++) {
      const now = Date.now();
      await t.client.writeEventBatch({
        eventStream: "txn",
        events: [1n, 2n].map((card) => ({
          entityKey: { card_id: card },
          eventTime: new Date(now - i * 100),
          fields: { amount: 10.5 * (i + 1) * Number(card), merchant: `m${i}` },
        })),
      });
      await sleep(5);
      await readOnline([1n, 2n, 3n]);
    }
    await sleep(200);
    const clean = await t.client.checkServedConsistency({ featureView: "txn_stats", start });
    expect(Number(clean.servedValues)).toBe(15);
    expect(clean.features.map((f) => [f.feature, Number(f.compared), Number(f.mismatches)])).toEqual([
      ["n_1m", 15, 0],
      ["amount_mean_1m", 15, 0],
      ["last_merchant", 15, 0],
    ]);
    expect(clean.comparison).toContain("1e-9");

    // Created 30 s in the future (within the clock skew allowance): online counts it at once.
    const skewStart = new Date();
    await t.client.writeEventBatch({
      eventStream: "txn",
      events: [
        {
          entityKey: { card_id: 3n },
          eventTime: new Date(),
          createdTime: new Date(Date.now() + 30_000),
          fields: { amount: 1, merchant: "future" },
        },
      ],
    });
    await sleep(5);
    await readOnline([3n]);
    await sleep(200);
    const skewed = await t.client.checkServedConsistency({ featureView: "txn_stats", start: skewStart, maxExamples: 1 });
    const count = skewed.features.find((f) => f.feature === "n_1m");
    expect(Number(count?.compared)).toBe(1);
    expect(Number(count?.mismatches)).toBe(1);
    expect(count?.mismatchRate).toBe(1);
    expect(count?.examples[0]).toMatchObject({ entityKey: '{"card_id":"3"}', servedValue: '"1"', historicalValue: '"0"' });
  });

  it("reports nothing to compare for a view that logs nothing, and refuses bad requests", async () => {
    await t.client.applyFeatureView({ name: "quiet", entity: "card", features: [{ name: "x", type: "double" }] });
    const empty = await t.client.checkServedConsistency({ featureView: "quiet" });
    expect(Number(empty.servedValues)).toBe(0);
    await expect(t.client.checkServedConsistency({ featureView: "nope" })).rejects.toMatchObject({ code: 5 });
  });
});

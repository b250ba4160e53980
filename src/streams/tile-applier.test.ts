import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FeatureViewVersion } from "../registry/model.js";
import { type LmdbOnlineStore, openLmdbOnlineStore } from "../storage/online/lmdb-online-store.js";
import { type AggregationSpec, addEvent, emptyState, packState, unpackState } from "./aggregations.js";
import { TileApplier, type TileEvent, tiledViewOf } from "./tile-applier.js";
import { decodeTileRecord, encodeTileRecord, writeSource } from "./tile-record.js";

const MINUTE = 60_000_000;
const NOW = 1_767_225_600_000_000;

/** An aggregation view of count, sum, last_n and count_distinct over 10 minutes and the lifetime. */
const view = {
  project: "p",
  name: "v",
  version: 1,
  historyVersion: 1,
  stream: "s",
  streamVersion: 1,
  features: [600_000, 0].flatMap((windowMillis) =>
    (["count", "sum", "last_n", "count_distinct"] as const).map((kind) => ({
      name: `${kind}_${windowMillis}`,
      type: "double" as const,
      description: "",
      tags: {},
      aggregation: { kind, field: kind === "sum" ? "amount" : "merchant", windowMillis, k: kind === "last_n" ? 2 : 0, filter: "" },
    })),
  ),
} as unknown as FeatureViewVersion;
const stream = {
  granularityMillis: 60_000,
  allowedLatenessMillis: 0,
  fields: [
    { name: "amount", type: "double" as const },
    { name: "merchant", type: "string" as const },
  ],
};

function event(position: number, source = "kafka:t/0", entityKey = "k"): TileEvent {
  const time = NOW + position * 1000;
  return {
    entityKey,
    eventTime: time,
    ingestTime: time,
    receiptTime: time,
    fields: { amount: position, merchant: `m${position % 3}` },
    source,
    position,
  };
}

describe("TileApplier", () => {
  let store: LmdbOnlineStore;
  beforeEach(() => {
    store = openLmdbOnlineStore(mkdtempSync(join(tmpdir(), "tiles-")));
  });
  afterEach(async () => {
    await store.close();
  });

  const valuesNow = async (key = "k") => {
    const tiled = tiledViewOf(view, stream);
    const { tiles } = await store.readWithTiles([], [{ table: tiled.table, keys: [key] }]);
    return new TileApplier(store).valuesAsOf(tiled, key, tiles[0]?.[0], NOW + 10 * MINUTE);
  };

  it("counts each event once across appliers with stale caches, replays and retried writes", async () => {
    const tiled = tiledViewOf(view, stream);
    const [a, b] = [new TileApplier(store), new TileApplier(store)];
    // Alternating writers: each one's cached record is stale every other batch, so its compare-and-set fails and it reads again.
    for (let batch = 0; batch < 10; batch++) {
      const events = [0, 1, 2].map((i) => event(batch * 3 + i));
      await (batch % 2 === 0 ? a : b).apply([tiled], events);
    }
    // A replay of offsets already applied (a rebalance) and a retried write change nothing.
    await b.apply([tiled], [event(4), event(5)]);
    const retried = [event(0, writeSource("w-1")), event(1, writeSource("w-1"))];
    await a.apply([tiled], retried);
    await b.apply([tiled], retried);
    const [count, sum, lastTwo, distinct, lifetimeCount] = await valuesNow();
    expect(count).toBe(32n);
    expect(sum).toBe(Array.from({ length: 30 }, (_, i) => i).reduce((x, y) => x + y, 0) + 0 + 1);
    expect(lastTwo).toEqual(["m2", "m1"]);
    expect(distinct).toBe(3n);
    expect(lifetimeCount).toBe(32n);
  });

  it("applies concurrent batches for one entity without losing any", async () => {
    const tiled = tiledViewOf(view, stream);
    const appliers = [new TileApplier(store), new TileApplier(store), new TileApplier(store)];
    await Promise.all(appliers.map((applier, i) => applier.apply([tiled], [event(i, `kafka:t/${i}`), event(10 + i, `kafka:t/${i}`)])));
    expect((await valuesNow())[4]).toBe(6n);
  });

  it("reads the same values from its own decoded records as from the stored bytes, and only the wanted ones", async () => {
    const tiled = tiledViewOf(view, stream);
    const writer = new TileApplier(store);
    await writer.apply([tiled], [event(1), event(2), event(3)]);
    const { tiles } = await store.readWithTiles([], [{ table: tiled.table, keys: ["k"] }]);
    const t = NOW + MINUTE;
    const fromCache = writer.valuesAsOf(tiled, "k", tiles[0]?.[0], t);
    expect(fromCache).toEqual(new TileApplier(store).valuesAsOf(tiled, "k", tiles[0]?.[0], t));
    expect(fromCache[0]).toBe(3n);
    expect(writer.valuesAsOf(tiled, "k", tiles[0]?.[0], t, new Set([1]))).toEqual([null, 6, null, null, null, null, null, null]);
  });

  it("reads an entity without events as empty windows", async () => {
    expect(await valuesNow("nobody")).toEqual([0n, 0, [], 0n, 0n, 0, [], 0n]);
  });
});

describe("tile records", () => {
  it("round-trip exactly through the store encoding", () => {
    const tiled = tiledViewOf(view, stream);
    const data = tiled.layout.empty();
    for (let i = 0; i < 20; i++) tiled.layout.apply(data, event(i * 37), NOW + i * 37_000);
    const record = { data, positions: { "kafka:t/0": 703, [writeSource("x")]: 2 } };
    const decoded = decodeTileRecord(tiled.layout, encodeTileRecord(tiled.layout, record));
    expect(decoded).toEqual(record);
  });

  it("property: packed states unpack to the same state", () => {
    const kinds: AggregationSpec[] = [
      { kind: "count", fieldType: "double" },
      { kind: "sum", fieldType: "double" },
      { kind: "sum", fieldType: "int64" },
      { kind: "mean", fieldType: "double" },
      { kind: "variance", fieldType: "double" },
      { kind: "max", fieldType: "string" },
      { kind: "first", fieldType: "double" },
      { kind: "last_n", fieldType: "string", k: 3 },
      { kind: "count_distinct", fieldType: "int64" },
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        fc.array(fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: null }), { maxLength: 20 }),
        (spec, values) => {
          const state = emptyState(spec);
          values.forEach((value, i) => {
            const typed =
              value === null ? null : spec.fieldType === "int64" ? BigInt(value) : spec.fieldType === "string" ? `s${value}` : value;
            addEvent(spec, state, { eventTime: i, ingestTime: i, value: typed });
          });
          expect(unpackState(spec, packState(spec, state))).toEqual(state);
        },
      ),
    );
  });

  it("hashes write ids to short, stable sources", () => {
    expect(writeSource("readme-events-1")).toBe(writeSource("readme-events-1"));
    expect(writeSource("a")).not.toBe(writeSource("b"));
    expect(writeSource("0b6f3c1e-2f4e-4a8e-9a1d-5c2b7e8f9a0b").length).toBeLessThanOrEqual(13);
  });
});

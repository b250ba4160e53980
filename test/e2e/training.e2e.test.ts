/**
 * Point-in-time training data end to end: history written through WriteFeatures, training sets
 * read through GetHistoricalFeatures and stored as training datasets, with the real server,
 * stores and SDK, checked against the plain-loop reference join.
 */
import { existsSync } from "node:fs";
import { Metadata, status } from "@grpc/grpc-js";
import {
  Bool,
  Dictionary,
  Int32,
  Int64,
  makeData,
  makeVector,
  Table,
  TimestampMillisecond,
  TimestampNanosecond,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PlainValue, type SpineRowInput, TrainingDatasetState, typed } from "../../clients/typescript/src/index.js";
import { queryToWire } from "../../clients/typescript/src/requests.js";
import { OutputFormat, TrainingDataset } from "../../src/gen/sluice/v1/training.pb.js";
import { failure } from "../support/expect-failure.js";
import { type OracleHistoryRow, pointInTimeOracle } from "../support/point-in-time-oracle.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

let t: TestServer;
const T0 = Date.UTC(2026, 0, 1);
const minutes = (n: number) => new Date(T0 + n * 60_000);
const MICROS_PER_MINUTE = 60_000_000;

/** What was written, in write order, so the reference join knows which row was ingested later. */
const written: { orders: OracleHistoryRow[]; profile: OracleHistoryRow[] } = { orders: [], profile: [] };
let sequence = 0;

async function writeOrders(rows: Array<{ customer: bigint; region: string; minute: number; spend: number | null; channel: string }>) {
  await t.client.writeFeatureBatch({
    featureView: "orders",
    rows: rows.map((r) => ({
      entityKey: { customer_id: r.customer, region: r.region },
      eventTime: minutes(r.minute),
      features: { spend: r.spend === null ? null : typed.double(r.spend), channel: r.channel },
    })),
  });
  for (const r of rows) {
    written.orders.push({
      key: [r.customer, r.region],
      eventTime: T0 * 1000 + r.minute * MICROS_PER_MINUTE,
      ingestTime: ++sequence,
      features: [r.spend, r.channel],
    });
  }
}

beforeAll(async () => {
  t = await startTestServer();
  await t.client.applyEntity({
    name: "shopper",
    joinKeys: [
      { name: "customer_id", type: "int64" },
      { name: "region", type: "string" },
    ],
  });
  await t.client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await t.client.applyFeatureView({
    name: "orders",
    entity: "shopper",
    ttlSeconds: 30 * 60,
    features: [
      { name: "spend", type: "double" },
      { name: "channel", type: "string" },
    ],
  });
  await t.client.applyFeatureView({ name: "profile", entity: "customer", features: [{ name: "segment", type: "string" }] });
  await t.client.applyFeatureService({ name: "churn", features: ["orders:spend", "profile:segment"] });

  await writeOrders([
    { customer: 1n, region: "eu", minute: 0, spend: 10, channel: "web" },
    { customer: 1n, region: "eu", minute: 20, spend: 20, channel: "web" },
    { customer: 1n, region: "us", minute: 5, spend: 99, channel: "app" },
    { customer: 2n, region: "eu", minute: 10, spend: null, channel: "app" },
  ]);
  // The same event time again, ingested later: it wins from here on.
  await writeOrders([{ customer: 1n, region: "eu", minute: 20, spend: 21, channel: "store" }]);
  // A late event: older than what is known, but history all the same.
  await writeOrders([{ customer: 2n, region: "eu", minute: 2, spend: 2, channel: "web" }]);
  await t.client.writeFeatureBatch({
    featureView: "profile",
    rows: [
      { entityKey: { customer_id: 1n }, eventTime: minutes(-100), features: { segment: "gold" } },
      { entityKey: { customer_id: 2n }, eventTime: minutes(15), features: { segment: "new" } },
    ],
  });
  written.profile.push(
    { key: [1n], eventTime: T0 * 1000 - 100 * MICROS_PER_MINUTE, ingestTime: ++sequence, features: ["gold"] },
    { key: [2n], eventTime: T0 * 1000 + 15 * MICROS_PER_MINUTE, ingestTime: ++sequence, features: ["new"] },
  );
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

/** A spine over every case: before any history, ties, TTL edges, late events, unknown entities. */
const spineRows: SpineRowInput[] = [
  [1n, "eu", -1],
  [1n, "eu", 0],
  [1n, "eu", 20],
  [1n, "eu", 50],
  [1n, "eu", 51],
  [1n, "us", 30],
  [2n, "eu", 5],
  [2n, "eu", 12],
  [2n, "eu", 16],
  [3n, "eu", 16],
].map(([customer, region, minute], i) => ({
  entityKey: { customer_id: customer as bigint, region: region as string },
  eventTime: minutes(minute as number),
  extras: { label: i % 2 === 0, note: `row ${i}` },
}));

/** The reference answer for spineRows and the features orders:spend, profile:segment, orders:channel. */
function expectedRows(): Array<Record<string, PlainValue>> {
  const spine = spineRows.map((row) => ({
    key: row.entityKey as Record<string, bigint | string>,
    eventTime: (row.eventTime as Date).getTime() * 1000,
  }));
  const features = pointInTimeOracle(
    spine,
    [
      { keyNames: ["customer_id", "region"], ttlMicros: 30 * MICROS_PER_MINUTE, rows: written.orders },
      { keyNames: ["customer_id"], ttlMicros: 0, rows: written.profile },
    ],
    false,
  );
  return spineRows.map((row, i) => {
    const [orders, profile] = features[i] ?? [];
    return {
      customer_id: row.entityKey.customer_id as bigint,
      region: row.entityKey.region as string,
      event_time: row.eventTime as Date,
      label: (row.extras?.label ?? null) as boolean,
      note: (row.extras?.note ?? null) as string,
      spend: orders?.[0] ?? null,
      segment: profile?.[0] ?? null,
      channel: orders?.[1] ?? null,
    };
  });
}

async function rowsOf(query: Parameters<TestServer["client"]["getHistoricalRows"]>[0], chunkRows?: number) {
  const rows: Array<Record<string, PlainValue>> = [];
  for await (const row of t.client.getHistoricalRows(query, { chunkRows })) rows.push(row);
  return rows;
}

describe("GetHistoricalFeatures", () => {
  it("matches the reference join with an inline spine, in spine order, as rows and as Arrow", async () => {
    const query = { features: ["orders:spend", "profile:segment", "orders:channel"], spine: { rows: spineRows } };
    const rows = await rowsOf(query, 3);
    expect(rows).toEqual(expectedRows());

    const { table, schema } = await t.client.getHistoricalArrow(query);
    expect(schema.preservesSpineOrder).toBe(true);
    expect(schema.columns.map((c) => c.name)).toEqual([
      "customer_id",
      "region",
      "event_time",
      "label",
      "note",
      "spend",
      "segment",
      "channel",
    ]);
    expect(schema.columns.find((c) => c.name === "spend")?.feature).toMatchObject({
      featureView: "projects/default/featureViews/orders",
      version: 1,
    });
    expect(table.numRows).toBe(spineRows.length);
    expect(Array.from(table.getChild("spend") ?? [])).toEqual(rows.map((r) => r.spend));
    expect(Array.from(table.getChild("customer_id") ?? [])).toEqual(rows.map((r) => r.customer_id));
  });

  it("takes spines as streamed column batches, and emits the spine index instead of sorting", async () => {
    const batches = [spineRows.slice(0, 4), spineRows.slice(4)].map((part) => ({
      columns: {
        eventTimes: part.map((r) => r.eventTime as Date),
        entityKey: {
          customer_id: BigInt64Array.from(part.map((r) => r.entityKey.customer_id as bigint)),
          region: { type: "string" as const, values: part.map((r) => r.entityKey.region as string) },
        },
        extras: {
          label: { type: "bool" as const, values: part.map((r) => r.extras?.label as boolean) },
          note: { type: "string" as const, values: part.map((r) => r.extras?.note as string) },
        },
      },
    }));
    let preservesSpineOrder: boolean | undefined;
    const rows: Array<Record<string, PlainValue>> = [];
    for await (const row of t.client.getHistoricalRows(
      { features: ["orders:spend", "profile:segment", "orders:channel"], spine: { batches }, emitSpineIndex: true },
      { onSchema: (schema) => (preservesSpineOrder = schema.preservesSpineOrder) },
    )) {
      rows.push(row);
    }
    expect(preservesSpineOrder).toBe(false);
    const byIndex = rows.sort((a, b) => Number(a.spine_index) - Number(b.spine_index));
    expect(byIndex.map(({ spine_index, ...rest }) => rest)).toEqual(expectedRows());
    expect(byIndex.map((r) => r.spine_index)).toEqual(spineRows.map((_, i) => BigInt(i)));
  });

  it("sends a spine of typed and text columns as Arrow, whole or in batches, with the same answer, and names a bad time as Arrow's", async () => {
    const columnsOf = (times: Date[], from = 0, to = spineRows.length) => ({
      eventTimes: times.slice(from, to),
      entityKey: {
        customer_id: BigInt64Array.from(spineRows.slice(from, to).map((r) => r.entityKey.customer_id as bigint)),
        region: { type: "string" as const, values: spineRows.slice(from, to).map((r) => r.entityKey.region as string) },
        // Not a join key: the columns form ignores it, and so does the Arrow spine made of them.
        store: Int32Array.from(spineRows.slice(from, to).map(() => 7)),
      },
      extras: {
        note: { type: "string" as const, values: spineRows.slice(from, to).map((r) => r.extras?.note as string) },
        weight: Float64Array.from(spineRows.slice(from, to).map((_, i) => (from + i) / 4)),
      },
    });
    const query = { features: ["orders:spend", "profile:segment", "orders:channel"] };
    const times = spineRows.map((r) => r.eventTime as Date);
    const expected = expectedRows().map(({ label, ...row }, i) => ({ ...row, weight: i / 4 }));
    expect(await rowsOf({ ...query, spine: { columns: columnsOf(times) } })).toEqual(expected);
    const { table } = await t.client.getHistoricalArrow({ ...query, spine: { columns: columnsOf(times) } });
    expect(table.numRows).toBe(spineRows.length);
    expect(table.schema.fields.map((f) => f.name)).toEqual([
      "customer_id",
      "region",
      "event_time",
      "note",
      "weight",
      "spend",
      "segment",
      "channel",
    ]);
    expect(table.getChild("weight")?.toArray()).toEqual(Float64Array.from(expected, (row) => row.weight));
    // A time past what the engine holds: refused where the Arrow spine holds it, so it went as Arrow.
    const far = await failure(
      rowsOf({ ...query, spine: { columns: columnsOf(times.map((time, i) => (i === 3 ? new Date(Date.UTC(2300, 0, 1)) : time))) } }),
    );
    expect([far.code, far.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_SPINE_ROWS"]);
    expect(far.fieldViolations.map((v) => v.field)).toEqual(['spine_batches[0].arrow_ipc["event_time"][3]']);
    // The same in batches: each batch of columns goes as Arrow, the join keys asked for once.
    const batches = (times: Date[]) => [{ columns: columnsOf(times, 0, 4) }, { columns: columnsOf(times, 4) }];
    expect(await rowsOf({ ...query, spine: { batches: batches(times) } })).toEqual(expected);
    const farInBatch = await failure(
      rowsOf({ ...query, spine: { batches: batches(times.map((time, i) => (i === 5 ? new Date(Date.UTC(2300, 0, 1)) : time))) } }),
    );
    expect(farInBatch.fieldViolations.map((v) => v.field)).toEqual(['spine_batches[1].arrow_ipc["event_time"][1]']);
  });

  it("takes spines as Arrow IPC streams, batch by batch, and names a bad cell by its column and row", async () => {
    const arrowBatch = (part: SpineRowInput[]) => ({
      arrowIpc: tableToIPC(
        new Table({
          customer_id: makeVector(BigInt64Array.from(part.map((r) => r.entityKey.customer_id as bigint))),
          // A dictionary, as pandas' categoricals arrive.
          region: vectorFromArray(
            part.map((r) => r.entityKey.region as string),
            new Dictionary(new Utf8(), new Int32()),
          ),
          event_time: makeVector(
            makeData({
              type: new TimestampNanosecond("UTC"),
              length: part.length,
              data: BigInt64Array.from(part.map((r) => BigInt((r.eventTime as Date).getTime()) * 1_000_000n)),
            }),
          ),
          label: vectorFromArray(
            part.map((r) => r.extras?.label as boolean),
            new Bool(),
          ),
          note: vectorFromArray(
            part.map((r) => r.extras?.note as string),
            new Utf8(),
          ),
        }),
        "stream",
      ),
    });
    const query = { features: ["orders:spend", "profile:segment", "orders:channel"] };
    const batches = [spineRows.slice(0, 3), spineRows.slice(3)].map(arrowBatch);
    expect(await rowsOf({ ...query, spine: { batches } })).toEqual(expectedRows());

    const nullKey = new Table({
      customer_id: vectorFromArray([1n, null], new Int64()),
      event_time: makeVector(makeData({ type: new TimestampMillisecond(), length: 2, data: BigInt64Array.of(BigInt(T0), BigInt(T0)) })),
    });
    const badRows = await failure(rowsOf({ ...query, spine: { arrowIpc: tableToIPC(nullKey, "stream") } }));
    expect([badRows.code, badRows.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_SPINE_ROWS"]);
    expect(badRows.fieldViolations.map((v) => v.field)).toEqual([
      'spine_batches[0].arrow_ipc["region"][0]',
      'spine_batches[0].arrow_ipc["customer_id"][1]',
      'spine_batches[0].arrow_ipc["region"][1]',
    ]);

    const garbage = await failure(rowsOf({ ...query, spine: { batches: [...batches, { arrowIpc: new Uint8Array([1, 2, 3]) }] } }));
    expect([garbage.code, garbage.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_SPINE_BATCH"]);
    expect(garbage.fieldViolations[0]?.field).toBe("spine_batches[2].arrow_ipc");
  });

  it("stores batches together, and an extra column first seen in a later batch reads null in the rows before it", async () => {
    // Three batches, queued and stored as one insert; "note" appears only in the third.
    const parts = [spineRows.slice(0, 2), spineRows.slice(2, 4), spineRows.slice(4)];
    const batches = parts.map((part, i) => ({
      columns: {
        eventTimes: part.map((r) => r.eventTime as Date),
        entityKey: {
          customer_id: BigInt64Array.from(part.map((r) => r.entityKey.customer_id as bigint)),
          region: { type: "string" as const, values: part.map((r) => r.entityKey.region as string) },
        },
        extras: {
          label: { type: "bool" as const, values: part.map((r) => r.extras?.label as boolean) },
          ...(i === 2 ? { note: { type: "string" as const, values: part.map((r) => r.extras?.note as string) } } : {}),
        },
      },
    }));
    const rows: Array<Record<string, PlainValue>> = [];
    for await (const row of t.client.getHistoricalRows({
      features: ["orders:spend", "profile:segment", "orders:channel"],
      spine: { batches },
    }))
      rows.push(row);
    expect(rows).toEqual(expectedRows().map((row, i) => (i < 4 ? { ...row, note: null } : row)));
  });

  it("expands feature services, pins versions, and names columns view__feature when asked", async () => {
    const viaService = await rowsOf({ featureService: "churn", spine: { rows: spineRows }, fullFeatureNames: true });
    expect(Object.keys(viaService[0] ?? {})).toEqual([
      "customer_id",
      "region",
      "event_time",
      "label",
      "note",
      "orders__spend",
      "profile__segment",
    ]);
    expect(viaService.map((r) => r.orders__spend)).toEqual(expectedRows().map((r) => r.spend));

    // A breaking version 2 of profile: version 1 stays readable by pinning it.
    await t.client.applyFeatureView({ name: "profile", entity: "customer", features: [{ name: "tier", type: "int64" }] });
    const pinned = await rowsOf({ features: ["profile@1:segment", "profile:tier"], spine: { rows: spineRows } });
    expect(pinned.map((r) => r.segment)).toEqual(expectedRows().map((r) => r.segment));
    expect(pinned.every((r) => r.tier === null)).toBe(true);
  });

  it("ignores rows ingested after the spine time when asked (no backfill leakage)", async () => {
    // The spine time lies strictly before the write, whose ingestion time is now.
    const before = new Date(Date.now() - 1);
    await t.client.writeFeatureBatch({
      featureView: "orders",
      rows: [{ entityKey: { customer_id: 7n, region: "eu" }, eventTime: new Date(before.getTime() - 60_000), features: { spend: 7 } }],
    });
    const spine = { rows: [{ entityKey: { customer_id: 7n, region: "eu" }, eventTime: before }] };
    expect((await rowsOf({ features: ["orders:spend"], spine }))[0]?.spend).toBe(7);
    expect((await rowsOf({ features: ["orders:spend"], spine, excludeLateIngested: true }))[0]?.spend).toBeNull();
  });

  it("reads spines from the offline store: a SQL query, a table, or every entity in a time range", async () => {
    const sql =
      "SELECT toInt64(number + 1) AS customer_id, 'eu' AS region, toDateTime64('2026-01-01 00:25:00', 6, 'UTC') AS event_time, " +
      "toBool(number % 2 = 0) AS label FROM numbers(3)";
    const fromSql = await rowsOf({ features: ["orders:spend"], spine: { sql } });
    expect(fromSql.map((r) => [r.customer_id, r.spend, r.label])).toEqual([
      [1n, 21, true],
      [2n, null, false],
      [3n, null, true],
    ]);

    const fromTable = await rowsOf({ features: ["orders:channel"], spine: { table: "orders__v1" }, fullFeatureNames: true });
    // Each history row as a spine row sees itself, except the one a later-ingested row of the same
    // event time replaced.
    expect(fromTable.length).toBeGreaterThanOrEqual(6);
    expect(fromTable.filter((r) => r.orders__channel !== r.channel).map((r) => [r.customer_id, r.channel, r.orders__channel])).toEqual([
      [1n, "web", "store"],
    ]);

    const range = await rowsOf({ features: ["orders:spend"], spine: { entities: { start: minutes(0), end: minutes(15) } } });
    expect(range.map((r) => [r.customer_id, r.region, r.spend])).toEqual([
      [1n, "eu", 10],
      [1n, "us", 99],
      // The late event at minute 2 is older than minute 10's row, whose spend is null.
      [2n, "eu", null],
    ]);
    expect(range.every((r) => (r.event_time as Date).getTime() === minutes(15).getTime() - 1)).toBe(true);
  });

  it("refuses unknown features, bad spine rows, clashing names and bad spine queries with clear errors", async () => {
    const notFound = await failure(rowsOf({ features: ["orders:nope"], spine: { rows: spineRows } }));
    expect(notFound.code).toBe(status.NOT_FOUND);
    expect(notFound.message).toContain("orders:nope");
    expect((await failure(rowsOf({ features: ["nowhere:x"], spine: { rows: spineRows } }))).code).toBe(status.NOT_FOUND);

    const badRows = await failure(
      rowsOf({
        features: ["orders:spend"],
        spine: {
          rows: [
            { entityKey: { customer_id: 1n }, eventTime: minutes(1) },
            { entityKey: { customer_id: "one", region: "eu" }, eventTime: minutes(1) },
          ],
        },
      }),
    );
    expect(badRows.code).toBe(status.INVALID_ARGUMENT);
    expect(badRows.fieldViolations.map((v) => v.field)).toEqual([
      'spine_batches[0].rows[0].entity_key["region"]',
      'spine_batches[0].rows[1].entity_key["customer_id"]',
    ]);

    const clash = await failure(
      rowsOf({ features: ["orders:spend"], spine: { rows: [{ ...spineRows[0], extras: { spend: 1 } }] as SpineRowInput[] } }),
    );
    expect(clash.reason).toBe("DUPLICATE_OUTPUT_COLUMN");

    const badSql = await failure(rowsOf({ features: ["orders:spend"], spine: { sql: "SELECT customer_id FROM nowhere_at_all" } }));
    expect([badSql.code, badSql.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_SPINE"]);
    const noKey = await failure(rowsOf({ features: ["orders:spend"], spine: { sql: "SELECT 1 AS customer_id, now64(6) AS event_time" } }));
    expect(noKey.fieldViolations[0]?.description).toContain('has no column "region"');
  });

  it("refuses a bad batch that comes while the spine's rows before it are still being stored, and keeps serving", async () => {
    // 300,000 rows are more than the server holds in memory (offline.memoryJoinMaxSpineRows): they
    // go to the engine, whose insert runs while the fourth batch, a bad one, is read.
    const batchOf = (first: number, rows: number, nullKey = false) => ({
      arrowIpc: tableToIPC(
        new Table({
          customer_id: nullKey
            ? vectorFromArray([1n, null], new Int64())
            : makeVector(BigInt64Array.from({ length: rows }, (_, i) => BigInt(first + i))),
          region: vectorFromArray(Array.from({ length: nullKey ? 2 : rows }, () => "eu")),
          event_time: makeVector(
            makeData({
              type: new TimestampMillisecond(),
              length: nullKey ? 2 : rows,
              data: BigInt64Array.from({ length: nullKey ? 2 : rows }, () => BigInt(T0)),
            }),
          ),
        }),
        "stream",
      ),
    });
    const batches = [batchOf(0, 100_000), batchOf(100_000, 100_000), batchOf(200_000, 100_000), batchOf(0, 2, true)];
    const bad = await failure(rowsOf({ features: ["orders:spend"], spine: { batches } }));
    expect([bad.code, bad.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_SPINE_ROWS"]);
    expect(bad.fieldViolations.map((v) => v.field)).toEqual(['spine_batches[3].arrow_ipc["customer_id"][1]']);
    const served = await rowsOf({ features: ["orders:spend"], spine: { rows: spineRows } });
    expect(served.map((row) => row.spend)).toEqual(expectedRows().map((row) => row.spend));
  });

  it("delivers a result of many engine chunks as one Arrow stream equal to its rows", async () => {
    // 200,000 spine rows come out of the engine in several chunks; every chunk after the first is
    // sent without a copy (src/grpc/arrow-part.ts), so this checks those parts byte for byte.
    const sql =
      "SELECT toInt64(number % 4) AS customer_id, 'eu' AS region, " +
      "toDateTime64('2025-12-31 00:00:00', 6, 'UTC') + toIntervalMinute(number) AS event_time FROM numbers(200000)";
    const query = { features: ["orders:spend", "orders:channel"], spine: { sql } };
    let parts = 0;
    for await (const _ of t.client.streamHistoricalArrow(query)) parts++;
    expect(parts).toBeGreaterThan(3);
    const { table } = await t.client.getHistoricalArrow(query);
    const rows = await rowsOf(query, 50_000);
    expect(table.numRows).toBe(200_000);
    expect(rows.filter((r) => r.spend !== null).length).toBeGreaterThan(0);
    for (const column of ["customer_id", "spend", "channel"]) {
      expect(Array.from(table.getChild(column) ?? []), column).toEqual(rows.map((r) => r[column]));
    }
  });

  it("exports what held spines take as a gauge, back to 0 after calls cancelled right after their spine, and keeps serving", async () => {
    const heldBytes = async () => {
      const text = await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text();
      return Number(/^sluice_offline_held_spine_bytes (\S+)$/m.exec(text)?.[1]);
    };
    const { query, inlineSpine } = queryToWire(
      "test",
      { features: ["orders:spend"], spine: { rows: spineRows } },
      "default",
      OutputFormat.OUTPUT_FORMAT_ROWS,
      0,
    );
    for (let round = 0; round < 3; round++) {
      const call = t.client.training.getHistoricalFeatures(new Metadata());
      const ended = new Promise<void>((resolve) => {
        call.on("error", () => resolve());
        call.on("end", () => resolve());
        call.on("data", () => undefined);
      });
      call.write({ query });
      for await (const spineBatch of inlineSpine ?? []) call.write({ spineBatch });
      // The whole spine, then gone at once (src/training/historical-retriever.test.ts covers a client
      // gone after the server has the spine but before the first part, which timing here cannot pin).
      call.end();
      call.cancel();
      await ended;
    }
    const deadline = Date.now() + 10_000;
    while ((await heldBytes()) !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await heldBytes()).toBe(0);
    expect(await rowsOf({ features: ["orders:spend"], spine: { rows: spineRows.slice(0, 1) } })).toHaveLength(1);
  });

  it("keeps serving after a client abandons a stream half way", async () => {
    const big = {
      features: ["orders:spend"],
      spine: { sql: "SELECT number AS customer_id, 'eu' AS region, now64(6) AS event_time FROM numbers(200000)" },
    };
    for await (const _ of t.client.getHistoricalRows(big, { chunkRows: 100 })) break;
    expect(await rowsOf({ features: ["orders:spend"], spine: { rows: spineRows.slice(0, 1) } })).toHaveLength(1);
  });
});

describe("training datasets", () => {
  it("stores a training set with its lineage, as a table and a Parquet file, and reads it back", async () => {
    const sql =
      "SELECT toInt64(number % 3) AS customer_id, 'eu' AS region, toDateTime64('2026-01-01 00:00:00', 6, 'UTC') + toIntervalMinute(number * 10) AS event_time, " +
      "number AS label FROM numbers(6)";
    const query = { features: ["orders:spend", "profile@1:segment"], spine: { sql } };
    const created = await t.client.createTrainingDataset({ name: "churn_train", query, description: "weekly churn" });
    expect([created.name, created.version, created.state]).toEqual([
      "projects/default/trainingDatasets/churn_train",
      1,
      TrainingDatasetState.TRAINING_DATASET_STATE_RUNNING,
    ]);
    const done = await t.client.waitForTrainingDataset("churn_train");
    expect(done.errorMessage).toBe("");
    expect(done.state).toBe(TrainingDatasetState.TRAINING_DATASET_STATE_SUCCEEDED);
    expect(done.rowCount).toBe(6n);
    expect(done.resolvedFeatures.map((f) => `${f.featureView}@${f.version}:${f.feature}`)).toEqual([
      "projects/default/featureViews/orders@1:spend",
      "projects/default/featureViews/profile@1:segment",
    ]);
    expect(done.spineSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(done.minEventTime?.seconds).toBe(BigInt(T0 / 1000));
    expect(done.maxEventTime?.seconds).toBe(BigInt(T0 / 1000 + 50 * 60));
    expect(done.columns.map((c) => c.name)).toEqual(["customer_id", "region", "event_time", "label", "spend", "segment"]);

    const live = await rowsOf({ ...query });
    const stored = await t.client.readTrainingDataset("churn_train");
    expect(stored.numRows).toBe(6);
    expect(Array.from(stored.getChild("spend") ?? [])).toEqual(live.map((r) => r.spend));
    expect(existsSync(done.parquetPath)).toBe(true);
    const parquet = await parquetReadObjects({ file: await asyncBufferFromFile(done.parquetPath) });
    expect(parquet.map((r) => r.segment)).toEqual(live.map((r) => r.segment));

    // The same name again is version 2, with the same spine hash; both versions stay readable.
    await t.client.createTrainingDataset({ name: "churn_train", query });
    const second = await t.client.waitForTrainingDataset("churn_train");
    expect([second.version, second.spineSha256]).toEqual([2, done.spineSha256]);
    expect((await t.client.getTrainingDataset("churn_train", { version: 1 })).version).toBe(1);
    const listed = [];
    for await (const dataset of t.client.listTrainingDatasets()) listed.push(dataset);
    expect(listed.map((d) => [d.name, d.version])).toContainEqual(["projects/default/trainingDatasets/churn_train", 2]);
  });

  it("records a failed job with its reason, refuses to read it, and refuses inline spines and bad names", async () => {
    await t.client.createTrainingDataset({
      name: "broken",
      query: { features: ["orders:spend"], spine: { sql: "SELECT 1 AS customer_id, now64(6) AS event_time" } },
    });
    const broken = await t.client.waitForTrainingDataset("broken");
    expect(broken.state).toBe(TrainingDatasetState.TRAINING_DATASET_STATE_FAILED);
    expect(broken.errorMessage).toContain('has no column "region"');
    const notReady = await failure(t.client.readTrainingDataset("broken"));
    expect([notReady.code, notReady.reason]).toEqual([status.FAILED_PRECONDITION, "TRAINING_DATASET_NOT_READY"]);

    // The SDK refuses an inline spine itself; the server does too.
    const trainingDataset = TrainingDataset.fromPartial({
      name: "projects/default/trainingDatasets/inline",
      query: { features: ["orders:spend"], inlineSpine: true },
    });
    const inline = await failure(t.client.call(t.client.training, t.client.training.createTrainingDataset, { trainingDataset }));
    expect(inline.code).toBe(status.INVALID_ARGUMENT);
    expect((await failure(t.client.getTrainingDataset("never_made"))).code).toBe(status.NOT_FOUND);
    expect(
      (
        await failure(
          t.client.createTrainingDataset({ name: "Bad-Name", query: { features: ["orders:spend"], spine: { sql: "SELECT 1" } } }),
        )
      ).code,
    ).toBe(status.INVALID_ARGUMENT);
  });
});

/**
 * The point-in-time contract every {@link OfflineStore} backend must meet: its join agrees with
 * the plain-loop reference (test/support/point-in-time-oracle.ts) on generated histories with
 * ties, late arrivals, TTL edges, composite keys, several views and entities without history;
 * spines load from tables, queries and time ranges, and bad ones are refused.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointInTimeOracle } from "../../../test/support/point-in-time-oracle.js";
import { ValidationError } from "../../common/errors.js";
import type { FeatureValue } from "../../common/feature-value.js";
import { type ArrowCell, arrowRows } from "../../training/arrow-values.js";
import {
  type ArrowChunks,
  historyColumnsOf,
  type OfflineRow,
  type OfflineStore,
  type OfflineTable,
  type PointInTimeJoin,
  type Spine,
} from "./offline-store.js";

/** Opens a fresh, empty store. */
export interface PointInTimeStoreFactory {
  open(): Promise<OfflineStore>;
  /** The project the suite's tables go in (project): suites sharing a store each need their own. */
  project?: string;
}

const SECOND = 1_000_000;
const T0 = 1_767_225_600_000_000;

/** All rows of a join's result, with their column names. */
export async function collectRows(chunks: ArrowChunks): Promise<ArrowCell[][]> {
  const rows: ArrowCell[][] = [];
  for await (const chunk of chunks) {
    const decoded = [...arrowRows(chunk.ipc)];
    expect(decoded).toHaveLength(chunk.rows);
    rows.push(...decoded);
  }
  return rows;
}

/** A generated history row: its event time and ingestion shift in seconds from T0, and its features. */
export interface GeneratedRow {
  event: number;
  ingestShift: number;
  features: FeatureValue[];
}

/**
 * Generated rows of each view as history rows, event times in seconds from T0 and ingestion times
 * unique, as the write path's clock gives them.
 */
export function generatedHistory<R extends GeneratedRow>(views: R[][], keyOf: (row: R, view: number) => FeatureValue[]): OfflineRow[][] {
  let ingestion = 0;
  return views.map((rows, v) =>
    rows.map((r) => ({
      key: keyOf(r, v),
      eventTime: T0 + r.event * SECOND,
      ingestTime: T0 + (r.event + r.ingestShift) * SECOND + ++ingestion,
      writeId: "w",
      features: r.features,
    })),
  );
}

/** Creates each table and appends its history rows (in view order). */
export async function storeHistory(
  store: OfflineStore,
  tables: readonly OfflineTable[],
  history: OfflineRow[][],
  token: string,
): Promise<void> {
  for (const [v, table] of tables.entries()) {
    await store.ensureTable(table);
    const rows = history[v] ?? [];
    if (rows.length > 0) await store.append(table, historyColumnsOf(rows, table.keyColumns.length, table.featureColumns.length), token);
  }
}

/** Registers the point-in-time contract suite for one backend. */
export function describePointInTimeContract(backend: string, factory: PointInTimeStoreFactory): void {
  describe(`OfflineStore point-in-time contract: ${backend}`, () => {
    let store: OfflineStore;
    let run = 0;
    const project = factory.project ?? "pit";
    beforeAll(async () => {
      store = await factory.open();
    });
    afterAll(async () => {
      await store?.close();
    });

    /** Two views of an entity keyed (customer_id, region) and one of an entity keyed customer_id. */
    const tablesOf = (version: number): OfflineTable[] => [
      {
        project: project,
        view: "orders",
        version,
        keyColumns: [
          { name: "customer_id", type: "int64" },
          { name: "region", type: "string" },
        ],
        featureColumns: [
          { name: "spend", type: "double" },
          { name: "channel", type: "string" },
        ],
      },
      {
        project: project,
        view: "visits",
        version,
        keyColumns: [
          { name: "customer_id", type: "int64" },
          { name: "region", type: "string" },
        ],
        featureColumns: [{ name: "visits", type: "int64" }],
      },
      {
        project: project,
        view: "profile",
        version,
        keyColumns: [{ name: "customer_id", type: "int64" }],
        featureColumns: [{ name: "tags", type: "string_list" }],
      },
    ];
    const spineKeys = [
      { name: "customer_id", type: "int64" as const },
      { name: "region", type: "string" as const },
    ];

    it("agrees with the reference join on generated histories", async () => {
      const customer = fc.bigInt({ min: 0n, max: 2n });
      const region = fc.constantFrom("eu", "us");
      // Event and ingestion times on a coarse grid, so ties, late arrivals and TTL edges are common.
      const historyRow = (features: fc.Arbitrary<FeatureValue[]>) =>
        fc.record({ customer, region, event: fc.integer({ min: 0, max: 6 }), ingestShift: fc.integer({ min: -3, max: 6 }), features });
      const doubles = fc.option(
        fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => d + 0),
        { nil: null },
      );
      const scenario = fc.record({
        orders: fc.array(historyRow(fc.tuple(doubles, fc.option(fc.string({ maxLength: 4 }), { nil: null }))), { maxLength: 25 }),
        visits: fc.array(historyRow(fc.tuple(fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: null }))), {
          maxLength: 15,
        }),
        profile: fc.array(historyRow(fc.tuple(fc.option(fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }), { nil: null }))), {
          maxLength: 15,
        }),
        ttls: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
        spine: fc.array(
          fc.record({ customer: fc.bigInt({ min: 0n, max: 3n }), region, time: fc.integer({ min: -1, max: 9 }), label: fc.boolean() }),
          { minLength: 1, maxLength: 20 },
        ),
        excludeLateIngested: fc.boolean(),
        spineOrder: fc.boolean(),
      });

      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const tables = tablesOf(++run);
          const history = generatedHistory([s.orders, s.visits, s.profile], (r, v) => (v === 2 ? [r.customer] : [r.customer, r.region]));
          await storeHistory(store, tables, history, `r${run}`);
          const spine = await store.createSpine(project, spineKeys, [{ name: "label", type: "bool" }]);
          const spineTimes = s.spine.map((r) => T0 + r.time * SECOND);
          await store.appendSpine(
            spine,
            {
              length: s.spine.length,
              keys: [s.spine.map((r) => r.customer), s.spine.map((r) => r.region)],
              eventTimes: spineTimes,
              extras: [s.spine.map((r) => r.label)],
            },
            0,
          );
          const join: PointInTimeJoin = {
            spine,
            views: tables.map((table, v) => ({ table, ttlMicros: (s.ttls[v] ?? 0) * SECOND })),
            features: [
              { view: 1, column: "visits", as: "visits" },
              { view: 0, column: "spend", as: "spend" },
              { view: 2, column: "tags", as: "tags" },
              { view: 0, column: "channel", as: "channel" },
            ],
            excludeLateIngested: s.excludeLateIngested,
            spineOrder: s.spineOrder,
            withSpineIndex: true,
          };
          const rows = await collectRows(store.joinPointInTime(join));
          await store.dropSpine(spine);

          const expected = pointInTimeOracle(
            s.spine.map((r, i) => ({ key: { customer_id: r.customer, region: r.region }, eventTime: spineTimes[i] as number })),
            tables.map((table, v) => ({
              keyNames: table.keyColumns.map((c) => c.name),
              ttlMicros: (s.ttls[v] ?? 0) * SECOND,
              rows: (history[v] ?? []).map(({ key, eventTime, ingestTime, features }) => ({ key, eventTime, ingestTime, features })),
            })),
            s.excludeLateIngested,
          );
          const byIndex = [...rows].sort((a, b) => Number(a[0]) - Number(b[0]));
          if (s.spineOrder) expect(rows).toEqual(byIndex);
          expect(byIndex).toEqual(
            s.spine.map((r, i) => {
              const [orders, visits, profile] = expected[i] ?? [];
              return [
                BigInt(i),
                r.customer,
                r.region,
                spineTimes[i],
                r.label,
                visits?.[0] ?? null,
                orders?.[0] ?? null,
                // Lists cannot be null in ClickHouse: a missing or null list is empty.
                profile?.[0] ?? [],
                orders?.[1] ?? null,
              ];
            }),
          );
        }),
        { numRuns: 60 },
      );
    }, 120_000);

    it("passes every feature type through, and an expired or missing row as null (lists: empty)", async () => {
      const table: OfflineTable = {
        project: project,
        view: "types",
        version: ++run,
        keyColumns: [{ name: "customer_id", type: "int64" }],
        featureColumns: [
          { name: "i32", type: "int32" },
          { name: "i64", type: "int64" },
          { name: "f", type: "float" },
          { name: "d", type: "double" },
          { name: "b", type: "bool" },
          { name: "s", type: "string" },
          { name: "bytes", type: "bytes" },
          { name: "ts", type: "timestamp" },
          { name: "i64s", type: "int64_list" },
          { name: "fs", type: "float_list" },
          { name: "ds", type: "double_list" },
          { name: "ss", type: "string_list" },
        ],
      };
      await store.ensureTable(table);
      const features = [
        -5,
        -(2n ** 63n),
        1.5,
        Math.PI,
        true,
        "héllo",
        new Uint8Array([0, 255, 128]),
        new Date("2026-03-04T05:06:07.089Z"),
        [1n, 2n ** 62n],
        [0.25, -2],
        [Math.E],
        ["a", ""],
      ];
      await store.append(table, historyColumnsOf([{ key: [1n], eventTime: T0, ingestTime: T0, writeId: "w", features }], 1, 12), "types");
      const spine = await store.createSpine(project, [{ name: "customer_id", type: "int64" }], []);
      await store.appendSpine(spine, { length: 3, keys: [[1n, 1n, 2n]], eventTimes: [T0 + SECOND, T0 + 10 * SECOND, T0], extras: [] }, 0);
      const rows = await collectRows(
        store.joinPointInTime({
          spine,
          views: [{ table, ttlMicros: 5 * SECOND }],
          features: table.featureColumns.map((c) => ({ view: 0, column: c.name, as: c.name })),
          excludeLateIngested: false,
          spineOrder: true,
          withSpineIndex: false,
        }),
      );
      // Bytes are kept as base64 text, timestamps come as microseconds.
      expect(rows[0]?.slice(2)).toEqual([
        -5,
        -(2n ** 63n),
        1.5,
        Math.PI,
        true,
        "héllo",
        "AP+A",
        Date.UTC(2026, 2, 4, 5, 6, 7, 89) * 1000,
        [1n, 2n ** 62n],
        [0.25, -2],
        [Math.E],
        ["a", ""],
      ]);
      const nothing = [null, null, null, null, null, null, null, null, [], [], [], []];
      expect(rows[1]?.slice(2)).toEqual(nothing);
      expect(rows[2]?.slice(2)).toEqual(nothing);
      await store.dropSpine(spine);
    });

    it("loads spines from a table and from a query, passing extra columns through", async () => {
      const [orders] = tablesOf(++run) as [OfflineTable];
      await store.ensureTable(orders);
      await store.append(
        orders,
        historyColumnsOf([{ key: [1n, "eu"], eventTime: T0, ingestTime: T0, writeId: "w", features: [9.5, "web"] }], 2, 2),
        "load",
      );
      const sql =
        "SELECT toUInt32(number) AS customer_id, 'eu' AS region, toDateTime64('2026-01-01 00:00:01', 3, 'UTC') AS event_time, " +
        "number * 2 AS doubled, toString(number) AS label, [1.5, 2.5] AS weights FROM numbers(3)";
      const fromQuery = await store.loadSpine(project, { kind: "sql", sql }, spineKeys);
      expect(fromQuery.extraColumns).toEqual([
        { name: "doubled", type: "int64" },
        { name: "label", type: "string" },
        { name: "weights", type: "double_list" },
      ]);
      const joinOn = (spine: Spine): PointInTimeJoin => ({
        spine,
        views: [{ table: orders, ttlMicros: 0 }],
        features: [{ view: 0, column: "spend", as: "order_spend" }],
        excludeLateIngested: false,
        spineOrder: true,
        withSpineIndex: false,
      });
      const rows = await collectRows(store.joinPointInTime(joinOn(fromQuery)));
      expect(rows).toEqual([
        [0n, "eu", T0 + SECOND, 0n, "0", [1.5, 2.5], null],
        [1n, "eu", T0 + SECOND, 2n, "1", [1.5, 2.5], 9.5],
        [2n, "eu", T0 + SECOND, 4n, "2", [1.5, 2.5], null],
      ]);
      expect((await store.summarizeSpine(fromQuery)).rowCount).toBe(3);

      // A table of the project's database by name: here the history table itself.
      const byName = await store.loadSpine(project, { kind: "table", table: `orders__v${run}` }, spineKeys);
      expect(byName.extraColumns.map((c) => c.name)).toEqual(["ingestion_time", "write_id", "spend", "channel"]);
      expect(await collectRows(store.joinPointInTime(joinOn(byName)))).toEqual([[1n, "eu", T0, T0, "w", 9.5, "web", 9.5]]);

      // A saved join: a table in spine order, and a Parquet file of the same rows.
      const parquet = join(tmpdir(), `sluice-${project}-${process.pid}-${run}.parquet`);
      expect(await store.saveJoin(joinOn(fromQuery), `saved_${run}`, parquet)).toBe(3);
      expect(await collectRows(store.readSavedJoin(project, `saved_${run}`, false))).toEqual(rows);
      const file = await asyncBufferFromFile(parquet);
      const fromParquet = await parquetReadObjects({ file });
      expect(fromParquet.map((r) => [r.customer_id, r.doubled, r.order_spend])).toEqual([
        [0n, 0n, null],
        [1n, 2n, 9.5],
        [2n, 4n, null],
      ]);
      for (const spine of [fromQuery, byName]) await store.dropSpine(spine);
    });

    it("refuses spines without a join key or event_time, with null keys, or with bad SQL", async () => {
      const refused = async (sql: string) => {
        try {
          await store.loadSpine(project, { kind: "sql", sql }, spineKeys);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          return (error as ValidationError).violations.map((v) => v.description).join("; ");
        }
        throw new Error(`spine accepted: ${sql}`);
      };
      expect(await refused("SELECT 1 AS customer_id, now64(6) AS event_time")).toContain('has no column "region"');
      expect(await refused("SELECT 1 AS customer_id, 'eu' AS region")).toContain('has no column "event_time"');
      expect(await refused("SELECT 'x' AS customer_id, 'eu' AS region, now64(6) AS event_time")).toContain("the join key needs int64");
      expect(await refused("SELECT 1 AS customer_id, 'eu' AS region, 3 AS event_time")).toContain("must be a date or time");
      expect(await refused("SELECT CAST(NULL AS Nullable(Int64)) AS customer_id, 'eu' AS region, now64(6) AS event_time")).toContain(
        "1 rows have a null join key",
      );
      expect(await refused("SELECT FROM nowhere")).toContain("ClickHouse refused it");
      expect(await refused("SELECT * FROM no_such_table_anywhere")).toContain("ClickHouse refused it");
      expect(await refused("DROP TABLE x")).toContain("must be a SELECT");
      expect(await refused("SELECT 1; DROP TABLE x")).toContain("single statement");
      await expect(store.loadSpine(project, { kind: "table", table: "bad name!" }, spineKeys)).rejects.toThrow(ValidationError);
    });

    it("builds a spine of every entity with history in a range, at the end of the range", async () => {
      const [orders, visits] = tablesOf(++run) as [OfflineTable, OfflineTable];
      for (const table of [orders, visits]) await store.ensureTable(table);
      const at = (id: bigint, second: number, spend: number): OfflineRow => ({
        key: [id, "eu"],
        eventTime: T0 + second * SECOND,
        ingestTime: T0,
        writeId: "w",
        features: [spend, null],
      });
      await store.append(orders, historyColumnsOf([at(1n, 1, 10), at(1n, 5, 50), at(2n, 9, 90), at(3n, 20, 1)], 2, 2), "range");
      await store.append(visits, historyColumnsOf([{ ...at(4n, 2, 0), features: [7n] }], 2, 1), "range");
      const spine = await store.loadSpine(
        project,
        { kind: "entities", tables: [orders, visits], range: { start: T0, end: T0 + 10 * SECOND } },
        spineKeys,
      );
      const rows = await collectRows(
        store.joinPointInTime({
          spine,
          views: [{ table: orders, ttlMicros: 0 }],
          features: [{ view: 0, column: "spend", as: "spend" }],
          excludeLateIngested: false,
          spineOrder: true,
          withSpineIndex: false,
        }),
      );
      const end = T0 + 10 * SECOND - 1;
      expect(rows).toEqual([
        [1n, "eu", end, 50],
        [2n, "eu", end, 90],
        [4n, "eu", end, null],
      ]);
      await store.dropSpine(spine);
    });

    it("streams large results in bounded chunks and stops when aborted", async () => {
      const [orders] = tablesOf(++run) as [OfflineTable];
      await store.ensureTable(orders);
      const spine = await store.loadSpine(
        project,
        { kind: "sql", sql: "SELECT number AS customer_id, 'eu' AS region, now64(6) AS event_time FROM numbers(300000)" },
        spineKeys,
      );
      const join: PointInTimeJoin = {
        spine,
        views: [{ table: orders, ttlMicros: 0 }],
        features: [{ view: 0, column: "spend", as: "spend" }],
        excludeLateIngested: false,
        spineOrder: false,
        withSpineIndex: true,
      };
      let chunks = 0;
      let rows = 0;
      for await (const chunk of store.joinPointInTime(join)) {
        chunks++;
        rows += [...arrowRows(chunk.ipc)].length;
      }
      expect(rows).toBe(300_000);
      expect(chunks).toBeGreaterThan(1);

      const controller = new AbortController();
      let seen = 0;
      for await (const _ of store.joinPointInTime(join, controller.signal)) {
        seen++;
        controller.abort();
      }
      expect(seen).toBe(1);
      await store.dropSpine(spine);
    });
  });
}

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { tableFromIPC } from "apache-arrow";
import { Session } from "chdb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pointInTimeOracle } from "../../../test/support/point-in-time-oracle.js";
import type { FeatureValue } from "../../common/feature-value.js";
import { QueryCancelledError } from "../../security/sql/query-errors.js";
import { arrowRows } from "../../training/arrow-values.js";
import {
  type ClickHouseOfflineStore,
  createAuditTableStatements,
  createPredictionTableStatements,
  createTableStatements,
  type JoinLimits,
  openClickHouseOfflineStore,
} from "./clickhouse-offline-store.js";
import { formatMicros, parseMicros, qualifiedTableName } from "./clickhouse-sql.js";
import { describeOfflineStoreContract } from "./offline-store.contract.js";
import { historyColumnsOf, type OfflineRow, type OfflineTable, type PointInTimeJoin, type SpineJoinPreview } from "./offline-store.js";
import { collectRows, describePointInTimeContract, type GeneratedRow, generatedHistory, storeHistory } from "./point-in-time.contract.js";

let path = "";
describeOfflineStoreContract("chdb", {
  open: async () => {
    path = mkdtempSync(join(tmpdir(), "sluice-offline-"));
    return openClickHouseOfflineStore({ kind: "embedded", path });
  },
  reopen: async () => openClickHouseOfflineStore({ kind: "embedded", path }),
});

describe("ClickHouse SQL", () => {
  it("formats and parses microsecond times exactly", () => {
    for (const micros of [0, 1, 1_767_225_600_123_456, 1_767_225_600_000_999]) expect(parseMicros(formatMicros(micros))).toBe(micros);
    expect(formatMicros(1_767_225_600_123_456)).toBe("2026-01-01 00:00:00.123456");
  });

  it("uses replicated tables behind a Distributed table on a cluster", () => {
    const ddl = createTableStatements(
      { project: "p", view: "v", version: 3, keyColumns: [{ name: "id", type: "int64" }], featureColumns: [{ name: "x", type: "double" }] },
      "main",
    );
    expect(ddl[0]).toBe("CREATE DATABASE IF NOT EXISTS `sluice_p` ON CLUSTER `main`");
    expect(ddl[1]).toContain("ON CLUSTER `main`");
    expect(ddl[1]).toContain(
      "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice_p/v__v3', '{replica}') ORDER BY (`id`, `event_time`)",
    );
    expect(ddl[2]).toBe(
      "CREATE TABLE IF NOT EXISTS `sluice_p`.`v__v3_all` ON CLUSTER `main` AS `sluice_p`.`v__v3` ENGINE = Distributed(`main`, `sluice_p`, `v__v3`, cityHash64(`id`))",
    );
    // A later compatible version's columns reach both the data tables and the Distributed table.
    expect(ddl.slice(3)).toEqual([
      "ALTER TABLE `sluice_p`.`v__v3` ON CLUSTER `main` ADD COLUMN IF NOT EXISTS `x` Nullable(Float64)",
      "ALTER TABLE `sluice_p`.`v__v3_all` ON CLUSTER `main` ADD COLUMN IF NOT EXISTS `x` Nullable(Float64)",
    ]);
  });
});

describe("audit appends on the embedded engine", () => {
  it("are stored beside a long query instead of waiting for it to end", async () => {
    const store = await openClickHouseOfflineStore({ kind: "embedded", path: mkdtempSync(join(tmpdir(), "sluice-audit-beside-")) });
    try {
      const record = (sequence: number) => ({
        chainId: "beside",
        sequence,
        time: Date.now() * 1000,
        principal: "p",
        authentication: "api_key",
        method: "/sluice.v1.RegistryService/ApplyEntity",
        project: "default",
        resources: [],
        requestDigest: "",
        peer: "",
        outcome: "OK",
        detail: "",
        requestId: `r${sequence}`,
        previousHash: "",
        hash: `h${sequence}`,
      });
      await store.appendAuditRecords([record(1)], "beside-1");
      // A spine scan of billions of rows occupies the store's shared connection for many seconds.
      const aborter = new AbortController();
      const long = store
        .loadSpine(
          "p",
          {
            kind: "sql",
            sql: "SELECT number AS customer_id, now64(6) AS event_time FROM numbers(10000000000) WHERE sipHash64(number) = 7",
          },
          [{ name: "customer_id", type: "int64" }],
          aborter.signal,
        )
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = performance.now();
      await store.appendAuditRecords([record(2)], "beside-2");
      const appendMs = performance.now() - started;
      aborter.abort();
      await long;
      expect(appendMs).toBeLessThan(5_000);
      expect((await store.lastAuditRecord("beside"))?.sequence).toBe(2);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe("audit table DDL", () => {
  it("is one MergeTree table by chain and sequence; on a cluster, replicated behind a Distributed table sharded by chain", () => {
    const [database, local] = createAuditTableStatements();
    expect(database).toBe("CREATE DATABASE IF NOT EXISTS `sluice`");
    expect(local).toContain("ENGINE = MergeTree ORDER BY (`chain_id`, `sequence`) SETTINGS non_replicated_deduplication_window");
    const ddl = createAuditTableStatements("main");
    expect(ddl[0]).toBe("CREATE DATABASE IF NOT EXISTS `sluice` ON CLUSTER `main`");
    expect(ddl[1]).toContain("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice/audit_events', '{replica}')");
    expect(ddl[2]).toBe(
      "CREATE TABLE IF NOT EXISTS `sluice`.`audit_events_all` ON CLUSTER `main` AS `sluice`.`audit_events` " +
        "ENGINE = Distributed(`main`, `sluice`, `audit_events`, cityHash64(`chain_id`))",
    );
  });
});

describe("prediction log", () => {
  it("appends predictions per project where a SQL spine can read them, text kept exactly", async () => {
    const store = await openClickHouseOfflineStore({ kind: "embedded", path: mkdtempSync(join(tmpdir(), "sluice-predictions-")) });
    const T0 = 1_767_225_600_000_000;
    const prediction = (time: number, customer: number, error: string) => ({
      time,
      requestId: `r${time}`,
      endpoint: "churn",
      modelVersion: "projects/p/models/m/versions/2",
      role: "shadow",
      entityKeys: JSON.stringify({ customer_id: [String(customer)] }),
      features: '{"stats@1:spend":[0.5]}',
      outputs: '{"probability":[0.25]}',
      latencyMicros: 321,
      error,
    });
    try {
      await store.appendPredictions("p", [prediction(T0 + 1, 7, ""), prediction(T0 + 3, 8, 'quotes " and\nnewlines')]);
      await store.appendPredictions("p", [prediction(T0 + 2, 9, "")]);
      await store.appendPredictions("q", [prediction(T0 + 4, 10, "")]);
      const spineOf = (sql: string) => store.loadSpine("p", { kind: "sql", sql }, [{ name: "customer_id", type: "int64" }]);
      const columns = "toInt64(JSONExtractString(entity_keys, 'customer_id', 1)) AS customer_id, time AS event_time";
      const all = await store.summarizeSpine(await spineOf(`SELECT ${columns} FROM sluice_p.predictions`));
      expect([all.rowCount, all.minEventTime, all.maxEventTime]).toEqual([3, T0 + 1, T0 + 3]);
      const exact = await spineOf(
        `SELECT ${columns} FROM sluice_p.predictions WHERE error = 'quotes " and\\nnewlines' AND latency_us = 321`,
      );
      expect((await store.summarizeSpine(exact)).rowCount).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("replicates the log on a cluster and writes through a Distributed table", () => {
    const ddl = createPredictionTableStatements("p", "main");
    expect(ddl[1]).toContain(
      "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice_p/predictions', '{replica}') ORDER BY (`endpoint`, `time`)",
    );
    expect(ddl[2]).toBe(
      "CREATE TABLE IF NOT EXISTS `sluice_p`.`predictions_all` ON CLUSTER `main` AS `sluice_p`.`predictions` ENGINE = Distributed(`main`, `sluice_p`, `predictions`, cityHash64(`request_id`))",
    );
  });
});

// Both join strategies, each held to the same reference: in memory (a hash join) and sort-merge.
// One data directory for both: chDB binds one per process, and the first store may still be
// releasing its connection when the second opens (opening the same path again is allowed).
const pitPath = mkdtempSync(join(tmpdir(), "sluice-pit-"));
const strategies: Array<[string, JoinLimits, keyof ClickHouseOfflineStore["joinsByStrategy"]]> = [
  ["joined by the server", {}, "server"],
  ["hash join in the engine", { memoryJoinMaxRows: 0 }, "hash"],
  ["sort-merge join in the engine", { hashJoinMaxRows: 0, memoryJoinMaxRows: 0, streamedJoinMaxSpineRows: 0 }, "sortMerge"],
];
for (const [name, limits, strategy] of strategies) {
  let store: ClickHouseOfflineStore | undefined;
  describePointInTimeContract(`chdb, ${name}`, {
    open: async () => {
      store = await openClickHouseOfflineStore({ kind: "embedded", path: pitPath, ...limits });
      return store;
    },
    project: `pit_${strategy}`,
  });
  it(`runs the point-in-time contract's plain joins ${name}`, () => {
    // Joins with aggregation views or exclude_late_ingested run in the engine whatever the limits.
    expect(store?.joinsByStrategy[strategy]).toBeGreaterThan(10);
  });
}

describe("a build without chDB", () => {
  it("loads chDB only for the embedded engine, and says which key to change when it is missing", async () => {
    // A child process in which the chdb package cannot be resolved, as in the replica image.
    const script = `
      const { openClickHouseOfflineStore } = await import("./src/storage/offline/clickhouse-offline-store.ts");
      await openClickHouseOfflineStore({ kind: "embedded", path: ${JSON.stringify(mkdtempSync(join(tmpdir(), "sluice-no-chdb-")))} })
        .then(() => console.log("opened"), (error) => console.log(error.name + ": " + error.message));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--import", "./test/support/hide-chdb.mjs", "--input-type=module", "-e", script],
      { cwd: join(import.meta.dirname, "../../.."), timeout: 30_000 },
    );
    expect(stdout.trim()).toMatch(
      /^ConfigError: offline\.backend is "chdb" \(the embedded ClickHouse engine\), but the chdb package is not installed/,
    );
  });
});

describe("windowed aggregates of a stream's raw events", () => {
  it("keeps events in a table of their own and aggregates them as of each spine row, in spine order", async () => {
    const store = await openClickHouseOfflineStore({ kind: "embedded", path: mkdtempSync(join(tmpdir(), "sluice-events-")) });
    try {
      const minute = 60_000_000;
      const t0 = 1_767_225_600_000_000;
      const keyColumns = [{ name: "card_id", type: "int64" as const }];
      const events: OfflineTable = {
        project: "p",
        view: "txn",
        version: 1,
        kind: "events",
        keyColumns,
        featureColumns: [{ name: "amount", type: "double" }],
      };
      // A feature view named like the stream: its history table must stay apart from the events.
      const history: OfflineTable = {
        project: "p",
        view: "txn",
        version: 1,
        keyColumns,
        featureColumns: [{ name: "amount", type: "double" }],
      };
      await store.ensureTable(events);
      await store.ensureTable(history);
      const rows = [
        { key: [1n], eventTime: t0, ingestTime: t0, writeId: "e", features: [10] },
        { key: [1n], eventTime: t0 + 5 * minute, ingestTime: t0 + 5 * minute, writeId: "e", features: [20] },
        // Late: happened at minute 6, known only at minute 30.
        { key: [1n], eventTime: t0 + 6 * minute, ingestTime: t0 + 30 * minute, writeId: "e", features: [40] },
        { key: [2n], eventTime: t0 + 1 * minute, ingestTime: t0 + 1 * minute, writeId: "e", features: [7] },
      ];
      await store.append(events, historyColumnsOf(rows, 1, 1), "events-1");
      expect(await store.readAll(history)).toEqual([]);

      const spine = await store.createSpine("p", keyColumns, []);
      const times = [t0 + 10 * minute, t0 + 10 * minute, t0 + 31 * minute];
      await store.appendSpine(spine, { length: 3, keys: [[1n, 2n, 1n]], eventTimes: times, extras: [] }, 0);
      const aggregations = [
        { kind: "count" as const, field: "amount", windowMicros: 10 * minute, as: "count_10m" },
        { kind: "sum" as const, field: "amount", as: "sum_life" },
      ];
      // Window groups of a point-in-time join, as GetHistoricalFeatures runs them: [spine_index, count, sum] per row.
      const windowJoin = (excludeLateIngested: boolean): PointInTimeJoin => ({
        spine,
        views: [],
        windows: [{ events, granularityMicros: minute, aggregations }],
        features: [
          { window: 0, column: "count_10m", as: "count_10m", type: "int64" },
          { window: 0, column: "sum_life", as: "sum_life", type: "double" },
        ],
        excludeLateIngested,
        spineOrder: true,
        withSpineIndex: true,
      });
      const aggregates = async (excludeLateIngested: boolean) =>
        (await collectRows(store.joinPointInTime(windowJoin(excludeLateIngested)))).map((row) => [row[0], row[3], row[4]]);
      const byEventTime = await aggregates(false);
      expect(byEventTime).toEqual([
        // Card 1 at minute 10: every event (start = minute 0), including the late one by event time.
        [0n, 3n, 70],
        [1n, 1n, 7],
        // At minute 31 the 10-minute window starts at minute 21: nothing in it.
        [2n, 0n, 70],
      ]);
      const knownAt = await aggregates(true);
      // As an online read at minute 10 knew it: the late event was not known yet.
      expect(knownAt[0]).toEqual([0n, 2n, 30]);
      expect(knownAt[2]).toEqual(byEventTime[2]);
      await store.dropSpine(spine);
    } finally {
      await store.close();
    }
  });
});

describe("point-in-time joins by the server", () => {
  const SECOND = 1_000_000;
  const T0 = 1_767_225_600_000_000;
  let version = 0;
  const tableOf = (featureColumns: OfflineTable["featureColumns"]): OfflineTable => ({
    project: "pit_held",
    view: "spend",
    version: ++version,
    keyColumns: [{ name: "customer_id", type: "int64" }],
    featureColumns,
  });
  const row = (customer: bigint, eventTime: number, ingestTime: number, features: FeatureValue[]) => ({
    key: [customer],
    eventTime,
    ingestTime,
    writeId: `w${eventTime}-${ingestTime}`,
    features,
  });
  /** Joins spine rows (customer, time) against one table, returning [customer, time, ...extras, ...features] rows. */
  const joined = async (
    store: ClickHouseOfflineStore,
    table: OfflineTable,
    spineRows: Array<[bigint, number]>,
    options: {
      ttlMicros?: number;
      extras?: Array<{ name: string; type: "double"; values: Array<number | null>; from: number }>;
      preview?: SpineJoinPreview;
    } = {},
  ) => {
    const spine = await store.createSpine(table.project, table.keyColumns, [], options.preview);
    // The first half, then any extra column, then the rest: rows before an extra column read null in it.
    const half = Math.ceil(spineRows.length / 2);
    const part = (from: number, to: number) => ({
      length: to - from,
      keys: [spineRows.slice(from, to).map(([customer]) => customer)],
      eventTimes: spineRows.slice(from, to).map(([, time]) => time),
      extras: (options.extras ?? []).filter((e) => e.from <= from).map((e) => e.values.slice(from, to)),
    });
    await store.appendSpine(spine, part(0, half), 0);
    const added = (options.extras ?? []).filter((e) => e.from === half);
    if (added.length > 0)
      await store.addSpineColumns(
        spine,
        added.map(({ name, type }) => ({ name, type })),
      );
    await store.appendSpine(spine, part(half, spineRows.length), half);
    const rows = await collectRows(
      store.joinPointInTime({
        spine,
        views: [{ table, ttlMicros: options.ttlMicros ?? 0 }],
        features: table.featureColumns.map((c) => ({ view: 0, column: c.name, as: c.name })),
        excludeLateIngested: false,
        spineOrder: true,
        withSpineIndex: false,
      }),
    );
    await store.dropSpine(spine);
    return rows;
  };
  const opened = (limits: JoinLimits = {}) => openClickHouseOfflineStore({ kind: "embedded", path: pitPath, ...limits });

  it("sees every write, added column and delete made after it held a table's history, and reads a table again only then", async () => {
    const store = await opened();
    try {
      const table = tableOf([{ name: "spend", type: "double" }]);
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf([row(1n, T0, T0, [1])], 1, 1), "a");
      expect(await joined(store, table, [[1n, T0 + SECOND]])).toEqual([[1n, T0 + SECOND, 1]]);
      // A later event, and a late-arriving one for the same time that was ingested later (the tie rule).
      await store.append(table, historyColumnsOf([row(1n, T0 + 2 * SECOND, T0 + 5 * SECOND, [2])], 1, 1), "b");
      await store.append(table, historyColumnsOf([row(1n, T0 + 2 * SECOND, T0 + 6 * SECOND, [3])], 1, 1), "c");
      expect(
        await joined(store, table, [
          [1n, T0 + SECOND],
          [1n, T0 + 3 * SECOND],
        ]),
      ).toEqual([
        [1n, T0 + SECOND, 1],
        [1n, T0 + 3 * SECOND, 3],
      ]);
      // A compatible version adds a column to the same table.
      const wider = { ...table, featureColumns: [...table.featureColumns, { name: "visits", type: "int64" as const }] };
      await store.ensureTable(wider);
      await store.append(wider, historyColumnsOf([row(1n, T0 + 4 * SECOND, T0 + 7 * SECOND, [4, 9n])], 1, 2), "d");
      expect(
        await joined(store, wider, [
          [1n, T0 + 5 * SECOND],
          [2n, T0 + 5 * SECOND],
        ]),
      ).toEqual([
        [1n, T0 + 5 * SECOND, 4, 9n],
        [2n, T0 + 5 * SECOND, null, null],
      ]);
      expect(store.joinsByStrategy).toEqual({ server: 3, streamed: 0, hash: 0, sortMerge: 0 });
      // Read whole for the first join and after the new column; after the two writes, only their rows were read.
      expect([store.historyReads, store.historyDeltaReads]).toEqual([2, 1]);
      const engine = (store as unknown as { client: { command(q: { query: string }): Promise<unknown> } }).client;
      await engine.command({ query: `OPTIMIZE TABLE ${qualifiedTableName(wider)} FINAL` });
      // A merge of the parts is no new version.
      expect(await joined(store, wider, [[1n, T0 + 5 * SECOND]])).toEqual([[1n, T0 + 5 * SECOND, 4, 9n]]);
      expect(store.historyReads).toBe(2);
      // A row at an event time the held history already has: the tie rule needs ingestion times, so the table is read whole.
      await store.append(wider, historyColumnsOf([row(1n, T0 + 4 * SECOND, T0 + 8 * SECOND, [5, 10n])], 1, 2), "e");
      expect(await joined(store, wider, [[1n, T0 + 5 * SECOND]])).toEqual([[1n, T0 + 5 * SECOND, 5, 10n]]);
      expect([store.historyReads, store.historyDeltaReads]).toEqual([3, 2]);
      await engine.command({
        query: `ALTER TABLE ${qualifiedTableName(wider)} DELETE WHERE event_time > toDateTime64(0, 6) SETTINGS mutations_sync = 1`,
      });
      expect(await joined(store, wider, [[1n, T0 + 5 * SECOND]])).toEqual([[1n, T0 + 5 * SECOND, null, null]]);
      expect([store.historyReads, store.historyDeltaReads]).toEqual([4, 2]);
    } finally {
      await store.close();
    }
  });

  it("reads only the rows written since after a restart too: a store that finds its table whole does not alter it", async () => {
    const table = { ...tableOf([{ name: "spend", type: "double" }]), view: "restarted" };
    const first = await opened();
    try {
      await first.ensureTable(table);
      await first.append(table, historyColumnsOf([row(1n, T0, T0, [1])], 1, 1), "a");
    } finally {
      await first.close();
    }
    // The schema time counts whole seconds: an ALTER in the same second as the CREATE would go unseen.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const store = await opened();
    try {
      expect(await joined(store, table, [[1n, T0 + 2 * SECOND]])).toEqual([[1n, T0 + 2 * SECOND, 1]]);
      // This process's first write: the table already has every column, so no ALTER changes its schema time.
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf([row(1n, T0 + SECOND, T0 + SECOND, [2])], 1, 1), "b");
      expect(await joined(store, table, [[1n, T0 + 2 * SECOND]])).toEqual([[1n, T0 + 2 * SECOND, 2]]);
      expect([store.historyReads, store.historyDeltaReads]).toEqual([1, 1]);
    } finally {
      await store.close();
    }
  });

  it("reads a previewed join's tables as the spine is created, sees every write made before, and ignores a preview of other tables", async () => {
    const store = await opened();
    try {
      const spend = tableOf([{ name: "spend", type: "double" }]);
      const visits = { ...tableOf([{ name: "visits", type: "double" }]), view: "visits" };
      const preview = (tables: OfflineTable[]): SpineJoinPreview => ({ tables, aggregates: false, excludeLateIngested: false });
      for (const table of [spend, visits]) await store.ensureTable(table);
      await store.append(spend, historyColumnsOf([row(1n, T0, T0, [1])], 1, 1), "a");
      await store.append(visits, historyColumnsOf([row(1n, T0, T0, [7])], 1, 1), "b");
      expect(await joined(store, spend, [[1n, T0 + SECOND]], { preview: preview([spend]) })).toEqual([[1n, T0 + SECOND, 1]]);
      expect(store.historyReads).toBe(1);
      await store.append(spend, historyColumnsOf([row(1n, T0 + SECOND, T0 + SECOND, [2])], 1, 1), "c");
      expect(await joined(store, spend, [[1n, T0 + SECOND]], { preview: preview([spend]) })).toEqual([[1n, T0 + SECOND, 2]]);
      expect([store.historyReads, store.historyDeltaReads]).toEqual([1, 1]);
      // A preview of another table is read, then ignored: the join reads its own.
      expect(await joined(store, spend, [[1n, T0 + SECOND]], { preview: preview([visits]) })).toEqual([[1n, T0 + SECOND, 2]]);
      expect(await joined(store, visits, [[1n, T0 + SECOND]])).toEqual([[1n, T0 + SECOND, 7]]);
      expect([store.historyReads, store.historyDeltaReads]).toEqual([2, 1]);
      expect(store.joinsByStrategy).toEqual({ server: 4, streamed: 0, hash: 0, sortMerge: 0 });
    } finally {
      await store.close();
    }
  });

  it("joins in the engine, with the same answer, a spine or history over its limits (rows or bytes), or times it cannot hold exactly", async () => {
    const table = tableOf([{ name: "spend", type: "double" }]);
    // 2260-01-01: beyond 2^53 µs, which a double does not hold exactly.
    const far = 9_183_110_400_000_000;
    const history = [row(1n, T0, T0, [1]), row(1n, T0 + 10 * SECOND, T0 + 10 * SECOND, [2]), row(2n, T0, T0, [5])];
    const spineRows: Array<[bigint, number]> = [
      [1n, T0 + 5 * SECOND],
      [1n, T0 + 20 * SECOND],
      [2n, T0 + 20 * SECOND],
      [3n, T0 + 20 * SECOND],
    ];
    const expected = [
      [1n, T0 + 5 * SECOND, 1],
      [1n, T0 + 20 * SECOND, 2],
      [2n, T0 + 20 * SECOND, null],
      [3n, T0 + 20 * SECOND, null],
    ];
    const setUp = await opened();
    await setUp.ensureTable(table);
    await setUp.append(table, historyColumnsOf(history, 1, 1), "h");
    await setUp.close();
    for (const [limits, strategy] of [
      [{}, "server"],
      [{ memoryJoinMaxSpineRows: 3 }, "hash"],
      [{ memoryJoinMaxRows: 2 }, "hash"],
      // The spine's 4 keys and times come to 64 bytes, in two batches.
      [{ heldSpineMaxBytes: 64 }, "server"],
      [{ heldSpineMaxBytes: 63 }, "hash"],
      [{ heldSpineMaxBytes: 0 }, "hash"],
    ] as const) {
      const store = await opened(limits);
      try {
        expect(await joined(store, table, spineRows, { ttlMicros: 15 * SECOND })).toEqual(expected);
        expect(store.joinsByStrategy[strategy]).toBe(1);
      } finally {
        await store.close();
      }
    }
    // The budget is the store's: a spine held elsewhere leaves this one less, until it is dropped.
    const shared = await opened({ heldSpineMaxBytes: 64 });
    try {
      const other = await shared.createSpine(table.project, table.keyColumns, []);
      await shared.appendSpine(other, { length: 2, keys: [[1n, 2n]], eventTimes: [T0, T0], extras: [] }, 0);
      expect(await joined(shared, table, spineRows, { ttlMicros: 15 * SECOND })).toEqual(expected);
      expect(shared.joinsByStrategy).toMatchObject({ server: 0, hash: 1 });
      await shared.dropSpine(other);
      expect(await joined(shared, table, spineRows, { ttlMicros: 15 * SECOND })).toEqual(expected);
      expect(shared.joinsByStrategy).toMatchObject({ server: 1, hash: 1 });
    } finally {
      await shared.close();
    }
    const store = await opened();
    try {
      await store.append(table, historyColumnsOf([row(3n, far, T0, [7])], 1, 1), "far");
      expect(await joined(store, table, [...spineRows, [3n, far]], { ttlMicros: 15 * SECOND })).toEqual([...expected, [3n, far, 7]]);
      expect(store.joinsByStrategy).toEqual({ server: 0, streamed: 0, hash: 1, sortMerge: 0 });
    } finally {
      await store.close();
    }
  });

  it("joins a spine held as typed arrays (an Arrow spine's) as it joins the same rows held as values, over several chunks", async () => {
    // Keys on both sides of 2^53 and of zero: typed-array keys are read as two 32-bit halves.
    const customers = [
      -(2n ** 63n),
      -(2n ** 53n),
      -(2n ** 53n) + 1n,
      -1n,
      0n,
      7n,
      2n ** 32n,
      2n ** 53n - 1n,
      2n ** 53n + 1n,
      2n ** 63n - 1n,
    ];
    const table = tableOf([
      { name: "spend", type: "double" },
      { name: "visits", type: "int64" },
    ]);
    const history = customers.flatMap((customer, c) =>
      Array.from({ length: 40 }, (_, i) => row(customer, T0 + (i * 10 + c) * SECOND, T0, [i % 9 === 0 ? null : c + i / 8, BigInt(i)])),
    );
    const rows = 140_000; // three chunks of the answer
    const spineCustomer = (i: number) => (i % 23 === 0 ? 99n : (customers[(i * 7) % customers.length] as bigint));
    const spineTime = (i: number) => T0 + ((i * 37) % 450) * SECOND;
    const extras = [
      { name: "label", type: "int64" as const },
      { name: "weight", type: "double" as const },
    ];
    const typed = {
      length: rows,
      keys: [BigInt64Array.from({ length: rows }, (_, i) => spineCustomer(i))],
      eventTimes: Float64Array.from({ length: rows }, (_, i) => spineTime(i)),
      extras: [BigInt64Array.from({ length: rows }, (_, i) => BigInt(i) - 5n), Float64Array.from({ length: rows }, (_, i) => i / 2)],
    };
    const values = {
      length: rows,
      keys: [Array.from(typed.keys[0] as BigInt64Array)],
      eventTimes: Array.from(typed.eventTimes),
      extras: [Array.from(typed.extras[0] as BigInt64Array), Array.from(typed.extras[1] as Float64Array)],
    };
    const joinOf = async (store: ClickHouseOfflineStore, spineColumns: typeof typed | typeof values) => {
      const spine = await store.createSpine(table.project, table.keyColumns, extras, {
        tables: [table],
        aggregates: false,
        excludeLateIngested: false,
      });
      await store.appendSpine(spine, spineColumns, 0);
      const answer = await collectRows(
        store.joinPointInTime({
          spine,
          views: [{ table, ttlMicros: 200 * SECOND }],
          features: table.featureColumns.map((c) => ({ view: 0, column: c.name, as: c.name })),
          excludeLateIngested: false,
          spineOrder: true,
          withSpineIndex: true,
        }),
      );
      await store.dropSpine(spine);
      return answer;
    };
    const store = await opened();
    const engine = await opened({ memoryJoinMaxRows: 0 });
    try {
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf(history, 2, 2), "h");
      const fromTyped = await joinOf(store, typed);
      expect(store.joinsByStrategy.server).toBe(1);
      expect(fromTyped).toHaveLength(rows);
      expect(fromTyped[1]).toEqual([1n, customers[7], spineTime(1), -4n, 0.5, expect.any(Number), expect.any(BigInt)]);
      // Matches, misses (key 99, and times before any row or past the TTL) and null values all occur.
      expect(fromTyped.filter((r) => r[5] !== null).length).toBeGreaterThan(rows / 2);
      expect(fromTyped.filter((r) => r[6] === null).length).toBeGreaterThan(rows / 23);
      expect(await joinOf(store, values)).toEqual(fromTyped);
      expect(store.joinsByStrategy.server).toBe(2);
      expect(await joinOf(engine, typed)).toEqual(fromTyped);
      expect(engine.joinsByStrategy.server).toBe(0);
    } finally {
      await store.close();
      await engine.close();
    }
  }, 120_000);

  it("asks the embedded engine for a sort-merge join's memory back once the join ends, and not after a join in memory", async () => {
    const table = tableOf([{ name: "spend", type: "double" }]);
    const setUp = await opened();
    await setUp.ensureTable(table);
    await setUp.append(table, historyColumnsOf([row(1n, T0, T0, [5])], 1, 1), "h");
    await setUp.close();
    for (const [limits, strategy, releases] of [
      [{ hashJoinMaxRows: 0, memoryJoinMaxRows: 0, streamedJoinMaxSpineRows: 0 }, "sortMerge", 1],
      [{ hashJoinMaxRows: 0, memoryJoinMaxRows: 0 }, "streamed", 0],
      [{ memoryJoinMaxRows: 0 }, "hash", 0],
      [{}, "server", 0],
    ] as const) {
      const store = await opened(limits);
      try {
        expect(await joined(store, table, [[1n, T0 + SECOND]])).toEqual([[1n, T0 + SECOND, 5]]);
        expect(store.joinsByStrategy[strategy]).toBe(1);
        expect(store.engineMemoryReleases).toBe(releases);
      } finally {
        // Closing waits for a release still running.
        await store.close();
      }
    }
  });

  it("passes extra spine columns through, null in rows sent before the column first appeared", async () => {
    const store = await opened();
    try {
      const table = tableOf([{ name: "spend", type: "double" }]);
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf([row(1n, T0, T0, [1])], 1, 1), "a");
      const spineRows: Array<[bigint, number]> = [
        [1n, T0],
        [1n, T0 + 1],
        [2n, T0],
        [1n, T0 - 1],
      ];
      const extras = [{ name: "label", type: "double" as const, values: [0.5, null, 2.5, 3.5], from: 2 }];
      expect(await joined(store, table, spineRows, { extras })).toEqual([
        [1n, T0, null, 1],
        [1n, T0 + 1, null, 1],
        [2n, T0, 2.5, null],
        [1n, T0 - 1, 3.5, null],
      ]);
      expect(store.joinsByStrategy.server).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe("point-in-time joins streamed through the server", () => {
  const SECOND = 1_000_000;
  const T0 = 1_767_225_600_000_000;
  let version = 0;
  // Sort-merge sized histories (hashJoinMaxRows 0), so the streamed join runs, with sorted copies
  // as a server keeps them (unless `copies` is false); the engine's own join as the reference.
  const copiesDirectory = mkdtempSync(join(tmpdir(), "sluice-sorted-"));
  const streamed = (copies = true, maxBytes = 1 << 30) =>
    openClickHouseOfflineStore({
      kind: "embedded",
      path: pitPath,
      hashJoinMaxRows: 0,
      memoryJoinMaxRows: 0,
      ...(copies ? { sortedCopies: { directory: copiesDirectory, maxBytes } } : {}),
    });
  const sortMerge = () =>
    openClickHouseOfflineStore({ kind: "embedded", path: pitPath, hashJoinMaxRows: 0, memoryJoinMaxRows: 0, streamedJoinMaxSpineRows: 0 });
  const schemaOf = async (chunks: AsyncIterable<{ ipc: Uint8Array }>) => {
    for await (const chunk of chunks) return tableFromIPC(chunk.ipc).schema.fields.map((f) => `${f.name}: ${f.type} ${f.nullable}`);
    return [];
  };
  /** Keys on both sides of 2^31, 2^32 and 2^53, negative and positive: the merge compares them as two 32-bit halves. */
  const CUSTOMERS = [-(2n ** 63n), -(2n ** 40n), -1n, 0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n];
  /** A view's table in the suite's project. */
  const viewTable = (
    view: string,
    keyColumns: OfflineTable["keyColumns"],
    featureColumns: OfflineTable["featureColumns"],
    tableVersion = 1,
  ): OfflineTable => ({ project: "pit_streamed", view, version: tableVersion, keyColumns, featureColumns });
  /** A join of `table`'s `features` (all by default) over spine rows of its one key column, the spine made in `on`. */
  const joinOver = async (
    on: ClickHouseOfflineStore,
    table: OfflineTable,
    keys: FeatureValue[],
    times: number[],
    options: { ttlMicros?: number; features?: string[]; spineOrder?: boolean; withSpineIndex?: boolean; previewed?: boolean } = {},
  ): Promise<PointInTimeJoin> => {
    const preview = options.previewed ? { tables: [table], aggregates: false, excludeLateIngested: false } : undefined;
    const spine = await on.createSpine("pit_streamed", table.keyColumns, [], preview);
    await on.appendSpine(spine, { length: keys.length, keys: [keys], eventTimes: times, extras: [] }, 0);
    return {
      spine,
      views: [{ table, ttlMicros: options.ttlMicros ?? 0 }],
      features: (options.features ?? table.featureColumns.map((c) => c.name)).map((column) => ({ view: 0, column, as: column })),
      excludeLateIngested: false,
      spineOrder: options.spineOrder ?? true,
      withSpineIndex: options.withSpineIndex ?? false,
    };
  };
  /** The rows of a join, its spine dropped after. */
  const rowsOfJoin = async (on: ClickHouseOfflineStore, join: PointInTimeJoin) => {
    const rows = await collectRows(on.joinPointInTime(join));
    await on.dropSpine(join.spine);
    return rows;
  };
  const tablesOf = (v: number): OfflineTable[] => [
    viewTable(
      "spend",
      [{ name: "customer_id", type: "int64" }],
      [
        { name: "amount", type: "double" },
        { name: "orders", type: "int64" },
      ],
      v,
    ),
    viewTable(
      "visits",
      [{ name: "customer_id", type: "int64" }],
      [
        { name: "ratio", type: "float" },
        { name: "last_seen", type: "timestamp" },
      ],
      v,
    ),
    viewTable("stores", [{ name: "store_id", type: "int32" }], [{ name: "staff", type: "int32" }], v),
  ];

  it("agrees with the reference join and with the engine's sort-merge join, types and all, on generated histories", async () => {
    const customer = fc.constantFrom(...CUSTOMERS);
    const storeId = fc.integer({ min: -3, max: 3 });
    const time = fc.integer({ min: 0, max: 6 });
    const historyRow = <T>(key: fc.Arbitrary<T>, features: fc.Arbitrary<FeatureValue[]>) =>
      fc.record({ key, event: time, ingestShift: fc.integer({ min: -3, max: 6 }), features });
    const scenario = fc.record({
      spend: fc.array(
        historyRow(
          customer,
          fc.tuple(
            fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
            fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: null }),
          ),
        ),
        { maxLength: 30 },
      ),
      visits: fc.array(
        historyRow(
          customer,
          fc.tuple(
            fc.option(fc.constantFrom(0.5, -1.25, 3), { nil: null }),
            fc.option(
              fc.integer({ min: 0, max: 1_000_000 }).map((s) => new Date(Date.UTC(2026, 0, 1) + s * 1000)),
              { nil: null },
            ),
          ),
        ),
        { maxLength: 20 },
      ),
      stores: fc.array(historyRow(storeId, fc.tuple(fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: null }))), {
        maxLength: 15,
      }),
      ttls: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
      spine: fc.array(fc.record({ customer, store: storeId, time: fc.integer({ min: -1, max: 9 }), label: fc.boolean() }), {
        minLength: 1,
        maxLength: 25,
      }),
      spineOrder: fc.boolean(),
      withSpineIndex: fc.boolean(),
      // Without the view keyed by store_id, a join in any order is written in the order it merges in.
      oneKey: fc.boolean(),
    });
    const store = await streamed();
    const engine = await sortMerge();
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const tables = tablesOf(++version);
          const history = generatedHistory<{ key: FeatureValue } & GeneratedRow>([s.spend, s.visits, s.stores], (r) => [r.key]);
          await storeHistory(store, tables, history, `s${version}`);
          const spineTimes = s.spine.map((r) => T0 + r.time * SECOND);
          const views = tables.slice(0, s.oneKey ? 2 : 3);
          // With the join's preview, a store keeping sorted copies holds the spine until the join.
          const join = async (on: ClickHouseOfflineStore, previewed = false): Promise<PointInTimeJoin> => {
            const spine = await on.createSpine(
              "pit_streamed",
              [
                { name: "customer_id", type: "int64" },
                { name: "store_id", type: "int32" },
              ],
              [{ name: "label", type: "bool" }],
              previewed ? { tables: views, aggregates: false, excludeLateIngested: false } : undefined,
            );
            await on.appendSpine(
              spine,
              {
                length: s.spine.length,
                keys: [s.spine.map((r) => r.customer), s.spine.map((r) => r.store)],
                eventTimes: spineTimes,
                extras: [s.spine.map((r) => r.label)],
              },
              0,
            );
            return {
              spine,
              views: views.map((table, v) => ({ table, ttlMicros: (s.ttls[v] ?? 0) * SECOND })),
              features: [
                { view: 1, column: "last_seen", as: "last_seen" },
                { view: 0, column: "amount", as: "amount" },
                ...(s.oneKey ? [] : [{ view: 2, column: "staff", as: "staff" }]),
                { view: 0, column: "orders", as: "orders" },
                { view: 1, column: "ratio", as: "ratio" },
              ],
              excludeLateIngested: false,
              spineOrder: s.spineOrder,
              withSpineIndex: s.withSpineIndex,
            };
          };
          const streamedJoins = store.joinsByStrategy.streamed;
          const copyReads = store.sortedCopyCounts.reads;
          const mine = await join(store);
          const rows = await collectRows(store.joinPointInTime(mine));
          // The first join read the engine and queued a copy of each table it read; the next read the copies.
          await store.copiesWritten();
          const schema = await schemaOf(store.joinPointInTime(mine));
          expect(await collectRows(store.joinPointInTime(mine))).toEqual(rows);
          await store.dropSpine(mine.spine);
          expect(store.joinsByStrategy.streamed).toBe(streamedJoins + 3);
          // Tables no history row was written to have no version with rows to copy.
          const viewsRead = views.filter((_, v) => (history[v] ?? []).length > 0).length;
          expect(store.sortedCopyCounts.reads - copyReads).toBe(2 * viewsRead);
          // A spine held until its join, over the copies: never stored in the engine, unless a view
          // has no copy (no rows); written in spine order whatever the order asked for.
          const spineTables = store.spineTablesMade;
          const held = await join(store, true);
          const heldRows = await collectRows(store.joinPointInTime(held));
          expect(await schemaOf(store.joinPointInTime(held))).toEqual(schema);
          await store.dropSpine(held.spine);
          expect(store.spineTablesMade - spineTables).toBe(viewsRead === views.length ? 0 : 1);
          const theirs = await join(engine);
          const engineRows = await collectRows(engine.joinPointInTime(theirs));
          expect(schema).toEqual(await schemaOf(engine.joinPointInTime(theirs)));
          await engine.dropSpine(theirs.spine);

          const expected = pointInTimeOracle(
            s.spine.map((r, i) => ({ key: { customer_id: r.customer, store_id: r.store }, eventTime: spineTimes[i] as number })),
            tables.map((table, v) => ({
              keyNames: table.keyColumns.map((c) => c.name),
              ttlMicros: (s.ttls[v] ?? 0) * SECOND,
              rows: (history[v] ?? []).map(({ key, eventTime, ingestTime, features }) => ({ key, eventTime, ingestTime, features })),
            })),
            false,
          );
          const micros = (value: FeatureValue | undefined) => (value instanceof Date ? value.getTime() * 1000 : (value ?? null));
          const expectedRows = s.spine.map((r, i) => {
            const [spend, visits, stores] = expected[i] ?? [];
            return [
              ...(s.withSpineIndex ? [BigInt(i)] : []),
              r.customer,
              r.store,
              spineTimes[i],
              r.label,
              micros(visits?.[1]),
              spend?.[0] ?? null,
              ...(s.oneKey ? [] : [stores?.[0] ?? null]),
              spend?.[1] ?? null,
              visits?.[0] ?? null,
            ];
          });
          const canonical = (all: unknown[][]) => all.map((r) => JSON.stringify(r, (_, v) => (typeof v === "bigint" ? `${v}n` : v))).sort();
          // In spine order unless written in the order of the merge (any order was asked for, one key).
          if (s.spineOrder || !s.oneKey) expect(rows).toEqual(expectedRows);
          else expect(canonical(rows)).toEqual(canonical(expectedRows));
          if (s.spineOrder || !s.oneKey || viewsRead === views.length) expect(heldRows).toEqual(expectedRows);
          else expect(canonical(heldRows)).toEqual(canonical(expectedRows));
          // The same rows as the engine's, which come in any order unless asked for spine order.
          expect(canonical(rows)).toEqual(canonical(engineRows));
        }),
        { numRuns: 40 },
      );
    } finally {
      await store.close();
      await engine.close();
    }
  }, 120_000);

  it("agrees with the engine's join over a history of many chunks in several parts, and a spine of many chunks", async () => {
    const table = viewTable(
      `many_${++version}`,
      [{ name: "customer_id", type: "int64" }],
      [
        { name: "amount", type: "double" },
        { name: "orders", type: "int32" },
      ],
    );
    // Deterministic spreads (a multiplicative hash), so rows of one entity land in both parts and chunks.
    const spread = (i: number) => Math.imul(i + 1, 2_654_435_761) >>> 0;
    const part = (from: number, rows: number): OfflineRow[] =>
      Array.from({ length: rows }, (_, j) => {
        const i = from + j;
        return {
          key: [BigInt(spread(i) % 997)],
          eventTime: T0 + (spread(i * 7) % 100_000) * SECOND,
          ingestTime: T0 + i,
          writeId: "w",
          features: [i % 11 === 0 ? null : i / 4, i % 13 === 0 ? null : i],
        };
      });
    const store = await streamed();
    const engine = await sortMerge();
    try {
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf(part(0, 60_000), 1, 2), "p1");
      await store.append(table, historyColumnsOf(part(60_000, 60_000), 1, 2), "p2");
      const spineRows = 150_000;
      const run = async (on: ClickHouseOfflineStore, spineOrder: boolean) =>
        rowsOfJoin(
          on,
          await joinOver(
            on,
            table,
            Array.from({ length: spineRows }, (_, i) => BigInt(spread(i * 3) % 1000)),
            Array.from({ length: spineRows }, (_, i) => T0 + (spread(i * 5) % 110_000) * SECOND),
            { ttlMicros: 20_000 * SECOND, features: ["orders", "amount"], spineOrder, withSpineIndex: true },
          ),
        );
      const mine = await run(store, true);
      expect(mine).toHaveLength(spineRows);
      expect(mine.filter((r) => r[3] !== null).length).toBeGreaterThan(spineRows / 4);
      expect(mine).toEqual(await run(engine, true));
      // The history's sorted copy, of several chunks (its read reuses their buffers), gives the same answer.
      await store.copiesWritten();
      expect(await run(store, true)).toEqual(mine);
      expect(store.sortedCopyCounts).toEqual({ reads: 1, writes: 1 });
      // In any order: the merge's, by key and time, each row with its spine index.
      const unordered = await run(store, false);
      expect(store.joinsByStrategy.streamed).toBe(3);
      expect(unordered.map((r) => r[1])).not.toEqual(mine.map((r) => r[1]));
      expect([...unordered].sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(mine);
      // The spine's time bounds, tables of the engine, are gone with the joins.
      const engineSession = new Session(pitPath);
      try {
        const left = engineSession.query(
          "SELECT count() FROM system.tables WHERE database = 'sluice_tmp' AND name LIKE '%\\_bounds\\_%'",
          "CSV",
        );
        expect(String(left).trim()).toBe("0");
      } finally {
        engineSession.close();
      }
    } finally {
      await store.close();
      await engine.close();
    }
  }, 120_000);

  it("keeps a sorted copy of each history it read, read by later joins until the table changes, across restarts, within its budget", async () => {
    const table = viewTable(
      `copied_${++version}`,
      [{ name: "customer_id", type: "int64" }],
      [
        { name: "amount", type: "double" },
        { name: "channel", type: "string" },
        { name: "orders", type: "int32" },
      ],
    );
    const row = (customer: bigint, second: number, amount: number, ingest = 0): OfflineRow => ({
      key: [customer],
      eventTime: T0 + second * SECOND,
      ingestTime: T0 + ingest,
      writeId: "w",
      features: [amount, "web", second],
    });
    const answer = async (on: ClickHouseOfflineStore) => {
      const spineTimes = [T0 + 5 * SECOND, T0 + 50 * SECOND, T0 + 50 * SECOND];
      const join = await joinOver(on, table, [1n, 1n, 2n], spineTimes, { ttlMicros: 30 * SECOND, features: ["amount", "orders"] });
      return (await rowsOfJoin(on, join)).map((r) => r.slice(2));
    };
    const store = await streamed();
    try {
      await store.ensureTable(table);
      // Two rows at one event time: the later ingested one is the one taken, as from the engine.
      await store.append(table, historyColumnsOf([row(1n, 1, 1.5), row(1n, 1, 2.5, 9), row(1n, 40, 3.5), row(2n, 10, 4.5)], 1, 3), "a");
      const first = await answer(store);
      expect(first).toEqual([
        [2.5, 1],
        [3.5, 40],
        [null, null],
      ]);
      await store.copiesWritten();
      expect(store.sortedCopyCounts).toEqual({ reads: 0, writes: 1 });
      expect(await answer(store)).toEqual(first);
      expect(store.sortedCopyCounts.reads).toBe(1);

      // A write makes a new version: the next join reads the engine, sees the row, and a new copy follows.
      await store.append(table, historyColumnsOf([row(2n, 45, 5.5)], 1, 3), "b");
      const second = await answer(store);
      expect(second).toEqual([
        [2.5, 1],
        [3.5, 40],
        [5.5, 45],
      ]);
      expect(store.sortedCopyCounts.reads).toBe(1);
      await store.copiesWritten();
      expect(await answer(store)).toEqual(second);
      expect(store.sortedCopyCounts).toEqual({ reads: 2, writes: 2 });
    } finally {
      await store.close();
    }

    // Another store on the same data reads the copy the first one wrote.
    const restarted = await streamed();
    try {
      expect(await answer(restarted)).toEqual([
        [2.5, 1],
        [3.5, 40],
        [5.5, 45],
      ]);
      expect(restarted.sortedCopyCounts.reads).toBe(1);
    } finally {
      await restarted.close();
    }

    // A budget smaller than the copy: none is written, and joins read the engine.
    const tight = await streamed(true, 100);
    try {
      await tight.append(table, historyColumnsOf([row(3n, 1, 6.5)], 1, 3), "c");
      const third = await answer(tight);
      await tight.copiesWritten();
      expect(await answer(tight)).toEqual(third);
      expect(tight.sortedCopyCounts).toEqual({ reads: 0, writes: 0 });
    } finally {
      await tight.close();
    }
  });

  it("holds a previewed spine only over tables with a copy at their version, and stores it at the join when the table is written meanwhile", async () => {
    const table = viewTable(`held_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const row = (customer: bigint, second: number, amount: number): OfflineRow => ({
      key: [customer],
      eventTime: T0 + second * SECOND,
      ingestTime: T0,
      writeId: "w",
      features: [amount],
    });
    const store = await streamed();
    try {
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf([row(1n, 1, 1.5), row(2n, 2, 2.5)], 1, 1), "a");
      const spineOf = () => joinOver(store, table, [1n, 2n], [T0 + 10 * SECOND, T0 + 10 * SECOND], { previewed: true });
      const values = async (join: PointInTimeJoin) => (await rowsOfJoin(store, join)).map((r) => r[2]);

      // No copy yet: stored as it arrives.
      let made = store.spineTablesMade;
      const first = await spineOf();
      expect(store.spineTablesMade - made).toBe(1);
      expect(await values(first)).toEqual([1.5, 2.5]);
      await store.copiesWritten();

      // A copy at the table's version: held; a write before the join makes the join read the engine, so it is stored then.
      made = store.spineTablesMade;
      const second = await spineOf();
      expect(store.spineTablesMade - made).toBe(0);
      await store.append(table, historyColumnsOf([row(2n, 5, 7.5)], 1, 1), "b");
      expect(await values(second)).toEqual([1.5, 7.5]);
      expect(store.spineTablesMade - made).toBe(1);
      await store.copiesWritten();

      // The copy of the new version: held, and joined without storing it.
      made = store.spineTablesMade;
      const reads = store.sortedCopyCounts.reads;
      expect(await values(await spineOf())).toEqual([1.5, 7.5]);
      expect(store.spineTablesMade - made).toBe(0);
      expect(store.sortedCopyCounts.reads - reads).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("reads the views' histories a few at a time, with the same answer as the engine over more views than that", async () => {
    const tables = Array.from({ length: 4 }, (_, v) =>
      viewTable(`batched_${++version}_${v}`, [{ name: "customer_id", type: "int64" }], [{ name: `f${v}`, type: "double" }]),
    );
    const history = tables.map((_, v) =>
      Array.from(
        { length: 40 },
        (_, i): OfflineRow => ({
          key: [BigInt(i % 7)],
          eventTime: T0 + ((i * (v + 3)) % 11) * SECOND,
          ingestTime: T0 + i,
          writeId: "w",
          features: [i % 5 === 0 ? null : v * 100 + i],
        }),
      ),
    );
    const store = await streamed();
    const engine = await sortMerge();
    try {
      await storeHistory(store, tables, history, "batched");
      const run = async (on: ClickHouseOfflineStore) => {
        const spine = await on.createSpine("pit_streamed", [{ name: "customer_id", type: "int64" }], []);
        const keys = Array.from({ length: 30 }, (_, i) => BigInt(i % 8));
        await on.appendSpine(spine, { length: 30, keys: [keys], eventTimes: keys.map((_, i) => T0 + (i % 12) * SECOND), extras: [] }, 0);
        const rows = await collectRows(
          on.joinPointInTime({
            spine,
            views: tables.map((table, v) => ({ table, ttlMicros: v * 3 * SECOND })),
            features: tables.map((_, v) => ({ view: v, column: `f${v}`, as: `f${v}` })),
            excludeLateIngested: false,
            spineOrder: true,
            withSpineIndex: true,
          }),
        );
        await on.dropSpine(spine);
        return rows;
      };
      const mine = await run(store);
      expect(store.joinsByStrategy.streamed).toBe(1);
      expect(mine.some((row) => row.slice(3).some((cell) => cell !== null))).toBe(true);
      expect(mine).toEqual(await run(engine));
    } finally {
      await store.close();
      await engine.close();
    }
  });

  it("is refused when cancelled before it starts, and stops quietly when aborted between the chunks it writes", async () => {
    const table = viewTable(`aborted_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const store = await streamed();
    try {
      await store.ensureTable(table);
      const history = Array.from({ length: 1000 }, (_, i) => ({
        key: [BigInt(i)],
        eventTime: T0,
        ingestTime: T0,
        writeId: "w",
        features: [i],
      }));
      await store.append(table, historyColumnsOf(history, 1, 1), "a");
      const rows = 140_000;
      const spine = await store.createSpine("pit_streamed", table.keyColumns, []);
      const spineColumns = {
        length: rows,
        keys: [Array.from({ length: rows }, (_, i) => BigInt(i % 1000))],
        eventTimes: Array.from({ length: rows }, () => T0 + SECOND),
        extras: [],
      };
      await store.appendSpine(spine, spineColumns, 0);
      const joinOf = (spineOrder: boolean): PointInTimeJoin => ({
        spine,
        views: [{ table, ttlMicros: 0 }],
        features: [{ view: 0, column: "amount", as: "amount" }],
        excludeLateIngested: false,
        spineOrder,
        withSpineIndex: true,
      });
      const before = new AbortController();
      before.abort();
      // As the engine's path: a call cancelled before its first query is refused as such.
      await expect(collectRows(store.joinPointInTime(joinOf(true), before.signal))).rejects.toBeInstanceOf(QueryCancelledError);
      for (const spineOrder of [true, false]) {
        const between = new AbortController();
        let seen = 0;
        for await (const chunk of store.joinPointInTime(joinOf(spineOrder), between.signal)) {
          seen += chunk.rows;
          between.abort();
        }
        expect(seen).toBeGreaterThan(0);
        expect(seen).toBeLessThan(rows);
      }
      expect(store.joinsByStrategy.streamed).toBe(2);
      await store.dropSpine(spine);
    } finally {
      await store.close();
    }
  });

  it("joins in the engine, with the same answer, when a copy turns out damaged, and drops it; turned off, copies are removed", async () => {
    const table = viewTable(`damaged_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const directory = mkdtempSync(join(tmpdir(), "sluice-sorted-damaged-"));
    const open = (maxBytes: number) =>
      openClickHouseOfflineStore({
        kind: "embedded",
        path: pitPath,
        hashJoinMaxRows: 0,
        memoryJoinMaxRows: 0,
        sortedCopies: { directory, maxBytes },
      });
    const answer = async (on: ClickHouseOfflineStore) =>
      rowsOfJoin(on, await joinOver(on, table, [1n, 2n], [T0 + 10 * SECOND, T0 + 10 * SECOND]));
    const store = await open(1 << 30);
    try {
      await store.ensureTable(table);
      const rows = [1n, 2n].map((key, i) => ({
        key: [key],
        eventTime: T0 + i * SECOND,
        ingestTime: T0,
        writeId: "w",
        features: [i + 0.5],
      }));
      await store.append(table, historyColumnsOf(rows, 1, 1), "d");
      const expected = await answer(store);
      expect(expected).toEqual([
        [1n, T0 + 10 * SECOND, 0.5],
        [2n, T0 + 10 * SECOND, 1.5],
      ]);
      await store.copiesWritten();
      const file = readdirSync(directory).find((name) => name.endsWith(".arrows")) as string;
      // Same size, but the chunk's length says more than the file holds.
      const bytes = readFileSync(join(directory, file));
      bytes.writeBigUInt64LE(BigInt(bytes.length), 0);
      writeFileSync(join(directory, file), bytes);
      expect(await answer(store)).toEqual(expected);
      expect(store.joinsByStrategy).toMatchObject({ streamed: 1, sortMerge: 1 });
      expect(store.sortedCopyCounts.reads).toBe(1);
      expect(readdirSync(directory).filter((name) => name.endsWith(".json"))).toEqual([]);
      // The next join reads the engine, streamed, and the copy is written again.
      expect(await answer(store)).toEqual(expected);
      await store.copiesWritten();
      expect(store.sortedCopyCounts.writes).toBe(2);
    } finally {
      await store.close();
    }
    const off = await open(0);
    await off.close();
    expect(existsSync(directory)).toBe(false);
  });

  it("writes a sorted copy only while no join runs: one that starts meanwhile stops it, and it starts over after", async () => {
    const table = viewTable(`giving_way_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const rows = Array.from({ length: 50_000 }, (_, i) => ({
      key: [BigInt(i % 5_000)],
      eventTime: T0 + i * SECOND,
      ingestTime: T0,
      writeId: "w",
      features: [i / 2],
    }));
    const store = await streamed();
    try {
      await store.ensureTable(table);
      await store.append(table, historyColumnsOf(rows, 1, 1), "way");
      const join = await joinOver(store, table, [1n, 2n], [T0 + 60_000 * SECOND, T0 + 60_000 * SECOND]);
      // The first join reads the engine and queues the table's copy; a second one, left open, keeps it from being written.
      const answer = await collectRows(store.joinPointInTime(join));
      const open = store.joinPointInTime(join)[Symbol.asyncIterator]();
      expect((await open.next()).done).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(store.sortedCopyCounts.writes).toBe(0);
      await open.return?.(undefined);
      await store.copiesWritten();
      expect(store.sortedCopyCounts.writes).toBe(1);
      expect(await rowsOfJoin(store, join)).toEqual(answer);
      expect(store.sortedCopyCounts.reads).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("writes a sorted copy beside a join in the server's memory, which needs no engine and does not stop it", async () => {
    const large = viewTable(`beside_large_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const small = viewTable(`beside_small_${version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const rowsOf = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        key: [BigInt(i % 500)],
        eventTime: T0 + i * SECOND,
        ingestTime: T0,
        writeId: "w",
        features: [i / 2],
      }));
    // Histories over 100 rows stream through the server, smaller ones are held in its memory.
    const store = await openClickHouseOfflineStore({
      kind: "embedded",
      path: pitPath,
      hashJoinMaxRows: 0,
      memoryJoinMaxRows: 100,
      sortedCopies: { directory: mkdtempSync(join(tmpdir(), "sluice-sorted-beside-")), maxBytes: 1 << 30 },
    });
    const joinOf = (table: OfflineTable) => joinOver(store, table, [1n, 2n], [T0 + 60_000 * SECOND, T0 + 60_000 * SECOND]);
    try {
      for (const [table, rows] of [
        [large, 20_000],
        [small, 10],
      ] as const) {
        await store.ensureTable(table);
        await store.append(table, historyColumnsOf(rowsOf(rows), 1, 1), "beside");
      }
      await collectRows(store.joinPointInTime(await joinOf(large)));
      const open = store.joinPointInTime(await joinOf(small))[Symbol.asyncIterator]();
      expect((await open.next()).done).toBe(false);
      // Written while the held join is still open (had it counted, this would wait for it).
      const written = await Promise.race([
        store.copiesWritten().then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 30_000)),
      ]);
      expect(written).toBe(true);
      expect(store.sortedCopyCounts.writes).toBe(1);
      expect(store.joinsByStrategy).toMatchObject({ server: 1, streamed: 1 });
      await open.return?.(undefined);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("streams a join over history rows after 2255 (beyond 2^53 µs), which it compares exactly as two words, with the engine's answer", async () => {
    const table = viewTable(`far_history_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const far = 9_183_110_400_000_000;
    const answers = [];
    for (const open of [() => streamed(false), sortMerge]) {
      const store = await open();
      try {
        await store.ensureTable(table);
        if (answers.length === 0) {
          const rows = [
            { key: [1n], eventTime: T0, ingestTime: T0, writeId: "w", features: [1.5] },
            { key: [1n], eventTime: far, ingestTime: T0, writeId: "w", features: [9.5] },
            { key: [1n], eventTime: far + 1, ingestTime: T0, writeId: "w", features: [8.5] },
            { key: [2n], eventTime: far, ingestTime: T0, writeId: "w", features: [7.5] },
          ];
          await store.append(table, historyColumnsOf(rows, 1, 1), "far");
        }
        const join = await joinOver(store, table, [1n, 2n, 1n], [T0 + SECOND, T0 + SECOND, T0 - SECOND], { ttlMicros: 60 * SECOND });
        answers.push(await rowsOfJoin(store, join));
        expect(store.joinsByStrategy.streamed).toBe(answers.length === 1 ? 1 : 0);
      } finally {
        await store.close();
      }
    }
    expect(answers[0]).toEqual([
      [1n, T0 + SECOND, 1.5],
      [2n, T0 + SECOND, null],
      [1n, T0 - SECOND, null],
    ]);
    expect(answers[0]).toEqual(answers[1]);
  });

  it("writes a result of several batches, each whole when read after the next is made, nulls and all", async () => {
    // 999 customers, odd ones with an amount: row j of the second 65,536-row batch is of customer
    // (j + 601) mod 999, so a cell null in one batch is mostly present at the same place in the other.
    const table = viewTable(`batches_${++version}`, [{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]);
    const customers = 999;
    const spineRows = 70_000;
    const store = await streamed(false);
    try {
      await store.ensureTable(table);
      const history = Array.from({ length: customers }, (_, c) => ({
        key: [BigInt(c)],
        eventTime: T0,
        ingestTime: T0,
        writeId: "w",
        features: [c % 2 === 1 ? c + 0.5 : null],
      }));
      await store.append(table, historyColumnsOf(history, 1, 1), "batches");
      const keys = Array.from({ length: spineRows }, (_, i) => BigInt(i % customers));
      const join = await joinOver(store, table, keys, new Array(spineRows).fill(T0 + SECOND));
      // Every chunk is kept before any is read: a chunk sharing memory with the next would show it.
      const chunks = [];
      for await (const chunk of store.joinPointInTime(join)) chunks.push(chunk);
      await store.dropSpine(join.spine);
      expect(store.joinsByStrategy.streamed).toBe(1);
      expect(chunks.length).toBeGreaterThan(1);
      const rows = chunks.flatMap((chunk) => [...arrowRows(chunk.ipc)]);
      expect(rows).toEqual(keys.map((key) => [key, T0 + SECOND, key % 2n === 1n ? Number(key) + 0.5 : null]));
    } finally {
      await store.close();
    }
  });

  it("leaves to the engine, with the same answer, joins it cannot stream: a text key, a text feature, a spine over its limit, a time it cannot hold exactly, a column named __time; a spine held for it, stored then", async () => {
    const keyed = (keyColumns: OfflineTable["keyColumns"], featureColumns: OfflineTable["featureColumns"]) =>
      viewTable(`fallback_${++version}`, keyColumns, featureColumns);
    const cases: Array<[string, OfflineTable, FeatureValue, FeatureValue, number, JoinLimits, string?]> = [
      ["text key", keyed([{ name: "code", type: "string" }], [{ name: "amount", type: "double" }]), "a", 2.5, T0, {}],
      ["text feature", keyed([{ name: "customer_id", type: "int64" }], [{ name: "channel", type: "string" }]), 1n, "web", T0, {}],
      [
        "spine over the limit",
        keyed([{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]),
        1n,
        2.5,
        T0,
        {
          streamedJoinMaxSpineRows: 1,
        },
      ],
      // 2260-01-01: beyond 2^53 µs, which a double does not hold exactly.
      [
        "far time",
        keyed([{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]),
        1n,
        2.5,
        9_183_110_400_000_000,
        {},
      ],
      // The reads' own time column is named so.
      [
        "a spine column named __time",
        keyed([{ name: "customer_id", type: "int64" }], [{ name: "amount", type: "double" }]),
        1n,
        2.5,
        T0,
        {},
        "__time",
      ],
    ];
    // Each case twice: as before, and with the join's preview to a store keeping sorted copies,
    // which holds the spine until its join (or until it outgrows its limit) and then stores it.
    for (const [[name, table, key, value, eventTime, limits, extra], previewed] of cases.flatMap((c) => [
      [c, false] as const,
      [c, true] as const,
    ])) {
      const store = await openClickHouseOfflineStore({
        kind: "embedded",
        path: pitPath,
        hashJoinMaxRows: 0,
        memoryJoinMaxRows: 0,
        ...(previewed ? { sortedCopies: { directory: copiesDirectory, maxBytes: 1 << 30 } } : {}),
        ...limits,
      });
      try {
        await store.ensureTable(table);
        // Written by the case's first pass; the second joins the same table.
        if (!previewed)
          await store.append(
            table,
            historyColumnsOf([{ key: [key], eventTime, ingestTime: T0, writeId: "w", features: [value] }], 1, 1),
            "f",
          );
        const preview = previewed ? { tables: [table], aggregates: false, excludeLateIngested: false } : undefined;
        const spine = await store.createSpine("pit_streamed", table.keyColumns, extra ? [{ name: extra, type: "double" }] : [], preview);
        const extras = extra ? [[0.5, 1.5]] : [];
        await store.appendSpine(spine, { length: 2, keys: [[key, key]], eventTimes: [eventTime, eventTime - SECOND], extras }, 0);
        const rows = await collectRows(
          store.joinPointInTime({
            spine,
            views: [{ table, ttlMicros: 0 }],
            features: [{ view: 0, column: table.featureColumns[0]?.name as string, as: "value" }],
            excludeLateIngested: false,
            spineOrder: true,
            withSpineIndex: false,
          }),
        );
        expect(rows, name).toEqual([
          [key, eventTime, ...(extra ? [0.5] : []), value],
          [key, eventTime - SECOND, ...(extra ? [1.5] : []), null],
        ]);
        expect(store.joinsByStrategy, name).toEqual({ server: 0, streamed: 0, hash: 0, sortMerge: 1 });
        expect(store.spineTablesMade, name).toBe(1);
      } finally {
        await store.close();
      }
    }
  });
});

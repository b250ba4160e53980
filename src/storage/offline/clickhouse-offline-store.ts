/**
 * The offline store on ClickHouse through @clickhouse/client: embedded (chDB in-process, the
 * default) or a ClickHouse server, with the same SQL. Each feature view version has its own
 * MergeTree table in database `sluice_{project}`, ordered by (join keys, event_time), so
 * point-in-time joins and per-entity scans read in key order. Inserts carry the write id as
 * ClickHouse's `insert_deduplication_token`, so a retried batch is stored once.
 */

import { randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type ClickHouseClient, type ClickHouseSettings, createClient } from "@clickhouse/client";
import { Field, RecordBatchReader, Table, tableToIPC, type Vector } from "apache-arrow";
import type { Logger } from "pino";
import { StoreUnavailableError, ValidationError, ViolationCollector } from "../../common/errors.js";
import type { FeatureValue } from "../../common/feature-value.js";
import { readAhead } from "../../common/read-ahead.js";
import type { ValueType } from "../../common/value-type.js";
import { ConfigError } from "../../config/config.js";
import { killOnAbort, killStatement, type QueryRun, queryMarker, querySettings } from "../../security/sql/query-control.js";
import { classifyQueryError, QueryCancelledError, redactedError } from "../../security/sql/query-errors.js";
import { confineSpineSql, type SpineSqlEngine } from "../../security/sql/spine-sql-guard.js";
import { int64Vector, microsVector, recordBatchIpc, repeatedTextVector, valuesVector } from "./arrow-columns.js";
import {
  COLUMN_TYPES,
  compactRowsText,
  formatMicros,
  fromJsonValue,
  jsonMicrosColumn,
  nullableType,
  parseMicros,
  qualifiedTableName,
  quote,
  stringLiteral,
  tableNameParts,
  toJsonValue,
} from "./clickhouse-sql.js";
import { HELD_TIME_COLUMN, type HeldHistory, HeldHistoryCache, type TableVersion } from "./held-history.js";
import { HeldSpine, type HeldSpineBudget, heldSpineOutput, joinHeld, joinsWithoutEngine } from "./memory-join.js";
import {
  type ArrowChunk,
  type ArrowChunks,
  type AuditChainSummary,
  type AuditQuery,
  type AuditRecord,
  type EventSourceProgress,
  type EventTimeRange,
  type HistoryColumns,
  type OfflineColumn,
  type OfflineRow,
  type OfflineSpineSource,
  type OfflineStore,
  type OfflineTable,
  type PointInTimeJoin,
  type PredictionRecord,
  type QueryLimits,
  type ServedValueQuery,
  type ServedValueRecord,
  type Spine,
  type SpineColumns,
  type SpineJoinPreview,
  type SpineSummary,
  type StoredEvent,
  type StoredEventQuery,
  viewFeatureColumns,
} from "./offline-store.js";
import {
  clientTableName,
  createSpineStatements,
  extraColumnDefinition,
  isNullableColumn,
  JOIN_SETTINGS,
  joinQuery,
  joinSettings,
  READS_IN_ORDER_UNBUFFERED,
  SPINE_DATABASE,
  sortedSpineQuery,
  spineBoundsStatement,
  spineBoundsTableName,
  spineColumnExpression,
  spineColumnsQuery,
  spineInsertColumns,
  spineTableName,
  streamedHistoryQuery,
  valueTypeOfColumn,
} from "./point-in-time-sql.js";
import { DamagedCopyError, type SortedCopyRead, SortedHistoryCopies } from "./sorted-copies.js";
import {
  type MergedColumn,
  mayStream,
  mergeableFeatureColumns,
  mergeView,
  SortedSpine,
  spineOutputOfBatches,
  spineOutputOfChunks,
  streamedJoinChunks,
  streamedJoinKeys,
} from "./streamed-join.js";

/**
 * Reads for the streamed join (streamed-join.ts), in blocks of 65,536 rows (histories: 32,768)
 * instead of the 8,192 that the engine's 1 MB preferred block size gave a read in order. Every
 * buffer the engine hands over counts toward V8's external memory, whose growth starts full
 * collections, and while one runs each new buffer forces a marking step: fewer, larger chunks took
 * a 1M-row spine's retrieval over 10M history rows from 3.2-3.6 s to 2.5-2.6 s. A history is read
 * in order by one thread (3 × 3.3M rows in 0.76 s, where the default threads took 1.0 s: merging
 * the parts' streams costs more than it gains), several views at once; in 65,536-row blocks, two
 * views of 10M rows read at once took the server from 0.95 to 1.1 GB.
 */
const STREAMED_READ_SETTINGS = { ...JOIN_SETTINGS, max_block_size: 65_536, preferred_block_size_bytes: 16_000_000 };
/**
 * Views whose histories the streamed join reads at once, each by an engine thread of its own while
 * the event loop merges whichever chunk has come: the training benchmark's three views in 1.2-1.3 s
 * where two and then one took 1.4 s, and two views of 10M rows in 4.5 s where one at a time took 5.5 s.
 */
const STREAMED_VIEWS_AT_ONCE = 3;
const STREAMED_HISTORY_SETTINGS = { ...STREAMED_READ_SETTINGS, max_threads: 1, max_block_size: 32_768 };

/** How many recent insert tokens a table remembers for deduplication. */
const DEDUPLICATION_WINDOW = 10_000;

/** How point-in-time joins run when the location does not say (the defaults of the offline.* keys). */
const DEFAULT_JOIN_LIMITS: Required<JoinLimits> = {
  hashJoinMaxRows: 2_000_000,
  memoryJoinMaxRows: 2_000_000,
  memoryJoinMaxSpineRows: 250_000,
  streamedJoinMaxSpineRows: 2_000_000,
  heldSpineMaxBytes: 256 * 1024 * 1024,
};

/** Which point-in-time joins run where; 0 turns a way off. */
export interface JoinLimits {
  /** Up to this many history rows in the views of one join together, the engine joins in memory (a parallel hash join). */
  hashJoinMaxRows?: number;
  /** History rows the server holds as columns to join inline spines itself, without the engine (memory-join.ts). */
  memoryJoinMaxRows?: number;
  /** The largest inline spine held in the server's memory for such a join; a longer one is stored in the engine. */
  memoryJoinMaxSpineRows?: number;
  /**
   * The longest spine whose join the server streams through itself when the engine would sort-merge
   * it (streamed-join.ts); it holds about 29 bytes per spine row and 9 per row and feature.
   */
  streamedJoinMaxSpineRows?: number;
  /**
   * About the most memory the inline spines held in the server until their joins may take together
   * (keys, times and extra columns); a spine that would go beyond is stored in the engine. 0: no
   * spine is held.
   */
  heldSpineMaxBytes?: number;
}

/** How point-in-time joins run: where, and with which sorted copies of histories. */
export interface JoinOptions extends JoinLimits {
  /**
   * Where the streamed join keeps sorted copies of histories (sorted-copies.ts), and the most they
   * may take together; none without it, or on a cluster.
   */
  sortedCopies?: { directory: string; maxBytes: number; logger?: Pick<Logger, "info" | "warn"> };
}

/** Where the offline store lives, and how its point-in-time joins run. */
export type ClickHouseLocation = (
  | { kind: "embedded"; path: string }
  | { kind: "server"; url: string; username?: string; password?: string; cluster?: string }
) &
  JoinOptions;

/**
 * Where one view's history comes from in a streamed join: its sorted copy, or the engine (only
 * the rows a spine row could take), with a copy of the table at `version` to be written after.
 */
type HistorySource = { kind: "copy"; read: SortedCopyRead } | { kind: "engine"; copy?: CopyToWrite };

/** The database and table names of `tables`, as tableVersions takes them. */
function tableNamesOf(tables: readonly OfflineTable[]): Array<{ database: string; name: string }> {
  return tables.map((table) => tableNameParts(table, false));
}

/** Ends the reads of the sorted copies among `sources` (what a copy being read keeps from being dropped). */
function releaseCopyReads(sources: readonly HistorySource[]): void {
  for (const source of sources) if (source.kind === "copy") source.read.release();
}

/** A sorted copy to write in the background: a table's whole history, merged on `key`, as it was at `version`. */
interface CopyToWrite {
  table: OfflineTable;
  key: string;
  version: string;
  rows: number;
}

/**
 * What differs between chDB and a ClickHouse server; everything else is the same client and SQL.
 * Inserts bypass the client's per-row serialisation: history and spines go as one Arrow batch,
 * the small logs as one JSONCompactEachRow text, which chDB's raw insert takes as one buffer.
 */
interface Engine {
  /**
   * Inserts a batch. `beside` runs it beside whatever else the store is running: the audit trail,
   * which every mutating call waits on, must not queue behind a long training query.
   */
  insertText(insert: {
    database: string;
    table: string;
    columns: string[];
    body: string;
    settings: Settings;
    beside?: boolean;
  }): Promise<unknown>;
  /**
   * Inserts a batch given as an Arrow IPC stream whose columns are `columns` in order: binary, so
   * neither side formats or parses text (a 1M-row spine: about 0.2 s, where its text took 2 s).
   */
  insertArrow(insert: { database: string; table: string; columns: string[]; ipc: Uint8Array; settings: Settings }): Promise<unknown>;
  /** Runs a SELECT and streams its result as Arrow IPC streams of bounded size. */
  streamArrow(query: string, settings: Settings, signal?: AbortSignal): ArrowChunks;
  /** Runs a SELECT and writes its result to a file in `format`. */
  writeToFile(query: string, settings: Settings, format: "Parquet", path: string): Promise<void>;
  /** Runs a KILL QUERY statement, on a connection that never waits behind the query it kills. */
  kill(statement: string): Promise<void>;
  /**
   * Hands the memory the engine's allocator kept after its queries back to the operating system;
   * only an engine in this process has it (a server's memory is its own business).
   */
  releaseMemory?(): Promise<void>;
  /** Releases what the engine holds beside the client. */
  close(): void;
}

type Settings = Record<string, string | number>;

/** What an engine offers beyond the oldest ClickHouse the store works with. */
interface EngineCapabilities {
  /** MergeTree's `enable_block_number_column` (2024 on): held histories catch up on new blocks. */
  numbersBlocks: boolean;
  /** The setting {@link READS_IN_ORDER_UNBUFFERED} turns off (newer ClickHouse versions). */
  readsInOrderUnbuffered: boolean;
}

/** Opens the offline store at `location`, checking that it answers. */
export async function openClickHouseOfflineStore(location: ClickHouseLocation): Promise<ClickHouseOfflineStore> {
  const { client, engine, description } = location.kind === "embedded" ? await embeddedEngine(location.path) : serverEngine(location);
  const cluster = location.kind === "server" ? location.cluster : undefined;
  const { sortedCopies } = location;
  const store = new ClickHouseOfflineStore(
    location.kind === "embedded" ? "chdb" : "clickhouse",
    client,
    engine,
    description,
    cluster,
    location.kind === "embedded" ? [location.path] : [],
    location,
    await sortedCopiesAt(sortedCopies, cluster),
  );
  await store.ping();
  return store;
}

/**
 * The sorted copies `options` ask for; none on a cluster (a history is spread over its nodes' parts,
 * which one node's system.parts does not version), and none, their directory removed, when turned
 * off. A directory that cannot be opened turns them off with a warning: they are only a cache.
 */
async function sortedCopiesAt(
  options: JoinOptions["sortedCopies"],
  cluster: string | undefined,
): Promise<{ copies: SortedHistoryCopies; logger?: Pick<Logger, "info" | "warn"> } | undefined> {
  if (!options || cluster) return undefined;
  const { directory, maxBytes, logger } = options;
  try {
    if (maxBytes === 0) {
      await rm(directory, { recursive: true, force: true });
      return undefined;
    }
    return { copies: await SortedHistoryCopies.open(directory, maxBytes), logger };
  } catch (error) {
    logger?.warn({ err: error }, "sorted copies of histories are off: their directory cannot be used");
    return undefined;
  }
}

async function embeddedEngine(path: string): Promise<{ client: ClickHouseClient; engine: Engine; description: string }> {
  const { Session, createChdbConnection } = await loadChdb();
  mkdirSync(path, { recursive: true });
  // Batches on their way into the engine; any left by a crash are of no use.
  const insertsDirectory = join(path, "inserts");
  rmSync(insertsDirectory, { recursive: true, force: true });
  mkdirSync(insertsDirectory);
  const chdb = createChdbConnection({ path });
  // The connection runs one query at a time; inserts that must not wait behind a long query get a
  // session of their own (measured: 4 ms beside a scan the connection's own insert waited out).
  let besideSession: InstanceType<typeof Session> | undefined;
  // chdb implements the connection interface of its own copy of @clickhouse/client-common,
  // structurally the same as the client's; only the nominal types differ.
  const client = createClient({ connection: chdb as unknown as NonNullable<Parameters<typeof createClient>[0]>["connection"] });
  return {
    client,
    description: "embedded ClickHouse (chDB)",
    engine: {
      // Database, table and column names match [A-Za-z0-9_]+, which chDB's identifier check accepts unquoted.
      insertText: ({ database, table, columns, body, settings, beside }) => {
        if (!beside)
          return chdb.chdb.rawInsert({
            table: `${database}.${table}`,
            columns,
            values: Buffer.from(body),
            format: "JSONCompactEachRow",
            settings,
          });
        besideSession ??= new Session(path);
        return besideSession.queryAsync(
          `INSERT INTO ${database}.${table} (${columns.join(", ")}) ${settingsClause(settings)} FORMAT JSONCompactEachRow\n${body}`,
          { format: "CSV" },
        );
      },
      // chDB's raw insert takes text formats only: the engine reads the batch from a file of its own instead.
      insertArrow: async ({ database, table, columns, ipc, settings }) => {
        const file = join(insertsDirectory, `${randomUUID()}.arrow`);
        await writeFile(file, ipc);
        try {
          await client.command({
            query:
              `INSERT INTO ${quote(database)}.${quote(table)} (${columns.map(quote).join(", ")}) ` +
              `SELECT * FROM file(${stringLiteral(file)}, 'ArrowStream') ${settingsClause(settings)}`,
          });
        } finally {
          await rm(file, { force: true });
        }
      },
      async *streamArrow(query, settings, signal) {
        // The connection's own session buffers whole results; a session of its own (on the same
        // engine) streams chunk by chunk, and one per query lets queries stream side by side.
        const session = new Session(path);
        try {
          for await (const chunk of session.queryStream(`${query} ${settingsClause(settings)}`, { format: "ArrowStream", signal })) {
            // Each chunk is a complete Arrow IPC stream, in a buffer of its own.
            yield { ipc: chunk.raw(), rows: chunk.numRows };
          }
        } finally {
          session.close();
        }
      },
      async writeToFile(query, settings, format, file) {
        await client.command({
          query: `${query} INTO OUTFILE ${stringLiteral(file)} TRUNCATE FORMAT ${format} ${settingsClause(settings)}`,
        });
      },
      // The connection runs one query at a time (measured: a SELECT 1 waited 24 s behind a long
      // scan), so a kill sent through it would wait for the query it is meant to stop.
      async kill(statement) {
        const session = new Session(path);
        try {
          await session.queryAsync(statement, { format: "CSV" });
        } finally {
          session.close();
        }
      },
      // On a session of its own too: it takes 45-70 ms, which the next query should not wait behind.
      async releaseMemory() {
        const session = new Session(path);
        try {
          await session.queryAsync("SYSTEM JEMALLOC PURGE", { format: "CSV" });
        } finally {
          session.close();
        }
      },
      close() {
        besideSession?.close();
      },
    },
  };
}

/**
 * chDB, loaded only when the embedded engine is used: the replica image leaves its ~540 MB out
 * for servers whose offline store is a ClickHouse server.
 */
async function loadChdb(): Promise<{
  Session: typeof import("chdb").Session;
  createChdbConnection: typeof import("chdb/connection").createChdbConnection;
}> {
  try {
    const [{ Session }, { createChdbConnection }] = await Promise.all([import("chdb"), import("chdb/connection")]);
    return { Session, createChdbConnection };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    throw new ConfigError(
      'offline.backend is "chdb" (the embedded ClickHouse engine), but the chdb package is not installed in this build; ' +
        'use the full image, install chdb, or set offline.backend to "clickhouse" with a server',
    );
  }
}

function serverEngine(location: Extract<ClickHouseLocation, { kind: "server" }>): {
  client: ClickHouseClient;
  engine: Engine;
  description: string;
} {
  const client = createClient({ url: location.url, username: location.username, password: location.password });
  const exec = (query: string, settings: Settings, signal?: AbortSignal) =>
    client.exec({ query, clickhouse_settings: settings as ClickHouseSettings, abort_signal: signal });
  return {
    client,
    // Without credentials a URL may carry: the description reaches clients in errors.
    description: `ClickHouse at ${location.url.replace(/\/\/[^/@]*@/, "//")}`,
    engine: {
      insertText: async ({ database, table, columns, body, settings }) => {
        const result = await client.exec({
          query: `INSERT INTO ${quote(database)}.${quote(table)} (${columns.map(quote).join(", ")}) FORMAT JSONCompactEachRow`,
          values: Readable.from([body]),
          clickhouse_settings: settings as ClickHouseSettings,
        });
        result.stream.destroy();
      },
      insertArrow: async ({ database, table, columns, ipc, settings }) => {
        const result = await client.exec({
          query: `INSERT INTO ${quote(database)}.${quote(table)} (${columns.map(quote).join(", ")}) FORMAT ArrowStream`,
          values: Readable.from([Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength)]),
          clickhouse_settings: settings as ClickHouseSettings,
        });
        result.stream.destroy();
      },
      async *streamArrow(query, settings, signal) {
        // The server sends one Arrow stream; each of its record batches becomes a stream of its own.
        const { stream } = await exec(`${query} FORMAT ArrowStream`, settings, signal);
        for await (const batch of await RecordBatchReader.from(stream as AsyncIterable<Uint8Array>)) {
          yield { ipc: tableToIPC(new Table(batch), "stream"), rows: batch.numRows };
        }
      },
      async writeToFile(query, settings, format, file) {
        const { stream } = await exec(`${query} FORMAT ${format}`, settings);
        await pipeline(stream, createWriteStream(file));
      },
      kill: async (statement) => {
        await client.command({ query: statement });
      },
      // Every request is a connection of the pool: inserts run beside other queries anyway.
      close: () => undefined,
    },
  };
}

/** A SETTINGS clause. */
function settingsClause(settings: Settings): string {
  const entries = Object.entries(settings);
  return entries.length === 0
    ? ""
    : `SETTINGS ${entries.map(([key, value]) => `${key} = ${typeof value === "number" ? value : stringLiteral(value)}`).join(", ")}`;
}

/** {@link OfflineStore} on ClickHouse. */
export class ClickHouseOfflineStore implements OfflineStore {
  private readonly ensured = new Set<string>();
  private closed = false;
  /** Stops the background work (sorted copies being written) when the store closes. */
  private readonly closing = new AbortController();
  /** Sorted copies waiting to be written, by table, and the writes in order. */
  private readonly copiesQueued = new Set<string>();
  private copyWrites: Promise<void> = Promise.resolve();
  /** Joins needing the engine running now, what waits for there to be none, and the copy write that stops when one starts. */
  private engineJoins = 0;
  private readonly noEngineJoinWaiters: Array<() => void> = [];
  private copyGivingWay: AbortController | undefined;

  constructor(
    readonly backend: string,
    private readonly client: ClickHouseClient,
    private readonly engine: Engine,
    /** Names the store in errors and logs (never a path: errors reach clients). */
    readonly description: string,
    private readonly cluster?: string,
    /** Paths that error messages must not show (the data directory), besides absolute ones. */
    private readonly hiddenPaths: readonly string[] = [],
    joinLimits: JoinLimits = {},
    /** Sorted copies of histories for the streamed join, when kept, and where their writes are logged. */
    private readonly sorted?: { copies: SortedHistoryCopies; logger?: Pick<Logger, "info" | "warn"> },
  ) {
    this.hashJoinMaxRows = joinLimits.hashJoinMaxRows ?? DEFAULT_JOIN_LIMITS.hashJoinMaxRows;
    this.memoryJoinMaxSpineRows = joinLimits.memoryJoinMaxSpineRows ?? DEFAULT_JOIN_LIMITS.memoryJoinMaxSpineRows;
    this.streamedJoinMaxSpineRows = joinLimits.streamedJoinMaxSpineRows ?? DEFAULT_JOIN_LIMITS.streamedJoinMaxSpineRows;
    this.heldSpineBudget = { maxBytes: joinLimits.heldSpineMaxBytes ?? DEFAULT_JOIN_LIMITS.heldSpineMaxBytes, bytes: 0 };
    const heldRows = joinLimits.memoryJoinMaxRows ?? DEFAULT_JOIN_LIMITS.memoryJoinMaxRows;
    // A cluster's history is spread over its nodes' parts, which one node's system.parts does not version.
    this.heldHistories = heldRows > 0 && !cluster ? new HeldHistoryCache(heldRows) : undefined;
  }

  /**
   * Point-in-time joins run so far, by where: by the server itself (held, or streamed through it),
   * or by the engine as a hash or sort-merge join.
   */
  readonly joinsByStrategy = { server: 0, streamed: 0, hash: 0, sortMerge: 0 };
  /** Spines stored in the engine, a table each: not an inline spine held until a join that needs no engine. */
  spineTablesMade = 0;
  /** Times a table's history was read whole to be held. */
  historyReads = 0;
  /** Times only the rows written since a held history were read, to bring it up to date. */
  historyDeltaReads = 0;
  /** Times the embedded engine was asked to hand back the memory of a sort-merge join ({@link releaseEngineMemory}). */
  engineMemoryReleases = 0;
  private engineCapabilities?: Promise<EngineCapabilities>;
  /** The engine's memory release under way ({@link releaseEngineMemory}), and whether another was asked for meanwhile. */
  private memoryRelease?: Promise<void>;
  private memoryReleaseAgain = false;
  private readonly hashJoinMaxRows: number;
  private readonly streamedJoinMaxSpineRows: number;
  private readonly memoryJoinMaxSpineRows: number;
  /** The memory held spines may take together (`heldSpineMaxBytes`), and take now. */
  private readonly heldSpineBudget: HeldSpineBudget;
  /** Undefined when joins never run without the engine. */
  private readonly heldHistories: HeldHistoryCache | undefined;
  /** Inline spines not stored in the engine (yet): held until their join, which may not need the engine. */
  private readonly heldSpines = new Map<string, HeldSpine>();
  /** By held spine: the held histories of the tables its creator said it would be joined with, being read. */
  private readonly preparedHistories = new Map<string, { tables: string; histories: Promise<HeldHistory[] | undefined> }>();

  heldSpineBytes(): number {
    return this.heldSpineBudget.bytes;
  }

  /** Fails with UNAVAILABLE when the store does not answer. */
  async ping(): Promise<void> {
    await this.run(() => this.client.query({ query: "SELECT 1", format: "JSONEachRow" }).then((r) => r.json()));
  }

  /**
   * What this engine offers beyond the oldest ClickHouse the store works with, asked once: an older
   * server gets tables without block numbers (its held histories are read whole) and queries
   * without the settings it would refuse.
   */
  private capabilities(): Promise<EngineCapabilities> {
    this.engineCapabilities ??= this.run(async () => {
      const result = await this.client.query({
        query:
          "SELECT (SELECT count() FROM system.merge_tree_settings WHERE name = 'enable_block_number_column') AS blocks, " +
          "(SELECT count() FROM system.settings WHERE name = 'read_in_order_use_buffering') AS buffering",
        format: "JSONEachRow",
      });
      const [row] = await result.json<{ blocks: string; buffering: string }>();
      return { numbersBlocks: Number(row?.blocks ?? 0) > 0, readsInOrderUnbuffered: Number(row?.buffering ?? 0) > 0 };
    }).catch(() => {
      // Asked again next time: an engine that did not answer now may have them.
      this.engineCapabilities = undefined;
      return { numbersBlocks: false, readsInOrderUnbuffered: false };
    });
    return this.engineCapabilities;
  }

  /** `base` with the settings of {@link READS_IN_ORDER_UNBUFFERED} where the engine has them. */
  private async withEngineSettings(base: Settings): Promise<Settings> {
    return (await this.capabilities()).readsInOrderUnbuffered ? { ...base, ...READS_IN_ORDER_UNBUFFERED } : base;
  }

  /** The columns of a table, or undefined when it does not exist. */
  private async columnsOf(table: OfflineTable): Promise<Set<string> | undefined> {
    const { database, name } = tableNameParts(table, false);
    const columns = await this.run(async () =>
      (
        await this.client.query({
          query: "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String}",
          query_params: { database, table: name },
          format: "JSONEachRow",
        })
      ).json<{ name: string }>(),
    );
    return columns.length > 0 ? new Set(columns.map((c) => c.name)) : undefined;
  }

  async ensureTable(table: OfflineTable): Promise<void> {
    // Compatible versions share a table and may add columns, so the column set is part of the key.
    const key = `${qualifiedTableName(table)}(${table.featureColumns.map((c) => c.name).join(",")})`;
    if (this.ensured.has(key)) return;
    const blockNumbers = this.cluster === undefined && (await this.capabilities()).numbersBlocks;
    // A cluster's nodes may differ: there every column is added where missing, as before.
    const existing = this.cluster === undefined ? await this.columnsOf(table) : undefined;
    for (const statement of createTableStatements(table, this.cluster, blockNumbers, existing)) {
      await this.run(() => this.client.command({ query: statement }));
    }
    this.ensured.add(key);
  }

  async append(table: OfflineTable, rows: HistoryColumns, deduplicationToken: string): Promise<void> {
    if (rows.length === 0) return;
    const { database, name } = tableNameParts(table, this.cluster !== undefined);
    const { columns, ipc } = historyBatch(table, rows);
    await this.run(() =>
      this.engine.insertArrow({
        database,
        table: name,
        columns,
        ipc,
        settings: {
          insert_deduplication_token: deduplicationToken,
          insert_deduplicate: 1,
          // On a cluster, acknowledge only once the shards have the rows (and deduplicate there).
          ...(this.cluster ? { insert_distributed_sync: 1 } : {}),
        },
      }),
    );
  }

  async latestPerEntity(
    table: OfflineTable,
    range: EventTimeRange,
    afterKey: FeatureValue[] | undefined,
    limit: number,
  ): Promise<OfflineRow[]> {
    const keys = table.keyColumns.map((c) => quote(c.name));
    const conditions: string[] = [];
    const params: Record<string, unknown> = { limit };
    if (range.start !== undefined) {
      conditions.push("event_time >= {start:DateTime64(6, 'UTC')}");
      params.start = formatMicros(range.start);
    }
    if (range.end !== undefined) {
      conditions.push("event_time < {end:DateTime64(6, 'UTC')}");
      params.end = formatMicros(range.end);
    }
    if (afterKey) {
      // Keyset pagination on the sorting key prefix, so each chunk reads only its own key range.
      const placeholders = table.keyColumns.map((c, i) => {
        params[`k${i}`] = toJsonValue(c.type, afterKey[i] ?? null);
        return `{k${i}:${COLUMN_TYPES[c.type]}}`;
      });
      conditions.push(`(${keys.join(", ")}) > (${placeholders.join(", ")})`);
    }
    // argMax skips NULLs, so take the whole latest row as one tuple and unpack it: a feature
    // written as null in the newest row must stay null, not fall back to an older value.
    const carried = [...table.featureColumns.map((c) => quote(c.name)), "write_id", "event_time", "ingestion_time"];
    const latest = `argMax(tuple(${carried.join(", ")}), (event_time, ingestion_time))`;
    const select = [...keys, ...carried.map((column, i) => `${latest}.${i + 1} AS ${column}`)].join(", ");
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    return this.select(
      table,
      `SELECT ${select} FROM ${qualifiedTableName(table, this.cluster !== undefined)} ${where} GROUP BY ${keys.join(", ")} ORDER BY ${keys.join(", ")} LIMIT {limit:UInt32}`,
      params,
    );
  }

  async readAll(table: OfflineTable): Promise<OfflineRow[]> {
    const columns = [...table.keyColumns, ...table.featureColumns];
    const select = [...columns.map((c) => quote(c.name)), "event_time", "ingestion_time", "write_id"].join(", ");
    const order = [...table.keyColumns.map((c) => quote(c.name)), "event_time", "ingestion_time"].join(", ");
    return this.select(table, `SELECT ${select} FROM ${qualifiedTableName(table, this.cluster !== undefined)} ORDER BY ${order}`, {});
  }

  async eventSources(table: OfflineTable): Promise<EventSourceProgress[]> {
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query:
          "SELECT source, count() AS events, countIf(too_late = 1) AS late, toString(max(event_time)) AS max_time, max(position) AS last " +
          `FROM ${qualifiedTableName(table, this.cluster !== undefined)} GROUP BY source ORDER BY source`,
        format: "JSONEachRow",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      return result.json<{ source: string; events: string; late: string; max_time: string; last: string }>();
    });
    return rows.map((row) => ({
      source: row.source,
      eventCount: Number(row.events),
      tooLateCount: Number(row.late),
      maxEventTime: parseMicros(row.max_time),
      lastPosition: Number(row.last),
    }));
  }

  async readEvents(table: OfflineTable, query: StoredEventQuery): Promise<StoredEvent[]> {
    const conditions: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit };
    if (query.source !== undefined) {
      conditions.push("source = {source:String}");
      params.source = query.source;
    }
    if (query.fromPosition !== undefined) {
      conditions.push("position >= {from:Int64}");
      params.from = query.fromPosition;
    }
    if (query.ingestedUntil !== undefined) {
      conditions.push("ingestion_time <= {until:DateTime64(6, 'UTC')}");
      params.until = formatMicros(query.ingestedUntil);
    }
    if (query.after) {
      conditions.push("(ingestion_time, source, position) > ({ai:DateTime64(6, 'UTC')}, {as:String}, {ap:Int64})");
      Object.assign(params, { ai: formatMicros(query.after.ingestTime), as: query.after.source, ap: query.after.position });
    }
    const columns = [...table.keyColumns, ...table.featureColumns].map((c) => quote(c.name));
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query:
          `SELECT ${[...columns, "event_time", "ingestion_time", "write_id", "source", "position", "too_late"].join(", ")} ` +
          `FROM ${qualifiedTableName(table, this.cluster !== undefined)} ${where} ` +
          "ORDER BY ingestion_time, source, position LIMIT {limit:UInt32}",
        query_params: params,
        format: "JSONEachRow",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      return result.json<Record<string, unknown>>();
    });
    return rows.map((row) => ({
      ...rowOf(table, row),
      source: String(row.source),
      position: Number(row.position),
      tooLate: Number(row.too_late) === 1,
    }));
  }

  /** Runs a query whose columns are the table's keys, features, event_time, ingestion_time and write_id. */
  private async select(table: OfflineTable, query: string, params: Record<string, unknown>): Promise<OfflineRow[]> {
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query,
        query_params: params,
        format: "JSONEachRow",
        clickhouse_settings: {
          // Int64 as JSON strings: JSON numbers would lose precision above 2^53.
          output_format_json_quote_64bit_integers: 1,
          // Aggregates are aliased to their column's name; expressions must still see the columns.
          prefer_column_name_to_alias: 1,
        },
      });
      return result.json<Record<string, unknown>>();
    });
    return rows.map((row) => rowOf(table, row));
  }

  async createSpine(
    project: string,
    keyColumns: OfflineColumn[],
    extraColumns: OfflineColumn[],
    joinedWith?: SpineJoinPreview,
  ): Promise<Spine> {
    const spine: Spine = { id: randomUUID().replaceAll("-", ""), project, keyColumns, extraColumns: [...extraColumns] };
    // The preview's tables' versions, read once for both uses below; undefined when unread or failed.
    const versions =
      joinedWith && joinsWithoutEngine(joinedWith) && (this.heldHistories || this.sorted)
        ? this.tableVersions(tableNamesOf(joinedWith.tables), { limits: joinedWith.limits }).catch(() => undefined)
        : Promise.resolve(undefined);
    const rowsToHold = await this.spineRowsToHold(joinedWith, versions);
    if (rowsToHold > 0) {
      this.heldSpines.set(spine.id, new HeldSpine(rowsToHold, this.heldSpineBudget));
      // The held histories (a history not held yet is read) are made ready while the spine arrives:
      // the check before every join was 10-80 ms of a 0.2 s retrieval. A failure here only means the
      // join reads them itself, and reports what fails then.
      if (joinedWith && joinsWithoutEngine(joinedWith)) {
        const run: QueryRun = { limits: joinedWith.limits };
        const histories = versions.then((known) => this.heldHistoriesOf(joinedWith.tables, run, known)).catch(() => undefined);
        this.preparedHistories.set(spine.id, { tables: tablesSignature(joinedWith.tables), histories });
      }
    } else await this.createSpineTable(spine);
    return spine;
  }

  /**
   * The most rows of a new spine held in the server's memory until its join: up to
   * `memoryJoinMaxSpineRows` for a join with held histories; up to `streamedJoinMaxSpineRows`
   * when the preview's join may be streamed and every table of it has a sorted copy at its version
   * now, so that the join needs no engine but for the tables' versions (storing a 1M-row spine in
   * the engine took 0.35 s of inserts, and reading it back sorted 0.19 s). Without the copies the
   * spine is stored as it arrives, as before: held, it would be stored at the join, after the rows
   * came instead of while they come. A spine that grows beyond, or whose join needs the engine after
   * all, is stored then; so is one that would take the held spines together beyond
   * `heldSpineMaxBytes`.
   */
  private async spineRowsToHold(
    joinedWith: SpineJoinPreview | undefined,
    versions: Promise<Map<string, TableVersion> | undefined>,
  ): Promise<number> {
    if (this.heldSpineBudget.maxBytes <= 0) return 0;
    const forMemoryJoin = this.heldHistories ? this.memoryJoinMaxSpineRows : 0;
    const streamable = this.streamedJoinMaxSpineRows > forMemoryJoin && joinedWith !== undefined && mayStream(joinedWith);
    const forStreamedJoin = streamable && this.copiesCover(joinedWith.tables, await versions) ? this.streamedJoinMaxSpineRows : 0;
    return Math.max(forMemoryJoin, forStreamedJoin);
  }

  /** Whether every one of `tables` has a sorted copy at its version in `versions`; false when they are unknown. */
  private copiesCover(tables: readonly OfflineTable[], versions: Map<string, TableVersion> | undefined): boolean {
    const copies = this.sorted?.copies;
    if (!copies || !versions) return false;
    return tableNamesOf(tables).every(({ database, name }) => {
      const version = versions.get(`${database}.${name}`);
      return version !== undefined && copies.has(`${database}.${name}`, version.version);
    });
  }

  private async createSpineTable(spine: Spine): Promise<void> {
    this.spineTablesMade++;
    for (const statement of createSpineStatements(spine)) await this.run(() => this.client.command({ query: statement }));
  }

  /** Stores a held spine's rows in the engine, for whatever needs its table; nothing for a stored spine. */
  private async storeHeldSpine(spine: Spine): Promise<void> {
    const held = this.heldSpines.get(spine.id);
    if (!held) return;
    this.heldSpines.delete(spine.id);
    this.preparedHistories.delete(spine.id);
    try {
      await this.createSpineTable(spine);
      for (const { rows, firstIndex } of held.columns(spine)) await this.appendSpine(spine, rows, firstIndex);
    } finally {
      held.release();
    }
  }

  async addSpineColumns(spine: Spine, extraColumns: OfflineColumn[]): Promise<void> {
    if (extraColumns.length === 0) return;
    if (this.heldSpines.has(spine.id)) {
      spine.extraColumns.push(...extraColumns);
      return;
    }
    const additions = extraColumns.map((c) => `ADD COLUMN ${extraColumnDefinition(c)}`).join(", ");
    await this.run(() => this.client.command({ query: `ALTER TABLE ${spineTableName(spine)} ${additions}` }));
    spine.extraColumns.push(...extraColumns);
  }

  async appendSpine(spine: Spine, rows: SpineColumns, firstIndex: number): Promise<void> {
    if (rows.length === 0) return;
    if (this.heldSpines.get(spine.id)?.add(rows, firstIndex, spine.extraColumns.length)) return;
    await this.storeHeldSpine(spine);
    const columns = [
      int64Vector(Float64Array.from({ length: rows.length }, (_, row) => firstIndex + row)),
      ...spine.keyColumns.map((c, i) => valuesVector(c.type, rows.keys[i] ?? [])),
      microsVector(rows.eventTimes),
      ...spine.extraColumns.map((c, i) => valuesVector(c.type, rows.extras[i] ?? [])),
    ];
    const names = spineInsertColumns(spine);
    const fields = columns.map((column, i) => new Field(names[i] as string, column.type, true));
    await this.run(() =>
      this.engine.insertArrow({
        database: SPINE_DATABASE,
        table: `spine_${spine.id}`,
        columns: names,
        ipc: recordBatchIpc(fields, columns, rows.length),
        settings: {},
      }),
    );
  }

  async loadSpine(
    project: string,
    source: OfflineSpineSource,
    keyColumns: OfflineColumn[],
    signal?: AbortSignal,
    limits?: QueryLimits,
  ): Promise<Spine> {
    const run: QueryRun = { signal, limits };
    if (source.kind === "entities") return this.loadEntitySpine(project, source, keyColumns, run);
    const { database } = tableNameParts({ project, view: "", version: 0 }, false);
    const field = source.kind === "table" ? "query.offline_spine.table" : "query.offline_spine.sql";
    // The client's SQL runs only as the canonical text whose parse passed the check.
    const select =
      source.kind === "table"
        ? `SELECT * FROM ${clientTableName(source.table, database)}`
        : await confineSpineSql(this.spineSqlEngine(run, field), source.sql, project, database, field);
    const described = await this.describe(select, field, run);
    const v = new ViolationCollector();
    const typeOf = new Map(described.map((c) => [c.name, c.type]));
    const expressions: string[] = [];
    for (const key of keyColumns) {
      const type = typeOf.get(key.name);
      if (!type) v.add(field, `has no column "${key.name}", a join key of the requested views`);
      else if (!keyAccepts(key.type, type)) v.add(field, `column "${key.name}" is ${type}; the join key needs ${key.type}`);
      else expressions.push(spineColumnExpression(key.name, type, key.type));
    }
    const timeType = typeOf.get("event_time");
    if (!timeType) v.add(field, 'has no column "event_time"');
    else if (valueTypeOfColumn(timeType) !== "timestamp") v.add(field, `column "event_time" is ${timeType}; it must be a date or time`);
    else expressions.push(spineColumnExpression("event_time", timeType, "timestamp"));
    const extraColumns: OfflineColumn[] = [];
    for (const { name, type } of described) {
      if (name === "event_time" || keyColumns.some((k) => k.name === name)) continue;
      const valueType = valueTypeOfColumn(type);
      if (name === "spine_index") v.add(field, 'column "spine_index" is reserved for the spine position; rename it');
      else if (!valueType) v.add(field, `column "${name}" has type ${type}, which Sluice cannot pass through; cast it in the query`);
      else {
        extraColumns.push({ name, type: valueType });
        expressions.push(spineColumnExpression(name, type, valueType));
      }
    }
    v.throwIfAny("INVALID_SPINE");
    const required = [...keyColumns.map((k) => k.name), "event_time"].filter((name) => isNullableColumn(typeOf.get(name) ?? ""));
    if (required.length > 0) {
      const nulls = await this.count(
        `SELECT count() AS n FROM (${select}) WHERE ${required.map((c) => `isNull(${quote(c)})`).join(" OR ")}`,
        run,
        field,
        true,
      );
      if (nulls > 0)
        throw new ValidationError("INVALID_SPINE", [{ field, description: `${nulls} rows have a null join key or event_time` }]);
    }
    const spine: Spine = { id: randomUUID().replaceAll("-", ""), project, keyColumns, extraColumns };
    await this.createSpineTable(spine);
    // One thread keeps the source's row order, which the spine index records.
    await this.insertIntoSpine(spine, `SELECT rowNumberInAllBlocks(), ${expressions.join(", ")} FROM (${select})`, run, field);
    return spine;
  }

  async summarizeSpine(spine: Spine, signal?: AbortSignal, limits?: QueryLimits): Promise<SpineSummary> {
    await this.storeHeldSpine(spine);
    const columns = [...spine.keyColumns.map((c) => quote(c.name)), "event_time", ...spine.extraColumns.map((c) => quote(c.name))];
    const rowHash = `SHA256(formatRow('JSONCompactEachRow', ${columns.join(", ")}))`;
    const rows = await this.controlled({ signal, limits }, undefined, async (settings) => {
      const result = await this.client.query({
        query:
          `SELECT count() AS rows, toUnixTimestamp64Micro(min(event_time)) AS min_time, toUnixTimestamp64Micro(max(event_time)) AS max_time, ` +
          `lower(hex(SHA256(arrayStringConcat(arraySort((hash, index) -> index, groupArray(${rowHash}), groupArray(spine_index)))))) AS sha256 ` +
          `FROM ${spineTableName(spine)} ${settingsClause({ output_format_json_quote_64bit_integers: 1, ...settings })}`,
        format: "JSONEachRow",
      });
      return result.json<{ rows: string; min_time: string; max_time: string; sha256: string }>();
    });
    const [summary] = rows;
    const rowCount = Number(summary?.rows ?? 0);
    return {
      rowCount,
      sha256: summary?.sha256 ?? "",
      ...(rowCount > 0 ? { minEventTime: Number(summary?.min_time), maxEventTime: Number(summary?.max_time) } : {}),
    };
  }

  async dropSpine(spine: Spine): Promise<void> {
    this.preparedHistories.delete(spine.id);
    const held = this.heldSpines.get(spine.id);
    if (held) {
      this.heldSpines.delete(spine.id);
      held.release();
      return;
    }
    await this.run(() => this.client.command({ query: `DROP TABLE IF EXISTS ${spineTableName(spine)}` }));
  }

  async *joinPointInTime(join: PointInTimeJoin, signal?: AbortSignal, limits?: QueryLimits): ArrowChunks {
    const held = this.heldSpines.get(join.spine.id);
    if (held) {
      const fitsMemoryJoin = held.length <= this.memoryJoinMaxSpineRows && joinsWithoutEngine(join);
      const histories = fitsMemoryJoin ? await this.heldHistoriesFor(join, { limits }) : undefined;
      if (histories) {
        this.joinsByStrategy.server++;
        yield* joinHeld(join, held, histories, () => signal?.aborted === true);
        return;
      }
    }
    // A sorted copy being written gives way to a join that needs the engine or merges histories too
    // large to hold (one in the server's memory, above, does not): it starts over once none runs.
    this.engineJoins++;
    this.copyGivingWay?.abort();
    try {
      let inMemory: boolean | undefined;
      if (held) {
        const run: QueryRun = { signal, limits };
        inMemory = await this.joinsInMemory(join, run);
        const streamed = inMemory ? undefined : await this.streamedJoin(join, run, held);
        if (streamed) {
          this.joinsByStrategy.streamed++;
          yield* streamed;
          return;
        }
        // A join cancelled meanwhile is not worth storing its spine for.
        if (signal?.aborted) throw new QueryCancelledError(signal.reason);
        await this.storeHeldSpine(join.spine);
      }
      yield* this.joinInEngine(join, signal, limits, inMemory);
    } finally {
      this.engineJoins--;
      if (this.engineJoins === 0) for (const resolve of this.noEngineJoinWaiters.splice(0)) resolve();
    }
  }

  /** Settles when no join that needs the engine is running (at once when the store is closed). */
  private whenNoEngineJoins(): Promise<void> {
    return this.engineJoins === 0 || this.closed ? Promise.resolve() : new Promise((resolve) => this.noEngineJoinWaiters.push(resolve));
  }

  /**
   * A join through the engine: streamed through the server when it can be, else the engine's hash or
   * sort-merge join. `knownInMemory`: whether its histories fit a hash join, when already counted.
   */
  private async *joinInEngine(join: PointInTimeJoin, signal?: AbortSignal, limits?: QueryLimits, knownInMemory?: boolean): ArrowChunks {
    const inMemory = knownInMemory ?? (await this.joinsInMemory(join, { signal, limits }));
    const streamed = inMemory ? undefined : await this.streamedJoin(join, { signal, limits });
    if (streamed) {
      this.joinsByStrategy.streamed++;
      yield* streamed;
      return;
    }
    this.joinsByStrategy[inMemory ? "hash" : "sortMerge"]++;
    // A sort-merge join sorts each history it reads: the rows no spine row could take stay out of it
    // (not for exclude_late_ingested, whose history is the rows known over time).
    const bounds = inMemory || join.excludeLateIngested ? undefined : this.spineBounds(join, { signal, limits });
    try {
      await bounds?.made;
      yield* this.streamArrow(
        joinQuery(
          join,
          (view) => this.historyTable(join, view),
          (window) => this.eventsTable(join, window),
          inMemory,
          (view) => bounds?.tableOf(view),
        ),
        { signal, limits },
        joinSettings(join, inMemory),
      );
    } finally {
      await bounds?.drop();
      if (!inMemory) this.releaseEngineMemory();
    }
  }

  /**
   * The join streamed through the server (streamed-join.ts) instead of sort-merged by the engine,
   * when it can be and its spine has at most `streamedJoinMaxSpineRows` rows. Every view is read and
   * merged before this returns, so that undefined, for a join found unfit at any point, leaves it to
   * the engine with nothing written yet; the result then streams out with the spine's own columns.
   * A `held` spine is joined only when every view's history comes from its sorted copy (no engine
   * query but the tables' versions), sorted here, and written in spine order whatever the join asks.
   */
  private async streamedJoin(join: PointInTimeJoin, run: QueryRun, held?: HeldSpine): Promise<AsyncIterable<ArrowChunk> | undefined> {
    const keys = this.streamedJoinMaxSpineRows > 0 ? streamedJoinKeys(join) : undefined;
    if (!keys) return undefined;
    const spineRows = held ? held.length : await this.count(`SELECT count() AS n FROM ${spineTableName(join.spine)}`, run);
    if (spineRows === 0 || spineRows > this.streamedJoinMaxSpineRows) return undefined;
    // A join in any order keyed one way is written in the order it is merged in: no spine order to
    // restore. A held spine is written in its own order, which it has at hand.
    const inMergeOrder = !held && !join.spineOrder && new Set(keys).size === 1;
    const sources = await this.historySources(join, keys, run);
    // A held spine is joined here only when no view needs the engine: else it is stored first.
    if (held && sources.some((source) => source.kind === "engine")) {
      releaseCopyReads(sources);
      return undefined;
    }
    // Made while the spine is read sorted, for the views read from the engine alone.
    const bounds = this.spineBounds(
      join,
      run,
      sources.map((source) => source.kind === "engine"),
    );
    // A view found unfit, or failing, stops the other views' reads at once (their queries are killed).
    const stop = new AbortController();
    const viewRun: QueryRun = { ...run, signal: run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal };
    const stopped = () => viewRun.signal?.aborted === true;
    try {
      const spines = new Map<string, SortedSpine>();
      for (const key of new Set(keys)) {
        const spine = held ? SortedSpine.ofHeld(held, join.spine, key) : await this.readSortedSpine(join, key, inMergeOrder, run);
        if (!spine) return undefined;
        spines.set(key, spine);
      }
      await bounds.made;
      const mergeOne = async (v: number) => {
        const { table, ttlMicros } = join.views[v] as PointInTimeJoin["views"][number];
        const key = keys[v] as string;
        const features = viewFeatureColumns(join, v);
        const types = features.map((name) => table.featureColumns.find((c) => c.name === name)?.type as ValueType);
        const source = sources[v] as HistorySource;
        try {
          const view = await mergeView(
            spines.get(key) as SortedSpine,
            this.historyOf(join, v, key, source, bounds.tableOf(v), viewRun),
            key,
            features,
            types,
            ttlMicros,
            stopped,
          );
          if (!view) stop.abort();
          return view;
        } catch (error) {
          stop.abort();
          // The copy is dropped; the join runs in the engine instead, nothing written yet.
          if (error instanceof DamagedCopyError) {
            this.sorted?.logger?.warn(
              { err: error, table: qualifiedTableName(table) },
              "sorted copy damaged, dropped; joining in the engine",
            );
            return undefined;
          }
          throw error;
        }
      };
      const merged: Array<Map<string, MergedColumn>> = [];
      for (let from = 0; from < join.views.length; from += STREAMED_VIEWS_AT_ONCE) {
        const views = join.views.slice(from, from + STREAMED_VIEWS_AT_ONCE);
        const settled = await Promise.allSettled(views.map((_, i) => mergeOne(from + i)));
        const failed = settled.find((view) => view.status === "rejected");
        if (failed) throw failed.reason;
        for (const view of settled) {
          // Unfit, or aborted (the engine's path then ends at once too).
          if (view.status !== "fulfilled" || !view.value) return undefined;
          merged.push(view.value);
        }
      }
      const aborted = () => run.signal?.aborted === true;
      const spineColumns = held
        ? heldSpineOutput(join, held)
        : inMergeOrder
          ? spineOutputOfBatches(spines.get(keys[0] as string)?.batches ?? [])
          : spineOutputOfChunks(this.streamArrow(spineColumnsQuery(join), run, STREAMED_READ_SETTINGS));
      const copies = sources.flatMap((source) => (source.kind === "engine" && source.copy ? [source.copy] : []));
      return this.thenCopied(streamedJoinChunks(join, spineColumns, merged, aborted), copies);
    } finally {
      // Every view's read has ended here (settled).
      await bounds.drop();
      releaseCopyReads(sources);
    }
  }

  /** The spine read sorted by `key` and time from its table in the engine ({@link SortedSpine.of}). */
  private async readSortedSpine(
    join: PointInTimeJoin,
    key: string,
    inMergeOrder: boolean,
    run: QueryRun,
  ): Promise<SortedSpine | undefined> {
    const streams: Uint8Array[] = [];
    for await (const chunk of this.streamArrow(sortedSpineQuery(join, key, inMergeOrder), run, STREAMED_READ_SETTINGS))
      streams.push(chunk.ipc);
    return SortedSpine.of(streams, key, inMergeOrder);
  }

  /** Settles once the sorted copies queued so far are written (or given up): for tests and tools that wait for them. */
  async copiesWritten(): Promise<void> {
    await this.copyWrites;
  }

  /** Copies of histories read by joins, and written, since the store opened (zeros without copies). */
  get sortedCopyCounts(): { reads: number; writes: number } {
    return { ...(this.sorted?.copies.counts ?? { reads: 0, writes: 0 }) };
  }

  /** `chunks`, and once the last is taken, `copies` written in the background. */
  private async *thenCopied(chunks: AsyncIterable<ArrowChunk>, copies: readonly CopyToWrite[]): AsyncGenerator<ArrowChunk> {
    yield* chunks;
    for (const copy of copies) this.writeCopyLater(copy);
  }

  /**
   * Queues a sorted copy's write: one at a time, when no join needing the engine is running (one
   * that starts meanwhile stops it, and it starts over once none runs, so that background work
   * never takes the engine, the cores or memory from a join; joins in the server's memory, which
   * may come every few milliseconds, do not count). It is written only if the table is still
   * at the copy's version when it starts and when its read ends (a table written all the time gets
   * no copy), and dropped when the store closes first.
   */
  private writeCopyLater(copy: CopyToWrite): void {
    const sorted = this.sorted;
    const name = qualifiedTableName(copy.table);
    if (!sorted || this.closed || this.copiesQueued.has(name)) return;
    this.copiesQueued.add(name);
    this.copyWrites = this.copyWrites.then(async () => {
      try {
        await this.writeCopy(sorted.copies, copy, sorted.logger);
      } catch (error) {
        if (!this.closed) sorted.logger?.warn({ err: error, table: name }, "sorted copy not written");
      } finally {
        this.copiesQueued.delete(name);
      }
    });
  }

  /** Writes one sorted copy (see {@link writeCopyLater}), logging what it holds and how long it took. */
  private async writeCopy(copies: SortedHistoryCopies, copy: CopyToWrite, logger?: Pick<Logger, "info" | "warn">): Promise<void> {
    const { table, key, version } = copy;
    const name = tableNameParts(table, false);
    const qualified = `${name.database}.${name.name}`;
    const run: QueryRun = { signal: this.closing.signal };
    const current = async () => (await this.tableVersions([name], run)).get(qualified)?.version === version;
    const columns = [key, HELD_TIME_COLUMN, ...mergeableFeatureColumns(table)];
    const query = streamedHistoryQuery(qualifiedTableName(table), key, columns.slice(2));
    for (;;) {
      await this.whenNoEngineJoins();
      if (this.closed) return;
      const isCurrent = await current();
      // Closed, or a join began, while the version was read.
      if (this.closed || !isCurrent) return;
      if (this.engineJoins > 0) continue;
      // Eight bytes a value, a validity bit per nullable one.
      const writer = await copies.write(qualified, version, columns, copy.rows * (8 * columns.length + columns.length / 8));
      if (!writer) return;
      const givingWay = new AbortController();
      this.copyGivingWay = givingWay;
      const started = performance.now();
      try {
        const read: QueryRun = { signal: AbortSignal.any([this.closing.signal, givingWay.signal]) };
        for await (const chunk of this.streamArrow(query, read, STREAMED_HISTORY_SETTINGS)) {
          // Dropped: it outgrew its room, and the rest of the table need not be read.
          if (!(await writer.add(chunk))) return;
        }
        // A join began: the read stopped, and starts over once none runs.
        if (givingWay.signal.aborted) continue;
        if (this.closed || !(await current())) return;
        const written = await writer.commit();
        if (written)
          logger?.info({ table: qualified, ...written, seconds: Math.round(performance.now() - started) / 1000 }, "sorted copy written");
        return;
      } finally {
        this.copyGivingWay = undefined;
        await writer.discard();
      }
    }
  }

  /**
   * Where each view's history comes from (see {@link HistorySource}): its sorted copy at the
   * table's version, when there is one with the view's features; else the engine, and a copy to
   * write after the join when copies are kept.
   */
  private async historySources(join: PointInTimeJoin, keys: readonly string[], run: QueryRun): Promise<HistorySource[]> {
    const copies = this.sorted?.copies;
    if (!copies) return join.views.map(() => ({ kind: "engine" }));
    const names = tableNamesOf(join.views.map(({ table }) => table));
    const versions = await this.tableVersions(names, run);
    return join.views.map(({ table }, v): HistorySource => {
      const name = names[v] as { database: string; name: string };
      const qualified = `${name.database}.${name.name}`;
      const version = versions.get(qualified);
      const key = keys[v] as string;
      if (!version) return { kind: "engine" };
      const read = copies.read(qualified, version.version, [key, HELD_TIME_COLUMN, ...viewFeatureColumns(join, v)]);
      if (read) return { kind: "copy", read };
      return { kind: "engine", copy: { table, key, version: version.version, rows: version.rows } };
    });
  }

  /** One view's history, merged on `key`, as {@link historySources} chose, read within `run`. */
  private historyOf(
    join: PointInTimeJoin,
    view: number,
    key: string,
    source: HistorySource,
    boundsTable: string | undefined,
    run: QueryRun,
  ): ArrowChunks {
    if (source.kind === "copy") return source.read.chunks;
    const { ttlMicros } = join.views[view] as PointInTimeJoin["views"][number];
    const bounds = boundsTable ? { table: boundsTable, ttlMicros } : undefined;
    const query = streamedHistoryQuery(this.historyTable(join, view), key, viewFeatureColumns(join, view), bounds);
    return this.streamArrow(query, run, STREAMED_HISTORY_SETTINGS);
  }

  /**
   * Tables of the spine's time bounds per entity, one per set of key columns the join's views are
   * keyed by (point-in-time-sql.ts, spineBoundsFilter), so that a history read sends only the rows a
   * spine row could take, for the views `wanted` (all by default); none on a cluster, where a Join
   * table would be one node's. `made` settles
   * once all are made (rejecting with the first failure), `drop` waits for every one to be made or
   * to fail and drops them: a table a failed drop leaves holds memory until the engine restarts (it
   * is not persistent), not an error.
   */
  private spineBounds(join: PointInTimeJoin, run: QueryRun, wanted: readonly boolean[] = join.views.map(() => true)) {
    const keysOf = (view: number) => (join.views[view]?.table.keyColumns ?? []).map((c) => c.name);
    // By the views' key columns: views of one entity share a table.
    const tables = new Map<string, { table: string; keys: string[] }>();
    if (!this.cluster) {
      for (const view of join.views.keys()) {
        if (!wanted[view]) continue;
        const keys = keysOf(view);
        const signature = JSON.stringify(keys);
        if (!tables.has(signature)) tables.set(signature, { table: spineBoundsTableName(join.spine, tables.size), keys });
      }
    }
    const settled = Promise.allSettled(
      [...tables.values()].map(({ table, keys }) =>
        this.controlled(run, undefined, (settings) =>
          this.client.command({ query: `${spineBoundsStatement(join.spine, keys, table)} ${settingsClause(settings)}` }),
        ),
      ),
    );
    const made = settled.then((results) => {
      const failed = results.find((result) => result.status === "rejected");
      if (failed) throw failed.reason;
    });
    // Awaited by the join, or only settled when it stops first.
    made.catch(() => undefined);
    return {
      tableOf: (view: number) => (wanted[view] ? tables.get(JSON.stringify(keysOf(view)))?.table : undefined),
      made,
      drop: async () => {
        await settled;
        for (const { table } of tables.values())
          await this.run(() => this.client.command({ query: `DROP TABLE IF EXISTS ${table} SYNC` })).catch(() => undefined);
      },
    };
  }

  /**
   * Asks the engine to hand back the memory a large join left with its allocator, which keeps freed
   * pages for seconds: a second join right after would otherwise peak that much higher (measured:
   * a 1M-row spine over 3 × 10M rows in spine order, right after the same join unordered, started
   * from 640 MB instead of 405 and peaked at 1,037 MB instead of 986). Not awaited: it runs beside
   * the answer, at most one at a time, and one more after it when asked meanwhile.
   */
  private releaseEngineMemory(): void {
    if (!this.engine.releaseMemory || this.closed) return;
    if (this.memoryRelease) {
      this.memoryReleaseAgain = true;
      return;
    }
    this.engineMemoryReleases++;
    this.memoryRelease = this.engine
      .releaseMemory()
      // Only memory is at stake: a release that failed leaves it to the allocator's own decay.
      .catch(() => undefined)
      .finally(() => {
        this.memoryRelease = undefined;
        if (this.memoryReleaseAgain) {
          this.memoryReleaseAgain = false;
          this.releaseEngineMemory();
        }
      });
  }

  /** The held histories of a join's views: those read since its spine was created when it named the same tables. */
  private heldHistoriesFor(join: PointInTimeJoin, run: QueryRun): Promise<HeldHistory[] | undefined> {
    const tables = join.views.map(({ table }) => table);
    const prepared = this.preparedHistories.get(join.spine.id);
    this.preparedHistories.delete(join.spine.id);
    if (prepared && prepared.tables === tablesSignature(tables)) return prepared.histories;
    return this.heldHistoriesOf(tables, run);
  }

  /**
   * The held histories of these tables, in order, when they hold at most `memoryJoinMaxRows`
   * rows together, each read once per table version ({@link tableVersions}); undefined otherwise.
   */
  private async heldHistoriesOf(
    views: readonly OfflineTable[],
    run: QueryRun,
    known?: Map<string, TableVersion>,
  ): Promise<HeldHistory[] | undefined> {
    const cache = this.heldHistories;
    if (!cache) return undefined;
    const names = tableNamesOf(views);
    // Versions just read for the same tables (as a spine is created) are taken as they are.
    const versions = known ?? (await this.tableVersions(names, run));
    const tables = names.map((name) => versions.get(`${name.database}.${name.name}`));
    if (tables.some((t) => t === undefined)) return undefined;
    if (tables.reduce((sum, t) => sum + (t?.rows ?? 0), 0) > cache.maxRows) return undefined;
    const histories = await Promise.all(
      views.map((table, v) =>
        cache.get(table, qualifiedTableName(table), tables[v] as TableVersion, {
          all: (upTo) => this.readHeldHistory(table, run, upTo === undefined ? undefined : { after: -1, upTo }),
          since: (after, upTo) => this.readHeldHistory(table, run, { after, upTo }),
        }),
      ),
    );
    return histories.every((h) => h !== undefined) ? histories : undefined;
  }

  /**
   * What the named tables hold now, from their metadata, parts and mutations: the table's identity
   * and last schema change, its rows, its newest block (every insert makes one) and its mutations,
   * started and done. Merges change none of these, so a table is not read again because the engine
   * merged its parts. Tables that do not exist are absent.
   */
  private async tableVersions(names: ReadonlyArray<{ database: string; name: string }>, run: QueryRun): Promise<Map<string, TableVersion>> {
    const list = names.map(({ database, name }) => `(${stringLiteral(database)}, ${stringLiteral(name)})`).join(", ");
    const byTable = (from: string, columns: string, where = "") =>
      `(SELECT database, table, ${columns} FROM ${from} WHERE (database, table) IN (${list})${where} GROUP BY database, table)`;
    const rows = await this.controlled(run, undefined, async (settings) =>
      (
        await this.client.query({
          query:
            "SELECT t.database AS database, t.name AS name, toString(t.uuid) AS uuid, toString(t.metadata_modification_time) AS altered, " +
            "position(t.engine_full, 'enable_block_number_column = 1') > 0 AS numbered, " +
            "p.rows AS rows, p.block AS block, m.started AS started, m.done AS done FROM system.tables AS t " +
            `LEFT JOIN ${byTable("system.parts", "sum(rows) AS rows, max(max_block_number) AS block", " AND active")} AS p ` +
            "ON t.database = p.database AND t.name = p.table " +
            `LEFT JOIN ${byTable("system.mutations", "count() AS started, countIf(is_done) AS done")} AS m ` +
            "ON t.database = m.database AND t.name = m.table " +
            `WHERE (t.database, t.name) IN (${list}) ${settingsClause({ ...settings, output_format_json_quote_64bit_integers: 1 })}`,
          format: "JSONEachRow",
        })
      ).json<{
        database: string;
        name: string;
        uuid: string;
        altered: string;
        rows: string;
        block: string;
        started: string;
        done: string;
        numbered: number;
      }>(),
    );
    return new Map(
      rows.map((row) => {
        const unchanged = [row.uuid, row.altered, row.started, row.done].join("/");
        const version = { version: `${unchanged}/${row.rows}/${row.block}`, rows: Number(row.rows) };
        const blocks = Number(row.numbered) === 1 ? { unchanged, newest: Number(row.block) } : undefined;
        return [`${row.database}.${row.name}`, blocks ? { ...version, blocks } : version];
      }),
    );
  }

  /**
   * A table's history sorted by the tie rule's order, as the Arrow streams a held history is made
   * of: every row, or those of the blocks in (after, upTo] of a table that numbers its blocks.
   */
  private async readHeldHistory(table: OfflineTable, run: QueryRun, blocks?: { after: number; upTo: number }): Promise<Uint8Array[]> {
    const keys = table.keyColumns.map((c) => quote(c.name));
    const where = blocks ? `WHERE _block_number > ${blocks.after} AND _block_number <= ${blocks.upTo} ` : "";
    const query =
      `SELECT ${[...keys, `toUnixTimestamp64Micro(event_time) AS ${HELD_TIME_COLUMN}`, ...table.featureColumns.map((c) => quote(c.name))].join(", ")} ` +
      `FROM ${qualifiedTableName(table)} ${where}ORDER BY ${[...keys, "event_time", "ingestion_time"].join(", ")}`;
    const streams: Uint8Array[] = [];
    if (blocks && blocks.after >= 0) this.historyDeltaReads++;
    else this.historyReads++;
    for await (const chunk of this.streamArrow(query, run)) streams.push(chunk.ipc);
    return streams;
  }

  /**
   * Whether a join's history is small enough (at most `hashJoinMaxRows` rows in its views' tables
   * together) to be joined in memory, by a parallel hash join: up to about 1.7× faster than the sort-merge join,
   * whose memory stays bounded whatever the history's size. Counting reads only part metadata.
   */
  private async joinsInMemory(join: PointInTimeJoin, run: QueryRun): Promise<boolean> {
    if (this.hashJoinMaxRows <= 0 || join.views.length === 0) return false;
    const tables = join.views.map((_, view) => this.historyTable(join, view));
    const rows = await this.count(`SELECT ${tables.map((t) => `(SELECT count() FROM ${t})`).join(" + ")} AS n`, run);
    return rows <= this.hashJoinMaxRows;
  }

  async saveJoin(join: PointInTimeJoin, name: string, parquetPath: string, signal?: AbortSignal, limits?: QueryLimits): Promise<number> {
    const run: QueryRun = { signal, limits };
    await this.storeHeldSpine(join.spine);
    const { database } = tableNameParts({ project: join.spine.project, view: "", version: 0 }, false);
    const table = `${quote(database)}.${quote(name)}`;
    const inMemory = await this.joinsInMemory(join, run);
    // As for a streamed answer: the sort-merge join reads only the history rows a spine row could take.
    const bounds = inMemory || join.excludeLateIngested ? undefined : this.spineBounds(join, run);
    const query = joinQuery(
      { ...join, withSpineIndex: true, spineOrder: false },
      (view) => this.historyTable(join, view),
      (window) => this.eventsTable(join, window),
      inMemory,
      (view) => bounds?.tableOf(view),
    );
    const engineSettings = await this.withEngineSettings(joinSettings({ spineOrder: false }, inMemory));
    // Settings in the statement, not the client's: chDB's connection would SET them for the whole session.
    try {
      await bounds?.made;
      await this.controlled(run, undefined, (settings) =>
        this.client.command({
          query: `CREATE TABLE ${table} ENGINE = MergeTree ORDER BY spine_index AS ${query} ${settingsClause({ ...engineSettings, ...settings })}`,
        }),
      );
    } finally {
      await bounds?.drop();
      if (!inMemory) this.releaseEngineMemory();
    }
    mkdirSync(dirname(parquetPath), { recursive: true });
    // Snappy: every Parquet reader decodes it (ClickHouse's default, zstd, is not in all of them).
    const parquetSettings = { output_format_parquet_compression_method: "snappy", output_format_parquet_string_as_string: 1 };
    await this.controlled(run, undefined, (settings) =>
      this.engine.writeToFile(savedJoinQuery(table, join.withSpineIndex), { ...parquetSettings, ...settings }, "Parquet", parquetPath),
    );
    return this.count(`SELECT count() AS n FROM ${table}`, run);
  }

  readSavedJoin(project: string, name: string, withSpineIndex: boolean, signal?: AbortSignal, limits?: QueryLimits): ArrowChunks {
    const { database } = tableNameParts({ project, view: "", version: 0 }, false);
    return this.streamArrow(savedJoinQuery(`${quote(database)}.${quote(name)}`, withSpineIndex), { signal, limits });
  }

  async appendPredictions(project: string, records: PredictionRecord[]): Promise<void> {
    if (records.length === 0) return;
    const database = `sluice_${project}`;
    if (!this.ensured.has(`${database}.${PREDICTIONS_TABLE}`)) {
      for (const statement of createPredictionTableStatements(project, this.cluster)) {
        await this.run(() => this.client.command({ query: statement }));
      }
      this.ensured.add(`${database}.${PREDICTIONS_TABLE}`);
    }
    const text = (values: string[]) => (row: number) => JSON.stringify(values[row]);
    const body = await compactRowsText(records.length, [
      jsonMicrosColumn(records.map((r) => r.time)),
      ...PREDICTION_TEXT_COLUMNS.map((column) => text(records.map((r) => r[column]))),
      (row) => String(Math.round(records[row]?.latencyMicros ?? 0)),
    ]);
    await this.run(() =>
      this.engine.insertText({
        database,
        table: this.cluster ? `${PREDICTIONS_TABLE}_all` : PREDICTIONS_TABLE,
        columns: ["time", "request_id", "endpoint", "model_version", "role", "entity_keys", "features", "outputs", "error", "latency_us"],
        body,
        settings: this.cluster ? { insert_distributed_sync: 1 } : {},
      }),
    );
  }

  async readPredictions(project: string, requestIds: readonly string[], since: number): Promise<PredictionRecord[]> {
    if (requestIds.length === 0) return [];
    const database = `sluice_${project}`;
    const exists = await this.count(
      `SELECT count() AS n FROM system.tables WHERE database = '${database}' AND name = '${PREDICTIONS_TABLE}'`,
    );
    if (exists === 0) return [];
    const table = `${quote(database)}.${quote(this.cluster ? `${PREDICTIONS_TABLE}_all` : PREDICTIONS_TABLE)}`;
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query: `SELECT toString(time) AS served_time, request_id, endpoint, model_version, role, entity_keys, features, outputs, error, latency_us
          FROM ${table} WHERE time >= {since:DateTime64(6, 'UTC')} AND role != 'shadow' AND request_id IN {ids:Array(String)}`,
        query_params: { since: formatMicros(since), ids: requestIds },
        format: "JSONEachRow",
      });
      return result.json<{
        served_time: string;
        request_id: string;
        endpoint: string;
        model_version: string;
        role: string;
        entity_keys: string;
        features: string;
        outputs: string;
        error: string;
        latency_us: string | number;
      }>();
    });
    return rows.map((row) => ({
      time: parseMicros(row.served_time),
      requestId: row.request_id,
      endpoint: row.endpoint,
      modelVersion: row.model_version,
      role: row.role,
      entityKeys: row.entity_keys,
      features: row.features,
      outputs: row.outputs,
      latencyMicros: Number(row.latency_us),
      error: row.error,
    }));
  }

  async appendServedValues(project: string, records: ServedValueRecord[]): Promise<void> {
    if (records.length === 0) return;
    const database = `sluice_${project}`;
    if (!this.ensured.has(`${database}.${SERVED_VALUES_TABLE}`)) {
      for (const statement of createServedValuesTableStatements(project, this.cluster)) {
        await this.run(() => this.client.command({ query: statement }));
      }
      this.ensured.add(`${database}.${SERVED_VALUES_TABLE}`);
    }
    const body = await compactRowsText(records.length, [
      jsonMicrosColumn(records.map((r) => r.time)),
      (row) => JSON.stringify(records[row]?.featureView),
      (row) => String(records[row]?.version),
      (row) => JSON.stringify(records[row]?.entityKey),
      (row) => JSON.stringify(records[row]?.values),
    ]);
    await this.run(() =>
      this.engine.insertText({
        database,
        table: this.cluster ? `${SERVED_VALUES_TABLE}_all` : SERVED_VALUES_TABLE,
        columns: ["time", "feature_view", "version", "entity_key", "values"],
        body,
        settings: this.cluster ? { insert_distributed_sync: 1 } : {},
      }),
    );
  }

  async readServedValues(project: string, query: ServedValueQuery): Promise<ServedValueRecord[]> {
    const table = `${quote(`sluice_${project}`)}.${quote(this.cluster ? `${SERVED_VALUES_TABLE}_all` : SERVED_VALUES_TABLE)}`;
    const exists = await this.count(
      `SELECT count() AS n FROM system.tables WHERE database = '${`sluice_${project}`}' AND name = '${SERVED_VALUES_TABLE}'`,
    );
    if (exists === 0) return [];
    const conditions = ["feature_view = {view:String}", "version = {version:UInt32}"];
    const params: Record<string, unknown> = { view: query.featureView, version: query.version, limit: query.limit };
    if (query.range.start !== undefined) {
      conditions.push("time >= {start:DateTime64(6, 'UTC')}");
      params.start = formatMicros(query.range.start);
    }
    if (query.range.end !== undefined) {
      conditions.push("time < {end:DateTime64(6, 'UTC')}");
      params.end = formatMicros(query.range.end);
    }
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query: `SELECT toString(time) AS served_time, entity_key, \`values\` FROM ${table} WHERE ${conditions.join(" AND ")} ORDER BY time DESC LIMIT {limit:UInt32}`,
        query_params: params,
        format: "JSONEachRow",
      });
      return result.json<{ served_time: string; entity_key: string; values: string }>();
    });
    return rows.map((row) => ({
      time: parseMicros(row.served_time),
      featureView: query.featureView,
      version: query.version,
      entityKey: row.entity_key,
      values: row.values,
    }));
  }

  async appendAuditRecords(records: readonly AuditRecord[], deduplicationToken: string): Promise<void> {
    if (records.length === 0) return;
    await this.ensureAuditTable();
    const text = (field: (typeof AUDIT_TEXT_FIELDS)[number] | (typeof AUDIT_TRAILING_TEXT_FIELDS)[number] | "chainId") => (row: number) =>
      JSON.stringify(records[row]?.[field] ?? "");
    const body = await compactRowsText(records.length, [
      text("chainId"),
      (row) => String(records[row]?.sequence),
      jsonMicrosColumn(records.map((r) => r.time)),
      ...AUDIT_TEXT_FIELDS.map(text),
      (row) => JSON.stringify(records[row]?.resources ?? []),
      ...AUDIT_TRAILING_TEXT_FIELDS.map(text),
    ]);
    await this.run(() =>
      this.engine.insertText({
        database: AUDIT_DATABASE,
        table: this.cluster ? `${AUDIT_TABLE}_all` : AUDIT_TABLE,
        columns: AUDIT_COLUMNS,
        body,
        settings: {
          insert_deduplication_token: deduplicationToken,
          insert_deduplicate: 1,
          ...(this.cluster ? { insert_distributed_sync: 1 } : {}),
        },
        beside: true,
      }),
    );
  }

  async readAuditRecords(query: AuditQuery): Promise<AuditRecord[]> {
    const conditions: string[] = [];
    const params: Record<string, unknown> = { limit: query.limit };
    const equal = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      conditions.push(`${quote(column)} = {${column}:String}`);
      params[column] = value;
    };
    equal("project", query.project);
    equal("principal", query.principal);
    equal("method", query.method);
    equal("outcome", query.outcome);
    if (query.methodPrefix !== undefined) {
      conditions.push("startsWith(`method`, {method_prefix:String})");
      params.method_prefix = query.methodPrefix;
    }
    if (query.range.start !== undefined) {
      conditions.push("`time` >= {start:DateTime64(6, 'UTC')}");
      params.start = formatMicros(query.range.start);
    }
    if (query.range.end !== undefined) {
      conditions.push("`time` < {end:DateTime64(6, 'UTC')}");
      params.end = formatMicros(query.range.end);
    }
    if (query.after) {
      conditions.push(
        "(`time`, `chain_id`, `sequence`) < ({after_time:DateTime64(6, 'UTC')}, {after_chain:String}, {after_sequence:UInt64})",
      );
      Object.assign(params, {
        after_time: formatMicros(query.after.time),
        after_chain: query.after.chainId,
        after_sequence: query.after.sequence,
      });
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    return this.selectAudit(`${where} ORDER BY \`time\` DESC, \`chain_id\` DESC, \`sequence\` DESC LIMIT {limit:UInt32}`, params);
  }

  async *scanAuditChain(chainId: string, chunkRows: number): AsyncIterable<AuditRecord[]> {
    let after: number | undefined;
    for (;;) {
      // Keyset pages on the sorting key; WITH TIES keeps every record of the last sequence in the
      // page, so a duplicated sequence is never split between pages.
      const records = await this.selectAudit(
        `WHERE \`chain_id\` = {chain:String}${after === undefined ? "" : " AND `sequence` > {after:UInt64}"} ` +
          "ORDER BY `sequence` LIMIT {limit:UInt32} WITH TIES",
        after === undefined ? { chain: chainId, limit: chunkRows } : { chain: chainId, after, limit: chunkRows },
      );
      if (records.length === 0) return;
      yield records;
      if (records.length < chunkRows) return;
      after = records[records.length - 1]?.sequence;
    }
  }

  async lastAuditRecord(chainId: string): Promise<AuditRecord | undefined> {
    const [last] = await this.selectAudit("WHERE `chain_id` = {chain:String} ORDER BY `sequence` DESC LIMIT 1", { chain: chainId });
    return last;
  }

  async auditChains(): Promise<AuditChainSummary[]> {
    await this.ensureAuditTable();
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query: `SELECT chain_id, count() AS records, max(sequence) AS last_sequence FROM ${this.auditTable()} GROUP BY chain_id ORDER BY chain_id`,
        format: "JSONEachRow",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      return result.json<{ chain_id: string; records: string; last_sequence: string }>();
    });
    return rows.map((row) => ({ chainId: row.chain_id, records: Number(row.records), lastSequence: Number(row.last_sequence) }));
  }

  /** Runs `SELECT {AUDIT_SELECT} FROM` the audit table with the rest of a query. */
  private async selectAudit(rest: string, params: Record<string, unknown>): Promise<AuditRecord[]> {
    await this.ensureAuditTable();
    const rows = await this.run(async () => {
      const result = await this.client.query({
        query: `SELECT ${AUDIT_SELECT} FROM ${this.auditTable()} ${rest}`,
        query_params: params,
        format: "JSONEachRow",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      return result.json<Record<string, unknown>>();
    });
    return rows.map(auditRecordOf);
  }

  /** The audit table as queries name it (the Distributed table on a cluster). */
  private auditTable(): string {
    return `${quote(AUDIT_DATABASE)}.${quote(this.cluster ? `${AUDIT_TABLE}_all` : AUDIT_TABLE)}`;
  }

  /** Creates the audit table once per store (idempotent, safe to race); a failure is retried by the next call. */
  private ensureAuditTable(): Promise<void> {
    const key = `${AUDIT_DATABASE}.${AUDIT_TABLE}`;
    if (this.ensured.has(key)) return Promise.resolve();
    return (async () => {
      for (const statement of createAuditTableStatements(this.cluster)) {
        await this.run(() => this.client.command({ query: statement }));
      }
      this.ensured.add(key);
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    // A copy waiting for joins to end waits no more: it sees the store closed.
    for (const resolve of this.noEngineJoinWaiters.splice(0)) resolve();
    await this.copyWrites;
    this.heldHistories?.clear();
    for (const held of this.heldSpines.values()) held.release();
    this.heldSpines.clear();
    this.preparedHistories.clear();
    await this.memoryRelease;
    this.engine.close();
    await this.client.close();
  }

  /** The history table a join reads for one of its views (the Distributed table on a cluster). */
  private historyTable(join: PointInTimeJoin, view: number): string {
    const table = join.views[view]?.table;
    if (!table) throw new Error(`join has no view ${view}`);
    return qualifiedTableName(table, this.cluster !== undefined);
  }

  private eventsTable(join: PointInTimeJoin, window: number): string {
    const table = join.windows?.[window]?.events;
    if (!table) throw new Error(`join has no window group ${window}`);
    return qualifiedTableName(table, this.cluster !== undefined);
  }

  /**
   * Streams a query's result as Arrow within the run's limits; an abort ends the stream quietly
   * and kills the query in the engine. Failures map as {@link classifyQueryError} says.
   */
  private async *streamArrow(query: string, run: QueryRun, baseSettings: Settings = JOIN_SETTINGS): ArrowChunks {
    const { signal } = run;
    if (signal?.aborted) return;
    const marker = queryMarker();
    const stopKilling = killOnAbort(signal, () => this.killQuery(marker));
    try {
      const settings = { ...(await this.withEngineSettings(baseSettings)), ...querySettings(run, marker) };
      // The engine computes the next chunk while this one is sent; chunks read ahead are dropped on abort.
      for await (const chunk of readAhead(this.engine.streamArrow(query, settings, signal), STREAM_READ_AHEAD)) {
        if (signal?.aborted) return;
        yield chunk;
      }
    } catch (error) {
      if (signal?.aborted) return;
      throw this.queryError(error, run);
    } finally {
      stopKilling();
    }
  }

  /**
   * Runs one query of a client's request (see src/security/sql/query-control.ts): `query` gets
   * the settings to put in its statement (limits and the marker an abort kills it by). Failures
   * map as {@link classifyQueryError} says, as the client's own when `field` names its SQL.
   */
  private async controlled<T>(run: QueryRun, field: string | undefined, query: (settings: Settings) => Promise<T>): Promise<T> {
    if (run.signal?.aborted) throw new QueryCancelledError(run.signal.reason);
    const marker = queryMarker();
    // No abort signal reaches the client: it would only stop waiting, while the engine went on.
    const stopKilling = killOnAbort(run.signal, () => this.killQuery(marker));
    try {
      return await query(querySettings(run, marker));
    } catch (error) {
      throw this.queryError(error, run, field);
    } finally {
      stopKilling();
    }
  }

  private killQuery(marker: string): Promise<unknown> {
    // A closed store's queries ended with it; a kill would only reopen the engine.
    return this.closed ? Promise.resolve() : this.engine.kill(killStatement(marker, this.cluster));
  }

  /** The engine calls that confine a client's spine SQL (parse-only, or catalog reads), run as `run` says. */
  private spineSqlEngine(run: QueryRun, field: string): SpineSqlEngine {
    return {
      formatQuery: (sql) =>
        this.controlled(run, field, async (settings) => {
          const result = await this.client.query({
            query: `SELECT formatQuery({sql:String}) AS q ${settingsClause(settings)}`,
            query_params: { sql },
            format: "JSONEachRow",
          });
          return (await result.json<{ q: string }>())[0]?.q ?? "";
        }),
      // Not through client.query, which appends a FORMAT clause that the explained statement
      // would take as its own; the output format goes as a setting (an option on chDB).
      explainAst: (statement) =>
        this.controlled(run, field, async () => {
          const result = await this.client.exec({
            query: `EXPLAIN AST ${statement}`,
            clickhouse_settings: { default_format: "TabSeparatedRaw" },
          });
          const chunks: Buffer[] = [];
          for await (const chunk of result.stream) chunks.push(Buffer.from(chunk as Uint8Array));
          return Buffer.concat(chunks).toString("utf8");
        }),
      catalog: (functionNames) =>
        this.controlled(run, field, async (settings) => {
          const result = await this.client.query({
            query:
              "SELECT (SELECT groupArray(name) FROM system.databases) AS databases, " +
              "(SELECT groupArray(name) FROM system.tables WHERE database = currentDatabase() OR is_temporary) AS local_tables, " +
              "(SELECT groupArray((name, alias_to, origin)) FROM system.functions WHERE lower(name) IN {names:Array(String)}) AS functions, " +
              `(SELECT groupArray(lower(name)) FROM system.table_functions WHERE lower(name) IN {names:Array(String)}) AS table_functions ${settingsClause(settings)}`,
            query_params: { names: functionNames },
            format: "JSONEachRow",
          });
          const [row] = await result.json<{
            databases: string[];
            local_tables: string[];
            functions: Array<[string, string, string]>;
            table_functions: string[];
          }>();
          return {
            databases: new Set(row?.databases ?? []),
            localTables: new Set(row?.local_tables ?? []),
            functions: (row?.functions ?? []).map(([name, aliasTo, origin]) => ({ name, aliasTo, origin })),
            tableFunctions: new Set(row?.table_functions ?? []),
          };
        }),
    };
  }

  /** The spine of every entity with history in a range, each at the end of the range. */
  private async loadEntitySpine(
    project: string,
    source: Extract<OfflineSpineSource, { kind: "entities" }>,
    keyColumns: OfflineColumn[],
    run: QueryRun,
  ): Promise<Spine> {
    const keys = keyColumns.map((c) => quote(c.name)).join(", ");
    const conditions = [
      ...(source.range.start === undefined ? [] : [`event_time >= fromUnixTimestamp64Micro(toInt64(${source.range.start}), 'UTC')`]),
      `event_time < fromUnixTimestamp64Micro(toInt64(${source.range.end}), 'UTC')`,
    ].join(" AND ");
    const union = source.tables
      .map((table) => `SELECT ${keys} FROM ${qualifiedTableName(table, this.cluster !== undefined)} WHERE ${conditions}`)
      .join(" UNION ALL ");
    const spine: Spine = { id: randomUUID().replaceAll("-", ""), project, keyColumns, extraColumns: [] };
    await this.createSpineTable(spine);
    await this.insertIntoSpine(
      spine,
      `SELECT rowNumberInAllBlocks(), ${keys}, fromUnixTimestamp64Micro(toInt64(${source.range.end - 1}), 'UTC') ` +
        `FROM (SELECT DISTINCT ${keys} FROM (${union}) ORDER BY ${keys})`,
      run,
    );
    return spine;
  }

  private async insertIntoSpine(spine: Spine, select: string, run: QueryRun, field = "query.offline_spine"): Promise<void> {
    const columns = spineInsertColumns(spine).map(quote).join(", ");
    try {
      await this.controlled(run, field, (settings) =>
        this.client.command({
          query: `INSERT INTO ${spineTableName(spine)} (${columns}) ${select} ${settingsClause({ max_threads: 1, ...settings })}`,
        }),
      );
    } catch (error) {
      await this.dropSpine(spine).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The columns a SELECT returns, by name and ClickHouse type. The engine is read-only for it
   * (`readonly = 1` refuses table functions that reach outside, beyond the SQL check).
   */
  private async describe(select: string, field: string, run: QueryRun): Promise<Array<{ name: string; type: string }>> {
    return this.controlled(run, field, async (settings) => {
      const result = await this.client.query({
        query: `DESCRIBE TABLE (${select}) ${settingsClause({ ...settings, readonly: 1 })}`,
        format: "JSONEachRow",
      });
      return result.json<{ name: string; type: string }>();
    });
  }

  /** A count; with `run`, as a query of a client's request (read-only when `readonly`). */
  private async count(query: string, run?: QueryRun, field?: string, readonly = false): Promise<number> {
    const read = async (settings: Settings) =>
      (
        await this.client.query({
          query: `${query} ${settingsClause({ ...settings, ...(readonly ? { readonly: 1 } : {}) })}`,
          format: "JSONEachRow",
        })
      ).json<{ n: string | number }>();
    const rows = run ? await this.controlled(run, field, read) : await this.run(() => read({}));
    return Number(rows[0]?.n ?? 0);
  }

  /** What a failed query of a client's request means for the client (see {@link classifyQueryError}). */
  private queryError(error: unknown, run: QueryRun, field?: string): Error {
    return classifyQueryError(error, {
      store: this.description,
      field,
      limits: run.limits,
      cancelled: run.signal?.aborted,
      knownPaths: this.hiddenPaths,
    });
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new StoreUnavailableError(this.description, redactedError(error, this.hiddenPaths));
    }
  }
}

/**
 * The DDL of a view version's history table. On a cluster the data table is replicated on every
 * node and a Distributed table (`..._all`) in front of it takes inserts and queries. With
 * `blockNumbers` (single node only), rows keep their insert's block number. `existingColumns`:
 * those of the table when it is known to exist.
 */
export function createTableStatements(
  table: OfflineTable,
  cluster?: string,
  blockNumbers = false,
  existingColumns?: ReadonlySet<string>,
): string[] {
  const keys = table.keyColumns.map((c) => quote(c.name));
  // A table created by an earlier version of a compatible run lacks the columns later versions
  // added: add them (a metadata change; rows written before read them as NULL). Only those a
  // table known to exist lacks: the ALTER changes its schema time, which makes every held
  // history of it be read whole again.
  const addColumns = table.featureColumns
    .filter((c) => !existingColumns?.has(c.name))
    .map((c) => `ADD COLUMN IF NOT EXISTS ${quote(c.name)} ${nullableType(c)}`)
    .join(", ");
  const alterTargets = cluster
    ? [tableNameParts(table, false), tableNameParts(table, true)].map(
        ({ database, name }) => `${quote(database)}.${quote(name)} ON CLUSTER ${quote(cluster)}`,
      )
    : [qualifiedTableName(table)];
  const create = mergeTreeStatements(
    {
      database: `sluice_${table.project}`,
      name: tableNameParts(table, false).name,
      columns: [
        ...table.keyColumns.map((c) => `${quote(c.name)} ${COLUMN_TYPES[c.type]}`),
        "`event_time` DateTime64(6, 'UTC')",
        "`ingestion_time` DateTime64(6, 'UTC')",
        "`write_id` String",
        ...table.featureColumns.map((c) => `${quote(c.name)} ${nullableType(c)}`),
        ...(table.kind === "events" ? ["`source` LowCardinality(String)", "`position` Int64", "`too_late` UInt8"] : []),
      ],
      orderBy: [...keys, "`event_time`"],
      shardBy: keys,
      deduplicate: true,
      blockNumbers,
    },
    cluster,
  );
  return addColumns === "" ? create : [...create, ...alterTargets.map((target) => `ALTER TABLE ${target} ${addColumns}`)];
}

/** A history row from a JSONEachRow row of the table's keys, features, event_time, ingestion_time and write_id. */
function rowOf(table: OfflineTable, row: Record<string, unknown>): OfflineRow {
  return {
    key: table.keyColumns.map((c) => fromJsonValue(c.type, row[c.name])),
    eventTime: parseMicros(String(row.event_time)),
    ingestTime: parseMicros(String(row.ingestion_time)),
    writeId: String(row.write_id),
    features: table.featureColumns.map((c) => fromJsonValue(c.type, row[c.name])),
  };
}

/** Which tables, with which feature columns, in order: what a prepared read must match to be used. */
function tablesSignature(tables: readonly OfflineTable[]): string {
  return JSON.stringify(tables.map((table) => [qualifiedTableName(table), table.featureColumns.map((c) => c.name)]));
}

/**
 * The history rows of a write as an Arrow batch: times, write id, keys, features, and an events
 * table's provenance; with the column names in order.
 */
function historyBatch(table: OfflineTable, rows: HistoryColumns): { columns: string[]; ipc: Uint8Array } {
  const repeated = (text: string) => repeatedTextVector(text, rows.length);
  const named: Array<[string, Vector]> = [
    ["event_time", microsVector(rows.eventTimes)],
    ["ingestion_time", microsVector(rows.ingestTimes)],
    ["write_id", repeated(rows.writeId)],
    ...table.keyColumns.map((c, i): [string, Vector] => [c.name, valuesVector(c.type, rows.keys[i] ?? [])]),
    ...table.featureColumns.map((c, i): [string, Vector] => [c.name, valuesVector(c.type, rows.features[i] ?? [])]),
    ...(rows.events
      ? ([
          ["source", repeated(rows.events.source)],
          ["position", int64Vector(rows.events.positions)],
          ["too_late", valuesVector("bool", Array.from(rows.events.tooLate))],
        ] as Array<[string, Vector]>)
      : []),
  ];
  const fields = named.map(([name, vector]) => new Field(name, vector.type, true));
  return {
    columns: named.map(([name]) => name),
    ipc: recordBatchIpc(
      fields,
      named.map(([, vector]) => vector),
      rows.length,
    ),
  };
}

/** The DDL of a project's prediction log, ordered for reading one endpoint's recent predictions. */
export function createPredictionTableStatements(project: string, cluster?: string): string[] {
  return mergeTreeStatements(
    {
      database: `sluice_${project}`,
      name: PREDICTIONS_TABLE,
      columns: [
        "`time` DateTime64(6, 'UTC')",
        "`request_id` String",
        "`endpoint` LowCardinality(String)",
        "`model_version` LowCardinality(String)",
        "`role` LowCardinality(String)",
        "`entity_keys` String",
        "`features` String",
        "`outputs` String",
        "`error` String",
        "`latency_us` UInt64",
      ],
      orderBy: ["`endpoint`", "`time`"],
      shardBy: ["`request_id`"],
      deduplicate: false,
    },
    cluster,
  );
}

/** The DDL of a project's log of served online values, ordered for reading one view version's. */
function createServedValuesTableStatements(project: string, cluster?: string): string[] {
  return mergeTreeStatements(
    {
      database: `sluice_${project}`,
      name: SERVED_VALUES_TABLE,
      columns: [
        "`time` DateTime64(6, 'UTC')",
        "`feature_view` LowCardinality(String)",
        "`version` UInt32",
        "`entity_key` String",
        "`values` String",
      ],
      orderBy: ["`feature_view`", "`version`", "`time`"],
      shardBy: ["`entity_key`"],
      deduplicate: false,
    },
    cluster,
  );
}

/** A MergeTree table to create: quoted column definitions and key columns. */
interface MergeTreeSpec {
  database: string;
  name: string;
  columns: string[];
  orderBy: string[];
  /** Columns whose hash picks a row's shard on a cluster. */
  shardBy: string[];
  /** Keep a window of insert tokens so that a retried insert is applied once. */
  deduplicate: boolean;
  /** Number rows by their insert (`_block_number`); single-node tables only. */
  blockNumbers?: boolean;
}

/**
 * A database and MergeTree table; on a cluster, the data table is replicated on every shard
 * and a Distributed table (`{name}_all`) in front of it routes inserts and reads.
 */
function mergeTreeStatements(spec: MergeTreeSpec, cluster?: string): string[] {
  const database = quote(spec.database);
  const local = `${database}.${quote(spec.name)}`;
  const definition = `(${spec.columns.join(", ")})`;
  const orderBy = `ORDER BY (${spec.orderBy.join(", ")})`;
  if (!cluster) {
    const settings = [
      ...(spec.deduplicate ? [`non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW}`] : []),
      // Each row keeps its insert's block number, through merges: what a held history reads to take only the rows written since.
      ...(spec.blockNumbers ? ["enable_block_number_column = 1"] : []),
    ];
    const withSettings = settings.length > 0 ? ` SETTINGS ${settings.join(", ")}` : "";
    return [
      `CREATE DATABASE IF NOT EXISTS ${database}`,
      `CREATE TABLE IF NOT EXISTS ${local} ${definition} ENGINE = MergeTree ${orderBy}${withSettings}`,
    ];
  }
  const onCluster = ` ON CLUSTER ${quote(cluster)}`;
  const zooPath = `/clickhouse/tables/{shard}/${spec.database}/${spec.name}`;
  const settings = spec.deduplicate ? ` SETTINGS replicated_deduplication_window = ${DEDUPLICATION_WINDOW}` : "";
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}${onCluster}`,
    `CREATE TABLE IF NOT EXISTS ${local}${onCluster} ${definition} ENGINE = ReplicatedMergeTree('${zooPath}', '{replica}') ${orderBy}${settings}`,
    `CREATE TABLE IF NOT EXISTS ${database}.${quote(`${spec.name}_all`)}${onCluster} AS ${local} ` +
      `ENGINE = Distributed(${quote(cluster)}, ${database}, ${quote(spec.name)}, cityHash64(${spec.shardBy.join(", ")}))`,
  ];
}

/** The prediction log's table in each project's database. */
const PREDICTIONS_TABLE = "predictions";
const SERVED_VALUES_TABLE = "served_values";

/** The audit trail: one server-wide table, outside every project's database. */
const AUDIT_DATABASE = "sluice";
const AUDIT_TABLE = "audit_events";

/** The audit table's columns, in insert order. */
const AUDIT_COLUMNS = [
  "chain_id",
  "sequence",
  "time",
  "principal",
  "authentication",
  "method",
  "project",
  "resources",
  "request_digest",
  "peer",
  "outcome",
  "detail",
  "request_id",
  "previous_hash",
  "hash",
];

/** The text fields of an audit record after chain id, sequence and time, in the table's insert order (resources apart). */
const AUDIT_TEXT_FIELDS = ["principal", "authentication", "method", "project"] as const;
const AUDIT_TRAILING_TEXT_FIELDS = ["requestDigest", "peer", "outcome", "detail", "requestId", "previousHash", "hash"] as const;

/** What an audit query selects: every column, the time as microseconds. */
const AUDIT_SELECT = AUDIT_COLUMNS.map((c) => (c === "time" ? "toUnixTimestamp64Micro(`time`) AS time_us" : quote(c))).join(", ");

/**
 * The DDL of the audit trail: ordered by (chain, sequence), so verifying a chain and resuming it
 * read in key order; a min-max index on time serves listings by time range. Insert tokens are
 * remembered, so a retried batch is stored once. On a cluster a chain lives on one shard.
 */
export function createAuditTableStatements(cluster?: string): string[] {
  return mergeTreeStatements(
    {
      database: AUDIT_DATABASE,
      name: AUDIT_TABLE,
      columns: [
        "`chain_id` LowCardinality(String)",
        "`sequence` UInt64",
        "`time` DateTime64(6, 'UTC')",
        "`principal` String",
        "`authentication` LowCardinality(String)",
        "`method` LowCardinality(String)",
        "`project` LowCardinality(String)",
        "`resources` Array(String)",
        "`request_digest` String",
        "`peer` String",
        "`outcome` LowCardinality(String)",
        "`detail` String",
        "`request_id` String",
        "`previous_hash` String",
        "`hash` String",
        "INDEX `time_range` `time` TYPE minmax GRANULARITY 1",
      ],
      orderBy: ["`chain_id`", "`sequence`"],
      shardBy: ["`chain_id`"],
      deduplicate: true,
    },
    cluster,
  );
}

/** An audit record from a JSONEachRow row of {@link AUDIT_SELECT} (64-bit integers quoted). */
function auditRecordOf(row: Record<string, unknown>): AuditRecord {
  return {
    chainId: String(row.chain_id),
    sequence: Number(row.sequence),
    time: Number(row.time_us),
    principal: String(row.principal),
    authentication: String(row.authentication),
    method: String(row.method),
    project: String(row.project),
    resources: (row.resources as unknown[]).map(String),
    requestDigest: String(row.request_digest),
    peer: String(row.peer),
    outcome: String(row.outcome),
    detail: String(row.detail),
    requestId: String(row.request_id),
    previousHash: String(row.previous_hash),
    hash: String(row.hash),
  };
}

/** The text columns of a prediction record, in the table's insert order. */
const PREDICTION_TEXT_COLUMNS = ["requestId", "endpoint", "modelVersion", "role", "entityKeys", "features", "outputs", "error"] as const;

/** Result chunks read ahead of the consumer (each up to a few MB). */
const STREAM_READ_AHEAD = 2;

/** Whether a spine column of a source type can hold a join key of `type`. */
function keyAccepts(type: OfflineColumn["type"], sourceType: string): boolean {
  const source = valueTypeOfColumn(sourceType);
  if (type === "int32" || type === "int64") return source === "int32" || source === "int64";
  return source === "string";
}

/** A saved join's rows in spine order, with or without spine_index. */
function savedJoinQuery(table: string, withSpineIndex: boolean): string {
  return `SELECT ${withSpineIndex ? "*" : "* EXCEPT (spine_index)"} FROM ${table} ORDER BY spine_index`;
}

/**
 * The offline store on ClickHouse through @clickhouse/client: embedded (chDB in-process, the
 * default) or a ClickHouse server, with the same SQL. Each feature view version has its own
 * MergeTree table in database `sluice_{project}`, ordered by (join keys, event_time), so
 * point-in-time joins and per-entity scans read in key order. Inserts carry the write id as
 * ClickHouse's `insert_deduplication_token`, so a retried batch is stored once.
 */

import { mkdirSync } from "node:fs";
import { Readable } from "node:stream";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { StoreUnavailableError } from "../../common/errors.js";
import type { FeatureValue } from "../../common/feature-value.js";
import type { ValueType } from "../../common/value-type.js";
import type { EventTimeRange, HistoryColumns, OfflineColumn, OfflineRow, OfflineStore, OfflineTable } from "./offline-store.js";

/** How many recent insert tokens a table remembers for deduplication. */
const DEDUPLICATION_WINDOW = 10_000;

const COLUMN_TYPES: Record<ValueType, string> = {
  int32: "Int32",
  int64: "Int64",
  float: "Float32",
  double: "Float64",
  bool: "Bool",
  string: "String",
  // Bytes are stored base64-encoded: JSON, the insert format, cannot carry raw bytes.
  bytes: "String",
  timestamp: "DateTime64(6, 'UTC')",
  int64_list: "Array(Int64)",
  float_list: "Array(Float32)",
  double_list: "Array(Float64)",
  string_list: "Array(String)",
};

/** Where the offline store lives. */
export type ClickHouseLocation =
  | { kind: "embedded"; path: string }
  | { kind: "server"; url: string; username?: string; password?: string; cluster?: string };

/**
 * Sends rows already formatted as one JSONCompactEachRow text. Inserts bypass the client's
 * per-row serialisation: the store formats a batch in one pass, and on chDB the text goes to the
 * engine's parser as one buffer, without the generic connection's string re-assembly.
 */
type TextInsert = (insert: {
  database: string;
  table: string;
  columns: string[];
  body: string;
  settings: Record<string, string | number>;
}) => Promise<unknown>;

/** Opens the offline store at `location`, checking that it answers. */
export async function openClickHouseOfflineStore(location: ClickHouseLocation): Promise<ClickHouseOfflineStore> {
  let client: ClickHouseClient;
  let description: string;
  let insertText: TextInsert;
  if (location.kind === "embedded") {
    mkdirSync(location.path, { recursive: true });
    const chdb = createChdbConnection({ path: location.path });
    // chdb implements the connection interface of its own copy of @clickhouse/client-common,
    // structurally the same as the client's; only the nominal types differ.
    client = createClient({ connection: chdb as unknown as NonNullable<Parameters<typeof createClient>[0]>["connection"] });
    description = `embedded ClickHouse (chDB) at ${location.path}`;
    // Database, table and column names match [A-Za-z0-9_]+, which chDB's identifier check accepts unquoted.
    insertText = ({ database, table, columns, body, settings }) =>
      chdb.chdb.rawInsert({ table: `${database}.${table}`, columns, values: Buffer.from(body), format: "JSONCompactEachRow", settings });
  } else {
    const server = createClient({ url: location.url, username: location.username, password: location.password });
    client = server;
    description = `ClickHouse at ${location.url}`;
    insertText = async ({ database, table, columns, body, settings }) => {
      const result = await server.exec({
        query: `INSERT INTO ${quote(database)}.${quote(table)} (${columns.map(quote).join(", ")}) FORMAT JSONCompactEachRow`,
        values: Readable.from([body]),
        clickhouse_settings: settings,
      });
      result.stream.destroy();
    };
  }
  const store = new ClickHouseOfflineStore(
    location.kind === "embedded" ? "chdb" : "clickhouse",
    client,
    insertText,
    description,
    location.kind === "server" ? location.cluster : undefined,
  );
  await store.ping();
  return store;
}

/** {@link OfflineStore} on ClickHouse. */
export class ClickHouseOfflineStore implements OfflineStore {
  private readonly ensured = new Set<string>();

  constructor(
    readonly backend: string,
    private readonly client: ClickHouseClient,
    private readonly insertText: TextInsert,
    /** Names the store in errors and logs. */
    readonly description: string,
    private readonly cluster?: string,
  ) {}

  /** Fails with UNAVAILABLE when the store does not answer. */
  async ping(): Promise<void> {
    await this.run(() => this.client.query({ query: "SELECT 1", format: "JSONEachRow" }).then((r) => r.json()));
  }

  async ensureTable(table: OfflineTable): Promise<void> {
    const name = qualifiedTableName(table);
    if (this.ensured.has(name)) return;
    for (const statement of createTableStatements(table, this.cluster)) {
      await this.run(() => this.client.command({ query: statement }));
    }
    this.ensured.add(name);
  }

  async append(table: OfflineTable, rows: HistoryColumns, deduplicationToken: string): Promise<void> {
    if (rows.length === 0) return;
    const columns = [...table.keyColumns, ...table.featureColumns];
    const { database, name } = tableNameParts(table, this.cluster !== undefined);
    await this.run(() =>
      this.insertText({
        database,
        table: name,
        columns: ["event_time", "ingestion_time", "write_id", ...columns.map((c) => c.name)],
        body: compactRowsText(table, rows),
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
    return rows.map((row) => ({
      key: table.keyColumns.map((c) => fromJsonValue(c.type, row[c.name])),
      eventTime: parseMicros(String(row.event_time)),
      ingestTime: parseMicros(String(row.ingestion_time)),
      writeId: String(row.write_id),
      features: table.featureColumns.map((c) => fromJsonValue(c.type, row[c.name])),
    }));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new StoreUnavailableError(this.description, error);
    }
  }
}

/** `sluice_{project}` and `{view}__v{version}` (ids are lower snake case, so the name is unambiguous). */
function tableNameParts(
  table: Pick<OfflineTable, "project" | "view" | "version">,
  distributed: boolean,
): { database: string; name: string } {
  return { database: `sluice_${table.project}`, name: `${table.view}__v${table.version}${distributed ? "_all" : ""}` };
}

/** `sluice_{project}`.`{view}__v{version}`, quoted; `..._all` names the Distributed table of a cluster. */
export function qualifiedTableName(table: Pick<OfflineTable, "project" | "view" | "version">, distributed = false): string {
  const { database, name } = tableNameParts(table, distributed);
  return `${quote(database)}.${quote(name)}`;
}

/**
 * The DDL of a view version's history table. On a cluster the data table is replicated on every
 * node and a Distributed table (`..._all`) in front of it takes inserts and queries.
 */
export function createTableStatements(table: OfflineTable, cluster?: string): string[] {
  const onCluster = cluster ? ` ON CLUSTER ${quote(cluster)}` : "";
  const columns = [
    ...table.keyColumns.map((c) => `${quote(c.name)} ${COLUMN_TYPES[c.type]}`),
    "`event_time` DateTime64(6, 'UTC')",
    "`ingestion_time` DateTime64(6, 'UTC')",
    "`write_id` String",
    ...table.featureColumns.map((c) => `${quote(c.name)} ${nullableType(c)}`),
  ].join(", ");
  const orderBy = [...table.keyColumns.map((c) => quote(c.name)), "`event_time`"].join(", ");
  const database = quote(`sluice_${table.project}`);
  const local = qualifiedTableName(table);
  if (!cluster) {
    return [
      `CREATE DATABASE IF NOT EXISTS ${database}`,
      `CREATE TABLE IF NOT EXISTS ${local} (${columns}) ENGINE = MergeTree ORDER BY (${orderBy}) ` +
        `SETTINGS non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW}`,
    ];
  }
  const zooPath = `/clickhouse/tables/{shard}/sluice_${table.project}/${table.view}__v${table.version}`;
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}${onCluster}`,
    `CREATE TABLE IF NOT EXISTS ${local}${onCluster} (${columns}) ` +
      `ENGINE = ReplicatedMergeTree('${zooPath}', '{replica}') ORDER BY (${orderBy}) ` +
      `SETTINGS replicated_deduplication_window = ${DEDUPLICATION_WINDOW}`,
    `CREATE TABLE IF NOT EXISTS ${qualifiedTableName(table, true)}${onCluster} AS ${local} ` +
      `ENGINE = Distributed(${quote(cluster)}, ${database}, ${quote(`${table.view}__v${table.version}`)}, cityHash64(${orderBy.replace(", `event_time`", "")}))`,
  ];
}

/** Lists cannot be Nullable in ClickHouse: a null list is stored as an empty one. */
function nullableType(column: OfflineColumn): string {
  const type = COLUMN_TYPES[column.type];
  return type.startsWith("Array(") ? type : `Nullable(${type})`;
}

function quote(identifier: string): string {
  return `\`${identifier.replace(/\\/g, "\\\\").replace(/`/g, "\\`")}\``;
}

/**
 * The rows as JSONCompactEachRow text (one array per line: times, write id, keys, features),
 * formatted column by column with a formatter chosen once per column type. Times go as
 * integers, which ClickHouse reads as DateTime64(6) ticks (microseconds).
 */
function compactRowsText(table: OfflineTable, rows: HistoryColumns): string {
  const writeId = JSON.stringify(rows.writeId);
  const cells = [
    ...table.keyColumns.map((c, i) => ({ format: JSON_CELL[c.type], values: rows.keys[i] as ArrayLike<FeatureValue> })),
    ...table.featureColumns.map((c, i) => ({ format: JSON_CELL[c.type], values: rows.features[i] as ArrayLike<FeatureValue> })),
  ];
  let text = "";
  for (let row = 0; row < rows.length; row++) {
    let line = `[${rows.eventTimes[row]},${rows.ingestTimes[row]},${writeId}`;
    for (const { format, values } of cells) line += `,${format(values[row] ?? null)}`;
    text += `${line}]\n`;
  }
  return text;
}

/** A value of each type as a JSON cell of the insert text. */
const JSON_CELL: Record<ValueType, (value: FeatureValue) => string> = {
  int32: numberCell,
  int64: (value) => (value === null ? "null" : `"${value}"`),
  float: numberCell,
  double: numberCell,
  bool: (value) => (value === null ? "null" : value ? "true" : "false"),
  string: (value) => JSON.stringify(value),
  bytes: (value) => (value === null ? "null" : `"${Buffer.from(value as Uint8Array).toString("base64")}"`),
  timestamp: (value) => (value === null ? "null" : String((value as Date).getTime() * 1000)),
  // Lists cannot be Nullable in ClickHouse: a null list is stored as an empty one.
  int64_list: (value) => (value === null ? "[]" : JSON.stringify((value as bigint[]).map(String))),
  float_list: listCell,
  double_list: listCell,
  string_list: listCell,
};

/** Finite numbers only reach the store (checked on write), and their JavaScript text is valid JSON. */
function numberCell(value: FeatureValue): string {
  return value === null ? "null" : String(value);
}

function listCell(value: FeatureValue): string {
  return value === null ? "[]" : JSON.stringify(value);
}

function toJsonValue(type: ValueType, value: FeatureValue): unknown {
  if (value === null) return type.endsWith("_list") ? [] : null;
  switch (type) {
    case "int64":
      return String(value);
    case "bytes":
      return Buffer.from(value as Uint8Array).toString("base64");
    case "timestamp":
      return (value as Date).getTime() * 1000;
    case "int64_list":
      return (value as bigint[]).map(String);
    default:
      return value;
  }
}

function fromJsonValue(type: ValueType, value: unknown): FeatureValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "int64":
      return BigInt(value as string);
    case "bytes":
      return new Uint8Array(Buffer.from(value as string, "base64"));
    case "timestamp":
      return new Date(Math.floor(parseMicros(value as string) / 1000));
    case "int64_list":
      return (value as string[]).map((v) => BigInt(v));
    default:
      return value as FeatureValue;
  }
}

/** Microseconds since the epoch -> "YYYY-MM-DD hh:mm:ss.ffffff" (UTC), as DateTime64(6) reads it. */
export function formatMicros(micros: number): string {
  const second = Math.floor(micros / 1_000_000);
  const iso = new Date(second * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(micros - second * 1_000_000).padStart(6, "0")}`;
}

/** "YYYY-MM-DD hh:mm:ss[.ffffff]" (UTC) -> microseconds since the epoch. */
export function parseMicros(text: string): number {
  const [seconds, fraction = ""] = text.split(".");
  const whole = Date.parse(`${(seconds ?? "").replace(" ", "T")}Z`);
  return whole * 1000 + Number(fraction.padEnd(6, "0").slice(0, 6));
}

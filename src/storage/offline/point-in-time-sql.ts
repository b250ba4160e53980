/**
 * The SQL of point-in-time joins and of the spines they read, one dialect for chDB and a
 * ClickHouse server. Each view is joined with one ASOF LEFT JOIN on its entity's key columns:
 * ClickHouse finds, per spine row, the history row with the greatest time not above the spine
 * row's. What the right side holds makes the tie rules exact:
 *
 * - by default, one row per entity and event time, the latest ingested (`LIMIT 1 BY` over the
 *   history in key, event time, ingestion time descending order, which the table's sort order
 *   makes cheap), joined on event time;
 * - with `excludeLateIngested`, a row only counts from the moment it was known,
 *   greatest(event time, ingestion time). Each history row then carries the best row (by event
 *   time, then ingestion time) known at that moment, a running argMax over the entity's rows in
 *   the order they became known, and the join key is that moment packed with the row's rank
 *   into one Decimal128, so the fullest of rows known at the same moment wins.
 *
 * When the history of a retrieval is small enough to join in memory (`inMemory`: a parallel hash
 * join, up to about 1.7× faster), the first rule needs no thinning: the right side keeps every row, joined on its
 * event time packed with its ingestion time into one Decimal128, and the spine side's key admits
 * every ingestion time, so the row found is the latest event time's latest ingested row.
 *
 * The TTL check needs no join condition: the row found is the newest one that qualifies, so if
 * it is too old, every other row is too.
 */
import { ValidationError } from "../../common/errors.js";
import type { ValueType } from "../../common/value-type.js";
import { COLUMN_TYPES, quote, stringLiteral } from "./clickhouse-sql.js";
import { HELD_TIME_COLUMN } from "./held-history.js";
import { type OfflineColumn, type OfflineTable, type PointInTimeJoin, type Spine, viewFeatureColumns } from "./offline-store.js";
import { windowedAggregatesQuery } from "./window-sql.js";

/** The database that holds spines while their joins run. */
export const SPINE_DATABASE = "sluice_tmp";

/** Packs a time and a rank below 10^17 into one exactly comparable number. */
const ASOF_SHIFT = "100000000000000000";
/** The largest rank: the spine side's key admits every row known at its time. */
const ASOF_MAX_PART = "99999999999999999";

/** Shifts ingestion times (from 1900 on, microseconds) into [0, 10^17) for the packed key of an in-memory join. */
const INGESTION_OFFSET = "10000000000000000";

/** Settings of every streamed query: the sort-merge ASOF join streams with bounded memory. */
export const JOIN_SETTINGS = {
  join_algorithm: "full_sorting_merge",
  join_use_nulls: 1,
  output_format_arrow_string_as_string: 1,
  output_format_arrow_compression_method: "none",
} as const;

/**
 * Reading a table in key order merges one stream per part; by default the engine buffers each
 * stream's chunks ahead of the merge, which costs memory per part and gains nothing here. Without it
 * a sort-merge join of a 1M-row spine with two 10M-row histories in 11 parts each needed 334 MB
 * over the engine at rest instead of 555, in the same time (5.3 s), and a held history read as
 * fast. Sent only to an engine that has the setting: an older one would refuse it.
 */
export const READS_IN_ORDER_UNBUFFERED = { read_in_order_use_buffering: 0 } as const;

/**
 * The settings of a join query: {@link JOIN_SETTINGS}, with a parallel hash join when it runs in
 * memory (measured on two data sets here: 0.41-0.43 s where a plain hash join took 0.46-0.65 s
 * and the sort-merge join 0.64-0.78 s, and never slower than the sort-merge join). A sort-merge
 * join in spine order sorts its whole result last; in blocks of 32,768 rows instead of 65,536 that
 * peaked about 50 MB lower (a 1M-row spine over 3 × 10M rows: 868 → 817 MB for the engine's
 * process, in the same 3.5 s).
 */
export function joinSettings(join: Pick<PointInTimeJoin, "spineOrder">, inMemory: boolean): Record<string, string | number> {
  if (inMemory) return { ...JOIN_SETTINGS, join_algorithm: "parallel_hash" };
  return join.spineOrder ? { ...JOIN_SETTINGS, max_block_size: 32_768 } : JOIN_SETTINGS;
}

/** `sluice_tmp`.`spine_{id}`. */
export function spineTableName(spine: Pick<Spine, "id">): string {
  return `${quote(SPINE_DATABASE)}.${quote(`spine_${spine.id}`)}`;
}

/** The DDL of a spine: its index, key columns, event time, and nullable extra columns. */
export function createSpineStatements(spine: Spine): string[] {
  const columns = [
    "`spine_index` UInt64",
    ...spine.keyColumns.map((c) => `${quote(c.name)} ${COLUMN_TYPES[c.type]}`),
    "`event_time` DateTime64(6, 'UTC')",
    ...spine.extraColumns.map(extraColumnDefinition),
  ];
  return [
    `CREATE DATABASE IF NOT EXISTS ${quote(SPINE_DATABASE)}`,
    `CREATE TABLE ${spineTableName(spine)} (${columns.join(", ")}) ENGINE = MergeTree ORDER BY spine_index`,
  ];
}

/** An extra column's definition: nullable, except lists (ClickHouse cannot make them nullable). */
export function extraColumnDefinition(column: OfflineColumn): string {
  const type = COLUMN_TYPES[column.type];
  return `${quote(column.name)} ${type.startsWith("Array(") ? type : `Nullable(${type})`}`;
}

/** The insert column list of a spine. */
export function spineInsertColumns(spine: Spine): string[] {
  return ["spine_index", ...spine.keyColumns.map((c) => c.name), "event_time", ...spine.extraColumns.map((c) => c.name)];
}

/**
 * The SELECT of a point-in-time join. `historyTable` names a view version's history table and
 * `eventsTable` a window group's events table; `inMemory` shapes it for a hash join (run it with
 * {@link joinSettings} of the same value). The result columns are those {@link ArrowChunks} describes.
 */
export function joinQuery(
  join: PointInTimeJoin,
  historyTable: (view: number) => string,
  eventsTable: (window: number) => string,
  inMemory = false,
  bounds: (view: number) => string | undefined = () => undefined,
): string {
  const { spine } = join;
  // Both tie rules that pack the join time read the same spine-side key: the spine time, any rank.
  const packed = join.excludeLateIngested || inMemory;
  const select = [
    ...(join.withSpineIndex ? ["toInt64(s.spine_index) AS spine_index"] : []),
    ...spine.keyColumns.map((c) => `s.${quote(c.name)} AS ${quote(c.name)}`),
    "s.event_time AS event_time",
    ...spine.extraColumns.map((c) => `s.${quote(c.name)} AS ${quote(c.name)}`),
    ...join.features.map((feature) => {
      if ("window" in feature) {
        // Every spine row has its aggregates; the cast gives each the feature's declared type.
        const type = COLUMN_TYPES[feature.type];
        const value = `w${feature.window}.${quote(feature.column)}`;
        return type.startsWith("Array(")
          ? `CAST(${value}, '${type}') AS ${quote(feature.as)}`
          : `CAST(${value}, 'Nullable(${type})') AS ${quote(feature.as)}`;
      }
      const { view, column, as } = feature;
      const value = `v${view}.${quote(column)}`;
      const ttl = join.views[view]?.ttlMicros ?? 0;
      // Unmatched rows carry NULL times (join_use_nulls); an expired row's value becomes the type's
      // default, which is NULL for the nullable feature columns and [] for lists.
      const fresh = ttl > 0 ? `v${view}.__time >= s.event_time - toIntervalMicrosecond(${ttl})` : `v${view}.__time IS NOT NULL`;
      return `if(${fresh}, ${value}, defaultValueOfArgumentType(${value})) AS ${quote(as)}`;
    }),
  ];
  const joins = join.views.map(({ table }, view) => {
    const keys = table.keyColumns.map((c) => quote(c.name));
    const features = viewFeatureColumns(join, view);
    const history = join.excludeLateIngested
      ? knownHistory(historyTable(view), keys, features)
      : inMemory
        ? `SELECT ${[...keys, "event_time AS __time", `${asofKey("event_time", `toUnixTimestamp64Micro(ingestion_time) + ${INGESTION_OFFSET}`)} AS __asof`, ...features.map(quote)].join(", ")} FROM ${historyTable(view)}`
        : `SELECT ${[...keys, "event_time AS __time", ...features.map(quote)].join(", ")} FROM ${historyTable(view)} ` +
          boundsWhere(bounds(view), table.keyColumns, join.views[view]?.ttlMicros ?? 0) +
          `ORDER BY ${keys.join(", ")}, event_time, ingestion_time DESC LIMIT 1 BY ${keys.join(", ")}, event_time ` +
          // The history is read in its sort order and thinned as it streams; one thread does that as
          // fast as several (measured), with a third less memory for the whole join.
          "SETTINGS max_threads = 1";
    const on = [...keys.map((k) => `s.${k} = v${view}.${k}`), packed ? `s.__asof >= v${view}.__asof` : `s.event_time >= v${view}.__time`];
    return `ASOF LEFT JOIN (${history}) AS v${view} ON ${on.join(" AND ")}`;
  });
  const spineRows = packed
    ? `SELECT *, ${asofKey("event_time", ASOF_MAX_PART)} AS __asof FROM ${spineTableName(spine)}`
    : `SELECT * FROM ${spineTableName(spine)}`;
  const windows = (join.windows ?? []).map((window, w) => {
    const aggregates = windowedAggregatesQuery(
      {
        spineTable: spineTableName(spine),
        eventsTable: eventsTable(w),
        keyColumns: window.events.keyColumns.map((c) => c.name),
        fields: window.events.featureColumns,
        granularity: window.granularityMicros,
        columns: window.aggregations.map((a) => ({ ...a, fieldType: fieldTypeOf(window.events, a.field) })),
        knownAt: join.excludeLateIngested,
      },
      true,
    );
    return `LEFT JOIN (${aggregates}) AS w${w} ON s.spine_index = w${w}.spine_index`;
  });
  const order = join.spineOrder ? " ORDER BY s.spine_index" : "";
  return `SELECT ${select.join(", ")} FROM (${spineRows}) AS s ${[...joins, ...windows].join(" ")}${order}`;
}

/**
 * The streamed join's spine (streamed-join.ts) sorted by one key column and time, with its time
 * in microseconds (`__time`) and its index, or, `withOutput`, the output's own columns as
 * {@link spineColumnsQuery} gives them.
 */
export function sortedSpineQuery(join: PointInTimeJoin, key: string, withOutput: boolean): string {
  const columns = withOutput ? spineOutputColumns(join) : ["spine_index", quote(key)];
  return (
    `SELECT ${[...columns, `toUnixTimestamp64Micro(event_time) AS ${HELD_TIME_COLUMN}`].join(", ")} ` +
    `FROM ${spineTableName(join.spine)} ORDER BY ${quote(key)}, event_time`
  );
}

/** The spine's own columns of a join's result, as {@link joinQuery} writes them, in spine order. */
export function spineColumnsQuery(join: PointInTimeJoin): string {
  return `SELECT ${spineOutputColumns(join).join(", ")} FROM ${spineTableName(join.spine)} ORDER BY spine_index`;
}

function spineOutputColumns(join: PointInTimeJoin): string[] {
  const { spine } = join;
  return [
    ...(join.withSpineIndex ? ["toInt64(spine_index) AS spine_index"] : []),
    ...spine.keyColumns.map((c) => quote(c.name)),
    "event_time",
    ...spine.extraColumns.map((c) => quote(c.name)),
  ];
}

/**
 * A view's history as the streamed join merges it: one key column, the event time in
 * microseconds, and `features`, by key, event time and ingestion time: the table's own order is
 * (key, event time), so the engine reads it in order and sorts only rows of equal key and time.
 * With `bounds`, only the rows a spine row could take ({@link spineBoundsFilter}), which keeps the
 * read in order.
 */
export function streamedHistoryQuery(table: string, key: string, features: readonly string[], bounds?: SpineBounds): string {
  const where = bounds ? ` WHERE ${spineBoundsFilter(bounds, [key])}` : "";
  return (
    `SELECT ${[quote(key), `toUnixTimestamp64Micro(event_time) AS ${HELD_TIME_COLUMN}`, ...features.map(quote)].join(", ")} ` +
    `FROM ${table}${where} ORDER BY ${quote(key)}, event_time, ingestion_time`
  );
}

/** A table of a spine's time bounds per entity ({@link spineBoundsStatement}), and a view's TTL. */
export interface SpineBounds {
  table: string;
  ttlMicros: number;
}

/**
 * Keeps the history rows a spine row could take: of an entity in the spine, at most its latest
 * spine time, and, with a TTL, at least its earliest spine time less the TTL (an older row is too
 * old for every spine row of the entity, and so is any row before it). A conservative filter: an
 * entity missing from the bounds reads as times at the epoch, and only its rows, which no spine row
 * takes, go.
 */
export function spineBoundsFilter(bounds: SpineBounds, keys: readonly string[]): string {
  const of = (column: string) => `joinGet(${stringLiteral(bounds.table)}, '${column}', ${keys.map(quote).join(", ")})`;
  const latest = `event_time <= ${of("latest")}`;
  return bounds.ttlMicros > 0 ? `${latest} AND event_time >= ${of("earliest")} - toIntervalMicrosecond(${bounds.ttlMicros})` : latest;
}

/**
 * `sluice_tmp.spine_{id}_bounds_{n}`: the spine's time bounds per entity of one set of key columns.
 * Plain, as `joinGet` takes it: spine ids are hexadecimal, so the name needs no quoting.
 */
export function spineBoundsTableName(spine: Pick<Spine, "id">, n: number): string {
  return `${SPINE_DATABASE}.spine_${spine.id}_bounds_${n}`;
}

/**
 * A spine's earliest and latest time per entity of `keys`, in a table of the Join engine: a hash
 * table in the engine's memory that `joinGet` reads. Not persistent: a Join table written to disk
 * is read back into memory by every later start of the engine, dropped or not, until its data is
 * removed (8 minutes after a plain DROP).
 */
export function spineBoundsStatement(spine: Spine, keys: readonly string[], table: string): string {
  const columns = keys.map(quote).join(", ");
  return (
    `CREATE TABLE ${table} ENGINE = Join(ANY, LEFT, ${columns}) SETTINGS persistent = 0 AS ` +
    `SELECT ${columns}, min(event_time) AS earliest, max(event_time) AS latest FROM ${spineTableName(spine)} GROUP BY ${columns}`
  );
}

/** `WHERE` {@link spineBoundsFilter} and a space, or nothing without a bounds table. */
function boundsWhere(table: string | undefined, keys: readonly OfflineColumn[], ttlMicros: number): string {
  return table
    ? `WHERE ${spineBoundsFilter(
        { table, ttlMicros },
        keys.map((c) => c.name),
      )} `
    : "";
}

/** The type of an events table's field (count reads none: any type will do). */
function fieldTypeOf(events: OfflineTable, field: string): ValueType {
  return events.featureColumns.find((c) => c.name === field)?.type ?? "int64";
}

/**
 * History rows as known over time: per row, the best row known once it became known, with its
 * time, as-of key and features (see the module comment).
 */
function knownHistory(table: string, keys: string[], features: string[]): string {
  const best = `argMax(tuple(event_time, ${features.map(quote).join(", ")}), tuple(event_time, ingestion_time))`;
  const window = `(PARTITION BY ${keys.join(", ")} ORDER BY __known, event_time, ingestion_time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;
  const inner = `SELECT ${keys.join(", ")}, greatest(event_time, ingestion_time) AS __known, ${best} OVER ${window} AS __best, row_number() OVER ${window} AS __rank FROM ${table}`;
  const columns = [
    ...keys,
    "__best.1 AS __time",
    `${asofKey("__known", "__rank")} AS __asof`,
    ...features.map((f, i) => `__best.${i + 2} AS ${quote(f)}`),
  ];
  return `SELECT ${columns.join(", ")} FROM (${inner})`;
}

/** `time` (a DateTime64(6)) and a rank below 10^17 as one Decimal128 that orders like the pair. */
function asofKey(time: string, part: string): string {
  return `toDecimal128(toUnixTimestamp64Micro(${time}), 0) * ${ASOF_SHIFT} + ${part}`;
}

/** A table name a client may give for an offline spine: `table` or `database.table`. */
const TABLE_NAME = /^(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * The quoted table a client named: a table of the project's database, named alone or qualified
 * by that database; INVALID_ARGUMENT for anything else (another project's or the system's tables).
 */
export function clientTableName(name: string, projectDatabase: string): string {
  const match = TABLE_NAME.exec(name);
  const field = "query.offline_spine.table";
  if (!match?.[2]) {
    throw new ValidationError("INVALID_SPINE_TABLE", [
      { field, description: `"${name}" is not a table name ("table" or "database.table")` },
    ]);
  }
  if (match[1] !== undefined && match[1] !== projectDatabase) {
    throw new ValidationError("SPINE_SQL_NOT_ALLOWED", [
      { field, description: `may not read ${name}: a spine reads only the tables of its project's database, ${projectDatabase}` },
    ]);
  }
  return `${quote(projectDatabase)}.${quote(match[2])}`;
}

/** The Sluice type of a ClickHouse column type, or undefined when it has none. */
export function valueTypeOfColumn(clickhouseType: string): ValueType | undefined {
  const inner = unwrap(clickhouseType);
  const array = /^Array\((.*)\)$/.exec(inner);
  if (array?.[1]) {
    const element = valueTypeOfColumn(array[1]);
    if (element === "int32" || element === "int64") return "int64_list";
    if (element === "float" || element === "double") return element === "float" ? "float_list" : "double_list";
    return element === "string" ? "string_list" : undefined;
  }
  if (/^(U?Int(8|16)|Int32)$/.test(inner)) return "int32";
  if (/^(Int64|UInt32|UInt64)$/.test(inner)) return "int64";
  if (inner === "Float32") return "float";
  if (inner === "Float64" || inner.startsWith("Decimal")) return "double";
  if (inner === "Bool") return "bool";
  if (/^(String|FixedString\(\d+\)|UUID|Enum(8|16)?\(.*\))$/.test(inner)) return "string";
  if (/^(Date|Date32|DateTime|DateTime\(.*\)|DateTime64\(.*\))$/.test(inner)) return "timestamp";
  return undefined;
}

/** Whether a ClickHouse column type is nullable. */
export function isNullableColumn(clickhouseType: string): boolean {
  return /^(LowCardinality\()?Nullable\(/.test(clickhouseType);
}

function unwrap(type: string): string {
  const wrapped = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(type);
  return wrapped?.[1] ? unwrap(wrapped[1]) : type;
}

/**
 * The expression that converts a source column of `sourceType` to a spine column of `type`:
 * keys and extras take the spine's stored types (bytes keys as base64, times as DateTime64(6)).
 */
export function spineColumnExpression(column: string, sourceType: string, type: ValueType): string {
  const source = quote(column);
  if (type === "timestamp") return `toDateTime64(${source}, 6, 'UTC')`;
  if (type === "bytes") return `base64Encode(toString(${source}))`;
  const target = COLUMN_TYPES[type];
  if (target === "String") return `toString(${source})`;
  return `CAST(${source} AS ${target.startsWith("Array(") || !isNullableColumn(sourceType) ? target : `Nullable(${target})`})`;
}

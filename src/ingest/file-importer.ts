/**
 * Bulk import of a Parquet or CSV file into a feature view version, or of raw events into an event
 * stream version (a historical backfill). The file is read a bounded batch at a time; each
 * batch's values are converted from the file's types, then written through the same
 * {@link FeatureWriter} or {@link EventWriter} as streamed writes (same validation, same
 * durability, same write-id deduplication, so a retried import with the same write id stores
 * every row once).
 */
import { access, realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { PreconditionError, ValidationError, ViolationCollector } from "../common/errors.js";
import { readAhead } from "../common/read-ahead.js";
import type { Entity } from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import { type EventWriter, IMPORT_SOURCE } from "./event-writer.js";
import { type FeatureWriter, LatestOnlineWrites } from "./feature-writer.js";
import { type ColumnBatch, type FileFormat, FileFormatError, openColumnFile } from "./file-columns.js";
import { fileColumnToInput, fileTimeToMicros, valueKind } from "./file-values.js";
import type { ColumnarRows, ColumnInput, RowRejection } from "./model.js";

/** The event-time field name used in column mappings. */
const EVENT_TIME = "event_time";
/** How many rejections are reported back as examples. */
const SAMPLE_REJECTIONS = 100;
/** Entities whose newest rows an import holds for the online store before applying them (a few hundred MB at most). */
export const MAX_HELD_ENTITIES = 1_000_000;

/** What to import and how the file's columns map onto the view. */
export interface ImportConfig {
  project: string;
  featureView: string;
  /** Import raw events into this stream instead (set exactly one of featureView, eventStream and featureViews). */
  eventStream?: string;
  /**
   * Feed several views from the one file in one pass instead: each batch read is written to every
   * view, each reading its fields through its own mapping over `columnMapping`.
   */
  featureViews?: ReadonlyArray<{ featureView: string; columnMapping: Record<string, string> }>;
  format: FileFormat;
  /** View field (event_time, a join key or a feature) -> file column; unmapped fields use their own name. */
  columnMapping: Record<string, string>;
  /** The file column of each row's created time; empty: rows get the time of the import. */
  createdTimeColumn: string;
  /**
   * Also apply the rows to the online store (latest value per entity wins by event time): held back
   * as the newest row per entity and applied at the end of the import, or whenever
   * {@link MAX_HELD_ENTITIES} are held, so each entity is written about once.
   */
  materializeOnline: boolean;
  writeId: string;
}

/**
 * The file of an import: one on the server that the client named (`source_path`, confined to
 * imports.allowedDirs), or an upload the server staged itself once the client's stream ended.
 */
export type ImportSource = { kind: "server"; path: string } | { kind: "upload"; path: string };

/**
 * Progress after each batch; the last one has `done`. Rejections carry file row numbers. With
 * several targets, written and rejected are sums over them, and `targets` has each one's.
 */
export interface ImportProgress {
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  sampleRejections: RowRejection[];
  targets: Array<{ pinned: string; rowsWritten: number; rowsRejected: number }>;
  done: boolean;
}

/** Where an import writes: a pinned view or stream version, its entity and value fields, its column mapping and its writer. */
interface ImportTarget {
  pinned: string;
  entity: Entity;
  values: ReadonlyArray<{ name: string; type: Entity["joinKeys"][number]["type"] }>;
  /** "a feature" or "a field", for messages. */
  valueLabel: string;
  columnMapping: Record<string, string>;
  /** Where its column mapping is, for messages. */
  mappingField: string;
  write(columns: ColumnarRows, writeId: string): Promise<{ acceptedCount: number; rejectedRows: RowRejection[] }>;
  /** Applies the online writes held back so far (feature views with materializeOnline); nothing otherwise. */
  applyOnline(): Promise<void>;
}

/** A target with its fields, as read from the file. */
interface ReadTarget extends ImportTarget {
  fields: Array<{ name: string; type: Entity["joinKeys"][number]["type"]; key: boolean }>;
  /** Its fields the file has. */
  present: Array<{ name: string; type: Entity["joinKeys"][number]["type"]; key: boolean }>;
  column(field: string): string;
}

/** Imports files through the write path. */
export class FileImporter {
  private readonly allowedDirs: string[];

  constructor(
    private readonly registry: Registry,
    private readonly writer: FeatureWriter,
    private readonly eventWriter: EventWriter,
    private readonly batchSize = 10_000,
    /** imports.allowedDirs: the directories whose files a server-side import may read; empty: none. */
    allowedDirs: readonly string[] = [],
  ) {
    this.allowedDirs = allowedDirs.map((dir) => resolve(dir));
  }

  /**
   * The real path of a server-side file a client named, when it lies under an allowed directory
   * once `..` and symlinks are resolved (the file is then read through that real path).
   * FAILED_PRECONDITION when no directory is allowed; INVALID_ARGUMENT for a relative path or one
   * outside them, decided before the file system is touched when the path itself is outside, so
   * the answer never tells whether a file exists elsewhere.
   */
  async confinedPath(path: string): Promise<string> {
    const field = "config.source_path";
    if (this.allowedDirs.length === 0) {
      throw new PreconditionError(
        "SERVER_IMPORTS_DISABLED",
        "server-side imports are off: set imports.allowedDirs to the directories whose files ImportFeatures may read, or stream the file up",
        { config_key: "imports.allowedDirs" },
      );
    }
    const outside = new ValidationError("SOURCE_PATH_NOT_ALLOWED", [
      { field, description: "is outside the directories imports.allowedDirs allows (after resolving .. and symlinks)" },
    ]);
    if (!isAbsolute(path)) throw new ValidationError("SOURCE_PATH_NOT_ALLOWED", [{ field, description: "must be an absolute path" }]);
    const realDirs = await Promise.all(this.allowedDirs.map((dir) => realpath(dir).catch(() => dir)));
    const requested = resolve(path);
    if (![...this.allowedDirs, ...realDirs].some((dir) => isWithin(requested, dir))) throw outside;
    const real = await realpath(requested).catch((error: NodeJS.ErrnoException) => {
      throw new ValidationError("UNREADABLE_SOURCE", [{ field, description: `cannot read ${path}: ${error.code ?? "unreadable"}` }]);
    });
    if (!realDirs.some((dir) => isWithin(real, dir))) throw outside;
    return real;
  }

  /** The views or stream an import writes to, each pinned to the version it resolves to now. */
  private async targetsOf(config: ImportConfig): Promise<ImportTarget[]> {
    const views = config.featureViews ?? [];
    if ([config.featureView !== "", Boolean(config.eventStream), views.length > 0].filter(Boolean).length !== 1)
      throw new ValidationError("INVALID_IMPORT_TARGET", [
        { field: "config.feature_view", description: "set exactly one of feature_view, event_stream and feature_views" },
      ]);
    if (config.eventStream) {
      const stream = await this.registry.resolveStreamRef(config.project, config.eventStream, "config.event_stream");
      const pinned = `${stream.name}@${stream.version}`;
      return [
        {
          pinned,
          entity: await this.registry.getEntity(stream.project, stream.entity),
          values: stream.fields,
          valueLabel: "a field",
          columnMapping: config.columnMapping,
          mappingField: "config.column_mapping",
          write: (columns, writeId) =>
            this.eventWriter.writeBatch({ project: stream.project, stream: pinned, rows: [], columns, writeId, source: IMPORT_SOURCE }),
          applyOnline: async () => {},
        },
      ];
    }
    const wanted =
      views.length > 0
        ? views.map((target, i) => ({
            ref: target.featureView,
            field: `config.feature_views[${i}]`,
            columnMapping: { ...config.columnMapping, ...target.columnMapping },
          }))
        : [{ ref: config.featureView, field: "config", columnMapping: config.columnMapping }];
    const targets: ImportTarget[] = [];
    for (const { ref, field, columnMapping } of wanted) {
      const view = await this.registry.resolveViewRef(config.project, ref, `${field}.feature_view`);
      const pinned = `${view.name}@${view.version}`;
      if (targets.some((t) => t.pinned === pinned))
        throw new ValidationError("INVALID_IMPORT_TARGET", [{ field: `${field}.feature_view`, description: `${pinned} is listed twice` }]);
      const held = config.materializeOnline ? new LatestOnlineWrites() : undefined;
      targets.push({
        pinned,
        entity: await this.registry.getEntity(view.project, view.entity),
        values: view.features,
        valueLabel: "a feature",
        columnMapping,
        mappingField: `${field}.column_mapping`,
        write: async (columns, writeId) => {
          const receipt = await this.writer.writeBatch(
            { project: view.project, featureView: pinned, rows: [], columns, writeId },
            { online: held ?? false },
          );
          if (held && held.size >= MAX_HELD_ENTITIES) await this.writer.applyOnline(held);
          return receipt;
        },
        applyOnline: async () => {
          if (held) await this.writer.applyOnline(held);
        },
      });
    }
    return targets;
  }

  /**
   * Imports a file, yielding progress after every batch. All or nothing for a cancelled call: an
   * import whose `signal` aborts before its first batch is written writes nothing; once a batch is
   * written it runs to its end, since stopping would leave part of the file applied. Errors name
   * rows and columns of the file, never its text. The file is read once, whatever the number of
   * targets; each batch is written to all of them together.
   */
  async *import(config: ImportConfig, source: ImportSource, signal?: AbortSignal): AsyncGenerator<ImportProgress> {
    // Pin the versions for the whole import, even if a definition changes meanwhile.
    const pinnedTargets = await this.targetsOf(config);
    const v = new ViolationCollector();
    const hasField = (target: ImportTarget, field: string) =>
      field === EVENT_TIME || target.entity.joinKeys.some((k) => k.name === field) || target.values.some((f) => f.name === field);
    const [first] = pinnedTargets as [ImportTarget];
    // The shared mapping may name fields some of the views lack, but not fields none of them has.
    for (const field of Object.keys(config.columnMapping)) {
      if (!pinnedTargets.some((target) => hasField(target, field)))
        v.add(
          `config.column_mapping["${field}"]`,
          `${pinnedTargets.length > 1 ? "none of the imported views" : first.pinned} has no field "${field}"; map event_time, a join key or ${first.valueLabel}`,
        );
    }
    (config.featureViews ?? []).forEach((view, i) => {
      const target = pinnedTargets[i] as ImportTarget;
      for (const field of Object.keys(view.columnMapping)) {
        if (!hasField(target, field))
          v.add(`${target.mappingField}["${field}"]`, `${target.pinned} has no field "${field}"; map event_time, a join key or a feature`);
      }
    });
    v.throwIfAny("INVALID_COLUMN_MAPPING");
    // An upload's staged path is the server's own: messages call it "the uploaded file".
    const [path, field, label] =
      source.kind === "server"
        ? [await this.confinedPath(source.path), "config.source_path", source.path]
        : [source.path, "chunk", "the uploaded file"];
    await access(path).catch((error: NodeJS.ErrnoException) => {
      throw new ValidationError("UNREADABLE_SOURCE", [{ field, description: `cannot read ${label}: ${error.code ?? "unreadable"}` }]);
    });
    const fileError = (error: unknown) =>
      error instanceof FileFormatError
        ? new ValidationError(config.format === "csv" ? "INVALID_CSV_FILE" : "INVALID_PARQUET_FILE", [
            { field, description: `${label} ${error.problem}` },
          ])
        : error;
    const file = await openColumnFile(path, config.format).catch((error: unknown) => {
      throw fileError(error);
    });
    const targets: ReadTarget[] = pinnedTargets.map((target) => {
      const column = (field: string) => target.columnMapping[field] ?? field;
      const fields = [...target.entity.joinKeys.map((k) => ({ ...k, key: true })), ...target.values.map((f) => ({ ...f, key: false }))];
      requireColumns(file.columnNames, [column(EVENT_TIME), ...target.entity.joinKeys.map((k) => column(k.name))], config);
      return { ...target, fields, present: fields.filter((f) => file.columnNames.includes(column(f.name))), column };
    });
    const wantedColumns = new Set(
      targets
        .flatMap((t) => [t.column(EVENT_TIME), ...t.present.map((f) => t.column(f.name))])
        .concat(config.createdTimeColumn ? [config.createdTimeColumn] : []),
    );

    const progress: ImportProgress = {
      rowsRead: 0,
      rowsWritten: 0,
      rowsRejected: 0,
      sampleRejections: [],
      targets: targets.map((t) => ({ pinned: t.pinned, rowsWritten: 0, rowsRejected: 0 })),
      done: false,
    };
    const batches = file.batches([...wantedColumns], this.batchSize);
    let started: boolean;
    try {
      // The next batches are decoded while the engine stores this one (a 2 × 1M-row load: 8.2-8.6 s, from 8.7-9.7 s).
      started = yield* this.importBatches(targets, readAhead(rethrowing(batches, fileError), 2), config, progress, signal);
    } finally {
      // What the online store has not had yet, also when the import fails part way: online follows what was stored offline.
      await Promise.all(targets.map((target) => target.applyOnline()));
    }
    if (started) yield { ...progress, targets: progress.targets.map((t) => ({ ...t })), done: true };
  }

  /** Writes each batch to every target, yielding progress after each; false when cancelled before the first. */
  private async *importBatches(
    targets: ReadTarget[],
    batches: AsyncIterable<ColumnBatch>,
    config: ImportConfig,
    progress: ImportProgress,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ImportProgress, boolean> {
    let batchIndex = 0;
    for await (const batch of batches) {
      if (batchIndex === 0 && signal?.aborted) return false;
      const writeId = config.writeId ? `${config.writeId}:${batchIndex}` : "";
      const written = await Promise.all(targets.map((target) => writeBatchTo(target, batch, config.createdTimeColumn, writeId)));
      progress.rowsRead += batch.rowCount;
      const rejected: RowRejection[] = [];
      written.forEach(({ acceptedCount, rejections }, i) => {
        const target = progress.targets[i] as ImportProgress["targets"][number];
        target.rowsWritten += acceptedCount;
        target.rowsRejected += rejections.length;
        progress.rowsWritten += acceptedCount;
        progress.rowsRejected += rejections.length;
        rejected.push(...rejections);
      });
      const room = SAMPLE_REJECTIONS - progress.sampleRejections.length;
      if (room > 0) progress.sampleRejections.push(...rejected.sort((a, b) => a.rowIndex - b.rowIndex).slice(0, room));
      batchIndex++;
      yield { ...progress, sampleRejections: [...progress.sampleRejections], targets: progress.targets.map((t) => ({ ...t })) };
    }
    return true;
  }
}

/**
 * Writes one batch of the file to one target: values the file's types cannot give (unparsable
 * text, wrong kinds) reject their rows here; the rest go through the writer's checks as one
 * columnar batch. Returns the rows written and the rejections, with file row numbers.
 */
async function writeBatchTo(
  target: ReadTarget,
  batch: ColumnBatch,
  createdTimeColumn: string,
  writeId: string,
): Promise<{ acceptedCount: number; rejections: RowRejection[] }> {
  const { column, present } = target;
  const problems = new Map<number, RowRejection["violations"]>();
  const flag = (row: number, fileColumn: string, description: string) => {
    const violations = problems.get(row) ?? [];
    violations.push({ field: `rows[${batch.firstRow + row}].${fileColumn}`, description });
    problems.set(row, violations);
  };
  const timesOf = (fileColumn: string) => {
    const raw = batch.columns.get(fileColumn) ?? [];
    return Array.from({ length: batch.rowCount }, (_, row) => {
      const micros = fileTimeToMicros(raw[row], valueKind);
      if (typeof micros === "number") return micros;
      flag(row, fileColumn, micros);
      return 0;
    });
  };
  const eventTimes = timesOf(column(EVENT_TIME));
  const createdTimes = createdTimeColumn ? timesOf(createdTimeColumn) : undefined;
  const values = present.map((field) =>
    fileColumnToInput(batch.columns.get(column(field.name)) ?? [], field.type, (row, problem) => flag(row, column(field.name), problem)),
  );
  // Usually every row is kept, and the file's own arrays go to the writer as they are.
  const kept =
    problems.size === 0 ? undefined : Array.from({ length: batch.rowCount }, (_, row) => row).filter((row) => !problems.has(row));
  const keep = <T>(all: ArrayLike<T>): ArrayLike<T> => (kept ? kept.map((row) => all[row] as T) : all);
  const columnsOf = (key: boolean) =>
    Object.fromEntries(
      present.flatMap((field, i) => {
        const input = values[i] as ColumnInput;
        if (field.key !== key) return [];
        return [[field.name, "tagged" in input ? { tagged: keep(input.tagged) } : { kind: input.kind, values: keep(input.values) }]];
      }),
    );
  const receipt = await target.write(
    {
      eventTimes: keep(eventTimes),
      entityKey: columnsOf(true),
      features: columnsOf(false),
      ...(createdTimes ? { createdTimes: keep(createdTimes) } : {}),
    },
    writeId,
  );
  const rejections: RowRejection[] = [...problems].map(([row, violations]) => ({ rowIndex: batch.firstRow + row, violations }));
  for (const rejection of receipt.rejectedRows) {
    const fileRow = batch.firstRow + (kept ? (kept[rejection.rowIndex] ?? 0) : rejection.rowIndex);
    rejections.push({
      rowIndex: fileRow,
      violations: rejection.violations.map((v) => ({ ...v, field: filePath(v.field, fileRow, column, createdTimeColumn) })),
    });
  }
  return { acceptedCount: receipt.acceptedCount, rejections };
}

/** A writer's field path in a columnar batch (`columns.features["f"][3]`) as the file's `rows[N].column`. */
function filePath(field: string, fileRow: number, column: (field: string) => string, createdTimeColumn: string): string {
  const cell = /^columns\.(?:features|entity_key)\["([^"]+)"\]\[\d+\]$/.exec(field);
  if (cell?.[1]) return `rows[${fileRow}].${column(cell[1])}`;
  if (field.startsWith("columns.event_time_micros")) return `rows[${fileRow}].${column(EVENT_TIME)}`;
  if (createdTimeColumn && field.startsWith("columns.created_time_micros")) return `rows[${fileRow}].${createdTimeColumn}`;
  return `rows[${fileRow}]`;
}

/** Whether `path` is `dir` or lies under it (both absolute and normalized). */
function isWithin(path: string, dir: string): boolean {
  const rest = relative(dir, path);
  return rest === "" || (!rest.startsWith(`..${sep}`) && rest !== ".." && !isAbsolute(rest));
}

/** The items of `items`, with a failure replaced by `map(failure)`. */
async function* rethrowing<T>(items: AsyncIterable<T>, map: (error: unknown) => unknown): AsyncGenerator<T> {
  try {
    yield* items;
  } catch (error) {
    throw map(error);
  }
}

/** Column names a message lists at most. */
const SHOWN_COLUMNS = 50;
/**
 * A name a message may show: one that looks like a column name. A file that is not CSV at all has
 * its first line read as the header; its "names" are then withheld rather than echoed.
 */
const SHOWABLE_COLUMN = /^[\p{L}\p{N}_ .#-]{1,64}$/u;

/** A file without the event time, a join key or the named created-time column cannot be imported at all. */
function requireColumns(fileColumns: string[], columns: string[], config: ImportConfig): void {
  const v = new ViolationCollector();
  const have = fileColumns.every((name) => SHOWABLE_COLUMN.test(name))
    ? `have: ${fileColumns.slice(0, SHOWN_COLUMNS).join(", ")}${fileColumns.length > SHOWN_COLUMNS ? `, … (${fileColumns.length} columns)` : ""}`
    : `it has ${fileColumns.length} columns, whose names are not shown: they do not look like column names`;
  for (const name of columns) {
    if (!fileColumns.includes(name))
      v.add("config.column_mapping", `the file has no column "${name}"; map it with column_mapping (${have})`);
  }
  if (config.createdTimeColumn && !fileColumns.includes(config.createdTimeColumn))
    v.add("config.created_time_column", `the file has no column "${config.createdTimeColumn}" (${have})`);
  v.throwIfAny(config.format === "csv" ? "MISSING_CSV_COLUMN" : "MISSING_PARQUET_COLUMN");
}

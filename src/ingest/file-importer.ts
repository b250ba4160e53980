/**
 * Bulk import of a Parquet or CSV file into a feature view version. The file is read a bounded
 * batch at a time; each batch's values are converted from the file's types, then written through
 * the same {@link FeatureWriter} as streamed writes (same validation, same durability, same
 * write-id deduplication, so a retried import with the same write id stores every row once).
 */
import { access } from "node:fs/promises";
import { ValidationError, ViolationCollector } from "../common/errors.js";
import type { TaggedValue } from "../common/feature-value.js";
import type { Registry } from "../registry/registry.js";
import type { FeatureWriter } from "./feature-writer.js";
import { type FileFormat, readFileBatches } from "./file-rows.js";
import { fileTimeToMicros, fileValueToTagged } from "./file-values.js";
import type { RowInput, RowRejection } from "./model.js";

/** The event-time field name used in column mappings. */
const EVENT_TIME = "event_time";
/** How many rejections are reported back as examples. */
const SAMPLE_REJECTIONS = 100;

/** What to import and how the file's columns map onto the view. */
export interface ImportConfig {
  project: string;
  featureView: string;
  format: FileFormat;
  /** View field (event_time, a join key or a feature) -> file column; unmapped fields use their own name. */
  columnMapping: Record<string, string>;
  /** Also apply the rows to the online store (latest value per entity wins by event time). */
  materializeOnline: boolean;
  writeId: string;
}

/** Progress after each batch; the last one has `done`. Rejections carry file row numbers. */
export interface ImportProgress {
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  sampleRejections: RowRejection[];
  done: boolean;
}

/** Imports files through the write path. */
export class FileImporter {
  constructor(
    private readonly registry: Registry,
    private readonly writer: FeatureWriter,
    private readonly batchSize = 10_000,
  ) {}

  /** Imports `path`, yielding progress after every batch; stops early when `signal` aborts. */
  async *import(config: ImportConfig, path: string, signal?: AbortSignal): AsyncGenerator<ImportProgress> {
    const view = await this.registry.resolveViewRef(config.project, config.featureView, "config.feature_view");
    const entity = await this.registry.getEntity(view.project, view.entity);
    // Pin the version for the whole import, even if the view changes meanwhile.
    const pinned = `${view.name}@${view.version}`;
    const fields = [...entity.joinKeys.map((k) => ({ ...k, key: true })), ...view.features.map((f) => ({ ...f, key: false }))];
    const v = new ViolationCollector();
    for (const field of Object.keys(config.columnMapping)) {
      if (field !== EVENT_TIME && !fields.some((f) => f.name === field)) {
        v.add(`config.column_mapping["${field}"]`, `${pinned} has no field "${field}"; map event_time, a join key or a feature`);
      }
    }
    v.throwIfAny("INVALID_COLUMN_MAPPING");
    await access(path).catch((error: NodeJS.ErrnoException) => {
      throw new ValidationError("UNREADABLE_SOURCE", [
        { field: "config.source_path", description: `cannot read ${path}: ${error.code ?? error.message}` },
      ]);
    });
    const column = (field: string) => config.columnMapping[field] ?? field;

    const progress: ImportProgress = { rowsRead: 0, rowsWritten: 0, rowsRejected: 0, sampleRejections: [], done: false };
    let batchIndex = 0;
    for await (const batch of readFileBatches(path, config.format, this.batchSize)) {
      if (signal?.aborted) return;
      if (batchIndex === 0) requireColumns(batch.records[0] ?? {}, [EVENT_TIME, ...entity.joinKeys.map((k) => k.name)].map(column), config);
      const rows: RowInput[] = [];
      const fileRowOf: number[] = [];
      const rejected: RowRejection[] = [];
      batch.records.forEach((record, i) => {
        const fileRow = batch.firstRow + i;
        const violations: RowRejection["violations"] = [];
        const row: RowInput = { entityKey: {}, features: {} };
        const eventTime = fileTimeToMicros(record[column(EVENT_TIME)]);
        if (typeof eventTime === "number") row.eventTime = eventTime;
        else violations.push({ field: `rows[${fileRow}].${column(EVENT_TIME)}`, description: eventTime });
        for (const field of fields) {
          const raw = record[column(field.name)];
          if (raw === undefined && !field.key) continue;
          const tagged = fileValueToTagged(raw, field.type);
          if (typeof tagged === "string") violations.push({ field: `rows[${fileRow}].${column(field.name)}`, description: tagged });
          else (field.key ? row.entityKey : row.features)[field.name] = tagged as TaggedValue;
        }
        if (violations.length > 0) rejected.push({ rowIndex: fileRow, violations });
        else {
          rows.push(row);
          fileRowOf.push(fileRow);
        }
      });
      const receipt = await this.writer.writeBatch(
        { project: view.project, featureView: pinned, rows, writeId: config.writeId ? `${config.writeId}:${batchIndex}` : "" },
        { online: config.materializeOnline },
      );
      for (const rejection of receipt.rejectedRows)
        rejected.push({ ...rejection, rowIndex: fileRowOf[rejection.rowIndex] ?? rejection.rowIndex });
      progress.rowsRead += batch.records.length;
      progress.rowsWritten += receipt.acceptedCount;
      progress.rowsRejected += rejected.length;
      const room = SAMPLE_REJECTIONS - progress.sampleRejections.length;
      if (room > 0) progress.sampleRejections.push(...rejected.sort((a, b) => a.rowIndex - b.rowIndex).slice(0, room));
      batchIndex++;
      yield { ...progress, sampleRejections: [...progress.sampleRejections] };
    }
    yield { ...progress, done: true };
  }
}

/** A file without the event time or a join key column cannot be imported at all. */
function requireColumns(firstRecord: Record<string, unknown>, columns: string[], config: ImportConfig): void {
  const v = new ViolationCollector();
  for (const name of columns) {
    if (!(name in firstRecord))
      v.add(
        "config.column_mapping",
        `the file has no column "${name}"; map it with column_mapping (have: ${Object.keys(firstRecord).join(", ")})`,
      );
  }
  v.throwIfAny(config.format === "csv" ? "MISSING_CSV_COLUMN" : "MISSING_PARQUET_COLUMN");
}

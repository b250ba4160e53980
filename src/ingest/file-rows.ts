/**
 * Reads Parquet and CSV files as batches of records (column name -> raw value), a bounded number
 * of rows at a time: Parquet one row group at a time, CSV as a stream. Never the whole file.
 */
import { createReadStream } from "node:fs";
import { parse } from "csv-parse";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";

/** File formats ImportFeatures reads. */
export type FileFormat = "parquet" | "csv";

/** A batch of records and the file row number of its first record. */
export interface RecordBatch {
  firstRow: number;
  records: Array<Record<string, unknown>>;
}

/** Reads `path` in batches of at most `batchSize` records. */
export function readFileBatches(path: string, format: FileFormat, batchSize: number): AsyncGenerator<RecordBatch> {
  return format === "parquet" ? readParquet(path, batchSize) : readCsv(path, batchSize);
}

async function* readParquet(path: string, batchSize: number): AsyncGenerator<RecordBatch> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    // One row group decoded at a time bounds memory by the file's row group size.
    const rows = await parquetReadObjects({ file, metadata, rowStart: groupStart, rowEnd: groupEnd });
    for (let offset = 0; offset < rows.length; offset += batchSize) {
      yield { firstRow: groupStart + offset, records: rows.slice(offset, offset + batchSize) };
    }
    groupStart = groupEnd;
  }
}

async function* readCsv(path: string, batchSize: number): AsyncGenerator<RecordBatch> {
  const parser = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, relax_column_count: true }));
  let batch: Array<Record<string, unknown>> = [];
  let firstRow = 0;
  for await (const record of parser as AsyncIterable<Record<string, unknown>>) {
    batch.push(record);
    if (batch.length === batchSize) {
      yield { firstRow, records: batch };
      firstRow += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) yield { firstRow, records: batch };
}

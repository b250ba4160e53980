/**
 * Reads Parquet and CSV files as batches of columns (file column name -> raw values), a bounded
 * number of rows at a time: Parquet one row group at a time and only the columns asked for, CSV
 * as a stream. Never the whole file, and never an object per row for Parquet.
 */
import { createReadStream } from "node:fs";
import { parse } from "csv-parse";
import { asyncBufferFromFile, type ColumnData, parquetMetadataAsync, parquetRead, parquetSchema } from "hyparquet";

/** File formats ImportFeatures reads. */
export type FileFormat = "parquet" | "csv";

/**
 * A file that cannot be read in its format. `problem` says what and where (a line number, an
 * error code), never the file's content: a message must not echo a server-side file's text.
 */
export class FileFormatError extends Error {
  constructor(
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(problem, options);
    this.name = "FileFormatError";
  }
}

/** Up to `batchSize` rows of the file as columns, and the file row number of the first. */
export interface ColumnBatch {
  firstRow: number;
  rowCount: number;
  /** Raw values of each requested column the file has (entry i for row firstRow + i). */
  columns: Map<string, ArrayLike<unknown>>;
}

/** A file opened for reading in column batches. */
export interface ColumnFile {
  /** Every column name the file has. */
  columnNames: string[];
  /** Reads the `wanted` columns (those the file has) in batches of at most `batchSize` rows. */
  batches(wanted: readonly string[], batchSize: number): AsyncGenerator<ColumnBatch>;
}

/** Opens `path` for column-batch reading; {@link FileFormatError} when it is not a file of `format`. */
export async function openColumnFile(path: string, format: FileFormat): Promise<ColumnFile> {
  return format === "parquet" ? openParquet(path) : openCsv(path);
}

async function openParquet(path: string): Promise<ColumnFile> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file).catch((error: unknown) => {
    throw new FileFormatError("is not a Parquet file (its footer could not be read)", { cause: error });
  });
  const columnNames = parquetSchema(metadata).children.map((child) => child.element.name);
  return {
    columnNames,
    async *batches(wanted, batchSize) {
      const columns = wanted.filter((name) => columnNames.includes(name));
      let groupStart = 0;
      for (const group of metadata.row_groups) {
        const groupEnd = groupStart + Number(group.num_rows);
        // One row group decoded at a time bounds memory by the file's row group size.
        const chunks: ColumnData[] = [];
        await parquetRead({
          file,
          metadata,
          columns,
          rowStart: groupStart,
          rowEnd: groupEnd,
          onChunk: (chunk) => chunks.push(chunk),
        }).catch((error: unknown) => {
          throw new FileFormatError(`has a row group (rows ${groupStart} to ${groupEnd - 1}) that could not be decoded`, { cause: error });
        });
        const data = new Map(columns.map((name) => [name, assemble(chunks, name, groupStart, groupEnd)]));
        for (let offset = 0; offset < groupEnd - groupStart; offset += batchSize) {
          const end = Math.min(offset + batchSize, groupEnd - groupStart);
          yield {
            firstRow: groupStart + offset,
            rowCount: end - offset,
            columns: new Map([...data].map(([name, values]) => [name, slice(values, offset, end)])),
          };
        }
        groupStart = groupEnd;
      }
    },
  };
}

/** The values of one column over [start, end), from the chunks (pages) it was decoded in. */
function assemble(chunks: ColumnData[], name: string, start: number, end: number): ArrayLike<unknown> {
  const own = chunks.filter((chunk) => chunk.columnName === name);
  const only = own[0];
  if (own.length === 1 && only && only.rowStart === start && only.rowEnd === end) return only.columnData;
  const values = new Array<unknown>(end - start).fill(null);
  for (const chunk of own) {
    for (let row = Math.max(chunk.rowStart, start); row < Math.min(chunk.rowEnd, end); row++) {
      values[row - start] = chunk.columnData[row - chunk.rowStart];
    }
  }
  return values;
}

function slice(values: ArrayLike<unknown>, start: number, end: number): ArrayLike<unknown> {
  // Typed arrays: a view, not a copy.
  if (ArrayBuffer.isView(values)) return (values as unknown as Float64Array).subarray(start, end);
  return (values as unknown[]).slice(start, end);
}

async function openCsv(path: string): Promise<ColumnFile> {
  const header = await readCsvHeader(path);
  return {
    columnNames: header,
    async *batches(wanted, batchSize) {
      const columns = wanted.filter((name) => header.includes(name));
      const parser = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, relax_column_count: true }));
      let batch = new Map<string, unknown[]>(columns.map((name) => [name, []]));
      let rowCount = 0;
      let firstRow = 0;
      try {
        for await (const record of parser as AsyncIterable<Record<string, unknown>>) {
          for (const [name, values] of batch) values.push(record[name]);
          if (++rowCount === batchSize) {
            yield { firstRow, rowCount, columns: batch };
            firstRow += rowCount;
            rowCount = 0;
            batch = new Map(columns.map((name) => [name, []]));
          }
        }
      } catch (error) {
        throw csvError(error);
      }
      if (rowCount > 0) yield { firstRow, rowCount, columns: batch };
    },
  };
}

/** The column names of a CSV file's header line. */
async function readCsvHeader(path: string): Promise<string[]> {
  const parser = createReadStream(path).pipe(parse({ to_line: 1 }));
  try {
    for await (const names of parser as AsyncIterable<string[]>) {
      parser.destroy();
      return names;
    }
  } catch (error) {
    throw csvError(error);
  }
  return [];
}

/** A csv-parse failure as a {@link FileFormatError}: its code and line, not its message (which quotes the text). */
function csvError(error: unknown): Error {
  const { code, lines } = error as { code?: unknown; lines?: unknown };
  if (typeof code !== "string" || !code.startsWith("CSV_")) return error instanceof Error ? error : new Error(String(error));
  return new FileFormatError(`is not valid CSV at line ${typeof lines === "number" ? lines : "?"} (${code})`, { cause: error });
}

/**
 * Arrow record batches as plain values, for the row form of a training set (and for tests):
 * int64 as bigint, timestamps as microseconds since the epoch, lists as arrays, bytes as
 * Uint8Arrays, everything else as Arrow gives it; null as null.
 */
import {
  type DataType,
  Field,
  Message,
  MessageHeader,
  RecordBatchReader,
  Schema,
  Table,
  Type,
  tableToIPC,
  type Vector,
} from "apache-arrow";
import type { ValueType } from "../common/value-type.js";
import { ARROW_TYPE_OF } from "../storage/offline/arrow-columns.js";
import type { OutputColumn } from "./model.js";

/** A cell of a decoded row. */
export type ArrowCell = number | bigint | boolean | string | Uint8Array | ArrowCell[] | null;

/** Reads every row of every batch of an Arrow IPC stream, one cell array per row. */
export function* arrowRows(ipcStream: Uint8Array): Generator<ArrowCell[]> {
  for (const batch of RecordBatchReader.from(ipcStream)) {
    const columns = batch.schema.fields.map((field, i) => ({ vector: batch.getChildAt(i) as Vector, convert: converterOf(field.type) }));
    for (let row = 0; row < batch.numRows; row++) {
      yield columns.map(({ vector, convert }) => convert(vector.get(row)));
    }
  }
}

function converterOf(type: DataType): (value: unknown) => ArrowCell {
  if (type.typeId === Type.Timestamp) {
    // apache-arrow gives timestamps as fractional milliseconds; below 2^53 µs the rounding is exact.
    return (value) => (value === null ? null : Math.round((value as number) * 1000));
  }
  if (type.typeId === Type.List) {
    const element = converterOf((type.children[0] as { type: DataType }).type);
    return (value) => (value === null ? null : Array.from(value as Iterable<unknown>, element));
  }
  if (type.typeId === Type.Binary) return (value) => (value === null ? null : new Uint8Array(value as Uint8Array));
  return (value) => (value ?? null) as ArrowCell;
}

/** The end-of-stream marker of the Arrow IPC stream format. */
const END_OF_STREAM = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * Joins complete Arrow IPC streams of one schema into a single stream, without decoding a batch:
 * the first stream's schema, then every stream's record batches, then one end marker.
 */
export class ArrowStreamJoiner {
  private schemaSent = false;

  /** The bytes of `stream` that belong in the joined stream (views into it). */
  next(stream: Uint8Array): Uint8Array[] {
    const parts: Uint8Array[] = [];
    const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    let offset = 0;
    while (offset + 4 <= stream.byteLength) {
      // Each message: 0xFFFFFFFF, metadata length, metadata, body (length in the metadata).
      const continuation = view.getUint32(offset, true) === 0xffffffff;
      const metadataStart = offset + (continuation ? 8 : 4);
      const metadataLength = view.getInt32(continuation ? offset + 4 : offset, true);
      if (metadataLength === 0) break;
      const message = Message.decode(stream.subarray(metadataStart, metadataStart + metadataLength));
      const end = metadataStart + metadataLength + Number(message.bodyLength);
      if (message.headerType !== MessageHeader.Schema || !this.schemaSent) parts.push(stream.subarray(offset, end));
      if (message.headerType === MessageHeader.Schema) this.schemaSent = true;
      offset = end;
    }
    return parts;
  }

  /** The bytes that end the joined stream: a schema first when no stream came, then the end marker. */
  end(columns: readonly OutputColumn[]): Uint8Array {
    if (this.schemaSent) return END_OF_STREAM;
    this.schemaSent = true;
    return tableToIPC(new Table(arrowSchemaOf(columns)), "stream");
  }
}

/** The Arrow schema of result columns, as ClickHouse writes them (bytes as their base64 text). */
export function arrowSchemaOf(columns: readonly OutputColumn[]): Schema {
  return new Schema(
    columns.map(
      (column) => new Field(column.name, ARROW_TYPE_OF[column.type](), column.role !== "join_key" && column.role !== "event_time"),
    ),
  );
}

/** The Arrow type of a result column of `type`. */
export function arrowTypeOf(type: ValueType): DataType {
  return ARROW_TYPE_OF[type]();
}

/**
 * The binary form of an online record, shared by every backend so a value written through one
 * replica reads the same through another. msgpack keeps bigint, Date and byte arrays exact.
 */
import { Packr } from "msgpackr";
import type { FeatureValue } from "../../common/feature-value.js";
import type { OnlineRecord } from "./online-store.js";

// copyBuffers: decoded byte values are copies, so a record may be decoded from a buffer that is
// reused afterwards (LMDB's shared read buffer).
const packr = new Packr({ useRecords: false, useBigIntExtension: true, mapsAsObjects: true, copyBuffers: true });

/** Encodes the values of a record (times are stored beside them, where backends can compare them). */
export function encodeValues(values: Record<string, FeatureValue>): Buffer {
  return packr.pack(values);
}

/** Decodes what {@link encodeValues} wrote. */
export function decodeValues(bytes: Uint8Array): Record<string, FeatureValue> {
  return packr.unpack(bytes) as Record<string, FeatureValue>;
}

/** Record = 8-byte event time + 8-byte ingestion time (float64 microseconds, exact below 2^53) + values. */
export function encodeRecord(record: OnlineRecord): Buffer {
  const values = encodeValues(record.values);
  const bytes = Buffer.allocUnsafe(16 + values.length);
  bytes.writeDoubleBE(record.eventTime, 0);
  bytes.writeDoubleBE(record.ingestTime, 8);
  values.copy(bytes, 16);
  return bytes;
}

/**
 * Decodes what {@link encodeRecord} wrote. `length`, not `byteLength`, bounds the record: LMDB's
 * reusable read buffer is larger than the value it holds and reports the value's size as `length`.
 */
export function decodeRecord(bytes: Uint8Array): OnlineRecord {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return { eventTime: view.readDoubleBE(0), ingestTime: view.readDoubleBE(8), values: decodeValues(view.subarray(16)) };
}

/** Reads only the two times of an encoded record, without decoding its values. */
export function decodeTimes(bytes: Uint8Array): Pick<OnlineRecord, "eventTime" | "ingestTime"> {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { eventTime: view.readDoubleBE(0), ingestTime: view.readDoubleBE(8) };
}

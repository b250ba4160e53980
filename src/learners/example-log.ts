/**
 * The entries of a learner's example log. A label is joined with its feature values when it is
 * accepted, and the whole training example is logged: learning from the log is then a pure function
 * of the log, so replaying it after a crash gives bit-identical state (docs/learning.md).
 */
import { pack, unpack } from "msgpackr";

/** One training example: the learner's inputs as they were at the event, and the label. */
export interface ExampleEntry {
  kind: "example";
  /** Input name → value: a number for numeric inputs, a string or null (absent) for categorical ones. */
  features: Record<string, number | string | null>;
  /** 0/1, a class index, or a real value (checked on acceptance). */
  label: number;
  /** Microseconds since the epoch: the labelled event's time (the prediction's, for outcome feedback). */
  eventTime: number;
  /** The served prediction it is feedback for, or "". */
  requestId: string;
}

/** A label kept without an example: its request id matched no logged prediction. */
export interface UnmatchedEntry {
  kind: "unmatched";
  requestId: string;
  label: number;
  reason: string;
  /** Microseconds since the epoch, when it was accepted. */
  time: number;
}

/** An entry of the example log. */
export type LogRecord = ExampleEntry | UnmatchedEntry;

/** The bytes of a log entry (msgpack: doubles stay 64-bit, so values round-trip exactly). */
export function encodeLogRecord(record: LogRecord): Uint8Array {
  return pack(record);
}

/** A log entry from its bytes. */
export function decodeLogRecord(bytes: Uint8Array): LogRecord {
  return unpack(bytes) as LogRecord;
}

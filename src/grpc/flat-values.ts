/**
 * The FLAT layout of a GetOnlineFeaturesResponse (field 4, FlatFeatureValues), encoded by hand.
 *
 * Every online read of a client asking for the flat layout (the Python client always does) ends
 * here, so it is written for the hot path: scalar values are written straight into one scratch
 * buffer reused across calls, with no per-value wire object and no BigInt per event time. Through
 * the generated encoder this was about a tenth of the server's CPU at 16 reads in flight
 * (2026-11-28). Timestamps and lists, rare in online reads, go through the generated Value encoder.
 */
import { Value } from "../gen/sluice/v1/types.pb.js";
import type { FeatureColumn } from "../online/online-reader.js";
import { FEATURE_STATUS_TO_WIRE, valueToWire } from "./mapping/values.js";

/** Wire types of the protobuf encoding. */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Value's field numbers (proto/sluice/v1/types.proto). */
const VALUE_FIELD = { int32: 1, int64: 2, float: 3, double: 4, bool: 5, string: 6, bytes: 7 } as const;

/** GetOnlineFeaturesResponse.flat and FlatFeatureValues' fields (proto/sluice/v1/online.proto). */
const RESPONSE_FLAT_FIELD = 4;
const FLAT_VALUES_FIELD = 1;
const FLAT_STATUSES_FIELD = 2;
const FLAT_EVENT_TIME_MICROS_FIELD = 3;

/** The scratch buffer's size, and the most it keeps between messages once a large one grew it. */
const SCRATCH_BYTES = 16 * 1024;
const MAX_KEPT_SCRATCH_BYTES = 1024 * 1024;

const TWO_POW_31 = 2 ** 31;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_63 = 2 ** 63;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Appends protobuf wire data to a buffer that grows as needed and is reused from one message to the
 * next; {@link take} copies out what was written. Synchronous use only: one message at a time.
 */
export class ScratchWriter {
  private buffer: Buffer;
  private position = 0;

  /** `initialBytes`: the buffer's size to start with, and the size it returns to after a message over 1 MB. */
  constructor(private readonly initialBytes = SCRATCH_BYTES) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts a new message; one large message before does not keep its megabytes for the small ones after it. */
  reset(): void {
    this.position = 0;
    if (this.buffer.length > MAX_KEPT_SCRATCH_BYTES) this.buffer = Buffer.allocUnsafe(this.initialBytes);
  }

  /** A copy of the bytes written since {@link reset}. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.position);
    this.buffer.copy(out, 0, 0, this.position);
    return out;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.byteLength);
    this.buffer.set(bytes, this.position);
    this.position += bytes.byteLength;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative integral number below 2^64 (exact: dividing by 128 is). */
  varint(value: number): void {
    this.reserve(10);
    const buffer = this.buffer;
    while (value >= 0x80) {
      buffer[this.position++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buffer[this.position++] = value;
  }

  /** An int32: sign-extended to 64 bits on the wire, as protobuf writes a negative one. */
  int32(value: number): void {
    if (!(Number.isInteger(value) && value >= -TWO_POW_31 && value < TWO_POW_31)) throw new RangeError(`${value} is not an int32`);
    this.int64(value);
  }

  /** A signed 64-bit integer given as an integral number; a negative one as its 10-byte two's complement. */
  int64(value: number): void {
    if (!(Number.isInteger(value) && value >= -TWO_POW_63 && value < TWO_POW_63)) throw new RangeError(`${value} is not an int64`);
    if (value >= 0) {
      this.varint(value);
      return;
    }
    // The two's complement's halves, exact in doubles: both operands are integers and so is the difference.
    const high = Math.floor(value / TWO_POW_32);
    this.split64(value - high * TWO_POW_32, high >>> 0);
  }

  /** A signed 64-bit integer given as a bigint. */
  bigint64(value: bigint): void {
    if (BigInt.asIntN(64, value) !== value) throw new RangeError(`${value} is not an int64`);
    if (value >= -MAX_SAFE && value <= MAX_SAFE) {
      this.int64(Number(value));
      return;
    }
    const unsigned = BigInt.asUintN(64, value);
    this.split64(Number(unsigned & 0xffffffffn), Number(unsigned >> 32n));
  }

  /** A 64-bit varint from its low and high 32 bits (as @bufbuild/protobuf's varint64write). */
  private split64(low: number, high: number): void {
    this.reserve(10);
    const buffer = this.buffer;
    for (let bits = 0; bits < 28; bits += 7) {
      const shifted = low >>> bits;
      const more = !(shifted >>> 7 === 0 && high === 0);
      buffer[this.position++] = (more ? shifted | 0x80 : shifted) & 0xff;
      if (!more) return;
    }
    const middle = ((low >>> 28) & 0x0f) | ((high & 0x07) << 4);
    const more = high >>> 3 !== 0;
    buffer[this.position++] = (more ? middle | 0x80 : middle) & 0xff;
    if (!more) return;
    for (let bits = 3; bits < 31; bits += 7) {
      const shifted = high >>> bits;
      const next = shifted >>> 7 !== 0;
      buffer[this.position++] = (next ? shifted | 0x80 : shifted) & 0xff;
      if (!next) return;
    }
    buffer[this.position++] = (high >>> 31) & 0x01;
  }

  /** A float32; a finite number beyond float32's range is refused, as the generated encoder does. */
  float(value: number): void {
    if (Number.isFinite(value) && Math.abs(value) > FLOAT32_MAX) throw new RangeError(`${value} is not a float32`);
    this.reserve(4);
    this.position = this.buffer.writeFloatLE(value, this.position);
  }

  double(value: number): void {
    this.reserve(8);
    this.position = this.buffer.writeDoubleLE(value, this.position);
  }

  string(value: string): void {
    if (typeof value !== "string") throw new TypeError(`${typeof value} where a string belongs`);
    const start = this.beginLength();
    // At most 3 bytes per UTF-16 unit; write() would silently stop at the buffer's end.
    this.reserve(value.length * 3);
    this.position += this.buffer.write(value, this.position, "utf8");
    this.endLength(start);
  }

  bytes(value: Uint8Array): void {
    const start = this.beginLength();
    this.raw(value);
    this.endLength(start);
  }

  /** Begins a length-delimited body, with one byte kept for its length; returns where the body starts. */
  beginLength(): number {
    this.reserve(1);
    this.position += 1;
    return this.position;
  }

  /** Writes the length of the body begun at `start`, moving the body along when the length needs more than one byte. */
  endLength(start: number): void {
    const length = this.position - start;
    if (length < 0x80) {
      this.buffer[start - 1] = length;
      return;
    }
    const size = varintSize(length);
    this.reserve(size - 1);
    this.buffer.copyWithin(start - 1 + size, start, this.position);
    this.position = start - 1;
    this.varint(length);
    this.position += length;
  }

  private reserve(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

const scratch = new ScratchWriter();

/**
 * A whole GetOnlineFeaturesResponse in the FLAT layout: `prefix` (the response's fields before
 * `flat`, already encoded) followed by field 4, every cell feature-major as FlatFeatureValues
 * defines it, byte for byte as the generated encoder writes the same content; values it would
 * refuse (an int32 out of range, a finite number beyond float32, an int64 beyond 64 bits) throw a
 * RangeError here too. `writer`: the scratch buffer (the module's own, reused, unless given).
 */
export function encodeFlatResponse(prefix: readonly Uint8Array[], columns: readonly FeatureColumn[], writer = scratch): Buffer {
  writer.reset();
  for (const part of prefix) writer.raw(part);
  writer.tag(RESPONSE_FLAT_FIELD, LENGTH_DELIMITED);
  const flat = writer.beginLength();
  for (const column of columns) {
    for (const value of column.values) {
      writer.tag(FLAT_VALUES_FIELD, LENGTH_DELIMITED);
      const start = writer.beginLength();
      writeValue(writer, column, value);
      writer.endLength(start);
    }
  }
  if (columns.some((column) => column.statuses.length > 0)) {
    writer.tag(FLAT_STATUSES_FIELD, LENGTH_DELIMITED);
    const start = writer.beginLength();
    for (const column of columns) {
      for (const status of column.statuses) {
        const wire = FEATURE_STATUS_TO_WIRE[status];
        if (wire === undefined) throw new RangeError(`unknown feature status ${status}`);
        writer.varint(wire);
      }
    }
    writer.endLength(start);
  }
  if (columns.some((column) => column.eventTimes.length > 0)) {
    writer.tag(FLAT_EVENT_TIME_MICROS_FIELD, LENGTH_DELIMITED);
    const start = writer.beginLength();
    for (const column of columns) {
      // As microsToTimestamp does for the columns layout: a time that is not a finite number is the epoch.
      for (const micros of column.eventTimes) writer.int64(micros !== undefined && Number.isFinite(micros) ? Math.floor(micros) : 0);
    }
    writer.endLength(start);
  }
  writer.endLength(flat);
  return writer.take();
}

/** The body of one Value: the declared type's field, present even when zero (a oneof); nothing for null. */
function writeValue(writer: ScratchWriter, column: FeatureColumn, value: FeatureColumn["values"][number]): void {
  if (value === null) return;
  const type = column.feature.type;
  switch (type) {
    case "int32":
      writer.tag(VALUE_FIELD.int32, VARINT);
      writer.int32(value as number);
      break;
    case "int64":
      writer.tag(VALUE_FIELD.int64, VARINT);
      if (typeof value === "bigint") writer.bigint64(value);
      else writer.int64(value as number);
      break;
    case "float":
      writer.tag(VALUE_FIELD.float, FIXED32);
      writer.float(value as number);
      break;
    case "double":
      writer.tag(VALUE_FIELD.double, FIXED64);
      writer.double(value as number);
      break;
    case "bool":
      writer.tag(VALUE_FIELD.bool, VARINT);
      writer.varint(value ? 1 : 0);
      break;
    case "string":
      writer.tag(VALUE_FIELD.string, LENGTH_DELIMITED);
      writer.string(value as string);
      break;
    case "bytes":
      writer.tag(VALUE_FIELD.bytes, LENGTH_DELIMITED);
      writer.bytes(value as Uint8Array);
      break;
    default:
      // Timestamps and lists: the generated encoder's body of the same Value.
      writer.raw(Value.encode(valueToWire(type, value)).finish());
      break;
  }
}

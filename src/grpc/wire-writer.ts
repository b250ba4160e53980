/**
 * Protobuf wire data written by hand, for the messages the server encodes itself on hot paths
 * (online reads' flat layout, training results' Arrow parts) instead of through generated encoders.
 */

/** Wire types of the protobuf encoding. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
export const FIXED32 = 5;

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
    assertFloat32(value);
    this.reserve(4);
    this.position = this.buffer.writeFloatLE(value, this.position);
  }

  /** A float32 as a double: the double of its float32 value, refused beyond float32's range as {@link float} is. */
  float32AsDouble(value: number): void {
    assertFloat32(value);
    this.double(Math.fround(value));
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

function assertFloat32(value: number): void {
  if (Number.isFinite(value) && Math.abs(value) > FLOAT32_MAX) throw new RangeError(`${value} is not a float32`);
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

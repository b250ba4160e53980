/**
 * A little-endian byte writer and reader for checkpoints. Numbers go in as raw IEEE-754 doubles so a
 * restored learner holds the very same bits; no text or JSON number formatting is ever involved.
 */
import { InvalidCheckpointError } from "./errors.js";

/** Appends typed values to a growing buffer. */
export class StateWriter {
  private buffer = new ArrayBuffer(1024);
  private view = new DataView(this.buffer);
  private length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.byteLength) return;
    let size = this.buffer.byteLength * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(new Uint8Array(this.buffer, 0, this.length));
    this.buffer = next;
    this.view = new DataView(next);
  }

  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  f64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  string(value: string): void {
    const bytes = new TextEncoder().encode(value);
    this.u32(bytes.length);
    this.reserve(bytes.length);
    new Uint8Array(this.buffer, this.length, bytes.length).set(bytes);
    this.length += bytes.length;
  }

  strings(values: readonly string[]): void {
    this.u32(values.length);
    for (const value of values) this.string(value);
  }

  f64s(values: Float64Array): void {
    this.u32(values.length);
    this.reserve(values.length * 8);
    for (let i = 0; i < values.length; i++) this.view.setFloat64(this.length + i * 8, values[i] as number, true);
    this.length += values.length * 8;
  }

  u32s(values: Uint32Array): void {
    this.u32(values.length);
    this.reserve(values.length * 4);
    for (let i = 0; i < values.length; i++) this.view.setUint32(this.length + i * 4, values[i] as number, true);
    this.length += values.length * 4;
  }

  /** The bytes written so far (a copy). */
  bytes(): Uint8Array {
    return new Uint8Array(this.buffer.slice(0, this.length));
  }
}

/** Reads what a {@link StateWriter} wrote, failing with {@link InvalidCheckpointError} past the end. */
export class StateReader {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private take(bytes: number): number {
    if (this.offset + bytes > this.data.byteLength) throw new InvalidCheckpointError("truncated");
    const at = this.offset;
    this.offset += bytes;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }

  string(): string {
    const length = this.u32();
    const at = this.take(length);
    return new TextDecoder("utf-8", { fatal: true }).decode(this.data.subarray(at, at + length));
  }

  strings(): string[] {
    const count = this.u32();
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.string());
    return out;
  }

  f64s(expectedLength?: number): Float64Array {
    const count = this.u32();
    if (expectedLength !== undefined && count !== expectedLength) {
      throw new InvalidCheckpointError(`array of ${count} values where ${expectedLength} were expected`);
    }
    const at = this.take(count * 8);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat64(at + i * 8, true);
    return out;
  }

  u32s(expectedLength?: number): Uint32Array {
    const count = this.u32();
    if (expectedLength !== undefined && count !== expectedLength) {
      throw new InvalidCheckpointError(`array of ${count} values where ${expectedLength} were expected`);
    }
    const at = this.take(count * 4);
    const out = new Uint32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getUint32(at + i * 4, true);
    return out;
  }

  /** Fails unless every byte was consumed, so trailing garbage is never silently accepted. */
  end(): void {
    if (this.offset !== this.data.byteLength) throw new InvalidCheckpointError(`${this.data.byteLength - this.offset} trailing bytes`);
  }
}

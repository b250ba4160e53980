import { describe, expect, it } from "vitest";
import { GetHistoricalFeaturesResponse } from "../gen/sluice/v1/training.pb.js";
import { arrowPart } from "./arrow-part.js";

/** `length` numbered bytes in a buffer of their own. */
const bytes = (length: number, from = 0) => Uint8Array.from({ length }, (_, i) => (from + i) % 251);
/** Bytes as a list, for comparisons that ignore the array's class. */
const list = (array: Uint8Array) => Array.from(array);
/** The arrow_ipc bytes of an encoded part, as a list. */
const arrowIpcOf = (part: Uint8Array) => list(GetHistoricalFeaturesResponse.decode(part).arrowIpc ?? new Uint8Array(0));

describe("arrowPart", () => {
  it("encodes the pieces as the arrow_ipc field of a result part", () => {
    const chunk = bytes(400);
    const pieces = [chunk.subarray(0, 100), chunk.subarray(250, 400)];
    expect(arrowIpcOf(arrowPart(pieces, chunk))).toEqual([...list(bytes(100)), ...list(bytes(150, 250))]);
  });

  it("writes the header into the chunk before back-to-back pieces instead of copying them", () => {
    const chunk = bytes(1_000);
    const part = arrowPart([chunk.subarray(200, 300), chunk.subarray(300, 1_000)], chunk);
    expect(part.buffer).toBe(chunk.buffer);
    // 800 bytes: the tag, then a two-byte varint.
    expect(part.byteOffset).toBe(197);
    expect(arrowIpcOf(part)).toEqual(list(bytes(800, 200)));
    // Only the three bytes before the pieces changed.
    expect(list(chunk.subarray(0, 197))).toEqual(list(bytes(197)));
    expect(list(chunk.subarray(200))).toEqual(list(bytes(800, 200)));
  });

  it("copies when the header has no room inside the chunk", () => {
    const backing = bytes(500);
    const chunk = backing.subarray(100);
    const part = arrowPart([chunk.subarray(1, 400)], chunk);
    expect(part.buffer).not.toBe(backing.buffer);
    // The bytes before the chunk, in the same buffer, belong to someone else and are untouched.
    expect(list(backing)).toEqual(list(bytes(500)));
    expect(arrowIpcOf(part)).toEqual(list(bytes(399, 101)));
  });

  it("copies pieces that are not back to back, and pieces of another buffer", () => {
    const chunk = bytes(600);
    const apart = arrowPart([chunk.subarray(100, 200), chunk.subarray(300, 400)], chunk);
    expect(apart.buffer).not.toBe(chunk.buffer);
    expect(arrowIpcOf(apart)).toEqual([...list(bytes(100, 100)), ...list(bytes(100, 300))]);
    const elsewhere = arrowPart([bytes(50)], chunk);
    expect(elsewhere.buffer).not.toBe(chunk.buffer);
    expect(arrowIpcOf(elsewhere)).toEqual(list(bytes(50)));
    expect(list(chunk)).toEqual(list(bytes(600)));
  });

  it("copies pieces that reach past the end of the chunk, and any pieces given without a chunk", () => {
    const backing = bytes(500);
    const chunk = backing.subarray(0, 300);
    const past = arrowPart([backing.subarray(250, 400)], chunk);
    expect(past.buffer).not.toBe(backing.buffer);
    expect(arrowIpcOf(past)).toEqual(list(bytes(150, 250)));
    const alone = arrowPart([backing.subarray(100, 200)]);
    expect(alone.buffer).not.toBe(backing.buffer);
    expect(list(backing)).toEqual(list(bytes(500)));
  });

  it("encodes a length of several varint bytes", () => {
    const chunk = new Uint8Array(3_000_000);
    chunk.fill(7, 100);
    const part = arrowPart([chunk.subarray(100)], chunk);
    // 2,999,900 bytes: four varint bytes after the tag.
    expect(part.byteOffset).toBe(95);
    expect(GetHistoricalFeaturesResponse.decode(part).arrowIpc?.byteLength).toBe(2_999_900);
  });

  it("encodes an empty part", () => {
    expect(arrowIpcOf(arrowPart([]))).toEqual([]);
  });
});

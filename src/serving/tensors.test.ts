import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocateTensorData, concatenateRows, dataMatchesType, isElementType, sliceRows, type Tensor, transferable } from "./tensors.js";

describe("tensors", () => {
  it("concatenating rows then slicing them gives back every part", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        (rowCounts, width) => {
          let next = 0;
          const parts: Tensor[] = rowCounts.map((rows) => ({
            type: "int32",
            data: Int32Array.from({ length: rows * width }, () => next++),
            dims: [rows, width],
          }));
          const total = rowCounts.reduce((a, b) => a + b, 0);
          const stacked = concatenateRows(parts, total);
          expect(stacked.dims).toEqual([total, width]);
          expect(Array.from(stacked.data as Int32Array)).toEqual(Array.from({ length: total * width }, (_, i) => i));
          let start = 0;
          for (const part of parts) {
            const rows = part.dims[0] as number;
            const slice = sliceRows(stacked, start, rows, total);
            expect(slice).toEqual(part);
            // A view onto the batch's buffer, not a copy.
            expect((slice.data as Int32Array).buffer).toBe((stacked.data as Int32Array).buffer);
            start += rows;
          }
        },
      ),
    );
  });

  it("concatenates and slices string tensors", () => {
    const stacked = concatenateRows(
      [
        { type: "string", data: ["a", "b"], dims: [1, 2] },
        { type: "string", data: ["c", "d", "e", "f"], dims: [2, 2] },
      ],
      3,
    );
    expect(stacked).toEqual({ type: "string", data: ["a", "b", "c", "d", "e", "f"], dims: [3, 2] });
    expect(sliceRows(stacked, 1, 2, 3)).toEqual({ type: "string", data: ["c", "d", "e", "f"], dims: [2, 2] });
  });

  it("transfers whole buffers once, copies views and Node Buffers, and shares SharedArrayBuffers", () => {
    const transfer: ArrayBuffer[] = [];
    const whole = new Float32Array(4);
    expect(transferable(whole, transfer)).toBe(whole);
    expect(transfer).toEqual([whole.buffer]);

    // The same buffer twice would make postMessage throw; the second use is copied instead.
    const again = transferable(whole, transfer) as Float32Array;
    expect(again).not.toBe(whole);
    expect(transfer).toHaveLength(2);

    const backing = Float64Array.of(1, 2, 3, 4);
    const view = transferable(backing.subarray(1, 3), transfer) as Float64Array;
    expect(Array.from(view)).toEqual([2, 3]);
    expect(view.buffer.byteLength).toBe(16);
    expect(transfer).toContain(view.buffer);

    const pooled = Buffer.from([7, 8, 9]); // a view onto Node's shared 8 KiB pool
    const copied = transferable(pooled, transfer) as Uint8Array;
    expect(Array.from(copied)).toEqual([7, 8, 9]);
    expect(copied.buffer.byteLength).toBe(3);
    expect(copied.buffer).not.toBe(pooled.buffer);

    const shared = new Int32Array(new SharedArrayBuffer(8));
    const before = transfer.length;
    expect(transferable(shared, transfer)).toBe(shared);
    expect(transfer).toHaveLength(before);

    const strings = ["x"];
    expect(transferable(strings, transfer)).toBe(strings);
  });

  it("knows which arrays carry which element types", () => {
    expect(isElementType("float32")).toBe(true);
    expect(isElementType("string")).toBe(true);
    expect(isElementType("float16")).toBe(false);
    expect(isElementType("toString")).toBe(false);
    expect(dataMatchesType("bool", new Uint8Array(1))).toBe(true);
    expect(dataMatchesType("int64", new BigInt64Array(1))).toBe(true);
    expect(dataMatchesType("int64", new Float64Array(1))).toBe(false);
    expect(dataMatchesType("string", [""])).toBe(true);
    expect(allocateTensorData("string", 2)).toEqual(["", ""]);
    expect(allocateTensorData("uint64", 2)).toEqual(new BigUint64Array(2));
  });
});

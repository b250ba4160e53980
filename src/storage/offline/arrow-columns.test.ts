import { Field } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { arrowRows } from "../../training/arrow-values.js";
import { int64Vector, microsVector, recordBatchIpc, repeatedTextVector, valuesVector } from "./arrow-columns.js";

describe("Arrow columns", () => {
  it("carry every value type as the engine stores it, nulls included, in one record batch", () => {
    const columns = [
      int64Vector([0, 1]),
      microsVector([1_767_225_600_000_001, -1]),
      repeatedTextVector("wé", 2),
      valuesVector("int32", [-5, null]),
      valuesVector("int64", [-(2n ** 63n), null]),
      valuesVector("float", [0.1, null]),
      valuesVector("double", [Math.PI, null]),
      valuesVector("bool", [false, null]),
      valuesVector("string", ["", null]),
      valuesVector("bytes", [new Uint8Array([0, 255]), null]),
      valuesVector("timestamp", [new Date("2026-03-04T05:06:07.089Z"), null]),
      valuesVector("int64_list", [[1n, 2n ** 62n], null]),
      valuesVector("double_list", [[0.5], null]),
      valuesVector("string_list", [["a", ""], null]),
    ];
    const fields = columns.map((column, i) => new Field(`c${i}`, column.type, true));
    expect([...arrowRows(recordBatchIpc(fields, columns, 2))]).toEqual([
      [
        0n,
        1_767_225_600_000_001,
        "wé",
        -5,
        -(2n ** 63n),
        Math.fround(0.1),
        Math.PI,
        false,
        "",
        "AP8=",
        1_772_600_767_089_000,
        [1n, 2n ** 62n],
        [0.5],
        ["a", ""],
      ],
      // A null list is an empty one, as ClickHouse stores lists.
      [1n, -1, "wé", null, null, null, null, null, null, null, null, [], [], []],
    ]);
  });

  it("copy number columns whole, with or without nulls, from arrays and typed arrays alike", () => {
    const columns = [
      valuesVector("double", [1.5, -0, Number.NaN, 2 ** 60]),
      valuesVector("double", Float64Array.of(1, 2, 3, 4)),
      valuesVector("int32", [1, null, 3, undefined as unknown as null]),
      valuesVector("float", [null, null, 0.25, 1]),
    ];
    const fields = columns.map((column, i) => new Field(`c${i}`, column.type, true));
    expect(columns.map((c) => c.nullCount)).toEqual([0, 0, 2, 2]);
    expect([...arrowRows(recordBatchIpc(fields, columns, 4))]).toEqual([
      [1.5, 1, 1, null],
      [-0, 2, null, null],
      [Number.NaN, 3, 3, 0.25],
      [2 ** 60, 4, null, 1],
    ]);
  });
});

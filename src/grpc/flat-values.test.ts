import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { FlatFeatureValues, GetOnlineFeaturesResponse } from "../gen/sluice/v1/online.pb.js";
import type { FeatureColumn, FeatureStatus } from "../online/online-reader.js";
import type { ResolvedFeature } from "../registry/model.js";
import { encodeFlatResponse, encodeTypedFlatResponse } from "./flat-values.js";
import { valueTypeToWire } from "./mapping/common.js";
import { FEATURE_STATUS_TO_WIRE, valueToWire } from "./mapping/values.js";
import { ScratchWriter } from "./wire-writer.js";

/** A layout the server encodes by hand, and its encoder. */
type Layout = "FLAT" | "FLAT_TYPED";
const ENCODERS: Record<Layout, typeof encodeFlatResponse> = { FLAT: encodeFlatResponse, FLAT_TYPED: encodeTypedFlatResponse };

/** FlatFeatureValues' packed array of each scalar type in layout FLAT_TYPED, as the proto comments define it. */
const TYPED_ARRAYS: Partial<Record<ValueType, "int64Values" | "doubleValues" | "boolValues" | "stringValues" | "bytesValues">> = {
  int32: "int64Values",
  int64: "int64Values",
  float: "doubleValues",
  double: "doubleValues",
  bool: "boolValues",
  string: "stringValues",
  bytes: "bytesValues",
};

/** A null cell's stand-in in its packed array, and a value as its array holds it (refusing what a Value of its type refuses). */
function typedCell(type: ValueType, value: FeatureValue): bigint | number | boolean | string | Uint8Array {
  switch (type) {
    case "int32":
      if (value !== null && !(Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31)) {
        throw new RangeError("not an int32");
      }
      return BigInt((value as number | null) ?? 0);
    case "int64":
      return BigInt((value as bigint | number | null) ?? 0);
    case "float": {
      const number = (value as number | null) ?? 0;
      if (Number.isFinite(number) && Math.abs(number) > FLOAT32_MAX) throw new RangeError("not a float32");
      return Math.fround(number);
    }
    case "double":
      return (value as number | null) ?? 0;
    case "bool":
      return (value as boolean | null) ?? false;
    case "string":
      return (value as string | null) ?? "";
    default:
      return (value as Uint8Array | null) ?? new Uint8Array(0);
  }
}

/** The same response through the generated encoder: what the hand encoding must equal, byte for byte. */
function generated(prefix: Uint8Array[], columns: FeatureColumn[], layout: Layout = "FLAT"): Buffer {
  const typed = layout === "FLAT_TYPED";
  const flat: FlatFeatureValues = {
    values: columns
      .filter((c) => !typed || TYPED_ARRAYS[c.feature.type] === undefined)
      .flatMap((c) => c.values.map((value) => valueToWire(c.feature.type, value))),
    statuses: columns.flatMap((c) =>
      c.statuses.map((s) => {
        const wire = FEATURE_STATUS_TO_WIRE[s];
        if (wire === undefined) throw new RangeError(`unknown status ${s}`);
        return wire;
      }),
    ),
    eventTimeMicros: columns.flatMap((c) => c.eventTimes.map((t) => BigInt(t !== undefined && Number.isFinite(t) ? Math.floor(t) : 0))),
    valueTypes: typed ? columns.map((c) => valueTypeToWire(c.feature.type)) : [],
    int64Values: [],
    doubleValues: [],
    boolValues: [],
    stringValues: [],
    bytesValues: [],
    nullCells: typed ? columns.flatMap((c) => c.values).flatMap((value, cell) => (value === null ? [cell] : [])) : [],
  };
  if (typed) {
    for (const c of columns) {
      const array = TYPED_ARRAYS[c.feature.type];
      if (array) for (const value of c.values) (flat[array] as unknown[]).push(typedCell(c.feature.type, value));
    }
  }
  const encoded = GetOnlineFeaturesResponse.encode({ featureNames: [], columns: [], resolvedFeatures: [], flat }).finish();
  return Buffer.concat([...prefix, encoded]);
}

/** Both encoders' outcomes for the same input: equal bytes, or both refusing it. */
function expectSameAsGenerated(prefix: Uint8Array[], cells: FeatureColumn[], writer?: ScratchWriter, layout: Layout = "FLAT"): void {
  let expected: Buffer;
  try {
    expected = generated(prefix, cells, layout);
  } catch {
    expect(() => ENCODERS[layout](prefix, cells, writer)).toThrow();
    return;
  }
  const encoded = ENCODERS[layout](prefix, cells, writer);
  // Buffer.equals, not toEqual: a deep comparison of megabyte buffers takes seconds.
  if (!encoded.equals(expected)) expect(encoded.toString("hex")).toBe(expected.toString("hex"));
}

const feature = (type: ValueType): ResolvedFeature => ({
  ref: `v:${type}`,
  project: "p",
  featureView: "v",
  version: 1,
  feature: type,
  type,
});

/** Where the number and bigint paths meet, and the ends of the range. */
const INT64_EDGES = [
  0n,
  -1n,
  2n ** 31n,
  -(2n ** 31n) - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 54n - 1n,
  -(2n ** 53n) - 1n,
];
const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(...INT64_EDGES, 2n ** 63n - 1n, -(2n ** 63n)),
  // Beyond 64 bits: both encoders refuse it.
  fc.constantFrom(2n ** 63n, 2n ** 64n + 5n, -(2n ** 63n) - 1n),
);
const int32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31)),
  // Not int32s: both refuse them.
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1.5),
);
/** Strings with lone surrogates among them (written as U+FFFD by both), and long enough for two-byte lengths. */
const unit = fc.oneof(
  fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff", "é", "😀"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);
const text = fc.oneof(fc.string({ unit, maxLength: 20 }), fc.string({ unit, minLength: 40, maxLength: 300, size: "max" }));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 10 }), fc.uint8Array({ minLength: 120, maxLength: 400, size: "max" }));
const FLOAT32_MAX = 3.4028234663852886e38;
const float = fc.oneof(
  fc.double({ min: -FLOAT32_MAX, max: FLOAT32_MAX }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e-45),
  // Finite beyond float32: both refuse it.
  fc.constant(1e39),
);

/** Values of each declared type, as the online store hands them back (and a few it never does). */
const VALUES: Record<ValueType, fc.Arbitrary<FeatureValue>> = {
  int32,
  int64,
  float,
  double: fc.double(),
  bool: fc.boolean(),
  string: text,
  bytes,
  timestamp: fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
  int64_list: fc.array(int64, { maxLength: 5 }),
  float_list: fc.array(float, { maxLength: 5 }),
  double_list: fc.array(fc.double(), { maxLength: 5 }),
  string_list: fc.array(text, { maxLength: 5 }),
};

const STATUSES: FeatureStatus[] = ["present", "null_value", "not_found", "outside_max_age"];

const eventTime = fc.oneof(
  fc.integer({ min: -(2 ** 40), max: 2 ** 52 }),
  fc.double({ min: -(2 ** 62), max: 2 ** 62 }),
  fc.constantFrom(-1, -(2 ** 53) - 2, 2 ** 53 + 2, -(2 ** 63), 2 ** 63 - 1024, Number.NaN, Number.POSITIVE_INFINITY),
  // Beyond int64: both refuse it.
  fc.constantFrom(2 ** 63, 1e300),
);

const column = (rows: number): fc.Arbitrary<FeatureColumn> =>
  fc.constantFrom(...(Object.keys(VALUES) as ValueType[])).chain((type) =>
    fc.record({
      name: fc.constant(type),
      feature: fc.constant(feature(type)),
      values: fc.array(fc.option(VALUES[type], { nil: null }), { minLength: rows, maxLength: rows }),
      statuses: fc.array(fc.constantFrom(...STATUSES), { minLength: rows, maxLength: rows }),
      eventTimes: fc.array(fc.option(eventTime, { nil: undefined }), { minLength: rows, maxLength: rows }),
    }),
  );

const columns = fc.nat({ max: 6 }).chain((rows) => fc.array(column(rows), { maxLength: 6 }));

describe.each(["FLAT", "FLAT_TYPED"] as const)("the %s layout encoded by hand", (layout) => {
  it("encodes every type, null, status and event time byte for byte as the generated encoder does, and refuses what it refuses", () => {
    fc.assert(
      fc.property(columns, fc.uint8Array({ maxLength: 40 }), (cells, prefix) => expectSameAsGenerated([prefix], cells, undefined, layout)),
      { numRuns: 500 },
    );
  });

  it("does the same with a scratch buffer that must grow, and move bodies, on every message", () => {
    fc.assert(
      fc.property(columns, fc.nat({ max: 64 }), (cells, size) => expectSameAsGenerated([], cells, new ScratchWriter(size + 1), layout)),
      { numRuns: 300 },
    );
  });

  it("refuses an unknown status, as the generated encoder does", () => {
    const cells: FeatureColumn[] = [
      { name: "x", feature: feature("double"), values: [1], statuses: ["lost" as FeatureStatus], eventTimes: [1] },
    ];
    expect(() => generated([], cells, layout)).toThrow();
    expect(() => ENCODERS[layout]([], cells)).toThrow(RangeError);
  });

  it("keeps `flat` present when there is no cell, as the generated encoder does", () => {
    expectSameAsGenerated([], [], undefined, layout);
    expect(GetOnlineFeaturesResponse.decode(ENCODERS[layout]([], [])).flat).toEqual(FlatFeatureValues.fromPartial({}));
  });
});

describe("the FLAT_TYPED layout", () => {
  it("puts each feature's cells in its type's array, in feature order, and names the null cells", () => {
    const cells = (type: ValueType, values: FeatureValue[]): FeatureColumn => ({
      name: type,
      feature: feature(type),
      values,
      statuses: values.map((value) => (value === null ? "null_value" : "present")),
      eventTimes: values.map(() => 5),
    });
    const when = new Date("2026-11-28T00:00:00Z");
    const decoded = GetOnlineFeaturesResponse.decode(
      encodeTypedFlatResponse(
        [],
        [
          cells("int64", [7n, null]),
          cells("float", [0.1, -2]),
          cells("timestamp", [when, null]),
          cells("int32", [-3, 4]),
          cells("string", [null, "b"]),
          cells("bool", [true, null]),
          cells("bytes", [new Uint8Array([1]), null]),
          cells("double", [null, 2.5]),
        ],
      ),
    ).flat as FlatFeatureValues;
    expect(decoded.valueTypes).toEqual(
      ["int64", "float", "timestamp", "int32", "string", "bool", "bytes", "double"].map((t) => valueTypeToWire(t as ValueType)),
    );
    expect(decoded.int64Values).toEqual([7n, 0n, -3n, 4n]);
    expect(decoded.doubleValues).toEqual([Math.fround(0.1), -2, 0, 2.5]);
    expect(decoded.boolValues).toEqual([true, false]);
    expect(decoded.stringValues).toEqual(["", "b"]);
    expect(decoded.bytesValues.map((b) => [...b])).toEqual([[1], []]);
    // Only the timestamp feature keeps Values: its two cells.
    expect(decoded.values).toEqual([valueToWire("timestamp", when), valueToWire("timestamp", null)]);
    expect(decoded.nullCells).toEqual([1, 5, 8, 11, 13, 14]);
    expect(decoded.statuses).toHaveLength(16);
  });
});

describe("encodeFlatResponse", () => {
  it("writes lengths of up to four bytes, across the end of its buffer", () => {
    const strings = (values: Array<string | null>): FeatureColumn => ({
      name: "string",
      feature: feature("string"),
      values,
      statuses: values.map(() => "present"),
      eventTimes: values.map((_, i) => i),
    });
    // Bodies of 200 bytes, 40 KB and 2.1 MB: two-, three- and four-byte lengths; the last is over 2^21 bytes.
    const long = strings(["é".repeat(100), "x".repeat(40_000), "", "w".repeat(2 ** 21 + 5)]);
    expectSameAsGenerated([Buffer.from([10, 1, 97])], [long]);
    // A body ending at each offset around the end of a fresh 16 KB buffer: the length is written, and
    // the body moved, where the buffer has to grow.
    for (let end = 16_384 - 300; end <= 16_384 + 4; end++) {
      expectSameAsGenerated([Buffer.alloc(end - 200, 7)], [strings(["é".repeat(90)])], new ScratchWriter());
    }
  });

  it("answers with a copy: a later message leaves an earlier answer as it was", () => {
    const column = (value: string): FeatureColumn => ({
      name: "string",
      feature: feature("string"),
      values: [value],
      statuses: ["present"],
      eventTimes: [1],
    });
    const first = encodeFlatResponse([], [column("first")]);
    const copy = Buffer.from(first);
    encodeFlatResponse([], [column("second")]);
    // After a message over 1 MB the scratch buffer is dropped for a small one; answers stay whole.
    encodeFlatResponse([], [column("y".repeat(1_200_000))]);
    expectSameAsGenerated([], [column("third")]);
    expect(first).toEqual(copy);
  });
});

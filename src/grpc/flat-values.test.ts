import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { GetOnlineFeaturesResponse } from "../gen/sluice/v1/online.pb.js";
import type { FeatureColumn, FeatureStatus } from "../online/online-reader.js";
import type { ResolvedFeature } from "../registry/model.js";
import { encodeFlatResponse } from "./flat-values.js";
import { FEATURE_STATUS_TO_WIRE, valueToWire } from "./mapping/values.js";

/** The same response through the generated encoder: what the hand encoding must equal, byte for byte. */
function generated(prefix: Uint8Array[], columns: FeatureColumn[]): Buffer {
  const flat = GetOnlineFeaturesResponse.encode({
    featureNames: [],
    columns: [],
    resolvedFeatures: [],
    flat: {
      values: columns.flatMap((c) => c.values.map((value) => valueToWire(c.feature.type, value))),
      statuses: columns.flatMap((c) => c.statuses.map((s) => FEATURE_STATUS_TO_WIRE[s])),
      eventTimeMicros: columns.flatMap((c) => c.eventTimes.map((t) => BigInt(t !== undefined && Number.isFinite(t) ? Math.floor(t) : 0))),
    },
  }).finish();
  return Buffer.concat([...prefix, flat]);
}

const feature = (type: ValueType): ResolvedFeature => ({
  ref: `v:${type}`,
  project: "p",
  featureView: "v",
  version: 1,
  feature: type,
  type,
});

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const text = fc.string({ unit: "binary", maxLength: 200 });
const float = fc.float({ noNaN: true }).map((f) => Math.fround(f));

/** Values of each declared type, as the online store hands them back. */
const VALUES: Record<ValueType, fc.Arbitrary<FeatureValue>> = {
  int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  int64,
  float,
  double: fc.double(),
  bool: fc.boolean(),
  string: text,
  bytes: fc.uint8Array({ maxLength: 300 }),
  timestamp: fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
  int64_list: fc.array(int64, { maxLength: 5 }),
  float_list: fc.array(float, { maxLength: 5 }),
  double_list: fc.array(fc.double(), { maxLength: 5 }),
  string_list: fc.array(text, { maxLength: 5 }),
};

const STATUSES: FeatureStatus[] = ["present", "null_value", "not_found", "outside_max_age"];

const column = (rows: number): fc.Arbitrary<FeatureColumn> =>
  fc.constantFrom(...(Object.keys(VALUES) as ValueType[])).chain((type) =>
    fc.record({
      name: fc.constant(type),
      feature: fc.constant(feature(type)),
      values: fc.array(fc.option(VALUES[type], { nil: null }), { minLength: rows, maxLength: rows }),
      statuses: fc.array(fc.constantFrom(...STATUSES), { minLength: rows, maxLength: rows }),
      eventTimes: fc.array(
        fc.option(
          fc.oneof(
            fc.integer({ min: -(2 ** 40), max: 2 ** 52 }),
            fc.double({ min: -(2 ** 62), max: 2 ** 62 }),
            fc.double(),
            fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -(2 ** 63), 2 ** 63),
          ),
          {
            nil: undefined,
          },
        ),
        { minLength: rows, maxLength: rows },
      ),
    }),
  );

const columns = fc.nat({ max: 6 }).chain((rows) => fc.array(column(rows), { maxLength: 6 }));

describe("encodeFlatResponse", () => {
  it("encodes every type, null and status, byte for byte as the generated encoder does", () => {
    fc.assert(
      fc.property(columns, fc.uint8Array({ maxLength: 40 }), (cells, prefix) => {
        let expected: Buffer;
        try {
          expected = generated([prefix], cells);
        } catch {
          // An event time outside int64 (none comes from a store, whose times are validated): both refuse it.
          expect(() => encodeFlatResponse([prefix], cells)).toThrow(RangeError);
          return;
        }
        expect(encodeFlatResponse([prefix], cells)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("writes lengths of several bytes and grows past its scratch buffer", () => {
    const long: FeatureColumn = {
      name: "string",
      feature: feature("string"),
      // 200 and 40,000 bytes: two- and three-byte lengths; the second is larger than the 16 KB scratch buffer.
      values: ["é".repeat(100), "x".repeat(40_000), ""],
      statuses: ["present", "present", "present"],
      eventTimes: [1, 2, 3],
    };
    const encoded = encodeFlatResponse([Buffer.from([10, 1, 97])], [long]);
    expect(encoded).toEqual(generated([Buffer.from([10, 1, 97])], [long]));
    expect(GetOnlineFeaturesResponse.decode(encoded).flat?.values.map((v) => v.stringValue?.length)).toEqual([100, 40_000, 0]);
    // The scratch buffer is reused: a small response after a large one holds only its own bytes,
    // also after one large enough (over 1 MB) that the buffer is dropped for a small one.
    const small = { ...long, values: ["a", null, "b"] };
    expect(encodeFlatResponse([], [small])).toEqual(generated([], [small]));
    const huge = { ...long, values: ["y".repeat(1_200_000), "z", null] };
    expect(encodeFlatResponse([], [huge])).toEqual(generated([], [huge]));
    expect(encodeFlatResponse([], [small])).toEqual(generated([], [small]));
  });

  it("keeps `flat` present when there is no cell, as the generated encoder does", () => {
    expect(encodeFlatResponse([], [])).toEqual(generated([], []));
    expect(GetOnlineFeaturesResponse.decode(encodeFlatResponse([], [])).flat).toEqual({ values: [], statuses: [], eventTimeMicros: [] });
  });
});

import { describe, expect, it } from "vitest";
import { PreconditionError, ValidationError } from "../common/errors.js";
import type { TaggedValue } from "../common/feature-value.js";
import type { ModelVersion } from "../models/model.js";
import type { FeatureColumn, FeatureStatus } from "../online/online-reader.js";
import type { FeatureServiceVersion } from "../registry/model.js";
import { computeDerivedColumns } from "./derived-inputs.js";
import { derivedTensor } from "./model-inputs.js";
import type { ServingVersion } from "./serving-router.js";

const service: FeatureServiceVersion = {
  project: "default",
  name: "scoring",
  version: 2,
  features: ["stats:spend_mean", "stats:orders"],
  requestInputs: [
    { name: "amount", type: "double", description: "" },
    { name: "country", type: "string", description: "" },
  ],
  derivedFeatures: [
    { name: "ratio", expression: "amount / stats:spend_mean", description: "", type: "double" },
    { name: "is_nl", expression: "country = 'NL'", description: "", type: "bool" },
    { name: "repeat", expression: "stats:orders > 1", description: "", type: "bool" },
  ],
  description: "",
  owner: "",
  tags: {},
  changes: [],
  createTime: new Date(0),
};

/** A version binding the service to `features` and reading derived features through request bindings. */
function servingVersion(requestBindings: string[]): ServingVersion {
  const version: ModelVersion = {
    project: "default",
    model: "m",
    version: 1,
    bindings: [
      { inputName: "features", source: { kind: "featureService", service: "scoring@2" } },
      ...requestBindings.map((name) => ({ inputName: name, source: { kind: "request" as const, name } })),
    ],
    sha256: "0".repeat(64),
    sizeBytes: 1,
    inputs: [],
    outputs: [],
    featureRefs: { features: ["stats@4:spend_mean", "stats@4:orders"] },
    trainingDataset: "",
    description: "",
    labels: {},
    createTime: new Date(0),
  };
  return {
    ref: version,
    name: "projects/default/models/m/versions/1",
    version,
    featureRefs: ["stats@4:spend_mean", "stats@4:orders"],
    featureServices: [{ inputName: "features", service }],
  };
}

function column(feature: string, type: "double" | "int64", values: FeatureColumn["values"], statuses: FeatureStatus[]): FeatureColumn {
  return {
    name: feature,
    feature: { ref: `stats@4:${feature}`, project: "default", featureView: "stats", version: 4, feature, type },
    values,
    statuses,
    eventTimes: values.map(() => 0),
  };
}

const byRef = new Map([
  ["stats@4:spend_mean", column("spend_mean", "double", [10, 0, 5], ["present", "present", "outside_max_age"])],
  ["stats@4:orders", column("orders", "int64", [2n, null, 1n], ["present", "null_value", "present"])],
]);

const doubles = (...values: Array<number | null>): TaggedValue[] =>
  values.map((value) => (value === null ? { kind: "null", value: null } : { kind: "double", value }));

function violationsOf(run: () => unknown): [string, string[]] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    const { reason, violations } = error as ValidationError;
    return [reason, violations.map((v) => `${v.field}: ${v.description}`)];
  }
  return expect.unreachable("should be refused");
}

describe("computeDerivedColumns", () => {
  it("computes the derived features a version binds, from request inputs and the features read", () => {
    const derived = computeDerivedColumns(servingVersion(["ratio", "repeat"]), byRef, { amount: doubles(30, 30, 30) }, 3);
    expect(derived.map((d) => [d.name, d.values, d.statuses])).toEqual([
      // Division by zero and a value older than its TTL (read as null, as offline) give null.
      ["ratio", [3, null, null], ["present", "null_value", "null_value"]],
      ["repeat", [true, null, false], ["present", "null_value", "present"]],
    ]);
    expect(derived[0]?.feature).toEqual({
      ref: "ratio",
      project: "default",
      featureView: "scoring",
      version: 2,
      feature: "ratio",
      type: "double",
    });
  });

  it("computes nothing for a version that binds no derived feature, and needs no inputs then", () => {
    expect(computeDerivedColumns(servingVersion(["basket"]), byRef, {}, 3)).toEqual([]);
  });

  it("requires the inputs the bound derived features read, naming request_features", () => {
    expect(violationsOf(() => computeDerivedColumns(servingVersion(["ratio", "is_nl"]), byRef, { amount: doubles(1, 2, 3) }, 3))).toEqual([
      "MISSING_REQUEST_FEATURE",
      [
        'request_features["country"]: is required: derived feature "is_nl" of feature service scoring@2 reads request input "country" (string)',
      ],
    ]);
  });

  it("refuses values of the wrong type or count, and values sent under a derived feature's name", () => {
    const version = servingVersion(["ratio"]);
    const mistyped = { amount: [...doubles(1), { kind: "string", value: "2" }, ...doubles(3)] as TaggedValue[] };
    expect(violationsOf(() => computeDerivedColumns(version, byRef, mistyped, 3))).toEqual([
      "INVALID_REQUEST_FEATURE",
      ['request_features["amount"][1]: expected a double value, got string (request input "amount" is double)'],
    ]);
    expect(violationsOf(() => computeDerivedColumns(version, byRef, { amount: doubles(1) }, 3))).toEqual([
      "INVALID_REQUEST_FEATURE",
      ['request_features["amount"]: has 1 values for 3 entity rows'],
    ]);
    expect(violationsOf(() => computeDerivedColumns(version, byRef, { amount: doubles(1, 2, 3), ratio: doubles(1, 1, 1) }, 3))).toEqual([
      "INVALID_REQUEST_FEATURE",
      ['request_features["ratio"]: "ratio" is a derived feature of feature service scoring@2, computed by the server; do not send it'],
    ]);
    // Integers are accepted for a double input.
    const ints: TaggedValue[] = [1, 2, 3].map((value) => ({ kind: "int64", value: BigInt(value) }));
    expect(computeDerivedColumns(version, byRef, { amount: ints }, 3)[0]?.values).toEqual([0.1, null, null]);
  });
});

describe("derivedTensor", () => {
  const ratio = { name: "ratio", feature: { type: "double" }, values: [3, null] };

  it("fills an input of rank 1 or of width 1, null as 0", () => {
    expect(derivedTensor("float32", { name: "x", shape: [-1, 1] }, ratio, 2)).toEqual({
      type: "float32",
      data: new Float32Array([3, 0]),
      dims: [2, 1],
    });
    expect(derivedTensor("float64", { name: "x", shape: [-1] }, ratio, 2)).toEqual({
      type: "float64",
      data: new Float64Array([3, 0]),
      dims: [2],
    });
    const flag = { name: "big", feature: { type: "bool" }, values: [true, false] };
    expect(derivedTensor("int64", { name: "x", shape: [-1, 1] }, flag, 2).data).toEqual(new BigInt64Array([1n, 0n]));
  });

  it("is FAILED_PRECONDITION for a wider input or a string feature", () => {
    expect(() => derivedTensor("float32", { name: "x", shape: [-1, 3] }, ratio, 2)).toThrow(PreconditionError);
    expect(() => derivedTensor("float32", { name: "x", shape: [-1, 1] }, { ...ratio, feature: { type: "string" } }, 2)).toThrow(
      /derived feature "ratio" is a string/,
    );
  });
});

import { describe, expect, it } from "vitest";
import { PreconditionError } from "../common/errors.js";
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { compileDerivedFeature, type DerivedFeatureScope, type DerivedFeatureService, DerivedFeatures } from "./derived-features.js";
import { ExpressionError } from "./parse.js";

/** Canonical refs as the registry spells them: the full form "projects/default/featureViews/v:f" is "v:f". */
const canonicalRef = (ref: string) => {
  const match = /^(?:projects\/default\/featureViews\/)?([a-z_]+(?:@\d+)?):([a-z_]+)$/.exec(ref);
  return match ? `${match[1]}:${match[2]}` : undefined;
};

const scope: DerivedFeatureScope = {
  requestInputs: [
    { name: "amount", type: "double", description: "" },
    { name: "count", type: "int64", description: "" },
    { name: "country", type: "string", description: "" },
    { name: "unused", type: "bool", description: "" },
  ],
  features: ["stats:spend_mean", "stats@2:orders", "stats:segment"],
  featureTypes: ["double", "int64", "string"],
  canonicalRef,
};

function derived(expression: string) {
  return compileDerivedFeature("d", expression, scope);
}

/** Evaluates with inputs by name and features by index. */
function evaluate(expression: string, inputs: Record<string, FeatureValue>, features: FeatureValue[] = []) {
  return derived(expression).evaluate(
    (name) => inputs[name],
    (index) => features[index],
  );
}

function problemOf(expression: string): ExpressionError {
  try {
    derived(expression);
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError);
    return error as ExpressionError;
  }
  return expect.unreachable(`"${expression}" should not compile`);
}

describe("compileDerivedFeature", () => {
  it("reads request inputs by name and the service's features by ref, in any spelling of the ref", () => {
    expect(evaluate("amount / stats:spend_mean", { amount: 30 }, [10])).toBe(3);
    expect(evaluate("amount / `projects/default/featureViews/stats:spend_mean`", { amount: 30 }, [10])).toBe(3);
    expect(evaluate("stats@2:orders + count", { count: 2n }, [0, 40n])).toBe(42);
    expect(evaluate("if(stats:segment = country, 'same', 'other')", { country: "NL" }, [0, 0, "NL"])).toBe("same");
  });

  it("infers the result type: every number is a double", () => {
    expect(derived("count * 2").type).toBe("double");
    expect(derived("amount > stats:spend_mean").type).toBe("bool");
    expect(derived("coalesce(stats:segment, country)").type).toBe("string");
  });

  it("lists the request inputs it reads, each once", () => {
    expect(derived("amount / stats:spend_mean + amount * count").inputs.map((i) => i.name)).toEqual(["amount", "count"]);
    expect(derived("stats:spend_mean * 2").inputs).toEqual([]);
  });

  it("gives null for nulls, missing values and division by zero, never NaN or Infinity", () => {
    expect(evaluate("amount / stats:spend_mean", { amount: 30 }, [0])).toBeNull();
    expect(evaluate("amount % stats:spend_mean", { amount: 30 }, [0])).toBeNull();
    expect(evaluate("amount / stats:spend_mean", { amount: null }, [10])).toBeNull();
    expect(evaluate("amount / stats:spend_mean", {}, [null])).toBeNull();
    expect(evaluate("amount / stats:spend_mean", { amount: 1 }, [])).toBeNull();
    expect(evaluate("coalesce(amount / stats:spend_mean, 0)", { amount: 1 }, [0])).toBe(0);
    expect(evaluate("log(amount)", { amount: 0 })).toBeNull();
  });

  it("refuses type errors and unknown names with their position and where to declare the name", () => {
    expect(problemOf("amount + country").message).toBe('"+" needs numbers, not a string at line 1, column 8');
    expect(problemOf("amount +\n  stats:segment").message).toBe('"+" needs numbers, not a string at line 1, column 8');
    expect(problemOf("amount * nope").message).toBe('unknown request input "nope" (declare it in request_inputs) at line 1, column 10');
    expect(problemOf("stats:nope").message).toBe(
      `unknown feature "stats:nope" (an expression reads the service's features: list it in features) at line 1, column 1`,
    );
    // A pinned ref names another feature than the latest version of the view.
    expect(problemOf("stats@1:spend_mean").description).toContain('unknown feature "stats@1:spend_mean"');
    expect(problemOf("1 +\n  (2").message).toBe('expected ")", found the end at line 2, column 5');
  });
});

describe("DerivedFeatures", () => {
  const service = (): DerivedFeatureService => ({
    project: "default",
    name: "scoring",
    version: 3,
    features: scope.features,
    requestInputs: scope.requestInputs,
    derivedFeatures: [
      { name: "ratio", expression: "amount / stats:spend_mean", description: "", type: "double" },
      { name: "big", expression: "count > 10", description: "", type: "bool" },
    ],
  });
  const types: ValueType[] = ["double", "int64", "string"];

  it("is undefined for a service without derived features", () => {
    expect(DerivedFeatures.of({ ...service(), derivedFeatures: [] }, types, canonicalRef)).toBeUndefined();
    expect(DerivedFeatures.of({ ...service(), derivedFeatures: undefined }, types, canonicalRef)).toBeUndefined();
  });

  it("compiles once per version and feature types, and evaluates each feature per row", () => {
    const version = service();
    const derived = DerivedFeatures.of(version, types, canonicalRef);
    // The registry hands out the same derived feature list for a cached version: compiled once.
    expect(DerivedFeatures.of({ ...version }, [...types], canonicalRef)).toBe(derived);
    expect(DerivedFeatures.of(service(), types, canonicalRef)).not.toBe(derived);
    expect(derived?.service).toBe("scoring@3");
    expect(derived?.features.map((f) => [f.name, f.type])).toEqual([
      ["ratio", "double"],
      ["big", "bool"],
    ]);
    expect(derived?.inputsOf().map((i) => i.name)).toEqual(["amount", "count"]);
    expect(derived?.inputsOf([derived.get("big") as never]).map((i) => i.name)).toEqual(["count"]);
    const rows: Array<[Record<string, FeatureValue>, FeatureValue[]]> = [
      [{ amount: 50, count: 11n }, [25]],
      [{ amount: 50, count: null }, [0]],
    ];
    expect(
      rows.map(([inputs, features]) =>
        derived?.features.map((f) =>
          f.evaluate(
            (n) => inputs[n],
            (i) => features[i],
          ),
        ),
      ),
    ).toEqual([
      [2, true],
      [null, null],
    ]);
  });

  it("is FAILED_PRECONDITION when a feature it reads changed type after the service was applied", () => {
    const run = (featureTypes: ValueType[]) => () => DerivedFeatures.of(service(), featureTypes, canonicalRef);
    expect(run(["string", "int64", "string"])).toThrow(PreconditionError);
    expect(run(["string", "int64", "string"])).toThrow(/derived feature "ratio" of feature service scoring@3 no longer compiles/);
    // A number of another width is still a number.
    expect(run(["float", "int32", "string"])()).toBeDefined();
    const stored = {
      ...service(),
      derivedFeatures: [{ name: "big", expression: "stats:segment", description: "", type: "bool" as const }],
    };
    expect(() => DerivedFeatures.of(stored, types, canonicalRef)).toThrow(/is now string, not bool as applied/);
  });
});

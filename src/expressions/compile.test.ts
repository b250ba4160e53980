import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { compileExpression } from "./compile.js";
import { ExpressionError, MAX_EXPRESSION_DEPTH, parseExpression } from "./parse.js";

const TYPES: Record<string, ValueType> = {
  amount: "double",
  count: "int64",
  country: "string",
  flagged: "bool",
  embedding: "double_list",
  "txn:amount_mean_7d": "double",
  "txn@2:amount_count_1h": "int64",
  "projects/default/featureViews/txn:amount_max_1d": "double",
};
const typeOf = (name: string) => TYPES[name];

function run(source: string, values: Record<string, FeatureValue> = {}) {
  return compileExpression(source, typeOf).evaluate((name) => values[name]);
}

function errorOf(source: string): ExpressionError {
  try {
    compileExpression(source, typeOf);
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError);
    return error as ExpressionError;
  }
  return expect.unreachable(`"${source}" should not compile`);
}

describe("expressions", () => {
  it("evaluates arithmetic with the usual precedence over request inputs and feature refs", () => {
    expect(run("amount / txn:amount_mean_7d", { amount: 30, "txn:amount_mean_7d": 10 })).toBe(3);
    expect(run("1 + 2 * 3 - 4 / 2 % 3")).toBe(5);
    expect(run("-(1 + 2) * 2")).toBe(-6);
    expect(run("txn@2:amount_count_1h * 2", { "txn@2:amount_count_1h": 21n })).toBe(42);
    expect(run("`projects/default/featureViews/txn:amount_max_1d` + 1", { "projects/default/featureViews/txn:amount_max_1d": 1 })).toBe(2);
    expect(run("max(amount, 5, count)", { amount: 7, count: 9n })).toBe(9);
    expect(run("if(country = 'NL', 1, 0)", { country: "NL" })).toBe(1);
    expect(run("round(2.5) + floor(-1.5) + abs(-3) + sqrt(16)")).toBe(3 + -2 + 3 + 4);
    expect(run("1e3 + .5")).toBe(1000.5);
    expect(run("'it''s' = 'it''s'")).toBe(true);
  });

  it("gives null, never NaN or Infinity: nulls propagate, division by zero, log(0), sqrt(-1), overflow", () => {
    expect(run("amount / 0", { amount: 1 })).toBeNull();
    expect(run("amount % 0", { amount: 1 })).toBeNull();
    expect(run("amount + 1", { amount: null })).toBeNull();
    expect(run("amount + 1", {})).toBeNull();
    expect(run("log(0)")).toBeNull();
    expect(run("sqrt(-1)")).toBeNull();
    expect(run("1e308 * 10")).toBeNull();
    expect(run("coalesce(amount, 0) + 1", { amount: null })).toBe(1);
    expect(run("amount > 1", { amount: null })).toBeNull();
    expect(run("if(amount > 1, 'big', 'small')", { amount: null })).toBe("small");
  });

  it("uses three-valued logic for and, or and not", () => {
    const values = { flagged: null };
    expect(run("flagged and false", values)).toBe(false);
    expect(run("flagged and true", values)).toBeNull();
    expect(run("flagged or true", values)).toBe(true);
    expect(run("flagged or false", values)).toBeNull();
    expect(run("not flagged", values)).toBeNull();
    expect(run("NOT (1 < 2) OR 1 = 1")).toBe(true);
    // As in SQL, not applies to the whole comparison.
    expect(run("not amount > 1", { amount: 5 })).toBe(false);
    expect(run("not not flagged", { flagged: true })).toBe(true);
  });

  it("compares the result of a comparison written in parentheses", () => {
    expect(run("(1 < 2) = true")).toBe(true);
    expect(run("(amount < 1) = (amount > 1)", { amount: 1 })).toBe(true);
  });

  it("lists the names it reads", () => {
    expect(compileExpression("amount / txn:amount_mean_7d + amount", typeOf).names).toEqual(["amount", "txn:amount_mean_7d"]);
  });

  it.each([
    ["amount +", "the expression ends too early at line 1, column 9"],
    ["amount + * 2", 'unexpected "*" at line 1, column 10'],
    ["(amount", 'expected ")", found the end at line 1, column 8'],
    ["amount 2", 'unexpected "2" after a complete expression at line 1, column 8'],
    ["amount $ 2", '"$" is not part of the expression language at line 1, column 8'],
    ["'open", "the string is not closed with ' at line 1, column 1"],
    ["1 < 2 < 3", 'comparisons cannot be chained; use "and" at line 1, column 7'],
    ["amont * 2", 'unknown request input "amont" at line 1, column 1'],
    ["txn:nope", 'unknown feature "txn:nope" at line 1, column 1'],
    ["country + 1", '"+" needs numbers, not a string at line 1, column 9'],
    ["amount and true", '"and" needs bools, not a number at line 1, column 8'],
    ["if(flagged, 1, 'x')", "both values of if() must have one type (got number and string) at line 1, column 1"],
    ["embedding * 2", 'request input "embedding" is double_list; expressions read numbers, bools and strings at line 1, column 1'],
    [
      "eval('1')",
      'unknown function "eval"; the functions are abs, sqrt, log, exp, floor, ceil, round, min, max, coalesce, if at line 1, column 1',
    ],
    ["txn@2", '"txn@2" is a view without a feature; a feature ref is "view@N:feature" at line 1, column 1'],
    ["null", "the expression is always null at line 1, column 1"],
    ["1e999 + 1", "1e999 is too large for a number at line 1, column 1"],
    ["1 +\n  nope", 'unknown request input "nope" at line 2, column 3'],
  ])("refuses %j with the position of the problem", (source, message) => {
    expect(errorOf(source).message).toBe(message);
  });

  it("refuses input too long or too deep before doing work in proportion to it", () => {
    expect(errorOf("1+".repeat(3000)).message).toMatch(/is longer than 4096 characters/);
    expect(errorOf(`${"(".repeat(MAX_EXPRESSION_DEPTH + 1)}1${")".repeat(MAX_EXPRESSION_DEPTH + 1)}`).message).toMatch(
      /nested more than 64 deep/,
    );
  });

  it("property: any text either compiles or fails with an ExpressionError inside the text", () => {
    const alphabet = fc.constantFrom(
      ..."amount txn:amount_mean_7d ( ) + - * / % = < > ! , ' ` 1 2 .5 e if and or not null true".split(" "),
    );
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 30 }).map((parts) => parts.join(" ")),
        (source) => {
          try {
            parseExpression(source);
            compileExpression(source, typeOf);
          } catch (error) {
            expect(error).toBeInstanceOf(ExpressionError);
            expect((error as ExpressionError).position).toBeGreaterThanOrEqual(0);
            expect((error as ExpressionError).position).toBeLessThanOrEqual(source.length);
          }
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  });
});

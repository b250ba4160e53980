/**
 * Type-checks a parsed expression against the types of the names it reads and turns it into a
 * function of one row: the one evaluator that Predict and training retrieval both use for
 * request-time features (docs/expressions.md has the rules: nulls propagate, division by zero and
 * any non-finite result are null, and/or are three-valued).
 */
import type { FeatureValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { type BinaryOperator, type Expression, ExpressionError, parseExpression } from "./parse.js";

/** The types a value has inside an expression; "null" is the type of the literal null only. */
export type ExpressionType = "number" | "bool" | "string" | "null";

/** A value inside an expression. */
export type ExpressionValue = number | boolean | string | null;

/** A compiled expression: its result type, the names it reads, and its evaluator. */
export interface CompiledExpression {
  type: Exclude<ExpressionType, "null">;
  /** Names read (request inputs and feature refs), as written, each once. */
  names: string[];
  /** Evaluates with each name's value from `lookup`. */
  evaluate(lookup: (name: string) => FeatureValue | undefined): ExpressionValue;
}

/** The expression type of a feature or input type, or undefined when expressions cannot read it. */
export function expressionTypeOf(type: ValueType): Exclude<ExpressionType, "null"> | undefined {
  if (type === "int32" || type === "int64" || type === "float" || type === "double") return "number";
  if (type === "bool") return "bool";
  if (type === "string") return "string";
  return undefined;
}

type Evaluator = (lookup: (name: string) => FeatureValue | undefined) => ExpressionValue;
type Typed = { type: ExpressionType; run: Evaluator };

const NUMERIC_FUNCTIONS: Record<string, (x: number) => number> = {
  abs: Math.abs,
  sqrt: Math.sqrt,
  log: Math.log,
  exp: Math.exp,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
};
const FUNCTIONS = [...Object.keys(NUMERIC_FUNCTIONS), "min", "max", "coalesce", "if"];

/**
 * Parses and compiles `source`; `typeOf` gives the value type of a name (undefined: unknown).
 * Throws {@link ExpressionError} with the position of the first problem.
 */
export function compileExpression(source: string, typeOf: (name: string, ref: boolean) => ValueType | undefined): CompiledExpression {
  const names = new Set<string>();
  const fail = (description: string, at: number): never => {
    throw new ExpressionError(description, at, source);
  };

  const compile = (node: Expression): Typed => {
    switch (node.kind) {
      case "number":
      case "string":
      case "bool": {
        const value = node.value;
        return { type: node.kind, run: () => value };
      }
      case "null":
        return { type: "null", run: () => null };
      case "name": {
        const valueType = typeOf(node.name, node.ref);
        const what = node.ref ? "feature" : "request input";
        if (valueType === undefined) return fail(`unknown ${what} "${node.name}"`, node.at);
        const type = expressionTypeOf(valueType);
        if (type === undefined) return fail(`${what} "${node.name}" is ${valueType}; expressions read numbers, bools and strings`, node.at);
        names.add(node.name);
        const name = node.name;
        return { type, run: (lookup) => toExpressionValue(lookup(name)) };
      }
      case "unary": {
        const operand = compile(node.operand);
        if (node.op === "-") {
          expectType(operand, "number", `"-" needs a number`, node.at);
          return { type: "number", run: (lookup) => finite(negate(operand.run(lookup))) };
        }
        expectType(operand, "bool", `"not" needs a bool`, node.at);
        return { type: "bool", run: (lookup) => not(operand.run(lookup)) };
      }
      case "binary":
        return compileBinary(node.op, compile(node.left), compile(node.right), node.at);
      case "call":
        return compileCall(node.name, node.args.map(compile), node.at);
    }
  };

  const expectType = (typed: Typed, type: ExpressionType, description: string, at: number) => {
    if (typed.type !== type && typed.type !== "null") fail(`${description}, not a ${typed.type}`, at);
  };
  const sameType = (parts: Typed[], description: string, at: number): ExpressionType => {
    const types = new Set(parts.map((p) => p.type).filter((t) => t !== "null"));
    if (types.size > 1) fail(`${description} (got ${[...types].join(" and ")})`, at);
    return [...types][0] ?? "null";
  };

  const compileBinary = (op: BinaryOperator, left: Typed, right: Typed, at: number): Typed => {
    if (op === "and" || op === "or") {
      expectType(left, "bool", `"${op}" needs bools`, at);
      expectType(right, "bool", `"${op}" needs bools`, at);
      return { type: "bool", run: op === "and" ? (l) => and(left.run(l), right.run(l)) : (l) => or(left.run(l), right.run(l)) };
    }
    if (op === "=" || op === "!=" || op === "<" || op === "<=" || op === ">" || op === ">=") {
      const type = sameType([left, right], `"${op}" compares values of one type`, at);
      if (type === "bool" && op !== "=" && op !== "!=") fail(`bools compare only with "=" and "!="`, at);
      return { type: "bool", run: (l) => compare(op, left.run(l), right.run(l)) };
    }
    expectType(left, "number", `"${op}" needs numbers`, at);
    expectType(right, "number", `"${op}" needs numbers`, at);
    return { type: "number", run: (l) => arithmetic(op, left.run(l), right.run(l)) };
  };

  const compileCall = (name: string, args: Typed[], at: number): Typed => {
    const numeric = NUMERIC_FUNCTIONS[name];
    if (numeric) {
      if (args.length !== 1) fail(`${name}() takes one argument, not ${args.length}`, at);
      const [arg] = args as [Typed];
      expectType(arg, "number", `${name}() needs a number`, at);
      return { type: "number", run: (l) => finite(applyNumber(numeric, arg.run(l))) };
    }
    if (name === "min" || name === "max") {
      if (args.length < 1) fail(`${name}() needs at least one argument`, at);
      for (const arg of args) expectType(arg, "number", `${name}() needs numbers`, at);
      const pick = name === "min" ? Math.min : Math.max;
      return {
        type: "number",
        run: (l) => {
          const values = args.map((a) => a.run(l));
          return values.some((v) => v === null) ? null : pick(...(values as number[]));
        },
      };
    }
    if (name === "coalesce") {
      if (args.length < 1) fail("coalesce() needs at least one argument", at);
      const type = sameType(args, "coalesce() takes values of one type", at);
      return { type, run: (l) => args.reduce<ExpressionValue>((found, a) => (found !== null ? found : a.run(l)), null) };
    }
    if (name === "if") {
      if (args.length !== 3) fail(`if() takes a condition and two values, not ${args.length} arguments`, at);
      const [condition, then, otherwise] = args as [Typed, Typed, Typed];
      expectType(condition, "bool", "the condition of if() must be a bool", at);
      const type = sameType([then, otherwise], "both values of if() must have one type", at);
      return { type, run: (l) => (condition.run(l) === true ? then.run(l) : otherwise.run(l)) };
    }
    return fail(`unknown function "${name}"; the functions are ${FUNCTIONS.join(", ")}`, at);
  };

  const compiled = compile(parseExpression(source));
  if (compiled.type === "null") return fail("the expression is always null", 0);
  return { type: compiled.type, names: [...names], evaluate: compiled.run };
}

/** A looked-up value inside an expression: int64 as a number (exact below 2^53), other kinds refused at compile time. */
function toExpressionValue(value: FeatureValue | undefined): ExpressionValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "string") return value;
  return null;
}

/** Non-finite numbers (overflow, 0/0, log(0), sqrt(−1)) are null: an expression never yields NaN or ±Infinity. */
function finite(value: ExpressionValue): ExpressionValue {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

function negate(value: ExpressionValue): ExpressionValue {
  return value === null ? null : -(value as number);
}

function applyNumber(apply: (x: number) => number, value: ExpressionValue): ExpressionValue {
  return value === null ? null : apply(value as number);
}

function arithmetic(op: BinaryOperator, left: ExpressionValue, right: ExpressionValue): ExpressionValue {
  if (left === null || right === null) return null;
  const a = left as number;
  const b = right as number;
  if ((op === "/" || op === "%") && b === 0) return null;
  switch (op) {
    case "+":
      return finite(a + b);
    case "-":
      return finite(a - b);
    case "*":
      return finite(a * b);
    case "/":
      return finite(a / b);
    default:
      return finite(a % b);
  }
}

function compare(op: BinaryOperator, left: ExpressionValue, right: ExpressionValue): ExpressionValue {
  if (left === null || right === null) return null;
  switch (op) {
    case "=":
      return left === right;
    case "!=":
      return left !== right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
    case ">":
      return left > right;
    default:
      return left >= right;
  }
}

/** Three-valued logic, as SQL: false wins "and" and true wins "or" even beside null. */
function and(left: ExpressionValue, right: ExpressionValue): ExpressionValue {
  if (left === false || right === false) return false;
  return left === null || right === null ? null : true;
}

function or(left: ExpressionValue, right: ExpressionValue): ExpressionValue {
  if (left === true || right === true) return true;
  return left === null || right === null ? null : false;
}

function not(value: ExpressionValue): ExpressionValue {
  return value === null ? null : !value;
}

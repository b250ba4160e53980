/**
 * Checks of the arguments public SDK methods take, run before anything is sent: a call from plain
 * JavaScript (or through `any`) with a missing or mistyped argument fails with a
 * {@link SluiceClientError} (INVALID_ARGUMENT, a field violation per problem) instead of a
 * TypeError from deep inside the SDK. The checks are about shapes and types only; what the values
 * mean (ids, refs, feature types against the registry, ...) is the server's to judge, and it
 * reports every problem of a definition at once.
 */
import { invalidArgument, type SluiceClientError } from "./errors.js";

/** One problem with one argument; `reason` is MISSING_FIELD, INVALID_ARGUMENT or INVALID_RESOURCE_NAME. */
export interface ArgumentProblem {
  field: string;
  description: string;
  reason: string;
}

/**
 * Checks one value at `path`, adding what is wrong with it to `problems`. `objectShaped` marks
 * checks of objects, whose members are reported by their own names when the object is a method's
 * argument (`entities`, not `request.entities`).
 */
export interface Check {
  (value: unknown, path: string, problems: ArgumentProblem[]): void;
  objectShaped?: boolean;
}

/** A rule over several members of one object (e.g. "exactly one of features and featureService"). */
export type Rule = (value: Record<string, unknown>, path: string, problems: ArgumentProblem[]) => void;

/** Describes a value for a message: "undefined", "an array", "number 3", "the string \"x\"", ... */
function shown(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  if (typeof value === "object") return value.constructor && value.constructor !== Object ? `a ${value.constructor.name}` : "an object";
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

/** `a.b`, or just `b` at the top of an object argument. */
function memberPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** A required value passing `test`, described as `expected` ("a string", ...). */
export function required(expected: string, test: (value: unknown) => boolean): Check {
  return (value, path, problems) => {
    if (value === undefined || value === null)
      problems.push({ field: path, description: `is required (${expected})`, reason: "MISSING_FIELD" });
    else if (!test(value))
      problems.push({ field: path, description: `must be ${expected}, not ${shown(value)}`, reason: "INVALID_ARGUMENT" });
  };
}

/** A value passing `test`, null and undefined included: for values where null means something. */
export function satisfies(expected: string, test: (value: unknown) => boolean): Check {
  return (value, path, problems) => {
    if (!test(value)) problems.push({ field: path, description: `must be ${expected}, not ${shown(value)}`, reason: "INVALID_ARGUMENT" });
  };
}

/** The check, or nothing: undefined and null pass (the SDK's default then applies). */
export function optional(check: Check): Check {
  return (value, path, problems) => {
    if (value !== undefined && value !== null) check(value, path, problems);
  };
}

/** A string, empty or not. */
export const string = required("a string", (v) => typeof v === "string");
/** A string with at least one character. */
export const nonEmptyString = required("a non-empty string", (v) => typeof v === "string" && v !== "");
/** true or false. */
export const boolean = required("true or false", (v) => typeof v === "boolean");
/** A function (a callback). */
export const func = required("a function", (v) => typeof v === "function");
/** A Date that holds a time (not an Invalid Date). */
export const date = required("a valid Date", (v) => v instanceof Date && !Number.isNaN(v.getTime()));
/** A Uint8Array (a Buffer too). */
export const bytes = required("a Uint8Array", (v) => v instanceof Uint8Array);
/** Any object (a generated stub, channel credentials, ...). */
export const anyObject = required("an object", (v) => typeof v === "object");

/** A number, optionally an integer, within [min, max]. */
export function number(options: { min?: number; max?: number; integer?: boolean } = {}): Check {
  const { min = -Infinity, max = Infinity, integer = false } = options;
  const range = Number.isFinite(min) ? (Number.isFinite(max) ? ` from ${min} to ${max}` : ` >= ${min}`) : "";
  return required(`${integer ? "an integer" : "a number"}${range}`, (v) => {
    if (typeof v !== "number" || Number.isNaN(v) || v < min || v > max) return false;
    return !integer || Number.isSafeInteger(v);
  });
}

/** One of the given strings. */
export function oneOf(...choices: readonly string[]): Check {
  return required(`one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`, (v) => typeof v === "string" && choices.includes(v));
}

/** The first alternative that `accepts` the value checks it; none accepting it is a problem described as `expected`. */
export function union(expected: string, ...alternatives: Array<{ accepts: (value: unknown) => boolean; check: Check }>): Check {
  const none = required(expected, () => false);
  const check: Check = (value, path, problems) => {
    const alternative = alternatives.find((a) => value !== undefined && value !== null && a.accepts(value));
    (alternative?.check ?? none)(value, path, problems);
  };
  check.objectShaped = alternatives.every((a) => a.check.objectShaped);
  return check;
}

/** An array whose every item passes `item`; with `what` the array is described as that. */
export function arrayOf(item: Check, what = "an array"): Check {
  const isArray = required(what, Array.isArray);
  return (value, path, problems) => {
    isArray(value, path, problems);
    if (!Array.isArray(value)) return;
    for (let i = 0; i < value.length; i++) item(value[i], `${path}[${i}]`, problems);
  };
}

/** An object used as a map: every value passes `entry` (reported as `path["key"]`). */
export function recordOf(entry: Check, what = "an object"): Check {
  const isRecord = required(what, isObject);
  return (value, path, problems) => {
    isRecord(value, path, problems);
    if (isObject(value)) for (const [key, v] of Object.entries(value)) entry(v, `${path}[${JSON.stringify(key)}]`, problems);
  };
}

/** An object with the given members (others are ignored) and rules over them. */
export function object(members: Record<string, Check>, ...rules: Rule[]): Check {
  const isObj = required("an object", isObject);
  const check: Check = (value, path, problems) => {
    isObj(value, path, problems);
    if (!isObject(value)) return;
    for (const [key, member] of Object.entries(members)) member(value[key], memberPath(path, key), problems);
    for (const rule of rules) rule(value, path, problems);
  };
  check.objectShaped = true;
  return check;
}

/**
 * A rule: exactly one of the members is set. By default an empty string or array counts as unset
 * (`features: []` beside a `featureService`); with `presence`, any value but undefined and null is set.
 */
export function exactlyOne(keys: string[], options: { presence?: boolean } = {}): Rule {
  const set = options.presence ? (v: unknown) => v !== undefined && v !== null : isSet;
  return (value, path, problems) => {
    const [first, second] = keys.filter((key) => set(value[key])).map((key) => memberPath(path, key));
    const all = keys.map((key) => memberPath(path, key));
    if (second !== undefined) {
      problems.push({ field: second, description: `cannot be set together with ${first}`, reason: "INVALID_ARGUMENT" });
    } else if (first === undefined) {
      problems.push({
        field: all[0] ?? path,
        description: `or ${all.slice(1).join(" or ")} is required: set exactly one of them`,
        reason: "MISSING_FIELD",
      });
    }
  };
}

/**
 * A rule: `key` is required (as `expected`) unless `other` is set; e.g. a feature's type, which an
 * aggregated feature may leave to the server.
 */
export function requiredUnless(key: string, other: string, expected: string): Rule {
  return (value, path, problems) => {
    const unset = (v: unknown) => v === undefined || v === null;
    if (unset(value[key]) && unset(value[other])) {
      problems.push({
        field: memberPath(path, key),
        description: `is required (${expected}) unless ${other} is set`,
        reason: "MISSING_FIELD",
      });
    }
  };
}

/**
 * Checks a method's arguments, each `[name, value, check]`, and throws one {@link SluiceClientError}
 * listing every problem. An object argument's members are reported by their own names (`entities`,
 * not `request.entities`); the argument itself by its name when it is missing or not an object.
 */
export function checkArguments(method: string, ...args: Array<[name: string, value: unknown, check: Check]>): void {
  const problems: ArgumentProblem[] = [];
  for (const [name, value, check] of args) check(value, check.objectShaped && isObject(value) ? "" : name, problems);
  if (problems.length > 0) throw invalidArgument(method, problems);
}

/** Checks one value found at `path` (an item of a stream, say), throwing as {@link checkArguments} does. */
export function checkValue(method: string, path: string, value: unknown, check: Check): void {
  const problems: ArgumentProblem[] = [];
  check(value, path, problems);
  if (problems.length > 0) throw invalidArgument(method, problems);
}

/** One problem as a {@link SluiceClientError}. */
export function argumentError(method: string, field: string, description: string, reason = "INVALID_ARGUMENT"): SluiceClientError {
  return invalidArgument(method, [{ field, description, reason }]);
}

/** Whether a value is an object and not an array (or null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === "") return false;
  return !(Array.isArray(value) && value.length === 0);
}

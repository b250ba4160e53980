/**
 * Entity keys: the join key values of one entity row, checked against the entity's join keys and
 * encoded to one string that names the row in the online store (the same on every replica).
 */
import type { FieldViolation } from "./errors.js";
import { coerceValue, type FeatureValue, type TaggedValue, type ValueLimits } from "./feature-value.js";
import type { ValueType } from "./value-type.js";

/** Checks the key values a client sent for one row: every join key, no others, no nulls, right types. */
export function coerceEntityKey(
  joinKeys: ReadonlyArray<{ name: string; type: ValueType }>,
  provided: Record<string, TaggedValue>,
  path: string,
  limits: ValueLimits,
): { values: FeatureValue[] } | { violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const values: FeatureValue[] = [];
  for (const key of joinKeys) {
    const field = `${path}["${key.name}"]`;
    const tagged = provided[key.name];
    if (!tagged || tagged.kind === "null") {
      violations.push({ field, description: `join key "${key.name}" is required` });
      continue;
    }
    const coerced = coerceValue(key.type, tagged, limits);
    if ("problem" in coerced) violations.push({ field, description: coerced.problem });
    else values.push(coerced.value);
  }
  for (const name of Object.keys(provided)) {
    if (!joinKeys.some((k) => k.name === name)) {
      violations.push({
        field: `${path}["${name}"]`,
        description: `"${name}" is not a join key; expected ${joinKeys.map((k) => k.name).join(", ")}`,
      });
    }
  }
  const tooLong = violations.length === 0 ? describeLongKey(values) : undefined;
  if (tooLong) violations.push({ field: path, description: tooLong });
  return violations.length > 0 ? { violations } : { values };
}

/** Why checked key values make too long a key, or undefined when they do not. */
export function describeLongKey(values: readonly FeatureValue[]): string | undefined {
  return encodeEntityKey(values).length > MAX_ENCODED_KEY_CHARS
    ? `the entity key is longer than ${MAX_ENCODED_KEY_CHARS} characters encoded; use shorter keys`
    : undefined;
}

/** Longest encoded entity key: well inside LMDB's key limit (about 1.9 KB with the table name) and cheap in Redis. */
export const MAX_ENCODED_KEY_CHARS = 1024;

/** Encodes checked key values to the online store's key: injective for the fixed key types of an entity. */
export function encodeEntityKey(values: readonly FeatureValue[]): string {
  const [only] = values;
  // The usual key, one int64, without building an array to stringify: the same text (digits need no escaping).
  if (values.length === 1 && typeof only === "bigint") return `["${only}"]`;
  return JSON.stringify(
    values.map((v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)),
  );
}

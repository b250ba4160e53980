/** The value types a feature or join key can have, as the core names them. */
export const VALUE_TYPES = [
  "int32",
  "int64",
  "float",
  "double",
  "bool",
  "string",
  "bytes",
  "timestamp",
  "int64_list",
  "float_list",
  "double_list",
  "string_list",
] as const;

/** A feature or join key type. */
export type ValueType = (typeof VALUE_TYPES)[number];

/** Types a join key may have: exact, hashable, and cheap to compare. */
export const JOIN_KEY_TYPES: readonly ValueType[] = ["int32", "int64", "string", "bytes"];

/** Types whose values are JavaScript numbers (an int64 is a bigint): columns of them can be typed arrays. */
export const NUMBER_VALUE_TYPES: ReadonlySet<ValueType> = new Set<ValueType>(["int32", "float", "double"]);

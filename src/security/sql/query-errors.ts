/**
 * What a failed offline query means for the client: its own SQL refused (INVALID_ARGUMENT, with
 * the field of the SQL), a limit of the server reached (DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED),
 * its call cancelled, or the store failing (UNAVAILABLE). Messages sent to clients never carry
 * the server's paths: they are replaced by `<path>` (the cause, logged, keeps them).
 */
import { SluiceError, StoreUnavailableError, ValidationError } from "../../common/errors.js";

/** The engine limits of one offline query run for a client's request. */
export interface QueryLimits {
  /** Wall-clock time of one query, ms (limits.queryTimeoutMs). */
  timeoutMs: number;
  /** Memory one query may use, bytes (limits.queryMaxMemoryBytes). */
  maxMemoryBytes: number;
}

/** A query stopped by a limit of the server (limits.queryTimeoutMs or limits.queryMaxMemoryBytes). */
export class QueryLimitError extends SluiceError {
  constructor(kind: "deadline_exceeded" | "resource_exhausted", reason: string, message: string, limit: string, cause: unknown) {
    super(kind, reason, message, { limit }, { cause });
  }
}

/** A query stopped because the call it served was cancelled (or the server is shutting down). */
export class QueryCancelledError extends SluiceError {
  constructor(cause?: unknown) {
    super("aborted", "QUERY_CANCELLED", "the call was cancelled, and its offline query was stopped", {}, { cause });
  }
}

/** ClickHouse error codes that mean the client's query is wrong, not the store. */
const CLIENT_QUERY_ERRORS = new Set([
  "6", // CANNOT_PARSE_TEXT
  "10", // NOT_FOUND_COLUMN_IN_BLOCK
  "16", // NO_SUCH_COLUMN_IN_TABLE
  "20", // NUMBER_OF_COLUMNS_DOESNT_MATCH
  "27", // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  "34", // TOO_MANY_ARGUMENTS_FOR_FUNCTION
  "35", // TOO_FEW_ARGUMENTS_FOR_FUNCTION
  "36", // BAD_ARGUMENTS
  "38", // CANNOT_PARSE_DATE
  "41", // CANNOT_PARSE_DATETIME
  "42", // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
  "43", // ILLEGAL_TYPE_OF_ARGUMENT
  "44", // ILLEGAL_COLUMN
  "46", // UNKNOWN_FUNCTION
  "47", // UNKNOWN_IDENTIFIER
  "48", // NOT_IMPLEMENTED
  "51", // EMPTY_LIST_OF_COLUMNS_QUERIED
  "53", // TYPE_MISMATCH
  "60", // UNKNOWN_TABLE
  "62", // SYNTAX_ERROR
  "69", // ARGUMENT_OUT_OF_BOUND
  "70", // CANNOT_CONVERT_TYPE
  "72", // CANNOT_PARSE_NUMBER
  "73", // UNKNOWN_FORMAT
  "80", // INCORRECT_QUERY
  "81", // UNKNOWN_DATABASE
  "115", // UNKNOWN_SETTING
  "128", // TOO_LARGE_ARRAY_SIZE
  "130", // CANNOT_READ_ARRAY_FROM_TEXT
  "153", // ILLEGAL_DIVISION
  "164", // READONLY
  "167", // TOO_DEEP_AST
  "168", // TOO_BIG_AST
  "169", // BAD_TYPE_OF_FIELD
  "179", // MULTIPLE_EXPRESSIONS_FOR_ALIAS
  "181", // ILLEGAL_FINAL
  "182", // ILLEGAL_PREWHERE
  "183", // UNEXPECTED_EXPRESSION
  "184", // ILLEGAL_AGGREGATION
  "190", // SIZES_OF_ARRAYS_DONT_MATCH
  "206", // ALIAS_REQUIRED
  "215", // NOT_AN_AGGREGATE
  "306", // TOO_DEEP_RECURSION
  "321", // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  "352", // AMBIGUOUS_COLUMN_NAME
  "386", // NO_COMMON_TYPE
  "395", // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
  "403", // INVALID_JOIN_ON_EXPRESSION
  "407", // DECIMAL_OVERFLOW
  "456", // UNKNOWN_QUERY_PARAMETER
  "457", // BAD_QUERY_PARAMETER
  "497", // ACCESS_DENIED
]);

/** ClickHouse error codes of a query over the time limit. */
const TIME_LIMIT_ERRORS = new Set(["159", "160"]); // TIMEOUT_EXCEEDED, TOO_SLOW
/** ClickHouse error codes of a query over the memory limit (or a size limit). */
const MEMORY_LIMIT_ERRORS = new Set(["241", "158", "307", "396"]); // MEMORY_LIMIT_EXCEEDED, TOO_MANY_ROWS, TOO_MANY_BYTES, TOO_MANY_ROWS_OR_BYTES
/** QUERY_WAS_CANCELLED: the query was killed. */
const CANCELLED = "394";

/** The ClickHouse error code of an error from @clickhouse/client or chDB, if it has one. */
export function clickhouseErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && /^\d+$/.test(code)) return code;
  const message = error instanceof Error ? error.message : String(error);
  return /Code: (\d+)\./.exec(message)?.[1];
}

/**
 * `text` without file system paths: absolute paths, and `knownPaths` (the data directory, which
 * may be relative), become `<path>`.
 */
export function redactPaths(text: string, knownPaths: readonly string[] = []): string {
  let redacted = text;
  for (const path of knownPaths) {
    if (path.length <= 1) continue;
    // The path and whatever lies under it.
    redacted = redacted.replace(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:/[\\w.@+~-]*)*`, "g"), "<path>");
  }
  return redacted.replace(/(?<![\w:/.<>])\/(?:[\w.@+~-]+\/)+[\w.@+~-]*/g, "<path>");
}

/** An error whose message is the cause's, without paths; the cause is kept for the log. */
export function redactedError(error: unknown, knownPaths: readonly string[] = []): Error {
  const message = error instanceof Error ? error.message : String(error);
  const redacted = new Error(redactPaths(message, knownPaths), { cause: error });
  const code = clickhouseErrorCode(error);
  if (code) Object.assign(redacted, { code });
  return redacted;
}

/** How {@link classifyQueryError} names things. */
export interface QueryErrorContext {
  /** Names the store in UNAVAILABLE messages (without paths). */
  store: string;
  /** The request field of the client's SQL or table, when the query runs it. */
  field?: string;
  /** The limits the query ran with. */
  limits?: QueryLimits;
  /** Whether the call was cancelled (the query was killed for it). */
  cancelled?: boolean;
  /** Paths to hide besides absolute ones. */
  knownPaths?: readonly string[];
}

/** The error a client gets for a failed offline query (see the module comment). */
export function classifyQueryError(error: unknown, context: QueryErrorContext): Error {
  if (error instanceof SluiceError) return error;
  const code = clickhouseErrorCode(error);
  if (context.cancelled || code === CANCELLED) return new QueryCancelledError(error);
  const message = redactPaths((error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "", context.knownPaths);
  if (code && TIME_LIMIT_ERRORS.has(code)) {
    const limit = context.limits ? ` (${context.limits.timeoutMs} ms)` : "";
    return new QueryLimitError(
      "deadline_exceeded",
      "QUERY_TIMEOUT",
      `the offline query ran longer than limits.queryTimeoutMs${limit} and was stopped`,
      "limits.queryTimeoutMs",
      error,
    );
  }
  if (code && MEMORY_LIMIT_ERRORS.has(code)) {
    const limit = context.limits ? ` (${context.limits.maxMemoryBytes} bytes)` : "";
    return new QueryLimitError(
      "resource_exhausted",
      "QUERY_MEMORY_LIMIT",
      `the offline query needed more memory than limits.queryMaxMemoryBytes${limit} and was stopped: ${message}`,
      "limits.queryMaxMemoryBytes",
      error,
    );
  }
  if (context.field && code && CLIENT_QUERY_ERRORS.has(code)) {
    return new ValidationError("INVALID_SPINE", [{ field: context.field, description: `ClickHouse refused it: ${message}` }]);
  }
  return new StoreUnavailableError(context.store, redactedError(error, context.knownPaths));
}

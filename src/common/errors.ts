/**
 * Typed errors raised by the core. Each condition is its own class carrying its fields; the
 * transport layer (src/grpc/errors.ts) is the one place that turns them into wire statuses.
 * The core never imports gRPC: it speaks in {@link ErrorKind}s.
 */

/** The broad class of a failure; maps one-to-one onto a gRPC status code. */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "unavailable"
  | "unimplemented"
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "internal";

/** One bad field of a request: a path such as `feature_view.features[2].name` and what is wrong with it. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** Base of every error the core raises on purpose. `reason` is an UPPER_SNAKE_CASE machine-readable code. */
export class SluiceError extends Error {
  readonly kind: ErrorKind;
  readonly reason: string;
  readonly metadata: Record<string, string>;

  constructor(kind: ErrorKind, reason: string, message: string, metadata: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.reason = reason;
    this.metadata = metadata;
  }
}

/** Violations a {@link ViolationCollector} keeps; the others are counted in one final "… and N more" entry. */
export const MAX_REPORTED_VIOLATIONS = 100;
/** Violations an error's message names (the details list the rest), each cut to a few hundred characters. */
const MAX_SUMMARIZED_VIOLATIONS = 10;
const MAX_SUMMARIZED_CHARS = 300;

/** A request that is malformed field by field; every violation is reported, not just the first. */
export class ValidationError extends SluiceError {
  readonly violations: readonly FieldViolation[];

  constructor(reason: string, violations: readonly FieldViolation[]) {
    super("invalid_argument", reason, `invalid request: ${summarizeViolations(violations)}`, {});
    this.violations = violations;
  }
}

/** The first few violations as one line, so a message stays short however many there are. */
function summarizeViolations(violations: readonly FieldViolation[]): string {
  const shown = violations.slice(0, MAX_SUMMARIZED_VIOLATIONS).map((v) => {
    const text = `${v.field}: ${v.description}`;
    return text.length > MAX_SUMMARIZED_CHARS ? `${text.slice(0, MAX_SUMMARIZED_CHARS)}…` : text;
  });
  const more = violations.length - shown.length;
  return `${shown.join("; ")}${more > 0 ? `; … and ${more} more` : ""}`;
}

/**
 * Collects field violations while validating a request, then throws them all at once. It keeps
 * the first {@link MAX_REPORTED_VIOLATIONS} and counts the rest, so a request with a million bad
 * items costs a bounded error; validators may stop early once it is {@link full}.
 */
export class ViolationCollector {
  readonly violations: FieldViolation[] = [];
  private dropped = 0;

  constructor(private readonly max = MAX_REPORTED_VIOLATIONS) {}

  add(field: string, description: string): void {
    if (this.violations.length < this.max) this.violations.push({ field, description });
    else this.dropped++;
  }

  /** Whether further violations would only be counted: work that can only find more may stop. */
  get full(): boolean {
    return this.violations.length >= this.max;
  }

  /** Throws a {@link ValidationError} with `reason` when anything was collected. */
  throwIfAny(reason: string): void {
    if (this.violations.length === 0) return;
    const more = this.dropped > 0 ? [{ field: "", description: `… and ${this.dropped} more violations` }] : [];
    throw new ValidationError(reason, [...this.violations, ...more]);
  }
}

/** A named resource (project, entity, feature view, version, ...) that does not exist. */
export class ResourceNotFoundError extends SluiceError {
  readonly resourceType: string;
  readonly resourceName: string;

  constructor(resourceType: string, resourceName: string, detail?: string) {
    const reason = `${toUpperSnake(resourceType)}_NOT_FOUND`;
    super("not_found", reason, `${resourceType} ${resourceName} not found${detail ? `: ${detail}` : ""}`, {
      resource_type: resourceType,
      resource_name: resourceName,
    });
    this.resourceType = resourceType;
    this.resourceName = resourceName;
  }
}

/** A create of a resource whose name is already taken. */
export class ResourceAlreadyExistsError extends SluiceError {
  constructor(resourceType: string, resourceName: string) {
    super("already_exists", `${toUpperSnake(resourceType)}_ALREADY_EXISTS`, `${resourceType} ${resourceName} already exists`, {
      resource_type: resourceType,
      resource_name: resourceName,
    });
  }
}

/** The request is well-formed but the system is not in a state that allows it. */
export class PreconditionError extends SluiceError {
  constructor(reason: string, message: string, metadata: Record<string, string> = {}) {
    super("failed_precondition", reason, message, metadata);
  }
}

/** Concurrent writers kept winning the race; the caller may retry. */
export class ConcurrentModificationError extends SluiceError {
  constructor(resourceName: string) {
    super("aborted", "CONCURRENT_MODIFICATION", `${resourceName} was changed concurrently too many times; retry`, {
      resource_name: resourceName,
    });
  }
}

/** A backing store cannot be reached or failed; nothing was acknowledged. */
export class StoreUnavailableError extends SluiceError {
  constructor(store: string, cause: unknown) {
    super("unavailable", "STORE_UNAVAILABLE", `${store} is unavailable: ${describeCause(cause)}`, { store }, { cause });
  }
}

/** A call without valid credentials. The message says what was wrong, never whether a resource exists. */
export class UnauthenticatedError extends SluiceError {
  constructor(message: string) {
    super("unauthenticated", "UNAUTHENTICATED", message, {});
  }
}

/**
 * An authenticated caller without the permission a call needs. Decided from the request alone,
 * before any lookup, so the answer is the same whether or not the named resource exists.
 */
export class PermissionDeniedError extends SluiceError {
  constructor(principal: string, permission: string, project: string) {
    const scope = project === "" ? "server-wide (a server admin, *:admin)" : `on project "${project}"`;
    super("permission_denied", "PERMISSION_DENIED", `${principal} lacks permission ${permission} ${scope}`, {
      permission,
      project,
      principal,
    });
  }
}

/** A caller over its rate limit; it may retry after `retryAfterMs`. */
export class RateLimitedError extends SluiceError {
  readonly retryAfterMs: number;

  constructor(principal: string, retryAfterMs: number) {
    super("resource_exhausted", "RATE_LIMITED", `${principal} is over its rate limit; retry in ${retryAfterMs} ms`, {
      principal,
      retry_after_ms: String(retryAfterMs),
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/** A method that is part of the API but not served by this build. */
export class NotImplementedError extends SluiceError {
  constructor(method: string) {
    super("unimplemented", "NOT_IMPLEMENTED", `${method} is part of the Sluice v1 API but is not implemented by this server yet`, {
      method,
    });
  }
}

function toUpperSnake(words: string): string {
  return words
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[\s-]+/g, "_")
    .toUpperCase();
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

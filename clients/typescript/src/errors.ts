import { type Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { BadRequest, ErrorInfo } from "../../../src/gen/google/rpc/error_details.pb.js";
import { Status } from "../../../src/gen/google/rpc/status.pb.js";

/** One bad request field reported by the server. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A failed call, with the server's structured details decoded: the gRPC code, the
 * UPPER_SNAKE_CASE `reason` from `google.rpc.ErrorInfo`, and each `BadRequest` field violation.
 */
export class SluiceClientError extends Error {
  override name = "SluiceClientError";

  constructor(
    readonly code: status,
    message: string,
    readonly reason: string,
    readonly fieldViolations: FieldViolation[],
    readonly errorMetadata: Record<string, string>,
    readonly requestId: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The gRPC code's name, e.g. "INVALID_ARGUMENT". */
  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }
}

/**
 * A call the SDK refuses before sending it: INVALID_ARGUMENT with one field violation per bad
 * argument (the field is the argument's path as the caller wrote it, e.g. `entities` or
 * `joinKeys[0].type`), `reason` that of the first problem, and no request id (no request was sent).
 */
export function invalidArgument(method: string, problems: ReadonlyArray<FieldViolation & { reason: string }>): SluiceClientError {
  const summary = problems.map((p) => `${p.field} ${p.description}`).join("; ");
  return new SluiceClientError(
    status.INVALID_ARGUMENT,
    `${method}: ${summary}`,
    problems[0]?.reason ?? "INVALID_ARGUMENT",
    problems.map((p) => ({ field: p.field, description: p.description })),
    {},
    undefined,
  );
}

/** Decodes `grpc-status-details-bin` of a failed call into a {@link SluiceClientError}. */
export function toClientError(error: ServiceError): SluiceClientError {
  let reason = "";
  let fieldViolations: FieldViolation[] = [];
  let errorMetadata: Record<string, string> = {};
  const raw = error.metadata?.get("grpc-status-details-bin")[0];
  if (raw instanceof Buffer) {
    for (const detail of Status.decode(raw).details) {
      if (detail.typeUrl.endsWith("/google.rpc.ErrorInfo")) {
        const info = ErrorInfo.decode(detail.value);
        reason = info.reason;
        errorMetadata = info.metadata;
      } else if (detail.typeUrl.endsWith("/google.rpc.BadRequest")) {
        fieldViolations = BadRequest.decode(detail.value).fieldViolations.map((v) => ({ field: v.field, description: v.description }));
      }
    }
  }
  const requestId = firstString(error.metadata, "x-request-id");
  return new SluiceClientError(error.code, error.details || error.message, reason, fieldViolations, errorMetadata, requestId, {
    cause: error,
  });
}

function firstString(metadata: Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

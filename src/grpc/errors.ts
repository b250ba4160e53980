/**
 * The one place where errors become gRPC statuses. A {@link SluiceError} keeps its code and
 * message and gains `google.rpc.Status` details (an `ErrorInfo` with its reason, and a
 * `BadRequest` with its field violations) in `grpc-status-details-bin`. Anything else is a bug or
 * an outage: the client gets a generic INTERNAL and the cause goes to the log.
 */
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type ErrorKind, type FieldViolation, RateLimitedError, SluiceError, ValidationError } from "../common/errors.js";
import type { Any } from "../gen/google/protobuf/any.pb.js";
import { BadRequest, BadRequest_FieldViolation, ErrorInfo, RetryInfo } from "../gen/google/rpc/error_details.pb.js";
import { Status } from "../gen/google/rpc/status.pb.js";
import { type CallContext, REQUEST_ID_HEADER } from "./call-context.js";

/** The `ErrorInfo.domain` of every Sluice error. */
export const ERROR_DOMAIN = "sluice.dev";

const CODE_OF_KIND: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
  aborted: status.ABORTED,
  unavailable: status.UNAVAILABLE,
  unimplemented: status.UNIMPLEMENTED,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  internal: status.INTERNAL,
};

/** Converts anything a handler threw into the status sent to the client, logging what the client does not see. */
export function toServiceError(error: unknown, logger: Logger): Partial<ServiceError> {
  if (error instanceof SluiceError) {
    const level = error.kind === "internal" || error.kind === "unavailable" ? "error" : "info";
    logger[level]({ err: error, reason: error.reason }, "call failed");
    return buildStatus(
      CODE_OF_KIND[error.kind],
      error.message,
      error.reason,
      error.metadata,
      error instanceof ValidationError ? error : undefined,
      error instanceof RateLimitedError ? error.retryAfterMs : undefined,
    );
  }
  logger.error({ err: error }, "call failed with an unexpected error");
  return buildStatus(status.INTERNAL, "internal error; the server log has the details", "INTERNAL", {});
}

/** The status a call ends with when `error` was thrown: mapped, logged, and tagged with the request id. */
export function failure(error: unknown, context: CallContext): Partial<ServiceError> {
  const serviceError = toServiceError(error, context.logger);
  serviceError.metadata?.set(REQUEST_ID_HEADER, context.requestId);
  return serviceError;
}

/**
 * Trailers a status may fill, message and details together: under the 8 KiB header list that
 * gRPC's C core accepts by default, so no client drops the connection over an error (a client
 * whose limit is exceeded fails every later call on its channel).
 */
export const MAX_STATUS_TRAILER_BYTES = 8 * 1024;
/** Longest status message, in characters; the details carry the violations. */
const MAX_MESSAGE_CHARS = 400;
/** Room kept for grpc-status, x-request-id and header framing. */
const OTHER_TRAILER_BYTES = 256;
/** Longest field path and description of one violation in the details, and longest metadata value. */
const MAX_FIELD_CHARS = 256;
const MAX_DESCRIPTION_CHARS = 512;
const MAX_METADATA_ENTRIES = 16;

function buildStatus(
  code: status,
  fullMessage: string,
  reason: string,
  fullMetadata: Record<string, string>,
  validation?: ValidationError,
  retryAfterMs?: number,
): Partial<ServiceError> {
  const message = clip(fullMessage, MAX_MESSAGE_CHARS);
  const metadata = Object.fromEntries(
    Object.entries(fullMetadata)
      .slice(0, MAX_METADATA_ENTRIES)
      .map(([key, value]) => [clip(key, 64), clip(value, MAX_FIELD_CHARS)]),
  );
  const details: Any[] = [packAny("google.rpc.ErrorInfo", ErrorInfo.encode({ reason, domain: ERROR_DOMAIN, metadata }).finish())];
  if (retryAfterMs !== undefined) {
    const retryDelay = { seconds: BigInt(Math.floor(retryAfterMs / 1000)), nanos: (retryAfterMs % 1000) * 1_000_000 };
    details.push(packAny("google.rpc.RetryInfo", RetryInfo.encode({ retryDelay }).finish()));
  }
  // The details travel base64-encoded beside the percent-encoded message: what is left of the
  // trailer budget, in encoded bytes, goes to the field violations.
  const budget = Math.floor(((MAX_STATUS_TRAILER_BYTES - OTHER_TRAILER_BYTES - encodedMessageBytes(message)) * 3) / 4);
  if (validation) {
    const used = Status.encode({ code, message, details }).finish().length;
    details.push(packAny("google.rpc.BadRequest", boundedBadRequest(validation.violations, budget - used)));
  }
  const trailer = new Metadata();
  trailer.set("grpc-status-details-bin", Buffer.from(Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata: trailer };
}

/** Space for the Any wrapper of the BadRequest and the final "N more violations" entry. */
const BAD_REQUEST_OVERHEAD = 128;

/**
 * A BadRequest holding as many violations as fit in `budget` encoded bytes, each clipped, and a
 * final entry counting those left out.
 */
function boundedBadRequest(violations: readonly FieldViolation[], budget: number): Uint8Array {
  const fieldViolations: Array<{ field: string; description: string; reason: string; localizedMessage: undefined }> = [];
  let room = budget - BAD_REQUEST_OVERHEAD;
  let omitted = 0;
  for (const violation of violations) {
    if (omitted > 0) {
      omitted++;
      continue;
    }
    const entry = {
      field: clip(violation.field, MAX_FIELD_CHARS),
      description: clip(violation.description, MAX_DESCRIPTION_CHARS),
      reason: "",
      localizedMessage: undefined,
    };
    // Field 1 of BadRequest: tag, length (at most 3 bytes here) and the entry itself.
    const size = BadRequest_FieldViolation.encode(entry).finish().length + 4;
    if (size > room) {
      omitted++;
      continue;
    }
    room -= size;
    fieldViolations.push(entry);
  }
  if (omitted > 0) {
    fieldViolations.push({ field: "", description: `… and ${omitted} more violations`, reason: "", localizedMessage: undefined });
  }
  return BadRequest.encode({ fieldViolations }).finish();
}

/** At most `max` characters of `text`, never splitting a surrogate pair, with "…" when cut. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** An upper bound of the message's size in grpc-message, where anything but printable ASCII is percent-encoded. */
function encodedMessageBytes(message: string): number {
  let bytes = 0;
  for (let i = 0; i < message.length; i++) {
    const unit = message.charCodeAt(i);
    bytes += unit >= 0x20 && unit < 0x7f && unit !== 0x25 ? 1 : 9;
  }
  return bytes;
}

function packAny(typeName: string, value: Uint8Array): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}

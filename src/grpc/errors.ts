/**
 * The one place where errors become gRPC statuses. A {@link SluiceError} keeps its code and
 * message and gains `google.rpc.Status` details (an `ErrorInfo` with its reason, and a
 * `BadRequest` with its field violations) in `grpc-status-details-bin`. Anything else is a bug or
 * an outage: the client gets a generic INTERNAL and the cause goes to the log.
 */
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type ErrorKind, SluiceError, ValidationError } from "../common/errors.js";
import type { Any } from "../gen/google/protobuf/any.pb.js";
import { BadRequest, ErrorInfo } from "../gen/google/rpc/error_details.pb.js";
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

function buildStatus(
  code: status,
  message: string,
  reason: string,
  metadata: Record<string, string>,
  validation?: ValidationError,
): Partial<ServiceError> {
  const details: Any[] = [packAny("google.rpc.ErrorInfo", ErrorInfo.encode({ reason, domain: ERROR_DOMAIN, metadata }).finish())];
  if (validation) {
    const fieldViolations = validation.violations.map((v) => ({ ...v, reason: "", localizedMessage: undefined }));
    details.push(packAny("google.rpc.BadRequest", BadRequest.encode({ fieldViolations }).finish()));
  }
  const trailer = new Metadata();
  trailer.set("grpc-status-details-bin", Buffer.from(Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata: trailer };
}

function packAny(typeName: string, value: Uint8Array): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}

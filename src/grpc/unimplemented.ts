import type { Metadata, MethodDefinition, ServiceDefinition, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { NotImplementedError } from "../common/errors.js";
import { createCallContext, REQUEST_ID_HEADER } from "./call-context.js";
import { toServiceError } from "./errors.js";

/**
 * Completes a service implementation: every method of `definition` that `implemented` does not
 * provide answers UNIMPLEMENTED with a message naming it, so the whole v1 API is visible and
 * callable from day one while later work fills in handlers.
 */
export function withUnimplementedMethods(
  definition: ServiceDefinition,
  implemented: UntypedServiceImplementation,
  logger: Logger,
): UntypedServiceImplementation {
  const complete: UntypedServiceImplementation = { ...implemented };
  for (const [key, method] of Object.entries(definition)) {
    if (!(key in complete)) complete[key] = unimplementedHandler(method, logger);
  }
  return complete;
}

function unimplementedHandler(method: MethodDefinition<unknown, unknown>, logger: Logger): UntypedHandleCall {
  const methodName = method.path.slice(1);
  const fail = (metadata: Metadata) => {
    const context = createCallContext(methodName, metadata, logger);
    const error = toServiceError(new NotImplementedError(methodName), context.logger);
    error.metadata?.set(REQUEST_ID_HEADER, context.requestId);
    return error;
  };
  if (!method.responseStream) {
    // Unary and client-streaming calls answer through a callback.
    return ((call: { metadata: Metadata }, callback: (error: unknown) => void) => callback(fail(call.metadata))) as UntypedHandleCall;
  }
  return ((call: { metadata: Metadata; emit: (event: "error", error: unknown) => void }) =>
    call.emit("error", fail(call.metadata))) as UntypedHandleCall;
}

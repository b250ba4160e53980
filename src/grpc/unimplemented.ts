import type { Metadata, MethodDefinition, ServiceDefinition, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import { NotImplementedError } from "../common/errors.js";
import { createCallContext, type HandlerEnv } from "./call-context.js";
import { failure } from "./errors.js";

/**
 * Completes a service implementation: every method of `definition` that `implemented` does not
 * provide answers UNIMPLEMENTED with a message naming it, so the whole v1 API is visible and
 * callable from day one while later work fills in handlers.
 */
export function withUnimplementedMethods(
  definition: ServiceDefinition,
  implemented: ServiceHandlers,
  env: HandlerEnv,
): UntypedServiceImplementation {
  const complete: UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition)) {
    complete[key] = implemented[key] ?? unimplementedHandler(method, env);
  }
  return complete;
}

/** A service's handlers by method key; methods left out answer UNIMPLEMENTED. */
export type ServiceHandlers = { [method: string]: UntypedHandleCall | undefined };

function unimplementedHandler(method: MethodDefinition<unknown, unknown>, env: HandlerEnv): UntypedHandleCall {
  const methodName = method.path.slice(1);
  const fail = (metadata: Metadata) => failure(new NotImplementedError(methodName), createCallContext(methodName, metadata, env.logger));
  if (!method.responseStream) {
    // Unary and client-streaming calls answer through a callback.
    return ((call: { metadata: Metadata }, callback: (error: unknown) => void) => callback(fail(call.metadata))) as UntypedHandleCall;
  }
  return ((call: { metadata: Metadata; emit: (event: "error", error: unknown) => void }) =>
    call.emit("error", fail(call.metadata))) as UntypedHandleCall;
}

import { type handleUnaryCall, Metadata } from "@grpc/grpc-js";
import { type CallContext, createCallContext, type HandlerEnv, REQUEST_ID_HEADER } from "./call-context.js";
import { failure } from "./errors.js";

/**
 * Adapts an async function to a grpc-js unary handler: builds the call context, maps thrown
 * errors through {@link toServiceError}, and returns the request id in the trailers.
 */
export function unaryHandler<Req, Res>(
  method: string,
  env: HandlerEnv,
  implementation: (request: Req, context: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const ended = env.calls.start();
    const context = createCallContext(method, call.metadata, env.logger);
    const started = performance.now();
    const trailer = new Metadata();
    trailer.set(REQUEST_ID_HEADER, context.requestId);
    implementation(call.request, context).then(
      (response) => {
        if (env.logger.isLevelEnabled("debug")) context.logger.debug({ durationMs: performance.now() - started }, "call completed");
        callback(null, response, trailer);
        ended();
      },
      (error: unknown) => {
        callback(failure(error, context));
        ended();
      },
    );
  };
}
